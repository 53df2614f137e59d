import GDBStub

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// What the guest's page tables allow at an address, for lldb's `qMemoryRegionInfo`: read wherever a page is
/// present, write where every level has R/W (bit 1), execute unless a level has XD (bit 63, with EFER.NXE).
/// Supervisor/user and CR0.WP are left out: a debugger's question is what the mapping says, not who may use it.
extension X86PageWalk {
    /// The page (or, unmapped, the whole reach of the table entry that is not present) holding `address`.
    func protection(at address: UInt64) -> MemoryProtection {
        guard efer & (1 << 10) != 0 else { return legacyProtection(at: address) }
        let la57 = cr4 & (1 << 12) != 0
        let levels = la57 ? 5 : 4
        let topBit: UInt64 = la57 ? 56 : 47
        // The non-canonical hole between the halves: no CPU can reach it.
        let holeStart: UInt64 = 1 << topBit
        let holeLast: UInt64 = ~(holeStart - 1) &- 1
        if address >= holeStart && address <= holeLast {
            return MemoryProtection(start: holeStart, last: holeLast, permissions: nil)
        }
        var steps: [Step] = []
        if let (_, pageSize) = withUnsafeMutablePointer(to: &steps, { translate(address, steps: $0) }) {
            return run(address, size: pageSize, permissions: permissions(steps))
        }
        // Not present at depth k (0 = the top table): that entry's reach is unmapped. A table outside guest memory
        // (a step recorded as present, then no entry read) counts as not present one level down.
        var depth = steps.count
        if let last = steps.last, last.entry & 1 == 0 { depth -= 1 }
        let level = levels - depth
        return run(address, size: 1 << UInt64(12 + 9 * (level - 1)), permissions: nil)
    }

    /// 32-bit and PAE paging: 32-bit addresses, 4 KiB granules where nothing is mapped.
    private func legacyProtection(at address: UInt64) -> MemoryProtection {
        guard address <= 0xffff_ffff else {
            return MemoryProtection(start: 1 << 32, last: UInt64.max, permissions: nil)
        }
        var steps: [Step] = []
        guard let (_, pageSize) = withUnsafeMutablePointer(to: &steps, { translate(address, steps: $0) }) else {
            return run(address, size: Self.pageSize, permissions: nil)
        }
        return run(address, size: pageSize, permissions: permissions(steps))
    }

    private func permissions(_ steps: [Step]) -> MemoryPermissions {
        var p: MemoryPermissions = .read
        // PAE's PDPTEs have no R/W bit: every other level decides.
        let writable = steps.allSatisfy { $0.level == "PDPTE" && efer & (1 << 10) == 0 || $0.entry & 2 != 0 }
        if writable { p.insert(.write) }
        let noExecute = efer & (1 << 11) != 0 && steps.contains { $0.entry & (1 << 63) != 0 }
        if !noExecute { p.insert(.execute) }
        return p
    }

    private func run(_ address: UInt64, size: UInt64, permissions: MemoryPermissions?) -> MemoryProtection {
        let start = address & ~(size - 1)
        return MemoryProtection(start: start, last: start &+ (size - 1), permissions: permissions)
    }

    /// `protection(at:)`, extended forward over neighbours that allow the same (at most `limit` more pages or
    /// entries), so lldb gets a region per run rather than per page.
    func protectionRun(at address: UInt64, limit: Int = 4096) -> MemoryProtection {
        let first = protection(at: address)
        var last = first.last
        for _ in 0..<limit {
            guard last < UInt64.max else { break }
            let next = protection(at: last + 1)
            guard next.permissions == first.permissions else { break }
            last = next.last
        }
        return MemoryProtection(start: first.start, last: last, permissions: first.permissions)
    }
}
#endif

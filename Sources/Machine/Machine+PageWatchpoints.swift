import GDBStub
import KVM
import Synchronization

extension Machine {
    /// Page-protection watchpoints cover at most this many bytes each (each page is an exit per access).
    static let pageWatchMaxLength = 1 << 20

    // MARK: Insert and remove (session thread, every vCPU stopped)

    func insertWatchpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        let key = WatchKey(kind: kind, address: address, length: length)
        if pageWatches.state.withLock({ $0.served[key] }) != nil { return }
        let request = pageWatches.state.withLock { $0.request }
        let slotsNeeded = try? architecture.watchpointSlotCount(kind, address: address, length: length)
        let registerFits =
            slotsNeeded.map { breakpoints.freeSlots(in: architecture.slotRange(for: kind)).count >= $0 } ?? false
        let service: WatchService
        switch request {
        case .debugRegisters:
            try insertRegisterWatch(kind, at: address, length: length)
            service = .debugRegister
        case .singleStep:
            guard kind == .writeWatchpoint else { throw .unsupported }
            try insertSteppedWatch(at: address, length: length)
            service = .singleStep
        case .page:
            service = try insertPageWatch(key)
        case .auto:
            if watchpointStrategy == .debugRegisters && registerFits {
                try insertRegisterWatch(kind, at: address, length: length)
                service = .debugRegister
            } else {
                do {
                    service = try insertPageWatch(key)
                } catch {
                    // The page cannot be protected (code runs there, the kernel writes it): what is left.
                    if kind == .writeWatchpoint && watchpointStrategy == .singleStep {
                        try insertSteppedWatch(at: address, length: length)
                        service = .singleStep
                    } else if watchpointStrategy == .debugRegisters && registerFits {
                        try insertRegisterWatch(kind, at: address, length: length)
                        service = .debugRegister
                    } else {
                        throw error
                    }
                }
            }
        }
        pageWatches.state.withLock { $0.served[key] = service }
    }

    func removeWatchpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        let key = WatchKey(kind: kind, address: address, length: length)
        guard let service = pageWatches.state.withLock({ $0.served.removeValue(forKey: key) }) else {
            return  // never inserted
        }
        switch service {
        case .debugRegister: _ = breakpoints.removeSlot(kind: kind, address: address, length: length)
        case .singleStep:
            _ = breakpoints.removeSteppedWatch(address: address)
            pageWatches.state.withLock { s in s.runtimeStepped.removeAll { $0.address == address } }
        case .unserved: break
        case .page, .pageWritesOnly:
            let result: Result<Void, KVMError> = pageWatches.state.withLock { s in
                s.watches[key] = nil
                return Result { () throws(KVMError) in try applyProtection(&s) }
            }
            if case .failure(let error) = result { throw .failed("\(error)") }
        }
    }

    /// One slot, or (arm64) one per doubleword the range touches: each remembers gdb's request and its piece.
    private func insertRegisterWatch(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        let needed = try architecture.watchpointSlotCount(kind, address: address, length: length)
        let free = breakpoints.freeSlots(in: architecture.slotRange(for: kind))
        guard free.count >= needed else {
            throw .noSpace(
                free.isEmpty || needed == 1
                    ? "all \(slotCountWord(for: kind)) are in use"
                    : "\(length) bytes at 0x\(hex(address)) take \(needed) watchpoint registers (one per doubleword); \(free.count) are free"
            )
        }
        for (piece, slot) in free.prefix(needed).enumerated() {
            breakpoints.addSlot(slot, .init(address: address, kind: kind, length: length, piece: piece))
        }
    }

    private func insertSteppedWatch(at address: UInt64, length: Int) throws(TargetError) {
        guard [1, 2, 4, 8].contains(length), address % UInt64(length) == 0 else {
            throw .invalidArgument("a single-stepped watchpoint covers 1, 2, 4 or 8 aligned bytes")
        }
        guard breakpoints.steppedWatches.count < Self.steppedWatchCapacity || breakpoints.steppedWatches[address] != nil
        else {
            throw .noSpace("\(Self.steppedWatchCapacity) watchpoints are set: each one is read after every step")
        }
        breakpoints.addSteppedWatch(address: address, length: length)
    }

    /// Translate the range page by page (through vCPU 0's page tables), check each page can be protected, and
    /// apply the new slot layout. A page a vCPU executes from can only be made read-only: a read watchpoint
    /// there is refused, an access watchpoint sees writes only.
    private func insertPageWatch(_ key: WatchKey) throws(TargetError) -> WatchService {
        guard key.length >= 1 && key.length <= Self.pageWatchMaxLength else {
            throw .invalidArgument("a page-protection watchpoint covers 1 to \(Self.pageWatchMaxLength) bytes")
        }
        let ctx = try context(1)
        var pieces: [PageWatchState.Piece] = []
        var offset = 0
        while offset < key.length {
            let (va, overflow) = key.address.addingReportingOverflow(UInt64(offset))
            guard !overflow, let pa = translate(ctx, va) else { throw .badAddress(va) }
            let chunk = min(key.length - offset, Int(0x1000 - (va & 0xfff)))
            guard memory.contains(pa, count: chunk) else { throw .badAddress(va) }
            pieces.append(.init(virtual: va, physical: pa, length: chunk))
            offset += chunk
        }
        let pages = Set(pieces.flatMap { SlotLayout.pages($0.physical, length: $0.length) })
        for (page, why) in kernelWrittenPages() where pages.contains(page) {
            throw .noSpace("page 0x\(hex(page)) cannot be protected: \(why)")
        }
        let executing = executingPages()
        let result: Result<WatchService, TargetError> = pageWatches.state.withLock { s in
            let code = pages.intersection(s.codePages.union(executing.keys))
            var service = WatchService.page
            if let page = code.first {
                let why = executing[page] ?? "a vCPU executed from it"
                guard key.kind != .readWatchpoint, pageWatches.readOnlySlots else {
                    return .failure(.noSpace("page 0x\(hex(page)) cannot be a hole: \(why)"))
                }
                if key.kind == .accessWatchpoint { service = .pageWritesOnly(why) }
            }
            s.codePages.formUnion(code)
            s.watches[key] = pieces
            do throws(KVMError) {
                try applyProtection(&s)
            } catch {
                s.watches[key] = nil
                return .failure(.failed("\(error)"))
            }
            return .success(service)
        }
        return try result.get()
    }

    /// The page each vCPU executes from now (KVM cannot fetch instructions from MMIO).
    func executingPages() -> [UInt64: String] {
        var out: [UInt64: String] = [:]
        for ctx in contexts {
            if let rip = try? pc(ctx), let pa = translate(ctx, rip) {
                out[pa & ~0xfff] = "vCPU \(ctx.vcpu.index) executes from it"
            }
        }
        return out
    }

    /// The pages KVM itself writes for the guest — kvmclock, steal time, PV EOI, async page faults: the MSRs that
    /// name them, under --kernel — and that it would no longer find (a hole) or could not write (read-only).
    func kernelWrittenPages() -> [UInt64: String] {
        var out: [UInt64: String] = [:]
        #if !KVMSTUB_X86
            return out  // only `run --kernel` (x86) has such pages
        #else
        guard configuration.linuxPlatform else { return out }
        for ctx in contexts {
            // MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_STEAL_TIME, MSR_KVM_PV_EOI_EN, MSR_KVM_ASYNC_PF_EN (low bits: flags)
            let msrs: [(UInt32, UInt64, String)] = [
                (0x4b56_4d01, ~0x1, "kvmclock"), (0x4b56_4d03, ~0x3f, "steal time"), (0x4b56_4d04, ~0x3, "PV EOI"),
                (0x4b56_4d02, ~0x3f, "async page faults"),
            ]
            for (msr, mask, name) in msrs {
                guard let value = (try? ctx.vcpu.getMSRs([msr]))?.first, value & 1 != 0 else { continue }
                out[value & mask & ~0xfff] = "KVM writes \(name) there for vCPU \(ctx.vcpu.index)"
            }
        }
        return out
        #endif
    }

    /// (state locked) Make the slots match the watched pages: every RAM slot deleted, the new regions created.
    /// Nothing changes when the pages protected are the same. On a failure the RAM is mapped whole again.
    func applyProtection(_ s: inout PageWatchState.State) throws(KVMError) {
        let wanted = PageWatchState.protection(s.watches, readOnlySlots: pageWatches.readOnlySlots, codePages: s.codePages)
        guard wanted != s.pages else { return }
        let regions = SlotLayout.regions(base: memory.base, size: UInt64(memory.size), protected: wanted)
        do {
            try remap(&s, regions)
            s.pages = wanted
        } catch {
            try? remap(&s, [SlotLayout.Region(start: memory.base, size: UInt64(memory.size), readOnly: false)])
            s.pages = [:]
            throw error
        }
    }

    private func remap(_ s: inout PageWatchState.State, _ regions: [SlotLayout.Region]) throws(KVMError) {
        for id in s.slotIDs {
            try vm.setSlot(id, flags: 0, guestPhysical: 0, size: 0, host: memory.host)
        }
        s.spareSlotIDs += s.slotIDs.dropFirst()
        s.slotIDs = [pageWatches.ramSlot]
        for (i, region) in regions.enumerated() {
            let id: UInt32
            if i == 0 {
                id = pageWatches.ramSlot
            } else {
                id = s.spareSlotIDs.popLast() ?? vm.newSlotID()
                s.slotIDs.append(id)
            }
            try vm.setSlot(
                id, flags: region.readOnly ? VirtualMachine.readOnlySlotFlag : 0, guestPhysical: region.start,
                size: region.size, host: memory.host + Int(region.start - memory.base))
        }
    }
}

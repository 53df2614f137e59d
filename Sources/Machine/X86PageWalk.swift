import KVM

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// Translates guest-virtual to guest-physical addresses by walking the guest's own page tables in guest
/// memory: no ioctl (CR0/CR3/CR4/EFER come from the register file's sregs, which KVM_RUN hands back).
struct X86PageWalk {
    let cr0: UInt64
    let cr3: UInt64
    let cr4: UInt64
    let efer: UInt64
    let memory: GuestMemory

    /// One level of a walk, for `monitor translate`.
    struct Step {
        let level: String
        let entryAddress: UInt64
        let entry: UInt64
    }

    static let pageSize: UInt64 = 4096

    var pagingEnabled: Bool { cr0 & (1 << 31) != 0 }

    /// The physical address of `virtual`, and the size of the page it lies in; nil when unmapped.
    func translate(_ virtual: UInt64, steps: UnsafeMutablePointer<[Step]>? = nil) -> (physical: UInt64, pageSize: UInt64)? {
        guard pagingEnabled else { return (virtual, Self.pageSize) }
        let longMode = efer & (1 << 10) != 0
        let pae = cr4 & (1 << 5) != 0
        if longMode {
            let la57 = cr4 & (1 << 12) != 0
            let levels = la57 ? 5 : 4
            // Canonical check: bits above the top translated bit must copy it.
            let topBit = la57 ? 56 : 47
            let upper = virtual >> UInt64(topBit)
            guard upper == 0 || upper == (UInt64.max >> UInt64(topBit)) else { return nil }
            var table = cr3 & 0x000f_ffff_ffff_f000
            let names = ["PML5E", "PML4E", "PDPTE", "PDE", "PTE"].suffix(levels)
            for (depth, name) in names.enumerated() {
                let level = levels - depth  // 5/4 … 1
                let shift = UInt64(12 + 9 * (level - 1))
                let index = (virtual >> shift) & 0x1ff
                let entryAddress = table + index * 8
                guard let entry = memory.readUInt64(entryAddress) else { return nil }
                steps?.pointee.append(Step(level: name, entryAddress: entryAddress, entry: entry))
                guard entry & 1 != 0 else { return nil }
                let frame = entry & 0x000f_ffff_ffff_f000
                if (level == 2 || level == 3) && entry & 0x80 != 0 {  // 2 MiB or 1 GiB page
                    let size: UInt64 = 1 << shift
                    let base = entry & 0x000f_ffff_ffff_f000 & ~(size - 1)
                    return (base | (virtual & (size - 1)), size)
                }
                if level == 1 { return (frame | (virtual & 0xfff), Self.pageSize) }
                table = frame
            }
            return nil
        }
        if pae {
            let va = virtual & 0xffff_ffff
            let pdptAddress = (cr3 & 0xffff_ffe0) + ((va >> 30) & 3) * 8
            guard let pdpte = memory.readUInt64(pdptAddress) else { return nil }
            steps?.pointee.append(Step(level: "PDPTE", entryAddress: pdptAddress, entry: pdpte))
            guard pdpte & 1 != 0 else { return nil }
            let pdAddress = (pdpte & 0x000f_ffff_ffff_f000) + ((va >> 21) & 0x1ff) * 8
            guard let pde = memory.readUInt64(pdAddress) else { return nil }
            steps?.pointee.append(Step(level: "PDE", entryAddress: pdAddress, entry: pde))
            guard pde & 1 != 0 else { return nil }
            if pde & 0x80 != 0 { return ((pde & 0x000f_ffff_ffe0_0000) | (va & 0x1f_ffff), 1 << 21) }
            let ptAddress = (pde & 0x000f_ffff_ffff_f000) + ((va >> 12) & 0x1ff) * 8
            guard let pte = memory.readUInt64(ptAddress) else { return nil }
            steps?.pointee.append(Step(level: "PTE", entryAddress: ptAddress, entry: pte))
            guard pte & 1 != 0 else { return nil }
            return ((pte & 0x000f_ffff_ffff_f000) | (va & 0xfff), Self.pageSize)
        }
        // 32-bit paging: 4 KiB pages, or 4 MiB with CR4.PSE.
        let va = virtual & 0xffff_ffff
        let pdAddress = (cr3 & 0xffff_f000) + (va >> 22) * 4
        guard let pdeBytes = memory.read(pdAddress, count: 4) else { return nil }
        let pde = UInt64(pdeBytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        steps?.pointee.append(Step(level: "PDE", entryAddress: pdAddress, entry: pde))
        guard pde & 1 != 0 else { return nil }
        if pde & 0x80 != 0 && cr4 & (1 << 4) != 0 {
            let base = (pde & 0xffc0_0000) | ((pde >> 13) & 0xff) << 32
            return (base | (va & 0x3f_ffff), 1 << 22)
        }
        let ptAddress = (pde & 0xffff_f000) + ((va >> 12) & 0x3ff) * 4
        guard let pteBytes = memory.read(ptAddress, count: 4) else { return nil }
        let pte = UInt64(pteBytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        steps?.pointee.append(Step(level: "PTE", entryAddress: ptAddress, entry: pte))
        guard pte & 1 != 0 else { return nil }
        return ((pte & 0xffff_f000) | (va & 0xfff), Self.pageSize)
    }
}
#endif

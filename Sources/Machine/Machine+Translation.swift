import GDBStub
import KVM

/// Guest-virtual addresses, as gdb uses them, to guest-physical ones, and the pc they are read from.
extension Machine {
    /// Guest-virtual to guest-physical through the guest's page tables (cached until the next run).
    func translate(_ ctx: VCPUContext, _ virtual: UInt64) -> UInt64? {
        let page = virtual & ~0xfff
        if let p = ctx.translations[page] { return p | (virtual & 0xfff) }
        guard let walk = pageWalk(ctx), let (physical, _) = walk.translate(page) else { return nil }
        ctx.translations[page] = physical
        return physical | (virtual & 0xfff)
    }

    func pageWalk(_ ctx: VCPUContext) -> X86PageWalk? {
        guard (try? ctx.registers.ensure(.x86Sregs)) != nil else { return nil }
        let s = ctx.backend.sregs
        return X86PageWalk(cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer, memory: memory)
    }

    func ripOf(_ ctx: VCPUContext) throws -> UInt64 {
        let bytes = try ctx.registers.read(registerTable.pcRegnum) ?? []
        return bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }  // 8 bytes, or 4 (eip) with the i8086 table
    }
}

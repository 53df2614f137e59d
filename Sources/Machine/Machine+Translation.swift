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

    func pageWalk(_ ctx: VCPUContext) -> (any GuestPageWalk)? { architecture.pageWalk(ctx, memory: memory) }

    #if KVMSTUB_X86
        /// The x86 walk with its levels and protections (`monitor translate`, the KASLR search, lldb's
        /// qMemoryRegionInfo).
        func x86PageWalk(_ ctx: VCPUContext) -> X86PageWalk? { X86Architecture().x86PageWalk(ctx, memory: memory) }
    #endif

    /// The pc as gdb sees it: 8 bytes, or 4 (eip) with the i8086 table.
    func pc(_ ctx: VCPUContext) throws -> UInt64 {
        let bytes = try ctx.registers.read(registerTable.pcRegnum) ?? []
        return bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    func setPC(_ ctx: VCPUContext, _ value: UInt64) throws {
        try ctx.registers.write(registerTable.pcRegnum, withUnsafeBytes(of: value) { Array($0) })
    }

    /// The stack pointer, by the architecture's name for it in this table; nil when the table has none.
    func stackPointer(_ ctx: VCPUContext) throws -> UInt64? {
        guard
            let reg = architecture.stackPointerNames.lazy.compactMap({ self.registerTable.register(named: $0) }).first,
            let bytes = try ctx.registers.read(reg.regnum)
        else { return nil }
        return bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}

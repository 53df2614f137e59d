import KVM

#if KVMSTUB_X86  // x86-64 only (Package.swift)
extension Machine {
    /// Where a PC BIOS loads a boot sector, and where `kvmstub run --real-mode` starts it: cs:ip = 0000:7c00.
    package static let realModeLoadAddress: UInt64 = 0x7c00
    /// Conventional memory ends at 640 KiB (the VGA window and the BIOS lie above it on a PC).
    static let realModeLimit: UInt64 = 0xa0000

    /// Copy a raw image (a boot sector, or a little more) to 0x7c00 and start vCPU 0 there in 16-bit real mode,
    /// as a BIOS would hand over: cs = ds = es = ss = 0, sp = 0x7c00, dl = 0x80 (the boot drive), interrupts off.
    /// There is no BIOS: no `int 0x10`, no interrupt vector table (its 1 KiB at 0 is zero), the only devices are
    /// the serial (0x3f8) and exit (0xf4) ports. Paging is off, so the page walk treats addresses as physical.
    package func loadRealMode(bytes: [UInt8], name: String) throws {
        let start = Self.realModeLoadAddress
        guard contexts.count == 1 else {
            throw LoadError("\(name): a real-mode image starts one vCPU (no --cpus with --real-mode)")
        }
        guard !bytes.isEmpty, start + UInt64(bytes.count) <= Self.realModeLimit, memory.write(start, bytes) else {
            throw LoadError(
                "\(name): \(bytes.count) bytes at 0x7c00 do not fit below 0xa0000 (conventional memory) in guest RAM")
        }
        // KVM's emulator runs a real-mode int3 (through the IVT): only in protected and long mode does it stop
        // on one. Where that stop is how int3 breakpoints reach us, a real-mode guest gets hw-then-hlt instead.
        if configuration.breakpointStrategy == nil {
            strategy = host.softwareBreakpointsInRealMode
        }
        let ctx = contexts[0]
        try ctx.registers.ensure([.x86Regs, .x86Sregs])
        var s = ctx.x86.sregs  // the vCPU's reset state: real mode, cs = f000 at base ffff0000
        func segment(code: Bool) -> X86Segment {
            var seg = X86Segment()
            seg.limit = 0xffff
            seg.type = code ? 0xb : 0x3  // execute/read, accessed; read/write, accessed
            seg.present = 1
            seg.s = 1
            return seg
        }
        s.cs = segment(code: true)
        s.ds = segment(code: false)
        s.es = s.ds
        s.fs = s.ds
        s.gs = s.ds
        s.ss = s.ds
        s.idt.base = 0
        s.idt.limit = 0x3ff  // the real-mode interrupt vector table
        s.cr0 = 1 << 4  // ET only: PE and PG off, caches on (CD and NW clear), as a BIOS leaves it
        s.cr3 = 0
        s.cr4 = 0
        s.efer = 0
        ctx.x86.sregs = s
        var r = X86Regs()
        r.rip = start
        r.rsp = start
        r.rdx = 0x80
        r.rflags = 0x2
        ctx.x86.regs = r
        ctx.registers.markDirty([.x86Regs, .x86Sregs])
        try ctx.registers.flushNow()
    }
}
#endif

/// The register layout gdb is offered in target.xml, fixed when the machine is made: gdb reads it once, at
/// `target remote`.
package enum X86TargetDescription: String, Sendable {
    /// gdb's `i386:x86-64`: rax…r15, rip, and what the host adds (AVX, debug registers, MSRs).
    case x86_64 = "x86-64"
    /// gdb's i386 registers (eax…edi, eip) under architecture `i8086`: the one gdb lets `set architecture
    /// i8086` use, so it disassembles 16-bit code. eip is the offset in cs (ip): gdb does not add cs * 16.
    case i8086
}

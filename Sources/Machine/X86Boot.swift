import KVM
import Registers

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// The state a 64-bit guest starts in: long mode, identity-mapped paging over the first 4 GiB with 2 MiB
/// pages, a flat GDT, interrupts off, no IDT. Lives in the low 32 KiB of guest RAM, which images must not use.
enum X86Boot {
    static let gdtAddress: UInt64 = 0x500
    static let pml4Address: UInt64 = 0x1000
    static let pdptAddress: UInt64 = 0x2000
    static let pdAddress: UInt64 = 0x3000  // four page directories, 0x3000–0x6fff
    /// Guest-physical memory below this holds the boot structures.
    static let reservedEnd: UInt64 = 0x8000

    static let codeSelector: UInt16 = 0x08
    static let dataSelector: UInt16 = 0x10

    /// Write the GDT and page tables into guest RAM.
    static func writeTables(_ memory: GuestMemory) {
        // Null, 64-bit code (L=1, P, S, type execute/read), data (P, S, type read/write, G, D/B).
        memory.writeUInt64(gdtAddress, 0)
        memory.writeUInt64(gdtAddress + 8, 0x00af_9b00_0000_ffff)
        memory.writeUInt64(gdtAddress + 16, 0x00cf_9300_0000_ffff)
        let present: UInt64 = 1, writable: UInt64 = 2, large: UInt64 = 0x80
        memory.writeUInt64(pml4Address, pdptAddress | present | writable)
        for gib in 0..<4 {
            let pd = pdAddress + UInt64(gib) * 0x1000
            memory.writeUInt64(pdptAddress + UInt64(gib) * 8, pd | present | writable)
            for i in 0..<512 {
                let physical = UInt64(gib) << 30 | UInt64(i) << 21
                memory.writeUInt64(pd + UInt64(i) * 8, physical | present | writable | large)
            }
        }
    }

    /// A flat 4 GiB segment as the descriptor cache holds it: code (execute/read, accessed) or data (read/write,
    /// accessed), DPL 0; 64-bit code (L=1, D=0) in long mode, 32-bit (D=1) otherwise.
    static func flatSegment(_ selector: UInt16, code: Bool, longMode: Bool) -> X86Segment {
        var seg = X86Segment()
        seg.base = 0
        seg.limit = 0xffff_ffff
        seg.selector = selector
        seg.type = code ? 0xb : 0x3
        seg.present = 1
        seg.dpl = 0
        seg.db = code && longMode ? 0 : 1
        seg.s = 1
        seg.l = code && longMode ? 1 : 0
        seg.g = 1
        return seg
    }

    /// Set sregs/regs of one vCPU for long mode at `entry` with stack `stack`.
    static func enterLongMode(
        _ backend: X86Backend, registers: RegisterFile, entry: UInt64, stack: UInt64, firstArgument: UInt64 = 0
    ) throws(KVMError) {
        try registers.ensure([.x86Regs, .x86Sregs])
        var s = backend.sregs
        s.cs = flatSegment(codeSelector, code: true, longMode: true)
        s.ds = flatSegment(dataSelector, code: false, longMode: true)
        s.es = s.ds
        s.fs = s.ds
        s.gs = s.ds
        s.ss = s.ds
        s.tr.base = 0
        s.tr.limit = 0x67
        s.tr.type = 0xb  // busy 64-bit TSS: what VM entry requires of TR
        s.tr.present = 1
        s.tr.s = 0
        s.ldt.type = 2
        s.ldt.present = 1
        s.ldt.unusable = 1
        s.gdt.base = gdtAddress
        s.gdt.limit = 23
        s.idt.base = 0
        s.idt.limit = 0
        s.cr3 = pml4Address
        s.cr4 = 1 << 5 | 1 << 9 | 1 << 10  // PAE, OSFXSR, OSXMMEXCPT
        s.cr0 = 1 << 0 | 1 << 1 | 1 << 4 | 1 << 5 | 1 << 16 | 1 << 31  // PE, MP, ET, NE, WP, PG
        s.efer = 1 << 8 | 1 << 10  // LME, LMA
        backend.sregs = s
        var r = X86Regs()
        r.rip = entry
        r.rsp = stack
        r.rdi = firstArgument
        r.rflags = 0x2
        backend.regs = r
        registers.markDirty([.x86Regs, .x86Sregs])
        try registers.flushNow()
    }
}
#endif

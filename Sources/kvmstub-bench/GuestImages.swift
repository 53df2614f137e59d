/// The one guest every measurement runs: a three-instruction loop at 0x100000 in 64-bit long mode, with two
/// breakpoint sites (A and B) that the hit loops alternate between.
///
///     0x100000  A: 48 ff c0   inc rax
///     0x100003  B: 48 ff c3   inc rbx
///     0x100006     eb f8      jmp A
enum LoopGuest {
    static let entry: UInt64 = 0x10_0000
    static let siteA: UInt64 = 0x10_0000
    static let siteB: UInt64 = 0x10_0003
    static let code: [UInt8] = [0x48, 0xFF, 0xC0, 0x48, 0xFF, 0xC3, 0xEB, 0xF8]

    /// The loop as a minimal ELF64 executable for `kvmstub run` (which enters it in long mode): one PT_LOAD
    /// at p_paddr = p_vaddr = 0x100000, entry 0x100000, and a symbol table with `ap_start` = the loop too, so
    /// with `--cpus N` every vCPU spins in it.
    static func elf() -> [UInt8] {
        let strtab = Array("\0_start\0ap_start\0site_b\0".utf8)
        let symbols: [(name: Int, value: UInt64)] = [(0, 0), (1, siteA), (8, siteA), (17, siteB)]
        let codeOffset = 0x1000
        let strtabOffset = codeOffset + code.count
        let symtabOffset = (strtabOffset + strtab.count + 7) & ~7
        let shoff = symtabOffset + symbols.count * 24
        var out = [UInt8](repeating: 0, count: shoff + 3 * 64)
        func put16(_ v: UInt16, _ at: Int) { for i in 0..<2 { out[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
        func put32(_ v: UInt32, _ at: Int) { for i in 0..<4 { out[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
        func put64(_ v: UInt64, _ at: Int) { for i in 0..<8 { out[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
        out.replaceSubrange(0..<8, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0])  // ELFCLASS64, little-endian, v1
        put16(2, 16)  // ET_EXEC
        put16(62, 18)  // EM_X86_64
        put32(1, 20)
        put64(entry, 24)
        put64(64, 32)  // e_phoff
        put64(UInt64(shoff), 40)
        put16(64, 52)  // e_ehsize
        put16(56, 54)  // e_phentsize
        put16(1, 56)  // e_phnum
        put16(64, 58)  // e_shentsize
        put16(3, 60)  // e_shnum: null, .symtab, .strtab (no section names: e_shstrndx 0)
        let ph = 64
        put32(1, ph)  // PT_LOAD
        put32(5, ph + 4)  // R X
        put64(UInt64(codeOffset), ph + 8)
        put64(entry, ph + 16)
        put64(entry, ph + 24)
        put64(UInt64(code.count), ph + 32)
        put64(0x1000, ph + 40)  // p_memsz: a whole page, so `m` of 4 KiB reads inside the image
        put64(0x1000, ph + 48)
        out.replaceSubrange(codeOffset..<codeOffset + code.count, with: code)
        out.replaceSubrange(strtabOffset..<strtabOffset + strtab.count, with: strtab)
        for (i, sym) in symbols.enumerated() where i > 0 {
            let o = symtabOffset + i * 24
            put32(UInt32(sym.name), o)
            out[o + 4] = 0x10  // STB_GLOBAL, STT_NOTYPE
            put16(0xFFF1, o + 6)  // SHN_ABS
            put64(sym.value, o + 8)
        }
        let symtab = shoff + 64
        put32(2, symtab + 4)  // SHT_SYMTAB
        put64(UInt64(symtabOffset), symtab + 24)
        put64(UInt64(symbols.count * 24), symtab + 32)
        put32(2, symtab + 40)  // sh_link: .strtab
        put32(1, symtab + 44)  // sh_info: first global
        put64(8, symtab + 48)
        put64(24, symtab + 56)
        let str = shoff + 128
        put32(3, str + 4)  // SHT_STRTAB
        put64(UInt64(strtabOffset), str + 24)
        put64(UInt64(strtab.count), str + 32)
        put64(1, str + 48)
        return out
    }

    /// A 64 KiB PC firmware image for `qemu-system-x86_64 -bios`: from the reset vector it switches to long mode
    /// (flat GDT in the ROM, identity-mapped 1 GiB of 2 MiB pages at 0x1000–0x3fff) and copies the same loop to
    /// 0x100000, so QEMU's vCPU steps exactly the instructions kvmstub's does. Assembled with GNU as from:
    ///
    ///         .code16                          # at f000:0000 (linear 0xf0000, the ROM's low alias)
    ///     start16: cli
    ///         lgdtl %cs:gdtdesc
    ///         mov %cr0,%eax; or $1,%eax; mov %eax,%cr0
    ///         ljmpl $0x08, $(0xf0000 + start32)
    ///         .code32
    ///     start32: mov $0x10,%ax; mov %ax,%ds; mov %ax,%es; mov %ax,%ss
    ///         mov $0x1000,%edi; xor %eax,%eax; mov $0xc00,%ecx; rep stosl      # zero 0x1000-0x3fff
    ///         movl $0x2003,0x1000; movl $0x3003,0x2000                        # PML4[0], PDPT[0]
    ///         mov $0x3000,%edi; mov $0x83,%eax; mov $512,%ecx
    ///     1:  mov %eax,(%edi); add $0x200000,%eax; add $8,%edi; loop 1b       # PD: 512 x 2 MiB
    ///         mov $(0xf0000 + loop64),%esi; mov $0x100000,%edi; mov $8,%ecx; rep movsb
    ///         mov %cr4,%eax; or $0x20,%eax; mov %eax,%cr4                     # PAE
    ///         mov $0x1000,%eax; mov %eax,%cr3
    ///         mov $0xc0000080,%ecx; rdmsr; or $0x100,%eax; wrmsr             # EFER.LME
    ///         mov %cr0,%eax; or $0x80000000,%eax; mov %eax,%cr0               # PG
    ///         ljmp $0x18, $0x100000
    ///         .code64
    ///     loop64: inc %rax; inc %rbx; jmp loop64
    ///         .p2align 3
    ///     gdt: .quad 0, 0x00cf9b000000ffff, 0x00cf93000000ffff, 0x00af9b000000ffff
    ///     gdtdesc: .word 31; .long 0xf0000 + gdt
    ///         .code16; .org 0xfff0; ljmp $0xf000, $start16
    ///
    /// The descriptors have their accessed bit set: the ROM is read-only, and on a host that emulates the far
    /// jump (this one) KVM's emulator would otherwise try to set it there and never get past the jump.
    static func qemuFirmware() -> [UInt8] {
        var rom = [UInt8](repeating: 0, count: 0x10000)
        rom.replaceSubrange(0..<firmwareCode.count, with: firmwareCode)
        rom.replaceSubrange(0xFFF0..<0xFFF5, with: [0xEA, 0x00, 0x00, 0x00, 0xF0])  // ljmp f000:0000
        return rom
    }

    private static let firmwareCode: [UInt8] = [
        0xFA, 0x2E, 0x66, 0x0F, 0x01, 0x16, 0xD0, 0x00, 0x0F, 0x20, 0xC0, 0x66, 0x83, 0xC8, 0x01, 0x0F,
        0x22, 0xC0, 0x66, 0xEA, 0x1A, 0x00, 0x0F, 0x00, 0x08, 0x00, 0x66, 0xB8, 0x10, 0x00, 0x8E, 0xD8,
        0x8E, 0xC0, 0x8E, 0xD0, 0xBF, 0x00, 0x10, 0x00, 0x00, 0x31, 0xC0, 0xB9, 0x00, 0x0C, 0x00, 0x00,
        0xF3, 0xAB, 0xC7, 0x05, 0x00, 0x10, 0x00, 0x00, 0x03, 0x20, 0x00, 0x00, 0xC7, 0x05, 0x00, 0x20,
        0x00, 0x00, 0x03, 0x30, 0x00, 0x00, 0xBF, 0x00, 0x30, 0x00, 0x00, 0xB8, 0x83, 0x00, 0x00, 0x00,
        0xB9, 0x00, 0x02, 0x00, 0x00, 0x89, 0x07, 0x05, 0x00, 0x00, 0x20, 0x00, 0x83, 0xC7, 0x08, 0xE2,
        0xF4, 0xBE, 0xA3, 0x00, 0x0F, 0x00, 0xBF, 0x00, 0x00, 0x10, 0x00, 0xB9, 0x08, 0x00, 0x00, 0x00,
        0xF3, 0xA4, 0x0F, 0x20, 0xE0, 0x83, 0xC8, 0x20, 0x0F, 0x22, 0xE0, 0xB8, 0x00, 0x10, 0x00, 0x00,
        0x0F, 0x22, 0xD8, 0xB9, 0x80, 0x00, 0x00, 0xC0, 0x0F, 0x32, 0x0D, 0x00, 0x01, 0x00, 0x00, 0x0F,
        0x30, 0x0F, 0x20, 0xC0, 0x0D, 0x00, 0x00, 0x00, 0x80, 0x0F, 0x22, 0xC0, 0xEA, 0x00, 0x00, 0x10,
        0x00, 0x18, 0x00, 0x48, 0xFF, 0xC0, 0x48, 0xFF, 0xC3, 0xEB, 0xF8, 0x8D, 0xB4, 0x00, 0x00, 0x90,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x9B, 0xCF, 0x00,
        0xFF, 0xFF, 0x00, 0x00, 0x00, 0x93, 0xCF, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x9B, 0xAF, 0x00,
        0x1F, 0x00, 0xB0, 0x00, 0x0F, 0x00,
    ]
}

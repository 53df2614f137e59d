import GDBStub

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// Finding where a Linux kernel put its text (KASLR) from the guest's own page tables, so gdb's link-time symbols
/// can be moved to match (`qOffsets`, `monitor kaslr`) and `nokaslr` is not needed.
///
/// x86-64 Linux maps its image 2 MiB-aligned in the kernel text mapping, __START_KERNEL_map (0xffffffff80000000)
/// up to 1 GiB above it (KERNEL_IMAGE_SIZE with CONFIG_RANDOMIZE_BASE), and from its first 64-bit instructions on
/// (__startup_64) clears every entry of that mapping below _text: the first mapped 2 MiB there is _text, which
/// is the start of vmlinux's first PT_LOAD segment, linked at __START_KERNEL_map + CONFIG_PHYSICAL_START
/// (0xffffffff81000000 for Debian's 0x1000000). The difference is the slide.
///
/// Before the kernel maps itself (the PVH entry runs with paging off; a bzImage's decompressor, which is what
/// chooses the slide, runs on identity-mapped tables) nothing is mapped there and the slide is not known. A PVH
/// boot is never randomised: KASLR lives in the decompressor.
enum LinuxKASLR {
    static let kernelMapStart: UInt64 = 0xffff_ffff_8000_0000
    static let kernelMapEnd: UInt64 = 0xffff_ffff_c000_0000
    static let alignment: UInt64 = 2 << 20

    /// The first mapped 2 MiB in the kernel text mapping, and the physical address behind it.
    static func textBase(_ walk: X86PageWalk) -> (virtual: UInt64, physical: UInt64)? {
        guard walk.pagingEnabled, walk.efer & (1 << 10) != 0 else { return nil }  // 64-bit paging (EFER.LMA)
        var va = kernelMapStart
        while va < kernelMapEnd {
            if let (pa, _) = walk.translate(va), walk.memory.contains(pa, count: 1) { return (va, pa) }
            va += alignment
        }
        return nil
    }
}

extension Machine {
    /// Where the kernel's text is now, as vCPU 0's page tables say; nil when this is no `--kernel` guest or the
    /// kernel has not mapped itself yet.
    func linuxTextBase() -> (virtual: UInt64, physical: UInt64)? {
        guard linuxTextLinkAddress != nil, let walk = x86PageWalk(contexts[0]) else { return nil }
        if let found = LinuxKASLR.textBase(walk) { return found }
        // With page-table isolation a vCPU stopped in user mode has the user CR3 (bit 12 set), which maps only the
        // entry text; the kernel's own tables are the 8 KiB-aligned page below.
        guard walk.cr3 & 0x1000 != 0 else { return nil }
        return LinuxKASLR.textBase(
            X86PageWalk(cr0: walk.cr0, cr3: walk.cr3 & ~0x1000, cr4: walk.cr4, efer: walk.efer, memory: memory))
    }

    /// `qOffsets`: the debugger moves vmlinux's segments so its text starts where the kernel's is. Only a layout
    /// that makes sense (at or above the link address, by whole 2 MiB): gdb and lldb ask once, at connect, and
    /// keep the answer.
    package func textSegment() -> TextSegment? {
        guard let link = linuxTextLinkAddress, let va = linuxTextBase()?.virtual, va >= link,
            (va - link) % LinuxKASLR.alignment == 0
        else { return nil }
        return TextSegment(address: va, linkAddress: link)
    }

    /// `monitor kaslr`.
    func kaslrReport() -> String {
        guard let link = linuxTextLinkAddress else {
            return "not a Linux kernel (kvmstub run --kernel): no KASLR slide to find\n"
        }
        guard let (va, pa) = linuxTextBase() else {
            return
                "the kernel has not mapped itself yet (nothing mapped in 0x\(hex(LinuxKASLR.kernelMapStart))-0x\(hex(LinuxKASLR.kernelMapEnd)) by vCPU 0's page tables): stop it later, e.g. at start_kernel\n"
        }
        guard va >= link else {
            return
                "kernel text at 0x\(hex(va)), below its link address 0x\(hex(link)): not a layout this command knows\n"
        }
        let slide = va - link
        var out =
            "kernel text at 0x\(hex(va)) (guest-physical 0x\(hex(pa))), linked at 0x\(hex(link)): KASLR slide 0x\(hex(slide))\n"
        out +=
            "gdb: symbol-file vmlinux -o 0x\(hex(slide))   (a gdb that connects now is told by qOffsets: TextSeg=0x\(hex(va)))\n"
        return out
    }
}
#endif

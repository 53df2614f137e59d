import KVM
import Registers

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// The PVH entry (what Firecracker and Cloud Hypervisor boot): the ELF vmlinux's note XEN_ELFNOTE_PHYS32_ENTRY
/// (owner "Xen", type 18) gives a 32-bit physical entry point, entered in flat 32-bit protected mode with paging
/// off and ebx = the guest-physical address of a `struct hvm_start_info` (xen/include/package/arch-x86/hvm/start_info.h).
extension LinuxBoot {
    static let xenPhys32EntryNote: UInt32 = 18
    static let hvmStartMagic: UInt32 = 0x336e_c578

    /// The PVH entry point from an ELF64 image's PT_NOTE segments, or nil.
    static func pvhEntry(_ bytes: [UInt8]) -> UInt64? {
        func u16(_ o: Int) -> Int? { o >= 0 && o + 2 <= bytes.count ? Int(bytes[o]) | Int(bytes[o + 1]) << 8 : nil }
        func u32(_ o: Int) -> Int? {
            o >= 0 && o + 4 <= bytes.count ? (0..<4).reduce(0) { $0 | Int(bytes[o + $1]) << (8 * $1) } : nil
        }
        func u64(_ o: Int) -> UInt64? {
            o >= 0 && o + 8 <= bytes.count ? (0..<8).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * $1) } : nil
        }
        guard let phoff = u64(32), phoff < UInt64(bytes.count), let phentsize = u16(54), let phnum = u16(56) else {
            return nil
        }
        for i in 0..<phnum {
            let ph = Int(phoff) + i * phentsize
            guard u32(ph) == 4, let off = u64(ph + 8), let size = u64(ph + 32), off < UInt64(bytes.count),
                size <= UInt64(bytes.count) - off
            else { continue }  // PT_NOTE
            var n = Int(off)
            let end = Int(off + size)
            while n + 12 <= end {
                guard let namesz = u32(n), let descsz = u32(n + 4), let type = u32(n + 8) else { break }
                let name = n + 12
                let desc = name + (namesz + 3) & ~3
                let owner = bytes[name..<min(name + namesz, bytes.count)].prefix { $0 != 0 }
                if Array(owner) == Array("Xen".utf8), UInt32(type) == xenPhys32EntryNote, descsz >= 4,
                    let entry = u32(desc)
                {
                    return UInt64(entry)
                }
                n = desc + (descsz + 3) & ~3
            }
        }
        return nil
    }
}

extension Machine {
    func loadPVH(_ kernel: [UInt8], name: String, initrd: [UInt8]?, commandLine: String) throws -> LinuxBootSummary {
        let image = try ELFImage(bytes: kernel, name: name)
        guard let entry = LinuxBoot.pvhEntry(kernel) else {
            throw LoadError(
                "\(name) is an ELF file without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): a vmlinux built with CONFIG_PVH=y is needed, or pass the bzImage"
            )
        }
        let kernelEnd = try copySegments(image, name: name)
        // The text segment is linked at __START_KERNEL_map + its physical address (the first and lowest PT_LOAD).
        linuxTextLinkAddress = image.segments.map(\.physicalAddress).min().map { LinuxKASLR.kernelMapStart + $0 }

        // struct hvm_start_info (version 1): magic, version, flags, nr_modules, modlist_paddr, cmdline_paddr,
        // rsdp_paddr, memmap_paddr, memmap_entries, reserved — 56 bytes.
        let info = LinuxBoot.bootInfoAddress
        let modlist = info + 0x40
        let memmap = info + 0x80
        var modules: UInt32 = 0
        var initrdNote = ""
        if let initrd, !initrd.isEmpty {
            let at = try LinuxBoot.initrdAddress(
                size: initrd.count, memorySize: memory.size, limit: 1 << 32, kernelEnd: kernelEnd)
            copyIn(at, initrd)
            // struct hvm_modlist_entry: paddr, size, cmdline_paddr, reserved.
            memory.writeUInt64(modlist, at)
            memory.writeUInt64(modlist + 8, UInt64(initrd.count))
            memory.writeUInt64(modlist + 16, 0)
            memory.writeUInt64(modlist + 24, 0)
            modules = 1
            initrdNote = ", initrd at \(hexString(at)) (\(initrd.count >> 10) KiB)"
        }
        // struct hvm_memmap_table_entry: addr, size, type (1 = RAM), reserved.
        let ranges = LinuxBoot.ramRanges(memorySize: memory.size)
        for (i, r) in ranges.enumerated() {
            let e = memmap + UInt64(i) * 24
            memory.writeUInt64(e, r.address)
            memory.writeUInt64(e + 8, r.size)
            writeUInt32(e + 16, 1)
            writeUInt32(e + 20, 0)
        }
        writeUInt32(info, LinuxBoot.hvmStartMagic)
        writeUInt32(info + 4, 1)
        writeUInt32(info + 8, 0)
        writeUInt32(info + 12, modules)
        memory.writeUInt64(info + 16, modules > 0 ? modlist : 0)
        memory.writeUInt64(info + 24, LinuxBoot.commandLineAddress)
        memory.writeUInt64(info + 32, LinuxBoot.acpiTablesAddress)  // the RSDP (LinuxBoot+ACPI.swift)
        memory.writeUInt64(info + 40, memmap)
        writeUInt32(info + 48, UInt32(ranges.count))
        writeUInt32(info + 52, 0)

        // A flat 32-bit GDT (null, code 0x08, data 0x10, TSS 0x18): what the segment registers describe until
        // the kernel loads its own.
        memory.writeUInt64(LinuxBoot.gdt32Address, 0)
        memory.writeUInt64(LinuxBoot.gdt32Address + 8, 0x00cf_9b00_0000_ffff)
        memory.writeUInt64(LinuxBoot.gdt32Address + 16, 0x00cf_9300_0000_ffff)
        memory.writeUInt64(LinuxBoot.gdt32Address + 24, 0x0000_8b00_0000_0067)
        try X86Boot.enterProtectedMode32(
            contexts[0].x86, registers: contexts[0].registers, entry: entry, gdt: LinuxBoot.gdt32Address, ebx: info)
        return LinuxBootSummary(
            description:
                "PVH boot of \(name): entry \(hexString(entry)) (32-bit, paging off), hvm_start_info at \(hexString(info)), kernel up to \(hexString(kernelEnd))\(initrdNote), \(memory.size >> 20) MiB RAM, command line \"\(commandLine)\""
        )
    }
}

extension X86Boot {
    /// Flat 32-bit protected mode, paging off, interrupts off, at `entry` with ebx = `ebx` (the PVH ABI).
    static func enterProtectedMode32(
        _ backend: X86Backend, registers: RegisterFile, entry: UInt64, gdt: UInt64, ebx: UInt64
    ) throws(KVMError) {
        try registers.ensure([.x86Regs, .x86Sregs])
        var s = backend.sregs
        s.cs = flatSegment(0x08, code: true, longMode: false)
        s.ds = flatSegment(0x10, code: false, longMode: false)
        s.es = s.ds
        s.fs = s.ds
        s.gs = s.ds
        s.ss = s.ds
        s.tr = X86Segment()
        s.tr.selector = 0x18
        s.tr.limit = 0x67
        s.tr.type = 0xb  // busy 32-bit TSS
        s.tr.present = 1
        s.ldt = X86Segment()
        s.ldt.type = 2
        s.ldt.present = 1
        s.ldt.unusable = 1
        s.gdt.base = gdt
        s.gdt.limit = 31
        s.idt.base = 0
        s.idt.limit = 0
        s.cr0 = 1 << 0 | 1 << 4  // PE, ET
        s.cr3 = 0
        s.cr4 = 0
        s.efer = 0
        backend.sregs = s
        var r = X86Regs()
        r.rip = entry
        r.rbx = ebx
        r.rflags = 0x2
        backend.regs = r
        registers.markDirty([.x86Regs, .x86Sregs])
        try registers.flushNow()
    }
}
#endif

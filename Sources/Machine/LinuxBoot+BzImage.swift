import KVM
import Registers

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// The x86 64-bit boot protocol (Documentation/arch/x86/boot.rst): the setup header checked, a zero page
/// (struct boot_params) with the header, e820 map, command line and initrd, the protected-mode kernel at its
/// preferred address, and entry at its 64-bit entry (load address + 0x200) in long mode with rsi = the zero page,
/// on X86Boot's identity map. On kvm_pvm the decompressor runs emulated: minutes before the kernel proper starts.
extension Machine {
    func loadBzImage(_ bytes: [UInt8], name: String, initrd: [UInt8]?, commandLine: String) throws -> LinuxBootSummary {
        func u8(_ o: Int) -> UInt8 { o < bytes.count ? bytes[o] : 0 }
        func u16(_ o: Int) -> UInt16 { UInt16(u8(o)) | UInt16(u8(o + 1)) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) | UInt32(u16(o + 2)) << 16 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        guard bytes.count >= 0x1000, u16(0x1fe) == 0xaa55, Array(bytes[0x202..<0x206]) == Array("HdrS".utf8) else {
            throw LoadError("\(name) is neither an ELF vmlinux nor a bzImage (no \"HdrS\" setup header at 0x202)")
        }
        let version = u16(0x206)
        guard version >= 0x20c else {
            throw LoadError(
                "\(name): boot protocol \(version >> 8).\(String(version & 0xff, radix: 16)) is too old; the 64-bit entry needs 2.12 or later"
            )
        }
        let loadflags = u8(0x211)
        guard loadflags & 0x01 != 0 else {
            throw LoadError("\(name) is a zImage (loaded low); only bzImage is supported")
        }
        let xloadflags = u16(0x236)
        guard xloadflags & 0x01 != 0 else {
            throw LoadError("\(name) has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags)")
        }
        let setupSects = u8(0x1f1) == 0 ? 4 : Int(u8(0x1f1))
        let kernelOffset = (setupSects + 1) * 512
        guard kernelOffset < bytes.count else {
            throw LoadError("\(name): setup_sects \(setupSects) points past the end of the file")
        }
        let loadAddress = u64(0x258)  // pref_address
        let initSize = UInt64(u32(0x260))
        let kernelSize = bytes.count - kernelOffset
        let kernelEnd = loadAddress + max(initSize, UInt64(kernelSize))
        guard loadAddress >= LinuxBoot.highRAMStart, memory.contains(loadAddress, count: Int(kernelEnd - loadAddress))
        else {
            throw LoadError(
                "\(name) needs RAM from \(hexString(loadAddress)) to \(hexString(kernelEnd)) (init_size); guest RAM is \(memory.size >> 20) MiB: give more --memory"
            )
        }
        let cmdlineSize = Int(u32(0x238))
        guard commandLine.utf8.count < cmdlineSize else {
            throw LoadError(
                "the command line is \(commandLine.utf8.count) bytes; \(name) takes at most \(cmdlineSize - 1)")
        }
        copyIn(loadAddress, bytes, from: kernelOffset, count: kernelSize)
        linuxTextLinkAddress = LinuxKASLR.kernelMapStart + loadAddress  // vmlinux is linked at __START_KERNEL_map + its physical start

        // The zero page: the setup header copied to its place (0x1f1 up to 0x202 + the byte at 0x201), then ours.
        let zp = LinuxBoot.bootInfoAddress
        memory.write(zp, repeatElement(UInt8(0), count: 0x1000))
        let headerEnd = min(0x202 + Int(u8(0x201)), 0x1000)
        memory.write(zp + 0x1f1, bytes[0x1f1..<headerEnd])
        memory.write(zp + 0x210, CollectionOfOne(UInt8(0xff)))  // type_of_loader: undefined
        memory.write(zp + 0x211, CollectionOfOne(loadflags | 0x80))  // CAN_USE_HEAP
        writeUInt16(zp + 0x224, 0xfe00)  // heap_end_ptr
        writeUInt32(zp + 0x228, UInt32(LinuxBoot.commandLineAddress))  // cmd_line_ptr
        memory.writeUInt64(zp + 0x70, LinuxBoot.acpiTablesAddress)  // acpi_rsdp_addr (2.14+; older kernels scan for it)
        var initrdNote = ""
        if let initrd, !initrd.isEmpty {
            let at = try LinuxBoot.initrdAddress(
                size: initrd.count, memorySize: memory.size, limit: UInt64(u32(0x22c)) + 1, kernelEnd: kernelEnd)
            copyIn(at, initrd)
            writeUInt32(zp + 0x218, UInt32(at))  // ramdisk_image
            writeUInt32(zp + 0x21c, UInt32(initrd.count))  // ramdisk_size
            initrdNote = ", initrd at \(hexString(at)) (\(initrd.count >> 10) KiB)"
        }
        // e820_table at 0x2d0: struct boot_e820_entry { u64 addr; u64 size; u32 type; } packed; e820_entries at 0x1e8.
        let ranges = LinuxBoot.ramRanges(memorySize: memory.size)
        for (i, r) in ranges.enumerated() {
            let e = zp + 0x2d0 + UInt64(i) * 20
            memory.writeUInt64(e, r.address)
            memory.writeUInt64(e + 8, r.size)
            writeUInt32(e + 16, 1)
        }
        memory.write(zp + 0x1e8, CollectionOfOne(UInt8(ranges.count)))

        let entry = loadAddress + 0x200
        let ctx = contexts[0]
        try X86Boot.enterLongMode(ctx.x86, registers: ctx.registers, entry: entry, stack: 0x9_0000)
        try ctx.registers.ensure([.x86Regs])
        ctx.x86.regs.rsi = zp
        ctx.registers.markDirty([.x86Regs])
        try ctx.registers.flushNow()
        return LinuxBootSummary(
            description:
                "bzImage boot of \(name) (protocol \(version >> 8).\(String(version & 0xff, radix: 16))): kernel at \(hexString(loadAddress)), 64-bit entry \(hexString(entry)), zero page at \(hexString(zp))\(initrdNote), \(memory.size >> 20) MiB RAM, command line \"\(commandLine)\""
        )
    }
}
#endif

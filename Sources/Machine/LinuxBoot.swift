import KVM
import Registers

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// Booting a Linux kernel (`kvmstub run --kernel`): an ELF `vmlinux` through its PVH entry
/// (LinuxBoot+PVH.swift), or a bzImage through the 64-bit boot protocol (LinuxBoot+BzImage.swift).
///
/// Guest-physical layout (below 1 MiB, which Linux reserves for itself early on):
///   0x0500 X86Boot's 64-bit GDT      0x0580 the 32-bit GDT for the PVH entry
///   0x1000–0x6fff X86Boot's identity-mapped page tables (the bzImage entry runs on them)
///   0x7000 hvm_start_info, its module list and memory map (PVH) — or the zero page (bzImage)
///   0x20000 the command line        0x1000000 the kernel (its preferred address)   the initrd at the top of RAM
///   0xf0000 the MP floating pointer, 0xf0040 the ACPI RSDP/XSDT/MADT, 0xf1000 the MP configuration table
package enum LinuxBoot {
    /// `nokaslr`: gdb's symbols (vmlinux, System.map) hold link-time addresses, which match only when the
    /// kernel does not randomise its base; with KASLR on, every address is off by a random slide.
    package static let defaultCommandLine = "console=ttyS0 nokaslr"

    static let tssAddress: UInt64 = 0xfffb_d000  // Machine.init sets it (three pages)
    static let identityMapAddress: UInt64 = 0xfffb_c000  // the page below the TSS
    static let gdt32Address: UInt64 = 0x580
    static let bootInfoAddress: UInt64 = 0x7000
    static let commandLineAddress: UInt64 = 0x20000
    static let commandLineMax = 0x10000
    /// Below this, the e820 map says RAM; 0x9fc00–0x100000 (EBDA, VGA, BIOS) is left out, as Firecracker does.
    static let lowRAMEnd: UInt64 = 0x9fc00
    static let highRAMStart: UInt64 = 0x100000

    /// The in-kernel interrupt controllers and PIT, and the identity-map page; before any vCPU exists.
    static func createPlatform(_ vm: VirtualMachine) throws(KVMError) {
        try vm.setIdentityMapAddress(identityMapAddress)
        try vm.createIRQChip()
        try vm.createPIT2()
    }

    static func makeUART(_ vm: VirtualMachine, fd: Int32) -> UART16550 {
        UART16550(fd: fd) { level in try? vm.setIRQLine(UART16550.irq, level: level) }
    }

    /// e820-style RAM ranges (address, size) for a guest of `memorySize` bytes.
    static func ramRanges(memorySize: Int) -> [(address: UInt64, size: UInt64)] {
        [(0, lowRAMEnd), (highRAMStart, UInt64(memorySize) - highRAMStart)]
    }

    /// Where an initrd of `size` bytes goes: page-aligned at the top of RAM (and below `limit`), above `kernelEnd`.
    static func initrdAddress(size: Int, memorySize: Int, limit: UInt64, kernelEnd: UInt64) throws(LoadError) -> UInt64
    {
        let top = min(UInt64(memorySize), limit)
        guard UInt64(size) < top, (top - UInt64(size)) & ~0xfff >= kernelEnd else {
            throw LoadError(
                "the initrd (\(size >> 10) KiB) does not fit in guest RAM above the kernel (ends at 0x\(String(kernelEnd, radix: 16))): give more --memory"
            )
        }
        return (top - UInt64(size)) & ~0xfff
    }
}

/// What a Linux load did, for one line on stderr.
package struct LinuxBootSummary: Sendable, CustomStringConvertible {
    package let description: String
}

extension Machine {
    /// Load a Linux kernel (ELF vmlinux with a PVH note, or a bzImage), its initrd and command line, and set
    /// vCPU 0 at its entry. Needs `linuxPlatform` in the configuration. The other vCPUs stay where KVM puts an
    /// application processor with an in-kernel LAPIC: waiting for INIT/SIPI.
    package func loadLinux(kernel: [UInt8], name: String, initrd: [UInt8]?, commandLine: String) throws
        -> LinuxBootSummary
    {
        guard configuration.linuxPlatform else { throw LoadError("loadLinux needs MachineConfiguration.linuxPlatform") }
        let commandLine = commandLineForThisHost(commandLine)  // LinuxBoot+Emulator.swift
        guard commandLine.utf8.count < LinuxBoot.commandLineMax else {
            throw LoadError(
                "the command line is \(commandLine.utf8.count) bytes; at most \(LinuxBoot.commandLineMax - 1)")
        }
        memory.write(LinuxBoot.commandLineAddress, Array(commandLine.utf8) + [0])
        try writeFirmwareTables()
        if kernel.count >= 4, kernel[0] == 0x7f, kernel[1] == 0x45, kernel[2] == 0x4c, kernel[3] == 0x46 {
            return try loadPVH(kernel, name: name, initrd: initrd, commandLine: commandLine)
        }
        return try loadBzImage(kernel, name: name, initrd: initrd, commandLine: commandLine)
    }

    /// The MP table and the ACPI MADT for `--cpus` (LinuxBoot+MPTable.swift): without either, Linux runs on vCPU 0
    /// alone and never sends the others INIT/SIPI.
    func writeFirmwareTables() throws(LoadError) {
        guard contexts.count <= 254 else {
            throw LoadError(
                "\(contexts.count) vCPUs: the MP table and the MADT describe at most 254 (8-bit APIC ids, one for the IOAPIC)"
            )
        }
        let mp = LinuxBoot.mpTable(cpus: contexts.count)
        memory.write(LinuxBoot.mpFloatingPointerAddress, mp.floatingPointer)
        memory.write(LinuxBoot.mpConfigurationAddress, mp.configuration)
        memory.write(LinuxBoot.acpiTablesAddress, LinuxBoot.acpiTables(cpus: contexts.count))
    }

    /// Copy PT_LOAD segments to their physical addresses; the highest end.
    func copySegments(_ image: ELFImage, name: String) throws(LoadError) -> UInt64 {
        var end: UInt64 = 0
        for s in image.segments {
            guard s.physicalAddress >= LinuxBoot.highRAMStart, memory.contains(s.physicalAddress, count: s.memorySize)
            else {
                throw LoadError(
                    "\(name): segment at 0x\(String(s.physicalAddress, radix: 16)) (+\(s.memorySize) bytes) lies outside guest RAM above 1 MiB (\(memory.size >> 20) MiB): give more --memory"
                )
            }
            copyIn(s.physicalAddress, image.bytes, from: s.fileOffset, count: s.fileSize)  // RAM starts zeroed
            end = max(end, s.physicalAddress + UInt64(s.memorySize))
        }
        return end
    }

    /// memcpy into guest RAM (GuestMemory.write goes byte by byte: too slow for a 50 MB kernel in a debug build).
    func copyIn(_ address: UInt64, _ bytes: [UInt8], from offset: Int = 0, count: Int? = nil) {
        let n = count ?? bytes.count - offset
        guard let p = memory.pointer(address, count: n) else { return }
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
    }

    func writeUInt32(_ address: UInt64, _ v: UInt32) {
        memory.write(address, withUnsafeBytes(of: v.littleEndian) { Array($0) })
    }
    func writeUInt16(_ address: UInt64, _ v: UInt16) {
        memory.write(address, withUnsafeBytes(of: v.littleEndian) { Array($0) })
    }
}

func hexString(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
#endif

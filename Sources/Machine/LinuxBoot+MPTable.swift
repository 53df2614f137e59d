

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// The machine Linux is told about with `--cpus N`, in the two forms it reads: an Intel MP table (Intel
/// MultiProcessor Specification 1.4, chapter 4; read by kernels built with CONFIG_X86_MPPARSE, e.g. microVM
/// kernels without ACPI) and ACPI's MADT (LinuxBoot+ACPI.swift; Debian's kernels are built without
/// CONFIG_X86_MPPARSE and read only that). Both describe what KVM_CREATE_IRQCHIP gives: one LAPIC per vCPU with
/// id = vCPU index (KVM's default), vCPU 0 the boot processor, and the IOAPIC at 0xfec00000 whose pin n carries
/// ISA IRQ n, the PIT's IRQ 0 included: KVM's default GSI routing sends GSI n to the PIC and to IOAPIC pin n
/// (QEMU moves GSI 0 to pin 2 with KVM_SET_GSI_ROUTING to match a PC's wiring; kvmstub keeps KVM's and says so).
extension LinuxBoot {
    static let localAPICAddress: UInt32 = 0xfee0_0000
    static let ioapicAddress: UInt32 = 0xfec0_0000
    /// The BIOS area, left out of the e820 RAM ranges (`ramRanges`), where Linux scans for "_MP_" (0xf0000–
    /// 0xfffff) and "RSD PTR " (0xe0000–0xfffff) on 16-byte boundaries: the MP floating pointer first, then
    /// the ACPI tables, then the MP configuration table.
    static let mpFloatingPointerAddress: UInt64 = 0xf_0000
    static let acpiTablesAddress: UInt64 = 0xf_0040
    static let mpConfigurationAddress: UInt64 = 0xf_1000
    /// The first id after the LAPICs'.
    static func ioapicID(cpus: Int) -> UInt8 { UInt8(cpus) }
    /// ISA IRQ → IOAPIC pin, as KVM routes them. IRQ 2 is the PICs' cascade, never a device's.
    static let isaIRQPins: [(irq: UInt8, pin: UInt8)] = [(0, 0), (1, 1)] + (3..<16).map { (UInt8($0), UInt8($0)) }

    /// The byte that makes `bytes` sum to zero (mod 256): the checksum of both the MP and the ACPI tables.
    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt8 { 0 &- bytes.reduce(0, &+) }

    /// The MP floating pointer structure (16 bytes, for `mpFloatingPointerAddress`) and the configuration table
    /// it points to (for `configurationAddress`), for `cpus` processors.
    static func mpTable(cpus: Int, configurationAddress: UInt64 = mpConfigurationAddress) -> (
        floatingPointer: [UInt8], configuration: [UInt8]
    ) {
        precondition((1...254).contains(cpus) && configurationAddress < 1 << 32)
        var entries = LittleEndianBytes()
        var count = 0
        for i in 0..<cpus {  // processor entries (type 0, 20 bytes)
            entries.u8(0, UInt8(i), 0x14, i == 0 ? 0x03 : 0x01)  // LAPIC id, version (KVM's LAPIC), EN | BP on the BSP
            entries.u32(0x600)  // CPU signature (family 6): Linux reads neither it nor the feature flags
            entries.u32(1 << 0 | 1 << 9)  // FPU, APIC
            entries.zeros(8)
            count += 1
        }
        let isaBus: UInt8 = 0
        entries.u8(1, isaBus)  // bus entry (type 1, 8 bytes)
        entries.ascii("ISA", width: 6)
        let ioapic = ioapicID(cpus: cpus)
        entries.u8(2, ioapic, 0x11, 0x01)  // I/O APIC entry (type 2): id, version (KVM's IOAPIC), EN
        entries.u32(ioapicAddress)
        count += 2
        for (irq, pin) in isaIRQPins {  // I/O interrupt entries (type 3): INT, polarity and trigger as the bus says
            entries.u8(3, 0)
            entries.u16(0)
            entries.u8(isaBus, irq, ioapic, pin)
            count += 1
        }
        // Local interrupt entries (type 4) for every LAPIC (0xff): the PIC's ExtINT on LINT0, NMI on LINT1.
        for (type, lint): (UInt8, UInt8) in [(3, 0), (1, 1)] {
            entries.u8(4, type)
            entries.u16(0)
            entries.u8(isaBus, 0, 0xff, lint)
            count += 1
        }

        var table = LittleEndianBytes()
        table.ascii("PCMP", width: 4)
        table.u16(UInt16(44 + entries.bytes.count))  // base table length
        table.u8(4, 0)  // spec revision 1.4, checksum (below)
        table.ascii("KVMSTUB", width: 8)  // OEM id
        table.ascii("KVMSTUB", width: 12)  // product id
        table.u32(0)  // OEM table pointer
        table.u16(0)  // OEM table size
        table.u16(UInt16(count))
        table.u32(localAPICAddress)
        table.u16(0)  // extended table length
        table.u8(0, 0)  // extended table checksum, reserved
        table.bytes += entries.bytes
        table.bytes[7] = checksum(table.bytes)

        var pointer = LittleEndianBytes()
        pointer.ascii("_MP_", width: 4)
        pointer.u32(UInt32(configurationAddress))
        pointer.u8(1, 4, 0)  // length in 16-byte units, spec revision 1.4, checksum (below)
        pointer.u8(0, 0, 0, 0, 0)  // feature bytes: 1 = 0 (a configuration table is present), 2 = 0 (virtual wire)
        pointer.bytes[10] = checksum(pointer.bytes)
        return (pointer.bytes, table.bytes)
    }
}

/// Builds a little-endian byte string field by field (the MP and ACPI tables).
struct LittleEndianBytes {
    var bytes: [UInt8] = []
    mutating func u8(_ values: UInt8...) { bytes += values }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(truncatingIfNeeded: v), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { bytes += (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    mutating func u64(_ v: UInt64) { bytes += (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    mutating func zeros(_ n: Int) { bytes += repeatElement(0, count: n) }
    /// `text` padded with spaces to `width` (the MP and ACPI id fields are space-padded).
    mutating func ascii(_ text: String, width: Int) {
        bytes += Array(text.utf8.prefix(width)) + repeatElement(0x20, count: max(0, width - text.utf8.count))
    }
}
#endif

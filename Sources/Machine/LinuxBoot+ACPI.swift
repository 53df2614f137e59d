

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// The same machine as the MP table (LinuxBoot+MPTable.swift) in ACPI's terms (ACPI 6.4, sections 5.2.5 RSDP,
/// 5.2.8 XSDT, 5.2.12 MADT): an RSDP that Linux's legacy scan of 0xe0000–0xfffff finds, an XSDT listing one
/// table, and the MADT. No FADT and no DSDT: Linux reads the MADT in setup_arch (CPUs, IOAPIC, overrides)
/// and later, finding no DSDT, says "ACPI: Unable to load the System Description Tables" and runs without the
/// ACPI interpreter, which a machine with no ACPI devices does not need.
extension LinuxBoot {
    /// RSDP, XSDT and MADT, for `at` (16-byte aligned, below 4 GiB), describing `cpus` processors.
    static func acpiTables(cpus: Int, at base: UInt64 = acpiTablesAddress) -> [UInt8] {
        precondition((1...254).contains(cpus) && base & 0xf == 0 && base < 1 << 32)
        let xsdtOffset = 0x30, madtOffset = 0x60

        var madtBody = LittleEndianBytes()
        madtBody.u32(localAPICAddress)
        madtBody.u32(1)  // PCAT_COMPAT: there are 8259 PICs (KVM's), to be masked when the IOAPIC takes over
        for i in 0..<cpus { madtBody.u8(0, 8, UInt8(i), UInt8(i), 1, 0, 0, 0) }  // Processor Local APIC: uid, id, enabled
        madtBody.u8(1, 12, ioapicID(cpus: cpus), 0)  // I/O APIC: id, reserved, address, GSI base 0
        madtBody.u32(ioapicAddress)
        madtBody.u32(0)
        // Interrupt Source Overrides for ISA IRQs that are not GSI = IRQ: none with KVM's default routing.
        for (irq, pin) in isaIRQPins where irq != pin {
            madtBody.u8(2, 10, 0, irq)
            madtBody.u32(UInt32(pin))
            madtBody.u16(0)  // polarity and trigger as the bus says
        }
        madtBody.u8(4, 6, 0xff)  // Local APIC NMI: every processor, polarity and trigger as the bus says, LINT1
        madtBody.u16(0)
        madtBody.u8(1)

        var bytes = LittleEndianBytes()
        bytes.ascii("RSD PTR ", width: 8)
        bytes.u8(0)  // checksum of the first 20 bytes (below)
        bytes.ascii("KVMSTB", width: 6)
        bytes.u8(2)  // revision: ACPI 2.0 and later, with an XSDT
        bytes.u32(0)  // no RSDT
        bytes.u32(36)
        bytes.u64(base + UInt64(xsdtOffset))
        bytes.u8(0, 0, 0, 0)  // extended checksum (below), reserved
        bytes.bytes[8] = checksum(bytes.bytes[0..<20])
        bytes.bytes[32] = checksum(bytes.bytes[0..<36])
        bytes.zeros(xsdtOffset - bytes.bytes.count)
        var xsdtBody = LittleEndianBytes()
        xsdtBody.u64(base + UInt64(madtOffset))
        bytes.bytes += acpiTable("XSDT", revision: 1, body: xsdtBody)
        bytes.zeros(madtOffset - bytes.bytes.count)
        bytes.bytes += acpiTable("APIC", revision: 3, body: madtBody)
        return bytes.bytes
    }

    /// A system description table: the 36-byte header (signature, length, revision, checksum, OEM and creator
    /// ids) and `body`.
    static func acpiTable(_ signature: String, revision: UInt8, body: LittleEndianBytes) -> [UInt8] {
        var t = LittleEndianBytes()
        t.ascii(signature, width: 4)
        t.u32(UInt32(36 + body.bytes.count))
        t.u8(revision, 0)  // checksum (below)
        t.ascii("KVMSTB", width: 6)
        t.ascii("KVMSTUB", width: 8)  // OEM table id
        t.u32(1)  // OEM revision
        t.ascii("KVMS", width: 4)  // creator id
        t.u32(1)  // creator revision
        t.bytes += body.bytes
        t.bytes[9] = checksum(t.bytes)
        return t.bytes
    }
}
#endif

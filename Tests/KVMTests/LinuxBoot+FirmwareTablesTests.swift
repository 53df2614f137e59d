import Glibc
import KVM
import Testing

@testable import Machine

/// The MP table and the ACPI MADT read back the way Linux reads them (arch/x86/kernel/mpparse.c, and
/// drivers/acpi/acpica/tbxfroot.c + arch/x86/kernel/acpi/boot.c): found by a scan on 16-byte boundaries,
/// signatures, lengths and checksums checked, then the entries walked.
@Suite struct FirmwareTablesTests {
    struct Reader {
        let bytes: [UInt8]
        func u8(_ o: Int) -> Int { Int(bytes[o]) }
        func u16(_ o: Int) -> Int { u8(o) | u8(o + 1) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        func ascii(_ o: Int, _ n: Int) -> String { String(decoding: bytes[o..<o + n], as: UTF8.self) }
        func sumsToZero(_ o: Int, _ n: Int) -> Bool { bytes[o..<o + n].reduce(UInt8(0), &+) == 0 }
    }

    struct ParseError: Error, CustomStringConvertible { let description: String }

    struct MPTable {
        var processors: [(apicID: Int, flags: Int)] = []
        var buses: [String] = []
        var ioapics: [(id: Int, flags: Int, address: Int)] = []
        var ioInterrupts: [(type: Int, bus: Int, irq: Int, apic: Int, pin: Int)] = []
        var localInterrupts: [(type: Int, apic: Int, lint: Int)] = []
        var localAPIC = 0
    }

    /// Floating pointer then configuration table, as mpparse.c's smp_scan_config and smp_check_mpc check them.
    static func parseMP(floatingPointer fp: [UInt8], configuration: [UInt8], at address: UInt64) throws -> MPTable {
        let p = Reader(bytes: fp)
        guard fp.count == 16, p.ascii(0, 4) == "_MP_" else { throw ParseError(description: "no _MP_ signature") }
        guard p.u8(8) == 1, [1, 4].contains(p.u8(9)) else { throw ParseError(description: "length/revision") }
        guard p.sumsToZero(0, 16) else { throw ParseError(description: "floating pointer checksum") }
        guard p.u8(11) == 0 else { throw ParseError(description: "a default configuration, not a table") }
        guard UInt64(p.u32(4)) == address else { throw ParseError(description: "physptr \(p.u32(4))") }
        let c = Reader(bytes: configuration)
        guard c.ascii(0, 4) == "PCMP" else { throw ParseError(description: "no PCMP signature") }
        let length = c.u16(4)
        guard length == configuration.count else { throw ParseError(description: "base table length \(length)") }
        guard c.sumsToZero(0, length) else { throw ParseError(description: "configuration table checksum") }
        guard [1, 4].contains(c.u8(6)) else { throw ParseError(description: "spec revision") }
        var t = MPTable()
        t.localAPIC = c.u32(36)
        var o = 44
        var count = 0
        while o < length {
            switch c.u8(o) {
            case 0:
                t.processors.append((c.u8(o + 1), c.u8(o + 3)))
                o += 20
            case 1:
                t.buses.append(c.ascii(o + 2, 6))
                o += 8
            case 2:
                t.ioapics.append((c.u8(o + 1), c.u8(o + 3), c.u32(o + 4)))
                o += 8
            case 3:
                t.ioInterrupts.append((c.u8(o + 1), c.u8(o + 4), c.u8(o + 5), c.u8(o + 6), c.u8(o + 7)))
                o += 8
            case 4:
                t.localInterrupts.append((c.u8(o + 1), c.u8(o + 6), c.u8(o + 7)))
                o += 8
            default: throw ParseError(description: "unknown entry type \(c.u8(o)) at \(o)")
            }
            count += 1
        }
        guard o == length, count == c.u16(34) else {
            throw ParseError(description: "entry count \(c.u16(34)), walked \(count)")
        }
        return t
    }

    struct MADT {
        var localAPIC = 0
        var flags = 0
        var processors: [(uid: Int, apicID: Int, flags: Int)] = []
        var ioapics: [(id: Int, address: Int, gsiBase: Int)] = []
        var overrides: [(irq: Int, gsi: Int)] = []
        var nmis: [(uid: Int, lint: Int)] = []
    }

    /// RSDP (20-byte and 36-byte checksums) → XSDT → the table signed "APIC", each header's checksum checked.
    static func parseACPI(_ bytes: [UInt8], at base: UInt64) throws -> MADT {
        let r = Reader(bytes: bytes)
        guard r.ascii(0, 8) == "RSD PTR ", r.sumsToZero(0, 20) else {
            throw ParseError(description: "RSDP or its checksum")
        }
        guard r.u8(15) >= 2, r.u32(20) == 36, r.sumsToZero(0, 36) else {
            throw ParseError(description: "RSDP extended checksum")
        }
        func table(_ address: UInt64, _ signature: String) throws -> (offset: Int, length: Int) {
            let o = Int(address - base)
            guard o >= 0, o + 36 <= bytes.count, r.ascii(o, 4) == signature else {
                throw ParseError(description: "no \(signature)")
            }
            let length = r.u32(o + 4)
            guard o + length <= bytes.count, r.sumsToZero(o, length) else {
                throw ParseError(description: "\(signature) checksum")
            }
            return (o, length)
        }
        let xsdt = try table(r.u64(24), "XSDT")
        let pointers = (0..<(xsdt.length - 36) / 8).map { r.u64(xsdt.offset + 36 + 8 * $0) }
        guard pointers.count == 1 else { throw ParseError(description: "XSDT lists \(pointers.count) tables") }
        let madt = try table(pointers[0], "APIC")
        var m = MADT(localAPIC: r.u32(madt.offset + 36), flags: r.u32(madt.offset + 40))
        var o = madt.offset + 44
        while o < madt.offset + madt.length {
            let length = r.u8(o + 1)
            guard length >= 2 else { throw ParseError(description: "MADT entry of length \(length)") }
            switch r.u8(o) {
            case 0: m.processors.append((r.u8(o + 2), r.u8(o + 3), r.u32(o + 4)))
            case 1: m.ioapics.append((r.u8(o + 2), r.u32(o + 4), r.u32(o + 8)))
            case 2: m.overrides.append((r.u8(o + 3), r.u32(o + 4)))
            case 4: m.nmis.append((r.u8(o + 2), r.u8(o + 5)))
            default: throw ParseError(description: "unexpected MADT entry type \(r.u8(o))")
            }
            o += length
        }
        guard o == madt.offset + madt.length else { throw ParseError(description: "MADT entries overrun its length") }
        return m
    }

    @Test(arguments: [1, 2, 4, 64])
    func mpTableReadsBack(cpus: Int) throws {
        let (fp, conf) = LinuxBoot.mpTable(cpus: cpus, configurationAddress: 0xf_1000)
        let t = try Self.parseMP(floatingPointer: fp, configuration: conf, at: 0xf_1000)
        #expect(t.processors.map(\.apicID) == Array(0..<cpus))
        #expect(
            t.processors.map(\.flags) == [0x03] + Array(repeating: 0x01, count: cpus - 1), "EN on all, BP on vCPU 0")
        #expect(t.buses == ["ISA   "])
        #expect(t.ioapics.count == 1)
        #expect(t.ioapics.first?.id == cpus && t.ioapics.first?.flags == 1 && t.ioapics.first?.address == 0xfec0_0000)
        #expect(t.localAPIC == 0xfee0_0000)
        // ISA IRQs 0–15 but the cascade (2), on the IOAPIC, each as an INT, on the pin KVM routes it to: its own.
        #expect(t.ioInterrupts.map(\.irq) == [0, 1] + Array(3...15))
        #expect(t.ioInterrupts.allSatisfy { $0.type == 0 && $0.bus == 0 && $0.apic == cpus })
        #expect(t.ioInterrupts.first { $0.irq == 0 }?.pin == 0)
        #expect(t.ioInterrupts.allSatisfy { $0.pin == $0.irq })
        #expect(!t.ioInterrupts.contains { $0.irq == 2 })
        #expect(Set(t.ioInterrupts.map(\.pin)).count == t.ioInterrupts.count, "no two IRQs share a pin")
        // ExtINT (3) on LINT0 and NMI (1) on LINT1, for every LAPIC.
        #expect(t.localInterrupts.map { [$0.type, $0.apic, $0.lint] } == [[3, 0xff, 0], [1, 0xff, 1]])
    }

    /// The parser is the test's judge: it must refuse a table whose bytes no longer sum to zero.
    @Test func aWrongChecksumIsRefused() throws {
        let (fp, conf) = LinuxBoot.mpTable(cpus: 2, configurationAddress: 0xf_1000)
        var badFP = fp
        badFP[10] &+= 1
        #expect(throws: ParseError.self) { try Self.parseMP(floatingPointer: badFP, configuration: conf, at: 0xf_1000) }
        var badConf = conf
        badConf[44 + 1] ^= 0x01  // vCPU 0's LAPIC id, checksum left as it was
        #expect(throws: ParseError.self) { try Self.parseMP(floatingPointer: fp, configuration: badConf, at: 0xf_1000) }
        let acpi = LinuxBoot.acpiTables(cpus: 2, at: 0xf_0040)
        for offset in [8, 32, 0x30 + 36, 0x60 + 44 + 3] {  // RSDP checksum, its extended one, the XSDT, the MADT
            var bad = acpi
            bad[offset] &+= 1
            #expect(throws: ParseError.self, "byte \(offset)") { try Self.parseACPI(bad, at: 0xf_0040) }
        }
    }

    @Test(arguments: [1, 2, 64])
    func madtReadsBack(cpus: Int) throws {
        let m = try Self.parseACPI(LinuxBoot.acpiTables(cpus: cpus, at: 0xf_0040), at: 0xf_0040)
        #expect(m.localAPIC == 0xfee0_0000 && m.flags == 1)
        #expect(m.processors.map(\.apicID) == Array(0..<cpus) && m.processors.map(\.uid) == Array(0..<cpus))
        #expect(m.processors.allSatisfy { $0.flags == 1 }, "every processor enabled")
        #expect(m.ioapics.map { [$0.id, $0.address, $0.gsiBase] } == [[cpus, 0xfec0_0000, 0]])
        #expect(m.overrides.isEmpty, "with KVM's default routing every ISA IRQ is GSI = IRQ")
        #expect(m.nmis.map { [$0.uid, $0.lint] } == [[0xff, 1]])
    }

    /// Where Linux looks: "_MP_" on a 16-byte boundary in 0xf0000–0xfffff and "RSD PTR " in 0xe0000–0xfffff of a
    /// three-vCPU machine's memory, and none of the tables inside the e820 RAM ranges the kernel is given.
    @Test(.enabled(if: kvmAvailable, "needs /dev/kvm")) func tablesInGuestMemoryWhereLinuxScans() throws {
        var config = MachineConfiguration()
        config.memorySize = 32 << 20
        config.vcpuCount = 3
        config.linuxPlatform = true
        config.serialFD = open("/dev/null", O_WRONLY)
        let machine = try quietMachine(config)
        try machine.writeFirmwareTables()
        func read(_ a: UInt64, _ n: Int) -> [UInt8] { machine.memory.read(a, count: n) ?? [] }
        let fpAt = try #require(
            stride(from: UInt64(0xf_0000), to: 0x10_0000, by: 16).first { read($0, 4) == Array("_MP_".utf8) })
        let fp = read(fpAt, 16)
        let confAt = UInt64(Reader(bytes: fp).u32(4))
        let confLength = Reader(bytes: read(confAt, 6)).u16(4)
        let mp = try Self.parseMP(floatingPointer: fp, configuration: read(confAt, confLength), at: confAt)
        #expect(mp.processors.count == 3)
        let rsdpAt = try #require(
            stride(from: UInt64(0xe_0000), to: 0x10_0000, by: 16).first { read($0, 8) == Array("RSD PTR ".utf8) })
        let madt = try Self.parseACPI(read(rsdpAt, 0x1000), at: rsdpAt)
        #expect(madt.processors.count == 3)
        for (start, size) in LinuxBoot.ramRanges(memorySize: config.memorySize) {
            for (a, n) in [(fpAt, 16), (confAt, confLength), (rsdpAt, 0x200)] {
                #expect(a + UInt64(n) <= start || a >= start + size, "table at \(a) lies in e820 RAM")
            }
        }
    }
}

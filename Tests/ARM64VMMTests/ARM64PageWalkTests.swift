import ARM64VMM
import Testing

/// The stage-1 walk over page tables built in a dictionary (guest-physical address -> descriptor).
struct ARM64PageWalkTests {
    /// A 48-bit TTBR0 and TTBR1 regime, 4 KiB granules: TG0 = 0, T0SZ = 16, TG1 = 0b10, T1SZ = 16.
    static let tcr48: UInt64 = 16 | 16 << 16 | 0b10 << 30

    static func tables() -> [UInt64: UInt64] {
        var t: [UInt64: UInt64] = [:]
        // TTBR0 at 0x4010_0000: L0[0] -> L1 at 0x4010_1000; L1[1] (1 GiB at 0x4000_0000) -> L2 at 0x4010_2000;
        // L2[0] -> L3 at 0x4010_3000; L3[5] = page 0x4020_5000. L2[1]: a 2 MiB block at 0x4060_0000.
        t[0x4010_0000] = 0x4010_1000 | 0b11
        t[0x4010_1000 + 8] = 0x4010_2000 | 0b11
        t[0x4010_2000] = 0x4010_3000 | 0b11
        t[0x4010_3000 + 5 * 8] = 0x4020_5000 | 0x700 | 0b11
        t[0x4010_2000 + 8] = 0x4060_0000 | 0x700 | 0b01
        // TTBR1 at 0x4011_0000: L0[511] -> L1 at 0x4011_1000; L1[511]: a 1 GiB block at 0x4000_0000.
        t[0x4011_0000 + 511 * 8] = 0x4011_1000 | 0b11
        t[0x4011_1000 + 511 * 8] = 0x4000_0000 | 0b01
        return t
    }

    func walk(sctlr: UInt64 = 1, tcr: UInt64 = Self.tcr48) -> ARM64PageWalk {
        let t = Self.tables()
        return ARM64PageWalk(sctlr: sctlr, tcr: tcr, ttbr0: 0x4010_0000, ttbr1: 0x4011_0000 | 1) { pa in
            (0x4000_0000..<0x4800_0000).contains(pa) ? t[pa] ?? 0 : nil
        }
    }

    @Test func withTheMMUOffAnAddressIsItsOwn() {
        let w = walk(sctlr: 0)
        #expect(!w.pagingEnabled)
        #expect(w.translate(0x4000_1234)! == (0x4000_1234, 0x1000))
    }

    @Test func bigEndianTablesAreNotWalked() {
        // SCTLR_EL1.EE (bit 25): the descriptors are big-endian; said, not read the wrong way round.
        if case .fault(let why) = walk(sctlr: 1 | 1 << 25).walk(0x4000_5678).outcome {
            #expect(why.contains("EE"))
        } else {
            Issue.record("a big-endian regime was walked")
        }
        #expect(walk(sctlr: 1 << 25).translate(0x4000_5678)! == (0x4000_5678, 0x1000))  // MMU off: no tables
    }

    @Test func pagesAndBlocksOfTTBR0() {
        let w = walk()
        #expect(w.translate(0x4000_5678)! == (0x4020_5678, 0x1000))
        #expect(w.translate(0x4020_1234)! == (0x4060_1234, 0x20_0000))
        #expect(w.translate(0x4000_6000) == nil)  // L3[6] invalid
        #expect(w.walk(0x4000_5678).steps.map(\.level) == [0, 1, 2, 3])
    }

    @Test func theUpperHalfWalksTTBR1() {
        let w = walk()
        #expect(w.translate(0xffff_ffff_c000_1000)! == (0x4000_1000, 0x4000_0000))
        // Neither all zeros nor all ones above bit 47: outside both ranges.
        if case .fault(let why) = w.walk(0x0001_0000_0000_0000).outcome {
            #expect(why.contains("outside"))
        } else {
            Issue.record("a non-canonical address was translated")
        }
    }

    @Test func topByteIgnoreLetsATaggedPointerThrough() {
        #expect(walk().translate(0x5a00_0000_4000_5000) == nil)
        let tbi = walk(tcr: Self.tcr48 | 1 << 37)
        #expect(tbi.translate(0x5a00_0000_4000_5000)! == (0x4020_5000, 0x1000))
    }

    @Test func aSmallerRegionStartsLower() {
        // T0SZ = 25 (39-bit): the walk starts at level 1, TTBR0 pointing at what was the L1 table.
        let t = Self.tables()
        let w = ARM64PageWalk(sctlr: 1, tcr: 25 | 16 << 16 | 0b10 << 30, ttbr0: 0x4010_1000, ttbr1: 0) { t[$0] ?? 0 }
        #expect(w.translate(0x4000_5000)! == (0x4020_5000, 0x1000))
        #expect(w.walk(0x4000_5000).steps.first?.level == 1)
    }

    @Test func otherGranulesAndDisabledHalvesAreReportedNotGuessed() {
        if case .fault(let why) = walk(tcr: Self.tcr48 | 0b01 << 14).walk(0x4000_5000).outcome {
            #expect(why.contains("not 4 KiB"))
        } else {
            Issue.record("a 64 KiB granule was walked")
        }
        #expect(walk(tcr: Self.tcr48 | 1 << 7).translate(0x4000_5000) == nil)  // EPD0
        // A table entry outside RAM.
        let w = ARM64PageWalk(sctlr: 1, tcr: Self.tcr48, ttbr0: 0x9000_0000, ttbr1: 0) { _ in nil }
        #expect(w.translate(0x1000) == nil)
    }
}

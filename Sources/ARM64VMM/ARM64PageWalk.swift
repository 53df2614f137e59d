/// The EL1&0 stage-1 translation of an AArch64 guest (Arm ARM D8, "The AArch64 Virtual Memory System
/// Architecture"), read from guest memory: SCTLR_EL1.M on or off, TTBR0_EL1 for addresses whose top bits are
/// all 0 and TTBR1_EL1 for all 1 (bit 55 chooses when TCR_EL1.TBI0/TBI1 lets the top byte be ignored), T0SZ/T1SZ
/// the size of each half, EPD0/EPD1 a half switched off. The 4 KiB granule only (TG0 = 0b00, TG1 = 0b10): the
/// 16 and 64 KiB granules, 52-bit addresses (LPA2) and big-endian tables (SCTLR_EL1.EE) are reported as not
/// walked, never guessed. Permissions (AP, UXN/PXN) are not checked: gdb reads what the tables map.
package struct ARM64PageWalk {
    package let sctlr: UInt64
    package let tcr: UInt64
    package let ttbr0: UInt64
    package let ttbr1: UInt64
    /// A 64-bit little-endian read of guest-physical memory; nil outside RAM.
    package let read: (UInt64) -> UInt64?

    package init(sctlr: UInt64, tcr: UInt64, ttbr0: UInt64, ttbr1: UInt64, read: @escaping (UInt64) -> UInt64?) {
        self.sctlr = sctlr
        self.tcr = tcr
        self.ttbr0 = ttbr0
        self.ttbr1 = ttbr1
        self.read = read
    }

    /// SCTLR_EL1.M: stage 1 on. Off, every address is its own guest-physical address.
    package var pagingEnabled: Bool { sctlr & 1 != 0 }

    /// One step of a walk, for `monitor translate`.
    package struct Step: Equatable, Sendable {
        package let level: Int
        /// Where the descriptor was read (guest-physical).
        package let descriptorAddress: UInt64
        package let descriptor: UInt64
        package let meaning: String
    }

    /// Why an address has no translation, or the translation.
    package enum Outcome: Equatable, Sendable {
        case mapped(physical: UInt64, pageSize: UInt64)
        case fault(String)
    }

    /// The guest-physical address of `virtual` and the size of its page or block; nil when it is not mapped.
    package func translate(_ virtual: UInt64) -> (physical: UInt64, pageSize: UInt64)? {
        if case .mapped(let pa, let size) = walk(virtual).outcome { return (pa, size) }
        return nil
    }

    /// The walk, step by step.
    package func walk(_ virtual: UInt64) -> (steps: [Step], outcome: Outcome) {
        guard pagingEnabled else { return ([], .mapped(physical: virtual, pageSize: 0x1000)) }
        // SCTLR_EL1.EE: the walk reads its descriptors big-endian. Not walked rather than read the wrong way round.
        guard sctlr >> 25 & 1 == 0 else {
            return ([], .fault("SCTLR_EL1.EE = 1: big-endian translation tables are not walked"))
        }
        let upper = virtual >> 55 & 1 == 1
        let tbi = tcr >> (upper ? 38 : 37) & 1 == 1
        let size = Int(tcr >> (upper ? 16 : 0) & 0x3f)
        let granule = tcr >> (upper ? 30 : 14) & 3
        let disabled = tcr >> (upper ? 23 : 7) & 1 == 1
        let table = upper ? ttbr1 : ttbr0
        let name = upper ? "TTBR1_EL1" : "TTBR0_EL1"
        guard granule == (upper ? 0b10 : 0b00) else {
            return ([], .fault("\(name)'s granule (TCR_EL1.TG\(upper ? 1 : 0) = \(granule)) is not 4 KiB: not walked"))
        }
        let vaBits = 64 - size
        guard (25...48).contains(vaBits) else {
            return (
                [],
                .fault("T\(upper ? 1 : 0)SZ = \(size): a \(vaBits)-bit range is not walked (4 KiB granule: 25 to 48)")
            )
        }
        // The bits above the range must all equal bit 55 (the top byte too unless TBI ignores it).
        let topChecked = tbi ? 56 : 64
        for bit in vaBits..<topChecked where (virtual >> UInt64(bit) & 1 == 1) != upper {
            return ([], .fault("0x\(String(virtual, radix: 16)) lies outside \(name)'s \(vaBits)-bit range"))
        }
        if disabled { return ([], .fault("TCR_EL1.EPD\(upper ? 1 : 0) is set: \(name) walks are disabled")) }
        let levels = (vaBits - 12 + 8) / 9
        var level = 4 - levels
        var base = table & 0x0000_ffff_ffff_fffe
        var steps: [Step] = []
        while true {
            let shift = 12 + 9 * (3 - level)
            let indexBits = level == 4 - levels ? vaBits - shift : 9
            let index = virtual >> UInt64(shift) & ((1 << UInt64(indexBits)) - 1)
            let at = base + index * 8
            guard let d = read(at) else {
                return (steps, .fault("level \(level) table entry at 0x\(String(at, radix: 16)) is outside RAM"))
            }
            let output = d & 0x0000_ffff_ffff_f000
            let kind: String
            if d & 1 == 0 {
                kind = "invalid"
            } else if level == 3 {
                kind = d & 2 != 0 ? "page" : "reserved"
            } else if d & 2 != 0 {
                kind = "table"
            } else {
                kind = level == 0 ? "reserved" : "block"
            }
            steps.append(Step(level: level, descriptorAddress: at, descriptor: d, meaning: kind))
            switch kind {
            case "table":
                base = output
                level += 1
            case "page", "block":
                let pageSize: UInt64 = 1 << UInt64(shift)
                let pa = (output & ~(pageSize - 1)) | (virtual & (pageSize - 1))
                return (steps, .mapped(physical: pa, pageSize: pageSize))
            default:
                return (steps, .fault("level \(level) descriptor 0x\(String(d, radix: 16)) is \(kind): not mapped"))
            }
        }
    }
}

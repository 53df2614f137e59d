/// A KVM ONE_REG register ID: `arch (bits 63–56) | size (bits 55–52, log2 of bytes) | arch-specific (51–0)`,
/// as `include/uapi/linux/kvm.h` defines it. The size of a register always comes from its ID.
public struct OneRegID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `KVM_REG_ARCH_MASK`.
    public static let archMask: UInt64 = 0xff00_0000_0000_0000
    /// `KVM_REG_SIZE_MASK`; `KVM_REG_SIZE_SHIFT` is 52.
    public static let sizeMask: UInt64 = 0x00f0_0000_0000_0000

    public static let archX86: UInt64 = 0x2000_0000_0000_0000
    public static let archARM64: UInt64 = 0x6000_0000_0000_0000
    public static let archPPC: UInt64 = 0x1000_0000_0000_0000

    /// Builds an ID from its fields; `byteSize` must be a power of two from 1 to 256 (`KVM_REG_SIZE_U8` … `U2048`).
    public init(arch: UInt64, byteSize: Int, rest: UInt64) {
        precondition(byteSize > 0 && byteSize <= 256 && byteSize & (byteSize - 1) == 0, "ONE_REG size \(byteSize)")
        let log2 = UInt64(byteSize.trailingZeroBitCount)
        rawValue = arch | (log2 << 52) | (rest & 0x000f_ffff_ffff_ffff)
    }

    public var arch: UInt64 { rawValue & Self.archMask }
    /// `KVM_REG_SIZE(id)`: 1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT).
    public var byteSize: Int { 1 << Int((rawValue & Self.sizeMask) >> 52) }
    /// Bits 51–0.
    public var archSpecific: UInt64 { rawValue & 0x000f_ffff_ffff_ffff }

    public var archName: String {
        switch arch {
        case Self.archX86: "x86"
        case Self.archARM64: "arm64"
        case Self.archPPC: "ppc"
        default: String(format16: arch >> 56, digits: 2)
        }
    }

    /// `0x` and sixteen hex digits, as `kvmstub regs` prints it.
    public var description: String { "0x" + String(format16: rawValue, digits: 16) }

    public static func < (a: OneRegID, b: OneRegID) -> Bool { a.rawValue < b.rawValue }
}

extension String {
    /// Zero-padded lowercase hex without Foundation.
    package init(format16 value: UInt64, digits: Int) {
        let hex = String(value, radix: 16)
        let zeros = String(repeating: "0", count: Swift.max(0, digits - hex.count))
        self = zeros + hex
    }
}

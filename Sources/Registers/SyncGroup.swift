/// One bit per group of registers that the kernel serves together (one bulk ioctl, or one batch of ONE_REG
/// calls). The bits are mutually exclusive; the levels RUNTIME ⊂ RESET ⊂ FULL are unions of them
/// (the seeds' thread 001: a bitmap instead of QEMU's ordered sync levels).
public struct SyncGroup: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The single bits, lowest first.
    public var bits: [SyncGroup] {
        (0..<32).compactMap { rawValue & (1 << $0) != 0 ? SyncGroup(rawValue: 1 << $0) : nil }
    }
}

/// What a table says about one of its groups: a name for people, and which calls serve it.
public struct SyncGroupInfo: Sendable {
    public let group: SyncGroup
    public let name: String
    public let servedBy: String

    public init(group: SyncGroup, name: String, servedBy: String) {
        self.group = group
        self.name = name
        self.servedBy = servedBy
    }
}

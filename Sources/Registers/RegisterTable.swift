/// One register as gdb sees it and as KVM serves it.
public struct RegisterDescriptor: Sendable {
    /// gdb's name (`rax`, `x0`, `vs5h`).
    public let name: String
    /// gdb's register number: the `p`/`P` number, the position in the `g` packet.
    public let regnum: Int
    /// gdb's size. It may differ from the kernel's (`id.byteSize`): the value gdb sees is the kernel's,
    /// little-endian, cut or zero-extended to this size (eflags is 32 bits in gdb, 64 in `struct kvm_regs`).
    public let bitSize: Int
    /// gdb type (`int64`, `code_ptr`, `vec128`, `i386_eflags`).
    public let type: String
    /// gdb register group (`float`, `vector`, `system`), if any.
    public let gdbGroup: String?
    /// The gdb feature it belongs to.
    public let feature: String
    public let id: OneRegID
    public let syncGroup: SyncGroup

    public init(
        name: String, regnum: Int, bitSize: Int, type: String, gdbGroup: String? = nil, feature: String,
        id: OneRegID, syncGroup: SyncGroup
    ) {
        self.name = name
        self.regnum = regnum
        self.bitSize = bitSize
        self.type = type
        self.gdbGroup = gdbGroup
        self.feature = feature
        self.id = id
        self.syncGroup = syncGroup
    }

    public var byteSize: Int { (bitSize + 7) / 8 }
}

/// A table's registers as they are listed, in gdb's order: each gets the next regnum.
public struct RegisterList: Sendable {
    public private(set) var registers: [RegisterDescriptor] = []

    public init() {}

    public mutating func add(
        _ name: String, _ bits: Int, _ type: String, _ feature: String, _ id: OneRegID, _ group: SyncGroup,
        gdbGroup: String? = nil
    ) {
        registers.append(
            RegisterDescriptor(
                name: name, regnum: registers.count, bitSize: bits, type: type, gdbGroup: gdbGroup, feature: feature,
                id: id, syncGroup: group))
    }
}

/// A gdb target-description feature: its name, the file it is served as, and the type definitions
/// (`<vector>`, `<union>`, `<flags>`) its registers use.
public struct RegisterFeature: Sendable {
    public let name: String
    public let fileName: String
    public let typeDefinitions: String

    public init(name: String, fileName: String, typeDefinitions: String = "") {
        self.name = name
        self.fileName = fileName
        self.typeDefinitions = typeDefinitions
    }
}

/// Everything about one architecture's registers, in gdb's order. target.xml, the `g` layout, `p`/`P` and
/// `kvmstub regs` are all derived from it.
public struct RegisterTable: Sendable {
    /// gdb's `<architecture>` (`i386:x86-64`, `aarch64`, `powerpc:common64`).
    public let architecture: String
    public let features: [RegisterFeature]
    /// Sorted by regnum, numbered from 0 without gaps.
    public let registers: [RegisterDescriptor]
    public let groups: [SyncGroupInfo]
    /// What a `g` packet and a stop reply need.
    public let runtime: SyncGroup
    /// RUNTIME plus what a reset touches (segments and control registers, FP/vector).
    public let reset: SyncGroup
    /// RESET plus everything else (MSRs, system and debug registers).
    public let full: SyncGroup
    /// How many registers, from regnum 0, the `g` packet carries. gdb fetches the rest with `p`.
    public let gPacketCount: Int
    /// Registers sent in every stop reply (`T05…;06:…;07:…;10:…;`), so gdb need not ask.
    public let expedited: [Int]
    public let pcRegnum: Int
    public let spRegnum: Int

    public init(
        architecture: String, features: [RegisterFeature], registers: [RegisterDescriptor],
        groups: [SyncGroupInfo], runtime: SyncGroup, reset: SyncGroup, full: SyncGroup, gPacketCount: Int,
        expedited: [Int], pcRegnum: Int, spRegnum: Int
    ) {
        for (i, r) in registers.enumerated() { precondition(r.regnum == i, "\(r.name) has regnum \(r.regnum), not \(i)") }
        self.architecture = architecture
        self.features = features
        self.registers = registers
        self.groups = groups
        self.runtime = runtime
        self.reset = reset
        self.full = full
        self.gPacketCount = gPacketCount
        self.expedited = expedited
        self.pcRegnum = pcRegnum
        self.spRegnum = spRegnum
        self.gRegisters = registers.prefix(gPacketCount)
        self.gPacketByteCount = gRegisters.reduce(0) { $0 + $1.byteSize }
        self.byName = Dictionary(registers.map { ($0.name, $0.regnum) }, uniquingKeysWith: { a, _ in a })
    }

    public let gRegisters: ArraySlice<RegisterDescriptor>
    /// Bytes of register data in a `g` reply (the reply itself is twice that in hex).
    public let gPacketByteCount: Int
    private let byName: [String: Int]

    public func register(named name: String) -> RegisterDescriptor? { byName[name].map { registers[$0] } }

    public subscript(regnum: Int) -> RegisterDescriptor? {
        registers.indices.contains(regnum) ? registers[regnum] : nil
    }

    /// The union of the sync groups of some registers.
    public func groups<S: Sequence>(of regs: S) -> SyncGroup where S.Element == RegisterDescriptor {
        regs.reduce(SyncGroup()) { $0.union($1.syncGroup) }
    }

    public func info(for group: SyncGroup) -> SyncGroupInfo? { groups.first { $0.group == group } }

    public func groupName(_ group: SyncGroup) -> String {
        group.bits.map { info(for: $0)?.name ?? "0x" + String($0.rawValue, radix: 16) }.joined(separator: "|")
    }
}

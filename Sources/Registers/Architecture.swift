/// The architectures kvmstub knows, in one list: what `--arch` accepts (`kvmstub regs`, `kvmstub fake-target`),
/// and, in Machine (MachineArchitecture.swift), which of them a VM runs as here.
public enum Architecture: String, CaseIterable, Sendable {
    case x86_64 = "x86_64"
    case arm64
    case ppc64

    /// The spellings `--arch` accepts, the canonical one first.
    public var aliases: [String] {
        switch self {
        case .x86_64: ["x86_64", "x86-64", "amd64"]
        case .arm64: ["arm64", "aarch64"]
        case .ppc64: ["ppc64", "ppc64le", "powerpc64"]
        }
    }

    public init?(argument: String) {
        guard let a = Self.allCases.first(where: { $0.aliases.contains(argument) }) else { return nil }
        self = a
    }
}

// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "kvmstub",
    products: [
        .executable(name: "kvmstub", targets: ["kvmstub"]),
        // For Fuzz/ (its own package, which depends on this one by path): the codec and the session.
        .library(name: "RSP", targets: ["RSP"]),
        .library(name: "GDBStub", targets: ["GDBStub"]),
    ],
    targets: [
        // C shim: <linux/kvm.h> constants and the ioctl wrappers Swift cannot call (ioctl is variadic).
        .target(name: "CKVM"),
        // bytes <-> packets, sans-I/O.
        .target(name: "RSP"),
        // ONE_REG IDs, register tables, sync groups, target.xml. Pure values.
        .target(name: "Registers"),
        // The protocol session; talks to a DebugTarget only.
        .target(name: "GDBStub", dependencies: ["RSP", "Registers"]),
        // /dev/kvm wrappers, the lazy register file, per-architecture backends.
        .target(name: "KVM", dependencies: ["CKVM", "Registers"]),
        // The minimal VMM; conforms to DebugTarget.
        .target(name: "Machine", dependencies: ["KVM", "GDBStub", "Registers"]),
        // A fake arm64/ppc64 kernel for tests: in-memory vCPUs behind the ONE_REG surface, and a DebugTarget over them.
        .target(name: "FakeKernel", dependencies: ["KVM", "GDBStub", "Registers"]),
        .executableTarget(name: "kvmstub", dependencies: ["Machine", "GDBStub", "KVM", "Registers", "FakeKernel"]),
        // The benchmark of issue 5 (scripts/bench.sh builds it release); its test only checks that it runs.
        .executableTarget(name: "kvmstub-bench", dependencies: ["KVM", "CKVM"]),
        .testTarget(name: "BenchTests", dependencies: ["kvmstub-bench", "kvmstub"]),
        .testTarget(name: "RSPTests", dependencies: ["RSP"]),
        .testTarget(name: "RegistersTests", dependencies: ["Registers"]),
        .testTarget(name: "GDBStubTests", dependencies: ["GDBStub", "RSP", "Registers"]),
        .testTarget(name: "KVMTests", dependencies: ["KVM", "Registers", "CKVM", "Machine", "FakeKernel"]),
        // Runs the real kvmstub executable and the real gdb; depending on it makes `swift test` build it.
        .testTarget(name: "EndToEndTests", dependencies: ["kvmstub", "Registers"]),
    ],
    swiftLanguageModes: [.v6]
)

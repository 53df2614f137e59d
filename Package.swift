// swift-tools-version: 6.0
import PackageDescription

// The x86 VMM (Machine) and what needs it — the benchmark, the VMM's tests, the end-to-end tests with their x86
// guests — are x86-64 targets. Built on arm64 (scripts/build-arm64.sh: the manifest is evaluated there, so
// `arch` is the build machine's) the package is the stub, the register code, the KVM wrappers (their x86 parts
// under #if arch(x86_64)), the fake kernel, the arm64 VMM (ARM64VMM) and the kvmstub command.
#if arch(x86_64)
    let x86VMM = true
#else
    let x86VMM = false
#endif

var targets: [Target] = [
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
    // ELF executables a VMM loads (the x86 one and the arm64 one).
    .target(name: "GuestImage"),
    // The arm64 VMM (QEMU virt's RAM at 0x40000000, a PL011, PSCI in the kernel); arch-neutral Swift, so its pure
    // parts (ESR decoding, debug-register encodings, the stage-1 walk) are tested on x86 too.
    .target(name: "ARM64VMM", dependencies: ["KVM", "GDBStub", "Registers", "GuestImage"]),
    // A fake arm64/ppc64 kernel for tests: in-memory vCPUs behind the ONE_REG surface, and a DebugTarget over them.
    .target(name: "FakeKernel", dependencies: ["KVM", "GDBStub", "Registers"]),
    .executableTarget(
        name: "kvmstub", dependencies: (x86VMM ? ["Machine"] : []) + ["GDBStub", "KVM", "Registers", "FakeKernel", "GuestImage", "ARM64VMM"]),
    .testTarget(name: "RSPTests", dependencies: ["RSP"]),
    .testTarget(name: "RegistersTests", dependencies: ["Registers"]),
    .testTarget(name: "GDBStubTests", dependencies: ["GDBStub", "RSP", "Registers"]),
    .testTarget(name: "ARM64VMMTests", dependencies: ["ARM64VMM", "GuestImage", "KVM", "Registers"]),
]
if x86VMM {
    targets += [
        // The minimal VMM; conforms to DebugTarget.
        .target(name: "Machine", dependencies: ["KVM", "GDBStub", "Registers", "GuestImage"]),
        // The benchmark of issue 5 (scripts/bench.sh builds it release); its test only checks that it runs.
        .executableTarget(name: "kvmstub-bench", dependencies: ["KVM"]),
        .testTarget(name: "BenchTests", dependencies: ["kvmstub-bench", "kvmstub"]),
        .testTarget(name: "KVMTests", dependencies: ["KVM", "Registers", "CKVM", "Machine", "FakeKernel"]),
        // Runs the real kvmstub executable and the real gdb; depending on it makes `swift test` build it.
        .testTarget(name: "EndToEndTests", dependencies: ["kvmstub", "Registers"]),
    ]
}

let package = Package(
    name: "kvmstub",
    products: [
        .executable(name: "kvmstub", targets: ["kvmstub"]),
        // For Fuzz/ (its own package, which depends on this one by path): the codec and the session.
        .library(name: "RSP", targets: ["RSP"]),
        .library(name: "GDBStub", targets: ["GDBStub"]),
    ],
    targets: targets,
    swiftLanguageModes: [.v6]
)

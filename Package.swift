// swift-tools-version: 6.0
import PackageDescription

// The VMM (Machine) builds for x86-64 and arm64: its x86 parts (X86Architecture, the long-mode boot, real mode,
// the Linux boot, the x86 probes) are under `#if KVMSTUB_X86`, which this manifest defines on x86-64. The
// benchmark, the VMM's tests and the end-to-end tests with their x86 guests are x86-64 targets. Built on arm64
// (scripts/build-arm64.sh: the manifest is evaluated there, so `arch` is the build machine's) the package is the
// stub, the register code, the KVM wrappers (their x86 parts under #if KVMSTUB_X86 too), the fake kernel, the VMM
// with its arm64 architecture, and the kvmstub command.
// KVMSTUB_WITHOUT_X86=1 in the environment builds the VMM without its x86 parts on x86-64 too
// (`KVMSTUB_WITHOUT_X86=1 swift build --scratch-path .build-nox86 --product kvmstub`): a quick check, on this
// host, that the arm64 build's VMM does not reach for x86 code; only `kvmstub` builds that way.
#if arch(x86_64)
    let x86VMM = Context.environment["KVMSTUB_WITHOUT_X86"] == nil
#else
    let x86VMM = false
#endif
let x86Settings: [SwiftSetting] = x86VMM ? [.define("KVMSTUB_X86")] : []

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
    .target(name: "KVM", dependencies: ["CKVM", "Registers"], swiftSettings: x86Settings),
    // ELF executables a VMM loads (the x86 one and the arm64 one).
    .target(name: "GuestImage"),
    // What the VMM knows of arm64, as pure functions and values (ESR decoding, debug-register encodings, the
    // stage-1 walk, QEMU virt's layout, the PL011): arch-neutral Swift, so they are tested on x86 too.
    .target(name: "ARM64VMM", dependencies: ["KVM", "GDBStub", "Registers", "GuestImage"]),
    // A fake arm64/ppc64 kernel for tests: in-memory vCPUs behind the ONE_REG surface, and a DebugTarget over them.
    .target(name: "FakeKernel", dependencies: ["KVM", "GDBStub", "Registers"]),
    .executableTarget(
        name: "kvmstub", dependencies: ["Machine", "GDBStub", "KVM", "Registers", "FakeKernel", "GuestImage", "ARM64VMM"],
        swiftSettings: x86Settings),
    // The minimal VMM (x86-64 and arm64, behind MachineArchitecture); conforms to DebugTarget.
    .target(
        name: "Machine", dependencies: ["KVM", "GDBStub", "Registers", "GuestImage", "ARM64VMM"],
        swiftSettings: x86Settings),
    .testTarget(name: "RSPTests", dependencies: ["RSP"]),
    .testTarget(name: "RegistersTests", dependencies: ["Registers"]),
    .testTarget(name: "GDBStubTests", dependencies: ["GDBStub", "RSP", "Registers"]),
    .testTarget(name: "ARM64VMMTests", dependencies: ["ARM64VMM", "GuestImage", "KVM", "Registers"]),
]
if x86VMM {
    targets += [
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

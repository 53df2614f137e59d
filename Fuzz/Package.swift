// swift-tools-version: 6.0
import PackageDescription

// libFuzzer targets for kvmstub's hostile-input surface (issue 6). A package of its own so the main `swift build`
// and `swift test` never see `-sanitize=fuzzer`. Build and run them with scripts/fuzz.sh, which passes
// `--sanitize fuzzer --sanitize address` (the toolchain's `-sanitize=fuzzer,address`) for every module, the main
// package's RSP and GDBStub included: coverage feedback from them is the point.
//
// Each fuzzer is an executable with no `main`: libFuzzer's main calls `LLVMFuzzerTestOneInput`.
let package = Package(
    name: "kvmstub-fuzz",
    dependencies: [
        // The package identity of a path dependency is its directory's name.
        .package(name: "kvmstub", path: "..")
    ],
    targets: [
        // Invariant checks and the chunk splitter both fuzzers share.
        .target(name: "FuzzSupport", dependencies: [.product(name: "RSP", package: "kvmstub")]),
        // (a) arbitrary bytes, in arbitrary chunk splits, through RSPChannel.
        .executableTarget(
            name: "FuzzRSPChannel",
            dependencies: ["FuzzSupport", .product(name: "RSP", package: "kvmstub")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        // (b) decoder → Session.receive → an in-memory DebugTarget.
        .executableTarget(
            name: "FuzzSession",
            dependencies: [
                "FuzzSupport", .product(name: "RSP", package: "kvmstub"),
                .product(name: "GDBStub", package: "kvmstub"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ],
    swiftLanguageModes: [.v6]
)

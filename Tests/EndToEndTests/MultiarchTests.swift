import Foundation
import Registers
import Testing

/// gdb-multiarch against `kvmstub fake-target`: the arm64 and ppc64 register code driven by a real gdb on an x86
/// host, through a FAKE KERNEL (an in-memory vCPU; see Sources/FakeKernel). Skipped where gdb-multiarch is missing.
let gdbMultiarchPath = which("gdb-multiarch")

let multiarchScripts: [String] = {
    let dir = packageRoot.appendingPathComponent("gdb-scripts/multiarch")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { $0.hasSuffix(".gdb") }.sorted()
}()

@Suite(.enabled(if: gdbMultiarchPath != nil, "needs gdb-multiarch (apt-get install gdb-multiarch)"))
struct MultiarchScriptTests {
    @Test func thereAreScripts() {
        #expect(
            multiarchScripts == [
                "arm64-fpu.gdb", "arm64-sve-128.gdb", "arm64-sve-2048.gdb", "arm64-sve-512.gdb", "ppc64.gdb",
            ])
    }

    @Test(arguments: multiarchScripts)
    func script(_ name: String) throws {
        let r = try run(
            "/bin/bash", ["gdb-scripts/run.sh", "gdb-scripts/multiarch/\(name)"],
            environment: ["KVMSTUB": kvmstubPath, "GDB": gdbMultiarchPath!], timeout: 180)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("ok   \(name.dropLast(4)) "), "\(r.stdout)")
    }

    /// Every SVE vector length gives a target description gdb-multiarch takes as its own SVE description.
    @Test(arguments: RegisterTable.arm64VectorLengths)
    func everyVectorLengthIsAccepted(vl: Int) throws {
        let stub = try FakeTargetProcess(["--arch", "arm64", "--sve-vl", "\(vl)"])
        defer { stub.stop() }
        let r = try run(
            gdbMultiarchPath!,
            [
                "-batch", "-nx", "-ex", "set confirm off", "-ex", "target remote 127.0.0.1:\(stub.port)",
                "-ex", "p $vg", "-ex", "p sizeof($z0)", "-ex", "p sizeof($p0)", "-ex", "p sizeof($v0)",
                "-ex", "p $z31.b.u[\(vl / 8 - 1)]", "-ex", "kill",
            ], timeout: 60)
        let out = r.stdout + r.stderr
        #expect(out.contains("$1 = \(vl / 64)\n"), "\(out)")
        #expect(out.contains("$2 = \(vl / 8)\n"), "\(out)")
        #expect(out.contains("$3 = \(vl / 64)\n"), "\(out)")
        #expect(out.contains("$4 = 16\n"), "gdb derives the v pseudo-registers only from its own SVE feature: \(out)")
        #expect(out.contains("$5 = 0\n"), "\(out)")
        #expect(
            !out.contains("rejected") && !out.contains("warning: Could not load") && !out.contains("Remote 'g' packet"),
            "\(out)")
        #expect(stub.waitForExit() == 0)
    }
}

/// `kvmstub regs` and `kvmstub fake-target` on the command line.
@Suite struct MultiarchCommandLineTests {
    @Test func regsPrintsTheArm64Table() throws {
        let r = try run(kvmstubPath, ["regs", "--arch", "arm64", "--sve-vl", "2048"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("# aarch64: "))
        #expect(r.stdout.contains("g packet 86 registers / 9020 bytes"))
        let lines = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines.count == RegisterTable.arm64(sveVectorLength: 2048).registers.count)
        #expect(
            lines.contains { $0.split(separator: " ").elementsEqual(["x0", "0", "64", "0x6030000000100000", "core"]) })
        #expect(
            lines.contains {
                $0.split(separator: " ").elementsEqual(["z31", "65", "2048", "0x60800000001503e0", "sve"])
            })
        #expect(
            lines.contains {
                $0.split(separator: " ").elementsEqual(["ffr", "84", "256", "0x6050000000150600", "sve"])
            })
        let plain = try run(kvmstubPath, ["regs", "--arch", "arm64"])
        #expect(
            plain.stdout.split(separator: "\n").contains {
                $0.split(separator: " ").elementsEqual(["v0", "34", "128", "0x6040000000100054", "fp"])
            })
    }

    @Test func regsPrintsThePPC64Table() throws {
        let r = try run(kvmstubPath, ["regs", "--arch", "ppc64"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines.count == 137)
        #expect(
            lines.contains { $0.split(separator: " ").elementsEqual(["f0", "32", "64", "0x1030000000000020", "fp"]) })
        #expect(
            lines.contains {
                $0.split(separator: " ").elementsEqual(["vr0", "71", "128", "0x1040000000000040", "altivec"])
            })
        #expect(
            lines.contains {
                $0.split(separator: " ").elementsEqual(["vscr", "103", "32", "0x1020000000000081", "altivec"])
            })
        #expect(
            lines.contains { $0.split(separator: " ").elementsEqual(["cr", "66", "32", "0x103000e000000008", "regs"]) })
    }

    func expectOneLineFailure(_ r: Run, containing text: String) {
        #expect(r.status == 1)
        #expect(r.stderr.split(separator: "\n").count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.contains(text), "stderr: \(r.stderr)")
    }

    @Test func badOptions() throws {
        expectOneLineFailure(
            try run(kvmstubPath, ["regs", "--arch", "arm64", "--sve-vl", "100"]), containing: "--sve-vl 100")
        expectOneLineFailure(
            try run(kvmstubPath, ["regs", "--arch", "ppc64", "--sve-vl", "128"]), containing: "unknown option --sve-vl")
        expectOneLineFailure(
            try run(kvmstubPath, ["fake-target", "--arch", "arm64"]), containing: "fake-target needs --gdb")
        expectOneLineFailure(
            try run(kvmstubPath, ["fake-target", "--arch", "mips", "--gdb", ":0"]),
            containing: "unknown architecture mips")
        expectOneLineFailure(
            try run(kvmstubPath, ["fake-target", "--arch", "ppc64", "--sve-vl", "512", "--gdb", ":0"]),
            containing: "--sve-vl is for --arch arm64")
    }

    @Test func fakeTargetSaysWhatItIs() throws {
        let stub = try FakeTargetProcess(["--arch", "ppc64"])
        defer { stub.stop() }
        #expect(stub.banner.contains("serving a FAKE ppc64le kernel for testing"))
        let help = try run(kvmstubPath, ["fake-target", "--help"])
        #expect(help.stdout.contains("FAKE KERNEL"))
    }
}

/// `kvmstub fake-target … --gdb 127.0.0.1:0` in the background, with the port it bound.
final class FakeTargetProcess {
    let process = Process()
    private let stderr = Pipe()
    private(set) var port = 0
    private(set) var banner = ""

    init(_ args: [String]) throws {
        process.executableURL = URL(fileURLWithPath: kvmstubPath)
        process.arguments = ["fake-target"] + args + ["--gdb", "127.0.0.1:0"]
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let data = stderr.fileHandleForReading.availableData
            if data.isEmpty { break }
            banner += String(decoding: data, as: UTF8.self)
            if let range = banner.range(of: "waiting for gdb on 127.0.0.1:") {
                let digits = banner[range.upperBound...].prefix { $0.isNumber }
                if let p = Int(digits), banner[range.upperBound...].contains("\n") {
                    port = p
                    return
                }
            }
        }
        stop()
        throw CocoaError(
            .fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "fake-target did not start: \(banner)"])
    }

    /// The exit status, once gdb's `kill` ended it (at most 60 s: a bound for a busy host).
    func waitForExit() -> Int32? {
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    func stop() {
        if process.isRunning { process.terminate() }
    }
}

import Foundation
import Testing

/// The benchmark is not a test: this only checks that `kvmstub-bench --quick --smoke` runs every section to the
/// end and prints each one (measuring a handful of operations, asserting no speed).
@Suite struct BenchSmokeTests {
    /// `swift test` builds the executables beside the test bundle (`…/debug/kvmstubPackageTests.xctest`).
    static let buildDirectory: URL = {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir
    }()

    @Test func smokeRunPrintsEverySection() throws {
        let bench = Self.buildDirectory.appendingPathComponent("kvmstub-bench")
        let kvmstub = Self.buildDirectory.appendingPathComponent("kvmstub")
        let p = Process()
        p.executableURL = bench
        p.arguments = ["--quick", "--smoke", "--kvmstub", kvmstub.path]
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let stdout = Locked(Data())
        let stderr = Locked(Data())
        let group = DispatchGroup()
        for (pipe, sink) in [(out, stdout), (err, stderr)] {
            group.enter()
            DispatchQueue.global().async {
                sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
                group.leave()
            }
        }
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        group.wait()
        let text = String(decoding: stdout.get(), as: UTF8.self)
        let diagnostics = String(decoding: stderr.get(), as: UTF8.self)
        #expect(p.terminationStatus == 0, "stderr: \(diagnostics)")
        for section in [
            "== a. raw KVM floor", "== b. do-nothing responder floor", "== c. kvmstub over RSP", "== d. QEMU",
            "== e. idle cost", "== f. scale", "== g. next over an N-instruction line", "== h. watchpoints",
            "== ratios", "== JSON",
        ] {
            #expect(text.contains(section), "no '\(section)' in:\n\(text)")
        }
        // Every figure is either measured or says why not, in the table and in its JSON line.
        for key in [
            "raw_kvm.step", "responder.rtt_tcp", "kvmstub.step", "kvmstub.z1_hit", "kvmstub.m4k", "idle.kvmstub_cpu",
            "kvmstub.next_r_10", "kvmstub.next_s_10000", "watch.loop_page_z3", "watch.exit_round_trip",
        ] {
            #expect(text.contains("{\"figure\":\"\(key)\""), "no JSON line for \(key)")
        }
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("{\"figure\":") }
        #expect(lines.allSatisfy { $0.contains("\"median\":") || $0.contains("\"not_measured\":") })
        // Where /dev/kvm works, the kvmstub figures must have been measured, not skipped.
        if access("/dev/kvm", R_OK | W_OK) == 0 {
            for key in ["kvmstub.step", "kvmstub.next_r_10", "kvmstub.next_r_10000", "watch.loop_page_z3", "watch.away_step_z2"] {
                let line = lines.first { $0.hasPrefix("{\"figure\":\"\(key)\"") }
                #expect(line?.contains("\"median\":") == true, "\(key): \(line ?? "missing")")
            }
        }
    }
}

private final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ v: T) { value = v }
    func set(_ v: T) { lock.withLock { value = v } }
    func get() -> T { lock.withLock { value } }
}

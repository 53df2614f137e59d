import Foundation
import Testing

/// Every script in gdb-scripts/ run by gdb-scripts/run.sh: real gdb, real kvmstub, real guest.
let gdbScripts: [String] = {
    let dir = packageRoot.appendingPathComponent("gdb-scripts")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { $0.hasSuffix(".gdb") }.sorted()
}()

@Suite(.enabled(if: kvmUsable, "needs /dev/kvm"), .enabled(if: gdbPath != nil, "needs gdb"))
struct GDBScriptTests {
    @Test func thereAreScripts() { #expect(gdbScripts.count >= 7) }

    @Test(arguments: gdbScripts)
    func script(_ name: String) throws {
        let r = try run(
            "/bin/bash", ["gdb-scripts/run.sh", "gdb-scripts/\(name)"], environment: ["KVMSTUB": kvmstubPath],
            timeout: 180)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("ok   \(name.dropLast(4)) "), "\(r.stdout)")
    }
}

@Suite(.enabled(if: kvmUsable, "needs /dev/kvm"), .enabled(if: gdbPath != nil, "needs gdb"))
struct SessionLifecycleTests {
    /// Detach and reattach, a gdb killed without a word, a refused second connection, and `k`.
    @Test func attachDetachVanishAndKill() throws {
        let r = try run("/bin/bash", ["gdb-scripts/lifecycle.sh"], environment: ["KVMSTUB": kvmstubPath], timeout: 180)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("8 passed, 0 failed"), "\(r.stdout)")
    }
}

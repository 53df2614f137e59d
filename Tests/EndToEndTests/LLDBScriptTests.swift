import Foundation
import Testing

/// The scenarios in lldb-scripts/ run by lldb-scripts/run.sh: a real lldb, real kvmstub, real guests. The kernel's
/// (kernel-*.lldb, minutes of boot) has its own test below.
let lldbScripts: [String] = {
    let dir = packageRoot.appendingPathComponent("lldb-scripts")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { $0.hasSuffix(".lldb") && !$0.hasPrefix("kernel-") }.sorted()
}()

/// Debian's lldb 16 (scripts/test.sh installs it).
let lldb16Path = which("lldb-16")

/// The Swift toolchain's own lldb (lldb 21), through lldb-scripts/toolchain-lldb.sh, which gives it the
/// libpython3.10 it links (Debian 12 has only 3.11; this machine kind has pyenv's 3.10). Whether it starts is
/// probed, not assumed: `why` is what it printed when it did not.
let toolchainLLDBProbe: (starts: Bool, why: String) = {
    guard let r = try? run("/bin/bash", ["lldb-scripts/toolchain-lldb.sh", "--version"], timeout: 60) else {
        return (false, "could not run lldb-scripts/toolchain-lldb.sh")
    }
    return (r.status == 0 && r.stdout.contains("lldb version"), r.stdout + r.stderr)
}()

/// One scenario under one lldb; `lldb` is a program name or a path relative to the package root.
func runLLDBScript(_ name: String, lldb: String, timeout: TimeInterval = 600) throws {
    let r = try run(
        "/bin/bash", ["lldb-scripts/run.sh", "lldb-scripts/\(name)"],
        environment: ["KVMSTUB": kvmstubPath, "LLDB": lldb], timeout: timeout)
    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout.contains("ok   \(name.dropLast(5)) "), "\(r.stdout)")
}

@Suite(.enabled(if: kvmUsable, "needs /dev/kvm"), .enabled(if: lldb16Path != nil, "needs lldb-16 (scripts/test.sh)"))
struct LLDBScriptTests {
    @Test func thereAreScripts() { #expect(lldbScripts.count >= 9) }

    @Test(arguments: lldbScripts)
    func lldb16(_ name: String) throws {
        try runLLDBScript(name, lldb: "lldb-16")
    }

    /// Where the toolchain's lldb starts (here it does), every scenario again with it. Where it cannot, the test
    /// says why, and it must be the one known reason: no libpython3.10 to load.
    @Test(arguments: lldbScripts)
    func toolchainLLDB(_ name: String) throws {
        guard toolchainLLDBProbe.starts else {
            #expect(
                toolchainLLDBProbe.why.contains("libpython3.10"),
                "the toolchain's lldb does not start: \(toolchainLLDBProbe.why)")
            print(
                "the toolchain's lldb does not start here (\(toolchainLLDBProbe.why.prefix(200))): \(name) ran with lldb-16 only"
            )
            return
        }
        try runLLDBScript(name, lldb: "lldb-scripts/toolchain-lldb.sh")
    }

    /// README.md's "Attach lldb" session (the block after `<!-- lldb-session: readme-session -->`) against a run
    /// of lldb-scripts/readme-session.lldb, with the toolchain's lldb where it starts: every `(lldb) CMD` is the
    /// script's next command, and every other quoted line is one lldb printed, in order (lines may be left out,
    /// blanks are collapsed, a `# note` after a command is not part of it).
    @Test func readmeQuotesWhatLLDBPrints() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.components(separatedBy: "\n")
        let mark = try #require(lines.firstIndex(of: "<!-- lldb-session: readme-session -->"))
        #expect(lines[mark + 1].hasPrefix("```"))
        let block = lines[(mark + 2)...].prefix { !$0.hasPrefix("```") }
        func collapsed(_ s: some StringProtocol) -> String {
            s.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        }
        let script = try String(
            contentsOf: packageRoot.appendingPathComponent("lldb-scripts/readme-session.lldb"), encoding: .utf8)
        let commands = script.components(separatedBy: "\n").filter { !$0.isEmpty && !$0.hasPrefix("#") }.map(collapsed)
        let quotedCommands = block.filter { $0.hasPrefix("(lldb) ") }.map {
            collapsed($0.dropFirst(7).replacingOccurrences(of: #"\s+#\s.*$"#, with: "", options: .regularExpression))
        }
        #expect(quotedCommands == commands, "README's commands are not lldb-scripts/readme-session.lldb's")

        let lldb = toolchainLLDBProbe.starts ? "lldb-scripts/toolchain-lldb.sh" : "lldb-16"
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kvmstub-readme-lldb-\(getpid()).out"
        ).path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let r = try run(
            "/bin/bash", ["lldb-scripts/run.sh", "lldb-scripts/readme-session.lldb"],
            environment: ["KVMSTUB": kvmstubPath, "LLDB": lldb, "LLDB_OUTPUT": output], timeout: 600)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let printed = try String(contentsOfFile: output, encoding: .utf8).components(separatedBy: "\n")
            .filter { !$0.hasPrefix("(lldb) ") }.map(collapsed)
        var next = printed.startIndex
        for quoted in block where !quoted.hasPrefix("(lldb) ") && !quoted.hasPrefix("$ ") && !collapsed(quoted).isEmpty
        {
            guard let found = printed[next...].firstIndex(of: collapsed(quoted)) else {
                Issue.record(
                    "README quotes a line \(lldb) did not print (in this order): \(quoted)\n\(printed.joined(separator: "\n"))"
                )
                return
            }
            next = found + 1
        }
    }

    /// Debian's kernel with KASLR on: lldb-16 attaches once it prints, finds its symbols where the slide put them,
    /// stops at a hardware breakpoint, detaches; the toolchain's lldb attaches and checks again, then kills it.
    @Test(.enabled(if: debianKernel != nil, "needs Debian's cloud kernel (scripts/test.sh)"))
    func kernelWithKASLR() throws {
        try runLLDBScript("kernel-kaslr.lldb", lldb: "lldb-16", timeout: 1500)
    }
}

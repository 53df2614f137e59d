import Foundation
import Testing

/// The sessions the documentation quotes cannot drift: gdb-scripts/run.sh runs every script with gdb's
/// `set trace-commands on` and gdb-scripts/lib/quoted.py compares each block marked `<!-- session: NAME -->`
/// with what NAME.gdb ran and printed, command by command (GDBScriptTests runs them all). Here: that every
/// quoted block is marked with the script that replays it (so none escapes the check), and that the check fails
/// on a quote that drifted.
struct DocumentedSessionTests {
    static let documents: [String] = {
        let examples = packageRoot.appendingPathComponent("examples")
        let lessons = ((try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? [])
            .filter { FileManager.default.fileExists(atPath: examples.appendingPathComponent("\($0)/LESSON.md").path) }
            .map { "examples/\($0)/LESSON.md" }
        return ["README.md", "examples/README.md"] + lessons.sorted()
    }()

    /// (document, line of the fence, info string, the line before the fence)
    static func fencedBlocks(_ document: String) throws -> [(String, Int, String, String)] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent(document), encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        var blocks: [(String, Int, String, String)] = []
        var i = 0
        while i < lines.count {
            guard lines[i].hasPrefix("```") else {
                i += 1
                continue
            }
            let info = String(lines[i].dropFirst(3)).trimmingCharacters(in: .whitespaces)
            blocks.append((document, i + 1, info, i > 0 ? lines[i - 1] : ""))
            i += 1
            while i < lines.count && lines[i].trimmingCharacters(in: .whitespaces) != "```" { i += 1 }
            i += 1
        }
        return blocks
    }

    /// The lines of the block whose fence is at `fence` (1-based).
    static func blockLines(_ document: String, fence: Int) throws -> [String] {
        let lines = try String(contentsOf: packageRoot.appendingPathComponent(document), encoding: .utf8)
            .components(separatedBy: "\n")
        return Array(lines[fence...].prefix { $0.trimmingCharacters(in: .whitespaces) != "```" })
    }

    @Test func everyQuotedBlockNamesTheScriptThatReplaysIt() throws {
        #expect(Self.documents.count >= 7, "\(Self.documents)")
        var sessions = 0
        for document in Self.documents {
            for (doc, line, info, before) in try Self.fencedBlocks(document) {
                // Code and commands (```sh, ```c, ```asm) quote no output.
                guard info.isEmpty || info == "console" else { continue }
                if let r = before.range(of: #"^<!-- session: ([A-Za-z0-9_./-]+)( serial)? -->$"#, options: .regularExpression) {
                    let name = before[r].dropFirst("<!-- session: ".count).prefix { $0 != " " }
                    let script = packageRoot.appendingPathComponent("gdb-scripts/\(name).gdb").path
                    #expect(FileManager.default.fileExists(atPath: script), "\(doc):\(line) names \(name), which is not in gdb-scripts/")
                    sessions += 1
                } else if let r = before.range(of: #"^<!-- lldb-session: ([A-Za-z0-9_.-]+) -->$"#, options: .regularExpression) {
                    // lldb's sessions: LLDBScriptTests compares them with lldb-scripts/NAME.lldb.
                    let name = before[r].dropFirst("<!-- lldb-session: ".count).prefix { $0 != " " }
                    let script = packageRoot.appendingPathComponent("lldb-scripts/\(name).lldb").path
                    #expect(FileManager.default.fileExists(atPath: script), "\(doc):\(line) names \(name), which is not in lldb-scripts/")
                    #expect(try !Self.blockLines(doc, fence: line).contains { $0.hasPrefix("(gdb)") }, "\(doc):\(line)")
                } else {
                    // Any other block says it is not a session, and why; a gdb session never escapes the check.
                    let gdbLines = try Self.blockLines(doc, fence: line).contains { $0.hasPrefix("(gdb)") }
                    #expect(
                        !gdbLines && before.hasPrefix("<!-- not a session: "),
                        "\(doc):\(line): a quoted block without <!-- session: NAME --> (the script that replays and checks it)")
                }
            }
        }
        #expect(sessions >= 25, "\(sessions) quoted sessions")
    }

    /// quoted.py against a made-up trace: the quote as printed passes; one changed value, one line left out, a
    /// command the script never ran each fail, with the place; a `# varies:` line stands for what it matches.
    @Test(.enabled(if: which("python3") != nil, "needs python3")) func aDriftedQuoteFailsTheCheck() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvmstub-quoted-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("examples/demo"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = """
            +target remote 127.0.0.1:1234
            _start () at \(dir.path)/examples/lib/start.S:17
            +break add
            Breakpoint 1 at 0x100236: file \(dir.path)/examples/hello/main.c, line 50.
            +expect_eq a 2 "a"
            ++if ($arg0) == ($arg1)
            PASS: a
            +monitor sync-stats
            vCPU 0: valid=regs dirty=-
              KVM_GET_ONE_REG 43
              KVM_RUN 45

            """
        try trace.write(to: dir.appendingPathComponent("trace"), atomically: true, encoding: .utf8)
        try "# varies: KVM_GET_ONE_REG \\d+\n".write(to: dir.appendingPathComponent("demo.gdb"), atomically: true, encoding: .utf8)
        func check(_ block: String) throws -> Run {
            try "# Demo\n\n<!-- session: demo -->\n```console\n\(block)```\n".write(
                to: dir.appendingPathComponent("examples/demo/LESSON.md"), atomically: true, encoding: .utf8)
            return try run(
                "/usr/bin/env",
                ["python3", "gdb-scripts/lib/quoted.py", dir.path, "demo", dir.appendingPathComponent("trace").path, "/nonexistent",
                 dir.appendingPathComponent("demo.gdb").path])
        }
        let good = """
            $ gdb examples/build/hello.elf -ex 'target remote 127.0.0.1:1234'
            _start () at examples/lib/start.S:17
            (gdb) break add
            Breakpoint 1 at 0x100236: file examples/hello/main.c, line 50.
            (gdb) monitor sync-stats
            vCPU 0: valid=regs dirty=-
              KVM_GET_ONE_REG 39
              KVM_RUN 45

            """
        let ok = try check(good)
        #expect(ok.status == 0 && ok.stdout.isEmpty, "\(ok.stdout)\(ok.stderr)")
        let drifted = try check(good.replacingOccurrences(of: "KVM_RUN 45", with: "KVM_RUN 44"))
        #expect(drifted.status == 1 && drifted.stdout.contains("examples/demo/LESSON.md:4: `monitor sync-stats` printed"), "\(drifted.stdout)")
        let leftOut = try check(good.replacingOccurrences(of: "  KVM_RUN 45\n", with: ""))
        #expect(leftOut.status == 1 && leftOut.stdout.contains("`monitor sync-stats` printed"), "\(leftOut.stdout)")
        let elided = try check(good.replacingOccurrences(of: "  KVM_RUN 45\n", with: "...\n"))
        #expect(elided.status == 0, "an explicit ... may stand for lines left out: \(elided.stdout)")
        let notRun = try check(good + "(gdb) info registers rip\n")
        #expect(notRun.status == 1 && notRun.stdout.contains("the script does not run `info registers rip`"), "\(notRun.stdout)")
    }
}

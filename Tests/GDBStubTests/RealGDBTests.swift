import Foundation
import GDBStub
import Testing

/// Real gdb against the simulated target: the transcripts elsewhere say what we send, this says gdb accepts it
/// (target.xml, the `g` layout, stop replies, vCont, the monitor). Skipped where gdb is not installed.
struct RealGDBTests {
    static let gdbPath = ["/usr/bin/gdb", "/usr/local/bin/gdb"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    @Test(.enabled(if: gdbPath != nil)) func gdbBatchSession() throws {
        let server = GDBServer(listen: .tcp(host: "127.0.0.1", port: 0))
        try server.bind()
        let port = try #require(server.boundPort)
        let target = SimulatedTarget()
        target.asynchronous = true
        let shared = Unchecked((server: server, target: target, end: SessionEnd?.none))
        let background = Background {
            shared.value.end = try? shared.value.server.serve(target: shared.value.target)
        }

        let text = try runGDB([
            "-ex", "target remote 127.0.0.1:\(port)",
            "-ex", "info registers rip rsp",
            "-ex", "p/x $cr3",
            "-ex", "p $r15",
            "-ex", "x/4xb 0x1000",
            "-ex", "info threads",
            "-ex", "break *0x1040",
            "-ex", "continue",
            "-ex", "p/x $pc",
            "-ex", "stepi",
            "-ex", "p/x $pc",
            "-ex", "set {char}0x1000 = 0x7d",
            "-ex", "x/1xb 0x1000",
            "-ex", "monitor help",
            "-ex", "detach",
        ])

        #expect(text.contains("rip            0x1000"), "\(text)")
        #expect(text.contains("rsp            0x2ff0"), "\(text)")
        #expect(text.contains("$1 = 0x8584838281807f7e"), "\(text)")
        #expect(text.contains("<unavailable>"), "\(text)")
        #expect(text.contains("0x1000:\t0x00\t0x01\t0x02\t0x03"), "\(text)")
        #expect(text.contains("Thread 2"), "\(text)")
        #expect(text.contains("Breakpoint 1, 0x0000000000001040"), "\(text)")
        #expect(text.contains("= 0x1040"), "\(text)")
        #expect(text.contains("= 0x1041"), "\(text)")
        #expect(text.contains("0x1000:\t0x7d"), "\(text)")
        #expect(text.contains("kvmstub monitor commands:"), "\(text)")
        #expect(text.contains("sync-stats"), "\(text)")
        #expect(!text.contains("Remote failure"), "\(text)")

        // After the detach the server waits for the next gdb; a `k` from a raw client ends it.
        let last = try #require(connectTCP(port: port))
        last.write(framed("k"))
        _ = last.read(1)
        #expect(background.join())
        last.close()
        #expect(shared.value.end == .killed)
        #expect(target.detachCount == 1)
        #expect(target.breakpoints.isEmpty)
    }

    /// gdb leaves by itself after `W`: the server then returns `.exited` with the guest's status, detaching nothing.
    @Test(.enabled(if: gdbPath != nil)) func guestExitEndsTheServer() throws {
        let server = GDBServer(listen: .tcp(host: "127.0.0.1", port: 0))
        try server.bind()
        let port = try #require(server.boundPort)
        let target = SimulatedTarget()
        target.asynchronous = true
        target.exitStatusWithoutBreakpoints = 3
        let shared = Unchecked((server: server, target: target, end: SessionEnd?.none))
        let background = Background {
            shared.value.end = try? shared.value.server.serve(target: shared.value.target)
        }
        let text = try runGDB(["-ex", "target remote 127.0.0.1:\(port)", "-ex", "continue"])
        #expect(text.contains("exited with code 03"), "\(text)")
        #expect(background.join())
        #expect(shared.value.end == .exited(status: 3))
        #expect(target.detachCount == 0)
        #expect(target.killCount == 0)
    }

    /// `qOffsets` → `TextSeg=`: gdb moves every section of its symbol file, .rodata too (which `Text=;Data=;Bss=`
    /// would leave behind), by where the target says the text segment is. hello.elf's is linked at 0x100000.
    @Test(.enabled(if: gdbPath != nil)) func textSegmentMovesEverySection() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let elf = root.appendingPathComponent("examples/build/hello.elf").path
        if !FileManager.default.fileExists(atPath: elf) {
            let build = Process()
            build.executableURL = URL(fileURLWithPath: "/bin/bash")
            build.arguments = [root.appendingPathComponent("examples/build.sh").path]
            try build.run()
            build.waitUntilExit()
        }
        try #require(FileManager.default.fileExists(atPath: elf), "examples/build.sh did not build \(elf)")
        let server = GDBServer(listen: .tcp(host: "127.0.0.1", port: 0))
        try server.bind()
        let port = try #require(server.boundPort)
        let target = SimulatedTarget()
        target.asynchronous = true
        target.textSegmentPlacement = TextSegment(address: 0x500000, linkAddress: 0x100000)
        let shared = Unchecked((server: server, target: target, end: SessionEnd?.none))
        let background = Background {
            shared.value.end = try? shared.value.server.serve(target: shared.value.target)
        }
        let text = try runGDB([
            "-ex", "file \(elf)", "-ex", "target remote 127.0.0.1:\(port)", "-ex", "p &main", "-ex", "p &counter",
            "-ex", "maint info sections .rodata", "-ex", "detach",
        ])
        #expect(text.contains("0x5002fd <main>"), "\(text)")
        #expect(text.contains("0x501030 <counter>"), "\(text)")
        #expect(text.contains("0x00500430->0x005004ad"), "\(text)")
        let last = try #require(connectTCP(port: port))
        last.write(framed("k"))
        _ = last.read(1)
        #expect(background.join())
        last.close()
    }

    private func runGDB(_ commands: [String]) throws -> String {
        let gdb = Process()
        gdb.executableURL = URL(fileURLWithPath: try #require(Self.gdbPath))
        gdb.arguments = ["-nx", "-batch", "-ex", "set confirm off"] + commands
        let output = Pipe()
        gdb.standardOutput = output
        gdb.standardError = output
        try gdb.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        gdb.waitUntilExit()
        return text
    }
}

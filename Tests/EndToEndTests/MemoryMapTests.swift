import Foundation
import Testing

/// gdb's memory map (`qXfer:memory-map:read`) with real gdb and the real stub: `info mem` shows what kvmstub
/// offers, and gdb refuses an address outside the map itself, without sending an `m`.
@Suite(.enabled(if: kvmUsable, "needs /dev/kvm"), .enabled(if: gdbPath != nil, "needs gdb"))
struct MemoryMapTests {
    init() throws {
        _ = try run("/bin/bash", ["examples/build.sh"])
    }

    /// gdb's output (stdout and stderr, with `set debug remote 1` on around the reads) against `kvmstub run ARGS`.
    func gdbSession(_ arguments: [String], _ commands: [String]) throws -> String {
        let stub = try Stub(["run"] + arguments + ["--gdb", "127.0.0.1:0", "--wait", "--serial", "/dev/null"])
        defer { stub.stop() }
        let port = try #require(stub.waitForPort(), "kvmstub never said where it listens: \(stub.stderr)")
        var args = ["-q", "-nx", "-batch", "-ex", "set confirm off", "-ex", "set architecture i386:x86-64"]
        args += ["-ex", "target remote 127.0.0.1:\(port)"]
        for c in commands { args += ["-ex", c] }
        let r = try run(gdbPath!, args + ["-ex", "kill"], timeout: 60)
        return r.stdout + r.stderr
    }

    /// An ELF guest: its RAM (128 MiB at 0, identity-mapped) is the map. Above it is a hole: gdb says so at once.
    @Test func elfGuestMapIsItsRAM() throws {
        let out = try gdbSession(
            ["examples/build/hello.elf"],
            ["info mem", "x/2xb 0x100000", "set debug remote 1", "x/2xb 0x9000000", "x/2xb 0x7fffffe", "set debug remote 0"])
        #expect(out.contains("Using memory regions provided by the target."), "\(out)")
        #expect(out.contains("0x0000000000000000 0x0000000008000000 rw nocache"), "\(out)")
        #expect(out.contains("0x100000:\t0x31\t0xed"), "hello's _start: xor %ebp,%ebp\n\(out)")
        #expect(out.contains("Cannot access memory at address 0x9000000"), "\(out)")
        #expect(!out.contains("$m9000000"), "gdb asked for an address outside the map:\n\(out)")
        #expect(out.contains("$m7ffffff,1"), "the last byte of RAM are read from the stub\n\(out)")
    }

    /// `--no-memory-map`: no map offered; gdb then asks the stub about every address (and gets E14).
    @Test func noMemoryMapFlag() throws {
        let out = try gdbSession(
            ["examples/build/hello.elf", "--no-memory-map"], ["info mem", "set debug remote 1", "x/2xb 0x9000000"])
        #expect(!out.contains("qXfer:memory-map:read+"), "\(out)")
        #expect(out.contains("Using user-defined memory regions") || out.contains("There are no memory regions defined"), "\(out)")
        #expect(out.contains("$m9000000,1"), "\(out)")
        #expect(out.contains("Cannot access memory at address 0x9000000"), "\(out)")
    }
}

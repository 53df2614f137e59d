import Foundation
import Registers
import Testing

/// Bad input: one line on stderr, exit status 1, never a backtrace.
@Suite struct CommandLineTests {
    func expectOneLineFailure(_ r: Run, containing text: String) {
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.contains(text), "stderr: \(r.stderr)")
        #expect(r.stderr.hasPrefix("kvmstub: "))
    }

    @Test func missingImage() throws {
        expectOneLineFailure(try run(kvmstubPath, ["run", "/nonexistent/guest.elf"]), containing: "cannot read /nonexistent/guest.elf")
    }

    @Test func notAnELF() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kvmstub-not-elf-\(getpid())").path
        try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        expectOneLineFailure(try run(kvmstubPath, ["run", path]), containing: "is not an ELF file")
    }

    /// A boot sector given without --real-mode: the refusal says what to add.
    @Test func aBootSectorWithoutRealModeSaysToAddIt() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kvmstub-boot-\(getpid()).bin").path
        var sector = [UInt8](repeating: 0x90, count: 512)  // nop … nop
        sector[510] = 0x55
        sector[511] = 0xaa
        try Data(sector).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        expectOneLineFailure(
            try run(kvmstubPath, ["run", path]),
            containing: "is not an ELF file: it looks like a boot sector (0x55 0xaa at byte 510); add --real-mode")
        // Anything else that is not ELF: both ways out named.
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("kvmstub-raw-\(getpid()).bin").path
        try Data([UInt8](repeating: 0x90, count: 100)).write(to: URL(fileURLWithPath: other))
        defer { try? FileManager.default.removeItem(atPath: other) }
        expectOneLineFailure(try run(kvmstubPath, ["run", other]), containing: "add --real-mode, for a Linux kernel use --kernel")
    }

    @Test func aSharedObjectIsNotAnExecutable() throws {
        // /bin/ls on Debian is a position-independent executable: ET_DYN, not ET_EXEC.
        expectOneLineFailure(try run(kvmstubPath, ["run", "/bin/ls"]), containing: "is not an ELF executable")
    }

    @Test func missingKVMDevice() throws {
        let r = try run(
            kvmstubPath, ["run", "examples/build/hello.elf"], environment: ["KVMSTUB_KVM_DEVICE": "/nonexistent/kvm"])
        expectOneLineFailure(r, containing: "/nonexistent/kvm does not exist")
    }

    @Test(.enabled(if: kvmUsable, "needs /dev/kvm"))
    func segmentOutsideRAM() throws {
        _ = try run("/bin/bash", ["examples/build.sh"])
        // hello loads at 1 MiB: with 1 MiB of RAM it cannot fit.
        expectOneLineFailure(
            try run(kvmstubPath, ["run", "examples/build/hello.elf", "--memory", "1M"]), containing: "lies outside guest RAM")
    }

    @Test(.enabled(if: kvmUsable, "needs /dev/kvm"))
    func portInUse() throws {
        _ = try run("/bin/bash", ["examples/build.sh"])
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = listen(fd, 1)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        let r = try run(kvmstubPath, ["run", "examples/build/hello.elf", "--wait", "--gdb", "127.0.0.1:\(port)"])
        expectOneLineFailure(r, containing: "Address already in use")
    }

    /// A guest that starts its APs itself (no `ap_start`): refused without an interrupt controller to start them,
    /// saying what to add; with --irqchip vCPU 1 waits for the guest's SIPI, and the guest says the AP answered.
    @Test(.enabled(if: kvmUsable, "needs /dev/kvm"))
    func aGuestWithoutApStartNeedsTheIRQChip() throws {
        _ = try run("/bin/bash", ["examples/build.sh"])
        expectOneLineFailure(
            try run(kvmstubPath, ["run", "examples/build/lesson-11-smp-boot.elf", "--cpus", "2"]),
            containing: "has no `ap_start` symbol: with --cpus 2 the secondary vCPUs need an entry point (or --irqchip")
        let r = try run(kvmstubPath, ["run", "examples/build/lesson-11-smp-boot.elf", "--cpus", "2", "--irqchip"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("has no `ap_start`: vCPU 1 waits for the guest's INIT/SIPI"), "\(r.stderr)")
        #expect(r.stdout.contains("AP: hello from LAPIC id 1, in long mode\nBSP: the AP with LAPIC id 1 is up"), "\(r.stdout)")
    }

    @Test func badOptions() throws {
        expectOneLineFailure(try run(kvmstubPath, ["run", "x.elf", "--memory", "lots"]), containing: "--memory lots")
        expectOneLineFailure(try run(kvmstubPath, ["run", "x.elf", "--wait"]), containing: "--wait needs --gdb")
        for bad in ["soon", "0", "-1", "nan", "1e9"] {
            expectOneLineFailure(
                try run(kvmstubPath, ["run", "x.elf", "--stall-timeout", bad]), containing: "--stall-timeout \(bad)")
        }
        expectOneLineFailure(
            try run(kvmstubPath, ["run", "x.elf", "--watchpoints", "psychic"]), containing: "--watchpoints psychic: want auto, page")
        expectOneLineFailure(try run(kvmstubPath, ["frobnicate"]), containing: "unknown command frobnicate")
        expectOneLineFailure(try run(kvmstubPath, ["regs", "--arch", "vax"]), containing: "unknown architecture vax")
    }

    @Test(.enabled(if: kvmUsable, "needs /dev/kvm"))
    func guestRunsWithoutADebuggerAndItsStatusIsKvmstubs() throws {
        _ = try run("/bin/bash", ["examples/build.sh"])
        let r = try run(kvmstubPath, ["run", "examples/build/hello.elf"], timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("hello from the guest\n"))
        #expect(r.stdout.contains("counter=20\n"))
    }

    @Test func regsPrintsTheTableWithONEREGIDs() throws {
        let r = try run(kvmstubPath, ["regs", "--arch", "x86_64"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines.count == RegisterTable.x86_64.registers.count)
        #expect(lines.contains { $0.split(separator: " ").elementsEqual(["efer", "65", "64", "0x20300002c0000080", "msrs"]) })
        #expect(lines.contains { $0.split(separator: " ").elementsEqual(["rax", "0", "64", "0x203000e000000000", "regs"]) })
        #expect(lines.contains { $0.split(separator: " ").elementsEqual(["cr3", "62", "64", "0x203000e1000000f0", "sregs"]) })
    }

    @Test(.enabled(if: kvmUsable, "needs /dev/kvm"))
    func infoReportsTheHost() throws {
        let r = try run(kvmstubPath, ["info"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("KVM API version:         12"))
        #expect(r.stdout.contains("software breakpoints:"))
    }
}

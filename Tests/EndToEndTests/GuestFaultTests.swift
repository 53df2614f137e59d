import Foundation
import Testing

/// Guest faults end to end (issue 6): the real kvmstub on /dev/kvm running examples/faults, with and without gdb.
/// Each fault is exactly one stderr line naming the vCPU and the rip; without a debugger kvmstub then exits 1, with
/// one gdb gets a stop it understands and can still read registers and memory. (gdb's own view of each fault is in
/// gdb-scripts/fault-*.gdb.)
@Suite(.enabled(if: kvmUsable, "needs /dev/kvm"))
struct GuestFaultTests {
    /// A fault mode of examples/faults: the stderr line it gives, the signal gdb reports, and where the rip must be
    /// (between two symbols of the guest).
    struct Fault: Sendable, CustomStringConvertible {
        let mode: Int
        let line: String
        let signal: String
        let ripFrom: String
        let ripTo: String
        let ripOffsetFrom: UInt64
        let ripOffsetTo: UInt64

        var description: String { "faults-mode\(mode)" }
    }

    static let faults = [
        // cli; hlt with no interrupt controller: the rip named is the hlt itself.
        Fault(
            mode: 0, line: "halted at rip 0x", signal: "SIGSTOP", ripFrom: "halt_forever", ripTo: "halt_forever",
            ripOffsetFrom: 1, ripOffsetTo: 2),
        // lidt with limit 0, ud2: #UD, #GP, #DF, shutdown, at the ud2.
        Fault(
            mode: 1, line: "triple fault (KVM_EXIT_SHUTDOWN) at rip 0x", signal: "SIGSEGV",
            ripFrom: "trigger_triple_fault", ripTo: "write_outside_ram", ripOffsetFrom: 0, ripOffsetTo: 0),
        // A store to 0xF0000000, outside RAM: KVM reports the MMIO exit with the store completed, rip past it.
        Fault(
            mode: 2,
            line: "write to guest-physical 0xf0000000, which no memory slot covers, by the instruction just before rip 0x",
            signal: "SIGBUS", ripFrom: "write_outside_ram", ripTo: "read_outside_ram", ripOffsetFrom: 1, ripOffsetTo: 1),
        // A load from 0xF0000000: KVM finishes it only on the next KVM_RUN, with the data, so rip is the load itself.
        Fault(
            mode: 4, line: "read from guest-physical 0xf0000000, which no memory slot covers, at rip 0x",
            signal: "SIGBUS", ripFrom: "read_outside_ram", ripTo: "read_outside_ram", ripOffsetFrom: 0, ripOffsetTo: 0),
    ]

    init() throws {
        _ = try run("/bin/bash", ["examples/build.sh"])
    }

    @Test(arguments: faults)
    func withoutGDBOneLineAndExitStatus1(_ fault: Fault) throws {
        let r = try run(kvmstubPath, ["run", "examples/build/faults-mode\(fault.mode).elf"], timeout: 30)
        #expect(r.status == 1, "stderr: \(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(r.stderr)")
        try expectFaultLine(String(lines.first ?? ""), fault)
        #expect(r.stdout.hasPrefix("faults: mode=\(fault.mode)\n"))
    }

    @Test func aGuestThatExitsNormallyPrintsNothing() throws {
        let r = try run(kvmstubPath, ["run", "examples/build/faults-mode3.elf"], timeout: 30)
        #expect(r.status == 42)
        #expect(r.stderr.isEmpty, "stderr: \(r.stderr)")
    }

    @Test(.enabled(if: gdbPath != nil, "needs gdb"), arguments: faults)
    func withGDBAStopThenRegistersAndMemory(_ fault: Fault) throws {
        let stub = try Stub(["run", "examples/build/faults-mode\(fault.mode).elf", "--wait", "--gdb", "127.0.0.1:0"])
        defer { stub.stop() }
        let port = try #require(stub.waitForPort(), "kvmstub never said where it listens: \(stub.stderr)")
        let gdb = try run(
            gdbPath!,
            [
                "-batch", "-nx", "-ex", "set confirm off", "-ex", "target remote 127.0.0.1:\(port)", "-ex", "continue",
                "-ex", "printf \"PC=%#lx\\n\", $pc", "-ex", "printf \"MODE=%d\\n\", mode",
                "-ex", "printf \"RSP=%#lx\\n\", $rsp", "-ex", "printf \"CR3=%#lx\\n\", $cr3", "-ex", "kill",
                "examples/build/faults-mode\(fault.mode).elf",
            ], timeout: 60)
        #expect(gdb.status == 0, "\(gdb.stdout)\(gdb.stderr)")
        #expect(gdb.stdout.contains("Program received signal \(fault.signal)"), "\(gdb.stdout)")
        // The cause reaches gdb's console too (an `O` packet before the stop reply; gdb prints it on stderr).
        #expect(gdb.stderr.contains("kvmstub: " + fault.line), "\(gdb.stderr)")
        #expect(gdb.stdout.contains("MODE=\(fault.mode)\n"), "memory reads after the fault: \(gdb.stdout)")
        #expect(gdb.stdout.contains("CR3=0x1000\n"), "registers read after the fault: \(gdb.stdout)")
        #expect(gdb.stdout.contains("RSP=0x7ff"), "\(gdb.stdout)")
        let pc = try #require(
            gdb.stdout.split(separator: "\n").first { $0.hasPrefix("PC=0x") }.flatMap {
                UInt64($0.dropFirst(5), radix: 16)
            })
        let (from, to) = try range(fault)
        #expect(pc >= from && pc <= to + 1, "pc 0x\(String(pc, radix: 16))")

        #expect(stub.waitForExit() == 0, "kvmstub after kill: \(stub.stderr)")
        let faultLines = stub.stderr.split(separator: "\n").filter { $0.contains("vCPU") }
        #expect(faultLines.count == 1, "stderr: \(stub.stderr)")
        try expectFaultLine(String(faultLines.first ?? ""), fault)
        // Nothing else but the lifecycle lines: no backtrace, no second report.
        for line in stub.stderr.split(separator: "\n") where !line.contains("vCPU") {
            #expect(line.contains("waiting for gdb") || line.contains("gdb connected"), "unexpected: \(line)")
        }
    }

    /// `kvmstub: vCPU 0: <what> 0x<rip>`, the rip inside the fault's function.
    private func expectFaultLine(_ line: String, _ fault: Fault) throws {
        let prefix = "kvmstub: vCPU 0: " + fault.line
        #expect(line.hasPrefix(prefix), "\(line)")
        let rip = try #require(UInt64(line.dropFirst(prefix.count), radix: 16), "no rip in \(line)")
        let (from, to) = try range(fault)
        #expect(rip >= from && rip <= to, "rip 0x\(String(rip, radix: 16)) not in \(fault.ripFrom)…\(fault.ripTo)")
    }

    /// Where the rip may be, from the guest's symbols.
    private func range(_ fault: Fault) throws -> (UInt64, UInt64) {
        let symbols = try guestSymbols("examples/build/faults-mode\(fault.mode).elf")
        let from = try #require(symbols[fault.ripFrom]) + fault.ripOffsetFrom
        var to = try #require(symbols[fault.ripTo])
        to = fault.ripFrom == fault.ripTo ? to + fault.ripOffsetTo : to - fault.ripOffsetTo
        return (from, to)
    }
}

/// Symbol → address, from `nm`.
func guestSymbols(_ image: String) throws -> [String: UInt64] {
    let r = try run("/usr/bin/env", ["nm", image])
    var symbols: [String: UInt64] = [:]
    for line in r.stdout.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count == 3, let address = UInt64(fields[0], radix: 16) else { continue }
        symbols[String(fields[2])] = address
    }
    return symbols
}

/// kvmstub running in the background, its stderr collected as it comes.
final class Stub: @unchecked Sendable {
    let process = Process()
    private let errors = Locked(Data())
    /// Set when stderr reached its end (kvmstub exited and every byte it wrote is in `errors`).
    private let errorsComplete = Locked(false)

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: kvmstubPath)
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardError = pipe
        let errors = self.errors
        let complete = errorsComplete
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if chunk.isEmpty {
                handle.readabilityHandler = nil
                complete.set(true)
            } else {
                errors.set(errors.get() + chunk)
            }
        }
        try process.run()
    }

    var stderr: String { String(decoding: errors.get(), as: UTF8.self) }

    /// The TCP port from "waiting for gdb on 127.0.0.1:PORT" (the kernel's pick for port 0).
    /// (Bounds here are generous: they end as soon as what they wait for happens, and a busy host is slow.)
    func waitForPort(timeout: TimeInterval = 60) -> Int? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && process.isRunning {
            if let range = stderr.range(of: "waiting for gdb on 127.0.0.1:") {
                let digits = stderr[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits), stderr[range.upperBound...].dropFirst(digits.count).first == "\n" {
                    return port
                }
            }
            usleep(20_000)
        }
        return nil
    }

    func waitForExit(timeout: TimeInterval = 60) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        guard !process.isRunning else { return nil }
        // The last stderr bytes: until the pipe's end, not for a fixed time.
        while !errorsComplete.get() && Date() < deadline.addingTimeInterval(10) { usleep(10_000) }
        return process.terminationStatus
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

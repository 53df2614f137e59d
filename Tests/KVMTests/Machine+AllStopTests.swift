import GDBStub
import Glibc
import KVM
@testable import Machine
import Testing

/// The all-stop with more vCPUs than the first stop needs: commands the vCPU threads have not picked up are taken
/// back instead of waiting for those threads to run, and `monitor resume-timeline` accounts for every vCPU.
@Suite(.enabled(if: kvmAvailable, "needs /dev/kvm"))
struct MachineAllStopTests {
    // A: inc rax; B: inc rbx; jmp A — every vCPU spins here.
    private static let loop: [UInt8] = [0x48, 0xFF, 0xC0, 0x48, 0xFF, 0xC3, 0xEB, 0xF8]
    private static let siteA: UInt64 = 0x10000
    private static let siteB: UInt64 = 0x10003

    private func machine(vcpus: Int) throws -> Machine {
        var config = MachineConfiguration()
        config.vcpuCount = vcpus
        config.memorySize = 4 << 20
        config.serialFD = open("/dev/null", O_WRONLY)
        let m = try Machine(configuration: config)
        try m.loadFlat(Self.loop, at: Self.siteA)
        m.start(running: false)
        _ = m.attach()
        return m
    }

    private func waitForStop(_ m: Machine) throws -> StopEvent {
        var pfd = pollfd(fd: m.stopNotificationFD, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 10_000) == 1, let stop = m.takeStop() else {
            m.interrupt()
            throw TargetError.failed("no stop within 10 s")
        }
        return stop
    }

    /// Commands no thread has picked up yet (here: none was woken) are withdrawn by the kick, and with nothing
    /// left running the stop is delivered at once, by the kicker.
    @Test func aKickTakesBackCommandsNoThreadPickedUp() throws {
        let m = try machine(vcpus: 4)
        m.control.withLock { s in
            for i in 0..<4 {
                s.vcpus[i].command = RunCommand(action: .continue, debug: m.debugState(step: false))
                s.runningCount += 1
            }
            m.kickAllFromSession(&s)
            #expect(s.runningCount == 0)
            #expect(s.vcpus.allSatisfy { $0.command == nil && !$0.running })
            #expect(s.pendingStop?.reason == .interrupted)
        }
        #expect(try waitForStop(m).reason == .interrupted)
        // The vCPUs are intact: the next resume runs them.
        try m.insertBreakpoint(.hardware, at: Self.siteB, length: 1)
        #expect(try m.resume([:], otherThreads: .continue) == .running)
        #expect(try waitForStop(m).reason == .hardwareBreakpoint)
    }

    /// Breakpoint hits and Ctrl-C with 8 vCPUs: every resume ends in one stop, and every vCPU of every resume
    /// either ran or had its command withdrawn.
    @Test func everyVCPUOfEveryResumeRanOrWasWithdrawn() throws {
        let m = try machine(vcpus: 8)
        var site = Self.siteB
        for _ in 0..<30 {
            try m.insertBreakpoint(.hardware, at: site, length: 1)
            #expect(try m.resume([:], otherThreads: .continue) == .running)
            let stop = try waitForStop(m)
            #expect(stop.reason == .hardwareBreakpoint)
            #expect(u64(try m.readRegister(regnum("rip"), thread: stop.thread)) == site)
            try m.removeBreakpoint(.hardware, at: site, length: 1)
            site = site == Self.siteB ? Self.siteA : Self.siteB
        }
        for _ in 0..<5 {
            #expect(try m.resume([:], otherThreads: .continue) == .running)
            m.interrupt()
            #expect(try waitForStop(m).reason == .interrupted)
        }
        let report = try #require(m.monitor("resume-timeline"))
        #expect(report.hasPrefix("35 resumes through the vCPU threads"))
        // "(S threads started; W of C commands withdrawn unstarted)": S + W == C == 35 × 8.
        let counts = try #require(report.split(separator: "(").dropFirst().first?.split(separator: ")").first)
        let numbers = counts.split(separator: " ").compactMap { Int($0) }
        #expect(numbers.count == 3)
        if numbers.count == 3 {
            #expect(numbers[0] + numbers[1] == numbers[2])
            #expect(numbers[2] == 35 * 8)
        }
    }
}

import GDBStub
import Glibc
import KVM
@testable import Machine
import Testing

/// A secondary vCPU left as KVM creates it with an in-kernel LAPIC (KVM_MP_STATE_UNINITIALIZED), started by the
/// INIT and SIPI vCPU 0 writes to its LAPIC's ICR, in real mode at the vector's page: what gdb sees of it through
/// the stub before, while and after it waits.
@Suite(.enabled(if: kvmAvailable, "needs /dev/kvm"), .serialized)
struct MachineStartupIPITests {
    /// vCPU 0, long mode at 0x10000: wait for the byte at 0x9000, enable its LAPIC (KVM sends no IPI written to
    /// the ICR of a software-disabled xAPIC, on kvm_pvm and the rig's 6.1 SVM: gdb-scripts/lesson-11-svr.gdb),
    /// then INIT and SIPI (vector 8: 0x8000) to LAPIC id 1.
    static let bsp: [UInt8] =
        [0x80, 0x3C, 0x25, 0x00, 0x90, 0x00, 0x00, 0x00]  // 0x10000 cmp byte [0x9000], 0
        + [0x74, 0xF6]  // 0x10008 je 0x10000
        + [0xBB, 0x00, 0x00, 0xE0, 0xFE]  // 0x1000a mov ebx, 0xfee00000 (the LAPIC)
        + [0xC7, 0x83, 0xF0, 0x00, 0x00, 0x00, 0xFF, 0x01, 0x00, 0x00]  // 0x1000f SVR: enabled, spurious vector 0xff
        + [0xC7, 0x83, 0x10, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]  // 0x10019 ICR high: destination id 1
        + [0xC7, 0x83, 0x00, 0x03, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00]  // 0x10023 ICR low: INIT, assert
        + [0xC7, 0x83, 0x00, 0x03, 0x00, 0x00, 0x08, 0x46, 0x00, 0x00]  // 0x1002d ICR low: SIPI, vector 8
        + [0xEB, 0xFE]  // 0x10037 jmp $
    static let afterSIPI: UInt64 = 0x10037
    /// vCPU 1, real mode at 0x8000 (cs 0x0800, ip 0): mov ax, 0x1234; jmp $.
    static let trampoline: [UInt8] = [0xB8, 0x34, 0x12, 0xEB, 0xFE]

    private func machine() throws -> Machine {
        var config = MachineConfiguration()
        config.vcpuCount = 2
        config.inKernelIRQChip = true
        config.memorySize = 4 << 20
        config.serialFD = open("/dev/null", O_WRONLY)
        let m = try quietMachine(config)
        try m.loadFlat(Self.bsp, at: 0x10000, secondariesWaitForStartup: true)
        #expect(m.memory.write(0x8000, Self.trampoline))
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

    private func reg(_ m: Machine, _ name: String, _ thread: Int) throws -> UInt64 {
        u64(try m.readRegister(regnum(name), thread: thread))
    }

    /// Before any IPI: a thread in the reset state (cs:ip f000:fff0), said to wait; Ctrl-C and steps of vCPU 0
    /// leave it waiting; the SIPI then starts it at 0800:0000 and its first stop names it.
    @Test func theWaitingVCPUIsAThreadUntilItsSIPIStartsItInRealMode() throws {
        let m = try machine()
        #expect(m.threadIDs == [1, 2])
        #expect(m.threadExtraInfo(2)?.contains("stopped, waits for an INIT IPI, then a SIPI") == true)
        #expect(m.threadExtraInfo(1)?.contains("waits") == false)
        let vcpus = try #require(m.monitor("vcpus"))
        #expect(vcpus.contains("mp_state KVM_MP_STATE_RUNNABLE"), "\(vcpus)")
        #expect(vcpus.contains("mp_state KVM_MP_STATE_UNINITIALIZED: waits for an INIT IPI, then a SIPI"), "\(vcpus)")
        // KVM_GET_REGS/SREGS of the waiting vCPU: the architectural reset state.
        #expect(try reg(m, "rip", 2) == 0xfff0)
        #expect(try reg(m, "cs", 2) & 0xffff == 0xf000)
        #expect(try reg(m, "cr0", 2) & 1 == 0)

        // Both resumed: vCPU 1 blocks in KVM_RUN waiting; Ctrl-C must still stop the machine.
        #expect(try m.resume([:], otherThreads: .continue) == .running)
        usleep(50_000)
        m.interrupt()
        #expect(try waitForStop(m).reason == .interrupted)
        #expect(m.monitor("vcpus")?.contains("KVM_MP_STATE_UNINITIALIZED") == true)

        // vCPU 0 steps alone (scheduler-locking): vCPU 1 is not run, and stays as it was.
        let rip0 = try reg(m, "rip", 1)
        #expect(try run(m, .step).reason == .stepped)
        #expect(try reg(m, "rip", 1) != rip0 || rip0 == 0x10000)
        #expect(try reg(m, "rip", 2) == 0xfff0)

        // Let vCPU 0 send the IPIs; a hardware breakpoint on the trampoline's linear address stops vCPU 1 there.
        try m.writeMemory(at: 0x9000, bytes: [1], thread: 1)
        try m.insertBreakpoint(.hardware, at: 0x8000, length: 1)
        #expect(try m.resume([:], otherThreads: .continue) == .running)
        let stop = try waitForStop(m)
        #expect(stop == StopEvent(thread: 2, reason: .hardwareBreakpoint))
        #expect(try reg(m, "cs", 2) & 0xffff == 0x0800)
        #expect(try reg(m, "rip", 2) == 0)
        #expect(try reg(m, "cr0", 2) & 1 == 0, "real mode")
        #expect(m.threadExtraInfo(2)?.contains("waits") == false)
        #expect(m.monitor("vcpus")?.contains("mp_state KVM_MP_STATE_UNINITIALIZED") == false)
        // And it runs on from there: one step (the breakpoint out, as gdb steps over one) executes its first
        // instruction.
        try m.removeBreakpoint(.hardware, at: 0x8000, length: 1)
        let step = try m.resume([2: .step], otherThreads: nil)  // a lone vCPU runs on the session's thread
        #expect(step == .stopped(StopEvent(thread: 2, reason: .stepped)))
        #expect(try reg(m, "rip", 2) == 3)
        #expect(try reg(m, "rax", 2) & 0xffff == 0x1234)
    }

    /// A stop that comes right after vCPU 0 sent the SIPI (its breakpoint kicks vCPU 1, which may not have taken
    /// the SIPI yet) does not lose it: vCPU 1 still starts at the trampoline.
    @Test func aStopRightAfterTheSIPIDoesNotLoseIt() throws {
        let m = try machine()
        try m.writeMemory(at: 0x9000, bytes: [1], thread: 1)
        try m.insertBreakpoint(.hardware, at: Self.afterSIPI, length: 1)
        try m.insertBreakpoint(.hardware, at: 0x8000, length: 1)
        #expect(try m.resume([:], otherThreads: .continue) == .running)
        var stop = try waitForStop(m)
        if stop.thread == 1 {
            #expect(stop.reason == .hardwareBreakpoint)
            #expect(try reg(m, "rip", 1) == Self.afterSIPI)
            try m.removeBreakpoint(.hardware, at: Self.afterSIPI, length: 1)
            #expect(try m.resume([:], otherThreads: .continue) == .running)
            stop = try waitForStop(m)
        }
        #expect(stop == StopEvent(thread: 2, reason: .hardwareBreakpoint))
        #expect(try reg(m, "cs", 2) & 0xffff == 0x0800)
    }

    /// vCPU 0 sends the IPIs while vCPU 1 is held stopped by the debugger (scheduler-locking): they wait in its
    /// LAPIC, and KVM_GET_MP_STATE (which takes pending INIT/SIPI) shows it started before it ever ran — and the
    /// registers read after it are the SIPI's, not the reset state cached before.
    @Test func theIPIsWaitInTheLAPICWhileTheTargetIsHeld() throws {
        let m = try machine()
        try m.writeMemory(at: 0x9000, bytes: [1], thread: 1)
        try m.insertBreakpoint(.hardware, at: Self.afterSIPI, length: 1)
        #expect(try reg(m, "cs", 2) & 0xffff == 0xf000)  // read (and cached) before the IPIs
        #expect(try run(m, .continue) == StopEvent(thread: 1, reason: .hardwareBreakpoint))
        #expect(try reg(m, "cs", 2) & 0xffff == 0xf000, "vCPU 1 has not run: KVM has not taken the IPIs yet")
        let vcpus = try #require(m.monitor("vcpus"))
        #expect(vcpus.contains("vCPU 1, stopped, last exit none yet\n  mp_state KVM_MP_STATE_RUNNABLE"), "\(vcpus)")
        #expect(try reg(m, "cs", 2) & 0xffff == 0x0800)
        #expect(try reg(m, "rip", 2) == 0)
        // The LAPICs as KVM_GET_LAPIC has them: vCPU 0's ICR holds the last command it sent.
        let lapic = try #require(m.monitor("lapic"))
        #expect(lapic.contains("vCPU 0: LAPIC id 0, version 0x50014, SVR 0x1ff (enabled)"), "\(lapic)")
        #expect(
            lapic.contains(
                "ICR 0x01000000 0x00004608: STARTUP, vector 0x08 (start at 0x8000), edge, to LAPIC id 1, idle"),
            "\(lapic)")
        #expect(lapic.contains("vCPU 1: LAPIC id 1,"), "\(lapic)")
    }

    @Test func theICRIsDescribedFieldByField() {
        #expect(
            Machine.describeICR(low: 0xc500, high: 0x0100_0000)
                == "INIT, level-triggered, assert, to LAPIC id 1, idle")
        #expect(
            Machine.describeICR(low: 0x8500, high: 0x0100_0000)
                == "INIT, level-triggered, de-assert, to LAPIC id 1, idle")
        #expect(Machine.describeICR(low: 0x000c_4030, high: 0) == "fixed, vector 0x30, edge, to all but self, idle")
        #expect(
            Machine.describeICR(low: 0x1_0000 | 0x1000 | 0x800 | 0x41, high: 0x0300_0000).hasSuffix(
                "to logical 3, send pending"))
    }
}

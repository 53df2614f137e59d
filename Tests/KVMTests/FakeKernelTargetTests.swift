import FakeKernel
import GDBStub
import Glibc
import KVM
import Registers
import Testing

/// The fake kernel's DebugTarget: what the GDBStub session is served by in the gdb-multiarch scripts.
@Suite struct FakeKernelTargetTests {
    func pc(_ t: FakeKernelTarget) throws -> UInt64 {
        let bytes = try #require(try t.readRegister(t.registerTable.pcRegnum, thread: 1))
        return bytes.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
    }

    @Test(arguments: [FakeKernelTarget.Architecture.arm64(sveVectorLength: 512), .arm64(sveVectorLength: nil), .ppc64])
    func stepsBreakpointsAndInterrupts(arch: FakeKernelTarget.Architecture) throws {
        let t = try FakeKernelTarget(arch)
        #expect(t.attach() == StopEvent(thread: 1, reason: .stepped))
        #expect(try pc(t) == 0x10000)
        #expect(try t.resume([1: .step], otherThreads: nil) == .stopped(StopEvent(thread: 1, reason: .stepped)))
        #expect(try pc(t) == 0x10004)

        let original = try t.readMemory(at: 0x10040, count: 4, thread: 1)
        try t.insertBreakpoint(.software, at: 0x10040, length: 4)
        #expect(try t.readMemory(at: 0x1003e, count: 8, thread: 1).dropFirst(2).prefix(4).elementsEqual(original))
        #expect(t.memory.read(0x10040, count: 4) != original)  // the trap is in memory
        #expect(
            try t.resume([:], otherThreads: .continue) == .stopped(StopEvent(thread: 1, reason: .softwareBreakpoint)))
        #expect(try pc(t) == 0x10040)
        try t.removeBreakpoint(.software, at: 0x10040, length: 4)
        #expect(t.memory.read(0x10040, count: 4) == original)

        // Nothing ahead: it "runs" until interrupted.
        #expect(try t.resume([:], otherThreads: .continue) == .running)
        t.interrupt()
        var pfd = pollfd(fd: t.stopNotificationFD, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pfd, 1, 1000) == 1)
        #expect(t.takeStop() == StopEvent(thread: 1, reason: .interrupted))
        #expect(throws: TargetError.self) { _ = try t.readRegister(0, thread: 2) }  // one vCPU: thread 1 only
    }

    @Test func vgCannotChange() throws {
        let t = try FakeKernelTarget(.arm64(sveVectorLength: 512))
        let vg = t.registerTable.register(named: "vg")!.regnum
        #expect(try t.readRegister(vg, thread: 1) == [8, 0, 0, 0, 0, 0, 0, 0])
        try t.writeRegister(vg, value: [8, 0, 0, 0, 0, 0, 0, 0], thread: 1)  // the same value: fine (a G carries it)
        #expect(throws: TargetError.self) { try t.writeRegister(vg, value: [4, 0, 0, 0, 0, 0, 0, 0], thread: 1) }
    }

    @Test func aRefusedPstateIsAnErrorNotASilentChange() throws {
        let t = try FakeKernelTarget(.arm64(sveVectorLength: nil))
        let cpsr = t.registerTable.register(named: "cpsr")!.regnum
        try t.writeRegister(cpsr, value: [0x13, 0, 0, 0], thread: 1)  // AArch32 SVC on a 64-bit EL1: EINVAL …
        #expect(throws: TargetError.self) { _ = try t.resume([1: .step], otherThreads: nil) }  // … when it is flushed
        #expect(throws: TargetError.self) { _ = try t.resume([1: .step], otherThreads: nil) }  // and again: not dropped
        try t.writeRegister(cpsr, value: [0xc4, 0x03, 0, 0], thread: 1)  // EL1t: fine
        #expect(try t.resume([1: .step], otherThreads: nil) == .stopped(StopEvent(thread: 1, reason: .stepped)))
        #expect(try t.readRegister(cpsr, thread: 1) == [0xc4, 0x03, 0, 0])
    }
}

import GDBStub
import Glibc
import KVM
import Machine
import Testing

/// KVM_KVMCLOCK_CTRL on resume after a long stop (Machine+KVMClock.swift), with guests that do and do not enable
/// kvmclock. The guest reads its own kvmclock page, so the test sees what a Linux watchdog would see.
@Suite(.enabled(if: kvmAvailable, "needs /dev/kvm"))
struct KVMClockTests {
    /// mov ecx, MSR_KVM_SYSTEM_TIME_NEW; mov eax, 0x20000 | 1; xor edx, edx; wrmsr (kvmclock page at 0x20000, on);
    /// then (0x1000e) the flags byte of the page (struct pvclock_vcpu_time_info offset 29) goes out to the exit port.
    static let enableKVMClockThenExitWithFlags: [UInt8] = [
        0xB9, 0x01, 0x4D, 0x56, 0x4B, 0xB8, 0x01, 0x00, 0x02, 0x00, 0x31, 0xD2, 0x0F, 0x30,
        0xA0, 0x1D, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xE6, 0xF4, 0xEB, 0xFE,
    ]
    static let pvclockGuestStopped: UInt8 = 1 << 1

    /// Steps over the wrmsr, stays stopped `pause` microseconds, continues: the guest's exit status is its flags.
    func flagsAfterAStop(of pause: UInt32, threshold: UInt64) throws -> (flags: UInt8, machine: Machine) {
        let m = try makeMachine(Self.enableKVMClockThenExitWithFlags)
        m.pauseClock.threshold = .max  // the steps to get there do not count
        for _ in 0..<4 { _ = try run(m, .step) }
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x1000e)
        m.pauseClock.threshold = threshold
        usleep(pause)
        let stop = try run(m, .continue)
        guard case .exited(let flags) = stop.reason else {
            Issue.record("unexpected stop \(stop)")
            return (0, m)
        }
        return (flags, m)
    }

    @Test(.enabled(if: KVMCapabilities(try! KVMSystem()).kvmclockControl, "no KVM_CAP_KVMCLOCK_CTRL on this host"))
    func aLongStopSetsGuestStoppedInTheGuestsClock() throws {
        let (flags, m) = try flagsAfterAStop(of: 120_000, threshold: 50_000_000)
        #expect(flags & Self.pvclockGuestStopped != 0, "flags 0x\(String(flags, radix: 16))")
        #expect(m.pauseClock.told[0] == 1)
        #expect(m.counter(thread: 1)[.kvmclockCtrl] == 1)
        #expect(m.monitor("kvmclock")?.contains("vCPU 0: guest told it was paused 1 times, EINVAL 0") == true)
    }

    @Test func aShortStopCostsNoIoctlAndTellsNothing() throws {
        // A 1 ms stop against a 60 s threshold: however long this busy host takes between the stop and the continue.
        let (flags, m) = try flagsAfterAStop(of: 1000, threshold: 60_000_000_000)
        #expect(flags & Self.pvclockGuestStopped == 0, "flags 0x\(String(flags, radix: 16))")
        #expect(m.counter(thread: 1)[.kvmclockCtrl] == 0)
    }

    /// A guest without kvmclock: EINVAL, counted and silent, and the guest goes on as before.
    @Test func aGuestWithoutKVMClockGetsEINVALAndRunsOn() throws {
        let m = try makeMachine(nopsThenLoop)
        m.pauseClock.threshold = 0
        #expect(try run(m, .step).reason == .stepped)
        #expect(try run(m, .step).reason == .stepped)
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10002)
        let calls = m.counter(thread: 1)[.kvmclockCtrl]
        #expect(calls == (m.capabilities.kvmclockControl ? 2 : 0))
        #expect(m.pauseClock.notEnabled[0] == (m.capabilities.kvmclockControl ? 2 : nil))
        #expect(m.pauseClock.lastFailure == nil)
    }
}

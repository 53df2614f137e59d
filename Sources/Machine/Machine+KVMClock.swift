import Glibc
import KVM

/// Tells a Linux guest it was paused (KVM_KVMCLOCK_CTRL, as QEMU and Firecracker do on resume), so that a long
/// stop in gdb does not make the kernel's soft-lockup watchdog (20 s) or its RCU stall detector fire the moment the
/// guest runs again: KVM sets PVCLOCK_GUEST_STOPPED in the vCPU's kvmclock page and the watchdog, seeing it,
/// resets itself instead of reporting a lockup.
///
/// Only after a stop of at least `threshold` (1 s by default): single steps, breakpoint hits that a script
/// continues at once, and anything else quicker than a person never pay the extra ioctl (~5 µs each per vCPU),
/// and a pause under a second cannot trip a watchdog that counts in tens of seconds. Session thread only.
package final class GuestPauseClock: @unchecked Sendable {
    /// Stops shorter than this are not reported to the guest.
    package var threshold: UInt64 = 1_000_000_000  // ns
    /// vCPU index → when it stopped (CLOCK_MONOTONIC ns), while it is stopped.
    private var stoppedAt: [Int: UInt64] = [:]
    /// Per vCPU index: ioctls that told the guest, EINVALs (no kvmclock enabled), other failures.
    package private(set) var told: [Int: Int] = [:]
    package private(set) var notEnabled: [Int: Int] = [:]
    package private(set) var lastFailure: String?

    package init() {}

    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// Every vCPU is stopped (all-stop) from now; one already stopped keeps its earlier time.
    func allStopped(_ indices: Range<Int>) {
        let t = Self.now()
        for i in indices where stoppedAt[i] == nil { stoppedAt[i] = t }
    }

    /// These vCPUs are about to run: tell the guest on each one that was stopped long enough.
    func resuming(_ vcpus: [VCPU], available: Bool) {
        let t = Self.now()
        for vcpu in vcpus {
            guard let since = stoppedAt.removeValue(forKey: vcpu.index), available, t - since >= threshold else {
                continue
            }
            do {
                #if KVMSTUB_X86
                    let reported = try vcpu.reportPausedToKVMClock()
                #else
                    let reported = false  // not reached: capabilities.kvmclockControl is x86's
                #endif
                if reported {
                    told[vcpu.index, default: 0] += 1
                } else {
                    notEnabled[vcpu.index, default: 0] += 1
                }
            } catch {
                lastFailure = "\(error)"  // the guest runs on regardless: a watchdog warning at worst
            }
        }
    }
}

extension Machine {
    /// `monitor kvmclock`.
    func kvmclockReport() -> String {
        guard capabilities.kvmclockControl else {
            return
                "KVM_KVMCLOCK_CTRL: not offered by this kernel (no KVM_CAP_KVMCLOCK_CTRL): a long stop may trip the guest's soft-lockup watchdog\n"
        }
        let c = pauseClock
        var out =
            "KVM_KVMCLOCK_CTRL on resume after a stop of at least \(Double(c.threshold) / 1e9) s (KVM_CAP_KVMCLOCK_CTRL)\n"
        for ctx in contexts {
            let i = ctx.vcpu.index
            out +=
                "  vCPU \(i): guest told it was paused \(c.told[i] ?? 0) times, EINVAL \(c.notEnabled[i] ?? 0) (kvmclock not enabled by the guest)\n"
        }
        if let f = c.lastFailure { out += "  last failure: \(f)\n" }
        return out
    }
}

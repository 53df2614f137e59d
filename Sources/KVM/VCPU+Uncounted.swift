import CKVM
import Glibc

#if KVMSTUB_X86
/// The benchmark's floor (kvmstub-bench, "Raw KVM floor"): the same vCPU ioctls with nothing around them — not
/// counted, not retried, not turned into errors — so what the funnel and the register file add can be measured
/// against it. Nothing else uses these.
package struct UncountedVCPUCalls {
    let fd: Int32
    let run: UnsafeMutablePointer<kvm_run>

    /// `KVM_RUN`: 0, or -1 with errno.
    @inline(__always) package func runOnce() -> Int32 { ckvm_ioctl_val(fd, CKVM_RUN, 0) }
    /// The last exit was KVM_EXIT_DEBUG; otherwise its reason.
    @inline(__always) package var exitReason: UInt32 { ckvm_run_exit_reason(run) }
    package static let debugExit = CKVM_EXIT_DEBUG

    @inline(__always) package func getRegs(_ p: UnsafeMutablePointer<X86Regs>) -> Bool {
        ckvm_ioctl_ptr(fd, CKVM_GET_REGS, p) == 0
    }
    @inline(__always) package func getSregs(_ p: UnsafeMutablePointer<X86Sregs>) -> Bool {
        ckvm_ioctl_ptr(fd, CKVM_GET_SREGS, p) == 0
    }
    @inline(__always) package func getXSAVE(_ p: UnsafeMutablePointer<X86XSAVE>) -> Bool {
        ckvm_ioctl_ptr(fd, CKVM_GET_XSAVE, p) == 0
    }

    /// KVM_SET_GUEST_DEBUG with `control` and, if given, x86's debugreg words (DR0–DR3, 4–5, DR6, DR7).
    package func setGuestDebug(_ control: GuestDebugControl, debugRegisters: [UInt64] = []) -> Bool {
        var dbg = kvm_guest_debug()
        dbg.control = control.rawValue
        withUnsafeMutableBytes(of: &dbg.arch) { raw in
            for (i, v) in debugRegisters.prefix(raw.count / 8).enumerated() {
                raw.storeBytes(of: v, toByteOffset: i * 8, as: UInt64.self)
            }
        }
        return ckvm_ioctl_ptr(fd, CKVM_SET_GUEST_DEBUG, &dbg) == 0
    }

    /// `kvm_run->kvm_valid_regs`: which groups KVM_RUN hands back (KVM_CAP_SYNC_REGS).
    package func handBack(regsAndSregs: Bool) {
        ckvm_run_valid_regs(run).pointee = regsAndSregs ? CKVM_SYNC_X86_REGS | CKVM_SYNC_X86_SREGS : 0
    }
}

extension VCPU {
    package var uncounted: UncountedVCPUCalls { UncountedVCPUCalls(fd: fd, run: runPage) }
}

package typealias X86XSAVE = kvm_xsave
#endif

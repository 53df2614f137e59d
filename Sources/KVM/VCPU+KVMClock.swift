import CKVM
import Glibc

// x86 only: KVM_KVMCLOCK_CTRL.
#if KVMSTUB_X86

extension VCPU {
    /// `KVM_KVMCLOCK_CTRL`: tells the guest, through its kvmclock page (PVCLOCK_GUEST_STOPPED), that the host
    /// paused it, so its soft-lockup watchdog does not count the pause as a lockup. Returns false on EINVAL: the
    /// guest has not enabled kvmclock on this vCPU (MSR_KVM_SYSTEM_TIME), which is normal for a guest that is not
    /// Linux, and for Linux before kvmclock_init.
    package func reportPausedToKVMClock() throws(KVMError) -> Bool {
        let r = ioctls.perform(.kvmclockCtrl, CKVM_KVMCLOCK_CTRL, .value(0))
        if !r.failed { return true }
        if r.errno == EINVAL { return false }
        throw ioctls.error(.kvmclockCtrl, r.errno)
    }
}

#endif

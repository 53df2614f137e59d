import CKVM
import Glibc

extension VCPU {
    /// `KVM_KVMCLOCK_CTRL`: tells the guest, through its kvmclock page (PVCLOCK_GUEST_STOPPED), that the host
    /// paused it, so its soft-lockup watchdog does not count the pause as a lockup. Returns false on EINVAL: the
    /// guest has not enabled kvmclock on this vCPU (MSR_KVM_SYSTEM_TIME), which is normal for a guest that is not
    /// Linux, and for Linux before kvmclock_init.
    public func reportPausedToKVMClock() throws(KVMError) -> Bool {
        counter.record("KVM_KVMCLOCK_CTRL")
        if retryingEINTR({ ckvm_ioctl_val(fd, CKVM_KVMCLOCK_CTRL, 0) }) == 0 { return true }
        let e = errno
        if e == EINVAL { return false }
        throw KVMError(operation: "KVM_KVMCLOCK_CTRL", vcpu: index, errno: e)
    }
}

import CKVM

extension VirtualMachine {
    /// `KVM_ARM_PREFERRED_TARGET`: the `struct kvm_vcpu_init` target every vCPU of this VM must be initialized with
    /// (KVM_ARM_VCPU_INIT refuses another: Linux 6.1 on a Cortex-A57 refuses generic v8). A VM ioctl, arm64 only;
    /// elsewhere the kernel answers ENOTTY.
    package func armPreferredTarget() throws(KVMError) -> UInt32 {
        // struct kvm_vcpu_init { __u32 target; __u32 features[7]; }
        var initArgument: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0, 0)
        try ioctls.call(.armPreferredTarget, CKVM_ARM_PREFERRED_TARGET, &initArgument)
        return initArgument.0
    }
}

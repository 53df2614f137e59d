import CKVM
import Glibc

/// The real vCPU as the ONE_REG backends see it. `getOneReg`/`setOneReg` are VCPU's own; this adds
/// KVM_GET_REG_LIST and the arm64 and powerpc ioctls. Their request numbers come from CKVM: on an arm64 or
/// powerpc build from <linux/kvm.h>, elsewhere spelled out for that architecture — on this x86 build they exist
/// so the code path compiles and reads as it would run, but nothing issues them.
extension VCPU: ARM64VCPUDevice, PPC64VCPUDevice {
    /// `KVM_GET_REG_LIST`: asked first with n = 0, the kernel answers E2BIG with the count; then asked again.
    public func regList() throws(KVMError) -> [UInt64] {
        var n: UInt64 = 0
        while true {
            let size = ckvm_reg_list_size(n)
            let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            defer { buf.deallocate() }
            buf.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            buf.storeBytes(of: n, as: UInt64.self)
            counter.record("KVM_GET_REG_LIST")
            if retryingEINTR({ ckvm_ioctl_ptr(fd, CKVM_GET_REG_LIST, buf) }) == 0 {
                let count = Int(buf.load(as: UInt64.self))
                return (0..<min(count, Int(n))).map { buf.load(fromByteOffset: 8 + 8 * $0, as: UInt64.self) }
            }
            let e = errno
            let wanted = buf.load(as: UInt64.self)
            guard e == E2BIG, wanted > n, wanted < 1 << 20 else {
                throw KVMError(operation: "KVM_GET_REG_LIST", vcpu: index, errno: e)
            }
            n = wanted
        }
    }

    /// `KVM_ARM_VCPU_INIT`: struct kvm_vcpu_init { __u32 target; __u32 features[7]; }.
    public func armVCPUInit(target: UInt32, features: [UInt32]) throws(KVMError) {
        var words = [UInt32](repeating: 0, count: 8)
        words[0] = target
        for (i, w) in features.prefix(7).enumerated() { words[1 + i] = w }
        try withUnsafeMutableBytes(of: &words) { (b) throws(KVMError) in
            counter.record("KVM_ARM_VCPU_INIT")
            guard retryingEINTR({ ckvm_ioctl_ptr(fd, CKVM_ARM_VCPU_INIT, b.baseAddress) }) == 0 else {
                throw KVMError(operation: "KVM_ARM_VCPU_INIT", vcpu: index, errno: errno)
            }
        }
    }

    /// `KVM_ARM_VCPU_FINALIZE`: the argument is a pointer to the feature number.
    public func armVCPUFinalize(feature: Int32) throws(KVMError) {
        var f = feature
        try ioctl("KVM_ARM_VCPU_FINALIZE", CKVM_ARM_VCPU_FINALIZE, &f, detail: "\(feature)")
    }

    public func getPPCRegs(into regs: UnsafeMutableRawBufferPointer) throws(KVMError) {
        precondition(regs.count == 392, "powerpc struct kvm_regs is 392 bytes")
        counter.record("KVM_GET_REGS")
        guard retryingEINTR({ ckvm_ioctl_ptr(fd, CKVM_PPC_GET_REGS, regs.baseAddress) }) == 0 else {
            throw KVMError(operation: "KVM_GET_REGS", vcpu: index, errno: errno)
        }
    }

    public func setPPCRegs(from regs: UnsafeRawBufferPointer) throws(KVMError) {
        precondition(regs.count == 392, "powerpc struct kvm_regs is 392 bytes")
        counter.record("KVM_SET_REGS")
        guard
            retryingEINTR({ ckvm_ioctl_ptr(fd, CKVM_PPC_SET_REGS, UnsafeMutableRawPointer(mutating: regs.baseAddress)) }
            ) == 0
        else {
            throw KVMError(operation: "KVM_SET_REGS", vcpu: index, errno: errno)
        }
    }
}

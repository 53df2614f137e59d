import Registers

/// The part of a vCPU's ioctl surface a ONE_REG backend needs: what arm64 and ppc64 serve registers through.
/// The real `VCPU` conforms (VCPU+OneRegDevice.swift); so does the fake kernel the tests use (the FakeKernel
/// module), which is how the arm64 and ppc64 backends run unchanged on an x86 host.
package protocol OneRegDevice: AnyObject {
    /// Every call, counted by ioctl name (`KVM_GET_ONE_REG`, …).
    var counter: IoctlCounter { get }
    /// `KVM_GET_ONE_REG`: `value` must be exactly `KVM_REG_SIZE(id)` bytes.
    func getOneReg(_ id: UInt64, into value: UnsafeMutableRawBufferPointer) throws(KVMError)
    /// `KVM_SET_ONE_REG`: `value` must be exactly `KVM_REG_SIZE(id)` bytes.
    func setOneReg(_ id: UInt64, from value: UnsafeRawBufferPointer) throws(KVMError)
    /// `KVM_GET_REG_LIST`: every ID the vCPU serves (arm64; powerpc does not implement it: EINVAL).
    func regList() throws(KVMError) -> [UInt64]
}

/// arm64's vCPU set-up ioctls.
package protocol ARM64VCPUDevice: OneRegDevice {
    /// `KVM_ARM_VCPU_INIT`: `features` is the bitmap of `KVM_ARM_VCPU_*` bits, up to 7 words.
    func armVCPUInit(target: UInt32, features: [UInt32]) throws(KVMError)
    /// `KVM_ARM_VCPU_FINALIZE` of one feature (`KVM_ARM_VCPU_SVE`).
    func armVCPUFinalize(feature: Int32) throws(KVMError)
}

/// powerpc's bulk register block.
package protocol PPC64VCPUDevice: OneRegDevice {
    /// `KVM_GET_REGS` with powerpc's `struct kvm_regs` (392 bytes).
    func getPPCRegs(into regs: UnsafeMutableRawBufferPointer) throws(KVMError)
    /// `KVM_SET_REGS` with powerpc's `struct kvm_regs`.
    func setPPCRegs(from regs: UnsafeRawBufferPointer) throws(KVMError)
}

extension OneRegDevice {
    /// One register, kernel-sized.
    package func getOneReg(_ id: OneRegID) throws(KVMError) -> [UInt8] {
        var value = [UInt8](repeating: 0, count: id.byteSize)
        try withMutableBytes(&value) { (b) throws(KVMError) in try getOneReg(id.rawValue, into: b) }
        return value
    }

    package func setOneReg(_ id: OneRegID, _ value: [UInt8]) throws(KVMError) {
        try withBytes(value) { (b) throws(KVMError) in try setOneReg(id.rawValue, from: b) }
    }
}

/// `KVM_ARM_VCPU_*` feature bits of `struct kvm_vcpu_init` (arch/arm64/include/uapi/asm/kvm.h).
package enum ARM64VCPUFeature {
    package static let powerOff: Int = 0
    package static let el1_32bit: Int = 1
    package static let psci0_2: Int = 2
    package static let sve: Int = 4
}

/// `KVM_ARM_TARGET_GENERIC_V8`, what KVM_ARM_PREFERRED_TARGET answers on most hosts — never to be assumed: Linux
/// 6.1 on a Cortex-A57 answers KVM_ARM_VCPU_INIT with target 5 EINVAL. Ask the VM (KVM_ARM_PREFERRED_TARGET).
package let kvmARMTargetGenericV8: UInt32 = 5

/// `Array.withUnsafeMutableBytes` rethrows untyped errors; these keep `KVMError`.
package func withMutableBytes<R>(
    _ array: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(KVMError) -> R
) throws(KVMError) -> R {
    let result: Result<R, KVMError> = array.withUnsafeMutableBytes { b in
        do throws(KVMError) { return .success(try body(b)) } catch { return .failure(error) }
    }
    return try result.get()
}

package func withBytes<R>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(KVMError) -> R) throws(KVMError)
    -> R
{
    let result: Result<R, KVMError> = array.withUnsafeBytes { b in
        do throws(KVMError) { return .success(try body(b)) } catch { return .failure(error) }
    }
    return try result.get()
}

import CKVM
import Glibc

/// The real vCPU as the ONE_REG backends see it. `getOneReg`/`setOneReg` are VCPU's own; this adds
/// KVM_GET_REG_LIST and the arm64 and powerpc ioctls. Their request numbers come from CKVM: on an arm64 or
/// powerpc build from <linux/kvm.h>, elsewhere spelled out for that architecture — on this x86 build they exist
/// so the code path compiles and reads as it would run, but nothing issues them.
extension VCPU: ARM64VCPUDevice, PPC64VCPUDevice {
    /// `KVM_GET_REG_LIST`: asked first with n = 0, the kernel answers E2BIG with the count; then asked again.
    package func regList() throws(KVMError) -> [UInt64] {
        var n: UInt64 = 0
        while true {
            let size = ckvm_reg_list_size(n)
            let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            defer { buf.deallocate() }
            buf.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            buf.storeBytes(of: n, as: UInt64.self)
            let r = ioctls.perform(.getRegList, CKVM_GET_REG_LIST, .pointer(buf))
            if !r.failed {
                let count = Int(buf.load(as: UInt64.self))
                return (0..<min(count, Int(n))).map { buf.load(fromByteOffset: 8 + 8 * $0, as: UInt64.self) }
            }
            let e = r.errno
            let wanted = buf.load(as: UInt64.self)
            guard e == E2BIG, wanted > n, wanted < 1 << 20 else {
                throw ioctls.error(.getRegList, e)
            }
            n = wanted
        }
    }

    /// `KVM_ARM_VCPU_INIT`: struct kvm_vcpu_init { __u32 target; __u32 features[7]; }.
    package func armVCPUInit(target: UInt32, features: [UInt32]) throws(KVMError) {
        var words = [UInt32](repeating: 0, count: 8)
        words[0] = target
        for (i, w) in features.prefix(7).enumerated() { words[1 + i] = w }
        try withMutableWords(&words) { (p) throws(KVMError) in
            try ioctls.call(.armVCPUInit, CKVM_ARM_VCPU_INIT, .pointer(p))
        }
    }

    /// `KVM_ARM_VCPU_FINALIZE`: the argument is a pointer to the feature number.
    package func armVCPUFinalize(feature: Int32) throws(KVMError) {
        var f = feature
        try ioctls.call(.armVCPUFinalize, CKVM_ARM_VCPU_FINALIZE, &f, detail: "\(feature)")
    }

    package func getPPCRegs(into regs: UnsafeMutableRawBufferPointer) throws(KVMError) {
        precondition(regs.count == 392, "powerpc struct kvm_regs is 392 bytes")
        try ioctls.call(.getRegs, CKVM_PPC_GET_REGS, .pointer(regs.baseAddress))
    }

    package func setPPCRegs(from regs: UnsafeRawBufferPointer) throws(KVMError) {
        precondition(regs.count == 392, "powerpc struct kvm_regs is 392 bytes")
        try ioctls.call(.setRegs, CKVM_PPC_SET_REGS, .pointer(UnsafeMutableRawPointer(mutating: regs.baseAddress)))
    }
}

/// `Array.withUnsafeMutableBytes` rethrows untyped errors; this keeps `KVMError`.
private func withMutableWords(_ words: inout [UInt32], _ body: (UnsafeMutableRawPointer?) throws(KVMError) -> Void)
    throws(KVMError)
{
    let result: Result<Void, KVMError> = words.withUnsafeMutableBytes { b in
        do throws(KVMError) { return .success(try body(b.baseAddress)) } catch { return .failure(error) }
    }
    try result.get()
}

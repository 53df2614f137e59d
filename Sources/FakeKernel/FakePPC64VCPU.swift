import Glibc
import KVM
import Registers

/// A FAKE 64-bit POWER KVM vCPU (ppc64le), in memory, for tests: KVM_GET_REGS/KVM_SET_REGS with powerpc's
/// `struct kvm_regs` and the ONE_REG IDs of the FP, VSX and AltiVec state, with the rules of
/// arch/powerpc/kvm/powerpc.c and book3s.c. It holds values; it executes nothing.
///
/// The rules it keeps (each the real kernel's; those `onereg-probe --rules` asks are recorded, as POWER KVM-HV
/// answered them in the ppc64 rig, in rig/probes/ppc64.rules, and FakeKernelRulesTests holds this fake to them): a
/// new vCPU has MSR 0x1000 (ME only: big-endian, 32-bit mode until the guest's code says otherwise) and VSCR 0;
/// any ONE_REG ID it does not serve — another architecture, an
/// unknown index, a known index with another size — is EINVAL (powerpc answers EINVAL, not ENOENT); the VSR IDs on
/// a CPU without VSX are ENXIO; KVM_GET_REG_LIST is not implemented on powerpc (EINVAL). FPR n and VSR n share
/// storage (`fp.fpr[n][0..1]`): FPR n is the doubleword at TS_FPROFFSET (1 on little-endian). A buffer whose size
/// is not KVM_REG_SIZE(id) is EINVAL here.
package final class FakePPC64VCPU: PPC64VCPUDevice, FakeVCPU, FakeOneRegStore {
    package let counter = IoctlCounter()
    package let architectureName = "ppc64"
    package let trapInstruction = PPCID.breakpointInstruction
    package let hasVSX: Bool

    /// powerpc `struct kvm_regs`.
    package private(set) var regs = [UInt8](repeating: 0, count: PPCID.RegsOffset.structSize)
    /// `fp.fpr[n]` as 16 bytes in host (little-endian) order: what KVM_REG_PPC_VSR(n) returns.
    package private(set) var fp = [[UInt8]](repeating: [UInt8](repeating: 0, count: 16), count: 32)
    package private(set) var fpscr: UInt64 = 0
    package private(set) var vr = [[UInt8]](repeating: [UInt8](repeating: 0, count: 16), count: 32)
    package private(set) var vscr: UInt32 = 0
    package private(set) var vrsave: UInt32 = 0

    package init(hasVSX: Bool = true) {
        self.hasVSX = hasVSX
        // MSR_ME, what kvmppc_core_vcpu_create (HV) leaves: a VMM sets SF and LE for a 64-bit little-endian guest.
        regs.replaceSubrange(PPCID.RegsOffset.msr..<PPCID.RegsOffset.msr + 8, with: littleEndianBytes(UInt64(0x1000)))
    }

    package func getPPCRegs(into out: UnsafeMutableRawBufferPointer) throws(KVMError) {
        counter.record(.getRegs)
        guard out.count == regs.count else { throw fakeError("KVM_GET_REGS", nil, EFAULT) }
        for (i, b) in regs.enumerated() { out[i] = b }
    }

    package func setPPCRegs(from input: UnsafeRawBufferPointer) throws(KVMError) {
        counter.record(.setRegs)
        guard input.count == regs.count else { throw fakeError("KVM_SET_REGS", nil, EFAULT) }
        regs = Array(input)
    }

    package func regList() throws(KVMError) -> [UInt64] {
        counter.record(.getRegList)
        throw fakeError("KVM_GET_REG_LIST", nil, EINVAL)
    }

    package func getOneReg(_ id: UInt64, into value: UnsafeMutableRawBufferPointer) throws(KVMError) {
        try fakeGetOneReg(id, into: value)
    }

    package func setOneReg(_ id: UInt64, from value: UnsafeRawBufferPointer) throws(KVMError) {
        try fakeSetOneReg(id, from: value)
    }

    func access(_ id: OneRegID, bufferSize: Int, write: [UInt8]?, operation: String) throws(KVMError) -> [UInt8]
    {
        func fail(_ e: Int32) -> KVMError { fakeError(operation, id.rawValue, e) }
        guard id.arch == OneRegID.archPPC, bufferSize == id.byteSize, id.archSpecific >> 32 == 0 else {
            throw fail(EINVAL)
        }
        let index = Int(id.archSpecific)
        switch (index, id.byteSize) {
        case (0x20...0x3f, 8):
            let n = index - 0x20
            let fpr = PPCID.fprHalfOffset
            guard let value = write else { return Array(fp[n][fpr..<fpr + 8]) }
            fp[n].replaceSubrange(fpr..<fpr + 8, with: value)
        case (0x40...0x5f, 16):
            guard let value = write else { return vr[index - 0x40] }
            vr[index - 0x40] = value
        case (0x60...0x7f, 16):
            guard hasVSX else { throw fail(ENXIO) }
            guard let value = write else { return fp[index - 0x60] }
            fp[index - 0x60] = value
        case (0x80, 8):
            guard let value = write else { return littleEndianBytes(fpscr) }
            fpscr = loadU64(value)
        case (0x81, 4):
            guard let value = write else { return Array(littleEndianBytes(UInt64(vscr)).prefix(4)) }
            vscr = UInt32(truncatingIfNeeded: loadU64(value))
        case (0xb4, 4):
            guard let value = write else { return Array(littleEndianBytes(UInt64(vrsave)).prefix(4)) }
            vrsave = UInt32(truncatingIfNeeded: loadU64(value))
        default:
            throw fail(EINVAL)
        }
        return write ?? []
    }

    package func run(singleStep: Bool, memory: FakeRAM) throws(KVMError) -> FakeExit {
        counter.record(.run)
        let o = PPCID.RegsOffset.pc
        let pc = loadU64(regs[o..<o + 8])
        let next: UInt64
        let exit: FakeExit
        if singleStep {
            next = pc &+ 4
            exit = .stepped
        } else if let trap = memory.firstTrap(from: pc, instruction: trapInstruction) {
            next = trap
            exit = .trap(address: trap)
        } else {
            return .running
        }
        regs.replaceSubrange(o..<o + 8, with: littleEndianBytes(next))
        return exit
    }
}

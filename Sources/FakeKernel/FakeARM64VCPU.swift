import Glibc
import KVM
import Registers

/// A FAKE arm64 KVM vCPU, in memory, for tests: it answers the ioctls `ARM64VCPUDevice` names with the rules
/// arch/arm64/kvm/guest.c and sys_regs.c apply, so the arm64 backend can be run and checked on a machine without
/// arm64 KVM. It holds values; it executes nothing.
///
/// The rules it keeps are the real kernel's: each one `onereg-probe --rules` asks is recorded, as arm64 KVM
/// (Linux 6.12 in the arm64 rig) answered it, in rig/probes/arm64.rules, and FakeKernelRulesTests holds this fake
/// to every line. In short:
/// - KVM_ARM_VCPU_INIT takes only the preferred target (EINVAL); feature bits no kernel knows are ENOENT, SVE on a
///   host without it EINVAL; EL1_32BIT is accepted where the host has AArch32 EL1 (pstate resets to SVC then);
/// - before KVM_ARM_VCPU_INIT every ONE_REG call, KVM_GET_REG_LIST and KVM_ARM_VCPU_FINALIZE fail with ENOEXEC;
/// - an ID of another architecture, or with any of bits 32–51 set, is EINVAL; an unknown ID is ENOENT;
/// - a core ID past the end of `struct kvm_regs` is ENOENT; one whose size or alignment does not match its field
///   is EINVAL, and so is a V register (vregs) on a vCPU with SVE, which must use the Z registers instead;
///   a pstate write is checked as set_core_reg does: AArch32 User mode where the host has AArch32 EL0, the other
///   AArch32 modes only on a 32-bit EL1 vCPU, EL0t/EL1t/EL1h only on a 64-bit one, never EL2 (no nested virt);
/// - a system register of the wrong size is ENOENT (the size is part of the ID), and so is ZCR_EL1 without SVE;
/// - the PSCI version (KVM_REG_ARM_PSCI_VERSION) reads 1.1 with the PSCI 0.2 feature and takes 0.2, 1.0 or 1.1;
/// - an SVE ID is classified by its index first: a Z/P/FFR index with the wrong size, or past FFR, is EINVAL; then
///   without SVE ENOENT, another slice than 0 ENOENT, and before KVM_ARM_VCPU_FINALIZE EPERM (as are KVM_RUN and
///   KVM_GET_REG_LIST); KVM_REG_ARM64_SVE_VLS is writable only before it (EPERM after), must not hide a length
///   below its maximum and must offer only what the host offers (EINVAL);
/// - Z/P/FFR values are always 2048/256 bits: a get zero-fills above the vector length, a set ignores those bytes.
/// A buffer whose size is not KVM_REG_SIZE(id) is EINVAL here (the real kernel would copy KVM_REG_SIZE bytes
/// whatever the caller meant).
package final class FakeARM64VCPU: ARM64VCPUDevice, FakeVCPU, FakeOneRegStore {
    package let counter = IoctlCounter()
    package let architectureName = "arm64"
    package let trapInstruction = ARM64ID.breakpointInstruction
    /// The vector lengths (bits) the fake host offers; empty = a host without SVE.
    package let hostVectorLengths: [Int]
    /// Whether the fake host runs AArch32 at EL1 (and so at EL0), as QEMU's `-cpu max` does.
    package let hostHasAArch32: Bool
    /// What KVM_ARM_PREFERRED_TARGET answers (a VM ioctl: the fake vCPU stands for its VM here too).
    package let preferredTarget: UInt32 = kvmARMTargetGenericV8

    package private(set) var initialized = false
    package private(set) var sveEnabled = false
    /// KVM_ARM_VCPU_EL1_32BIT: an AArch32 EL1.
    package private(set) var el1Is32Bit = false
    /// KVM_ARM_VCPU_PSCI_0_2.
    package private(set) var psci0_2 = false
    package private(set) var sveFinalized = false
    /// The KVM_REG_ARM64_SVE_VLS value: 8 little-endian u64 words, bit vq-1 per offered length.
    private var vls = [UInt8](repeating: 0, count: 64)
    /// The vector length fixed at finalize (bits).
    package private(set) var vectorLength = 0
    /// `struct kvm_regs` as the kernel keeps it.
    package private(set) var core = [UInt8](repeating: 0, count: ARM64ID.CoreOffset.structSize)
    /// Z: VL/8 bytes each, P and FFR: VL/64 bytes, allocated at finalize.
    private var z: [[UInt8]] = []
    private var p: [[UInt8]] = []
    private var ffr: [UInt8] = []
    package private(set) var sysregs: [OneRegID: UInt64]
    /// KVM_REG_ARM_FW registers: the PSCI version (set at init) and the SMCCC workarounds, as KVM_GET_REG_LIST
    /// lists them.
    package private(set) var firmware: [OneRegID: UInt64] = [
        ARM64ID.psciVersion: 0,
        OneRegID(rawValue: 0x6030_0000_0014_0001): 1,
        OneRegID(rawValue: 0x6030_0000_0014_0002): 1,
    ]

    /// The system registers a fresh fake vCPU has: the named ones with plausible reset values (a Cortex-A72's
    /// MIDR, MPIDR of CPU 0), and one ID-space register with no common name, to show the encoding-named case.
    package static let defaultSystemRegisters: [OneRegID: UInt64] = {
        var d: [OneRegID: UInt64] = [:]
        for r in ARM64SystemRegister.named { d[ARM64ID.sysreg(r.op0, r.op1, r.crn, r.crm, r.op2)] = 0 }
        d[ARM64ID.sysreg(3, 0, 0, 0, 0)] = 0x410f_d083  // MIDR_EL1
        d[ARM64ID.sysreg(3, 0, 0, 0, 5)] = 0x8000_0000  // MPIDR_EL1
        d[ARM64ID.sysreg(3, 0, 1, 0, 0)] = 0x30d0_0800  // SCTLR_EL1 reset value (RES1 bits)
        d[ARM64ID.sysreg(3, 0, 0, 5, 2)] = 0  // S3_0_C0_C5_2, an unnamed ID register
        return d
    }()

    package init(
        hostVectorLengths: [Int] = RegisterTable.arm64VectorLengths, hostHasAArch32: Bool = true,
        systemRegisters: [OneRegID: UInt64] = FakeARM64VCPU.defaultSystemRegisters
    ) {
        self.hostVectorLengths = hostVectorLengths
        self.hostHasAArch32 = hostHasAArch32
        sysregs = systemRegisters
    }

    /// ZCR_EL1 exists only on a vCPU with SVE.
    static let zcrEL1 = ARM64ID.sysreg(3, 0, 1, 2, 0)

    /// KVM_REG_ARM_PSCI_VERSION values: 0.2, 1.0, 1.1 (major << 16 | minor).
    static let psciVersions: [UInt64] = [0x2, 0x1_0000, 0x1_0001]

    // MARK: Set-up

    package func armVCPUInit(target: UInt32, features: [UInt32]) throws(KVMError) {
        counter.record(.armVCPUInit)
        let word0 = features.first ?? 0
        // kvm_vcpu_set_target, then kvm_vcpu_init_check_features.
        guard target == preferredTarget else { throw fakeError("KVM_ARM_VCPU_INIT", nil, EINVAL) }
        let known: UInt32 = 0xff  // KVM_ARM_VCPU_POWER_OFF … HAS_EL2
        guard word0 & ~known == 0, features.dropFirst().allSatisfy({ $0 == 0 }) else {
            throw fakeError("KVM_ARM_VCPU_INIT", nil, ENOENT)
        }
        let wantsSVE = word0 & (1 << UInt32(ARM64VCPUFeature.sve)) != 0
        let wants32 = word0 & (1 << UInt32(ARM64VCPUFeature.el1_32bit)) != 0
        guard word0 & (1 << 7) == 0 else { throw fakeError("KVM_ARM_VCPU_INIT", nil, EINVAL) }  // HAS_EL2: no NV here
        guard !wants32 || hostHasAArch32 else { throw fakeError("KVM_ARM_VCPU_INIT", nil, EINVAL) }
        guard !wantsSVE || !hostVectorLengths.isEmpty else { throw fakeError("KVM_ARM_VCPU_INIT", nil, EINVAL) }
        if initialized && (wantsSVE != sveEnabled || wants32 != el1Is32Bit) {
            throw fakeError("KVM_ARM_VCPU_INIT", nil, EINVAL)
        }
        // kvm_reset_vcpu: everything zero, pstate EL1h (or AArch32 SVC) with D, A, I, F masked.
        core = [UInt8](repeating: 0, count: core.count)
        store(wants32 ? 0x1d3 : 0x3c5, at: ARM64ID.CoreOffset.pstate)
        if wantsSVE && !initialized {
            vls = [UInt8](repeating: 0, count: 64)
            for vl in hostVectorLengths {
                let bit = vl / 128 - 1
                vls[bit / 8] |= 1 << UInt8(bit % 8)
            }
        }
        sveEnabled = wantsSVE
        el1Is32Bit = wants32
        psci0_2 = word0 & (1 << UInt32(ARM64VCPUFeature.psci0_2)) != 0
        firmware[ARM64ID.psciVersion] = psci0_2 ? 0x1_0001 : 0
        initialized = true
    }

    package func armVCPUFinalize(feature: Int32) throws(KVMError) {
        counter.record(.armVCPUFinalize)
        guard initialized else { throw fakeError("KVM_ARM_VCPU_FINALIZE", nil, ENOEXEC) }
        guard feature == Int32(ARM64VCPUFeature.sve), sveEnabled else {
            throw fakeError("KVM_ARM_VCPU_FINALIZE", nil, EINVAL)
        }
        guard !sveFinalized else { throw fakeError("KVM_ARM_VCPU_FINALIZE", nil, EPERM) }
        let maxVQ = Self.highestVQ(vls)
        vectorLength = maxVQ * 128
        z = [[UInt8]](repeating: [UInt8](repeating: 0, count: vectorLength / 8), count: 32)
        p = [[UInt8]](repeating: [UInt8](repeating: 0, count: vectorLength / 64), count: 16)
        ffr = [UInt8](repeating: 0, count: vectorLength / 64)
        sveFinalized = true
    }

    // MARK: ONE_REG

    package func getOneReg(_ id: UInt64, into value: UnsafeMutableRawBufferPointer) throws(KVMError) {
        try fakeGetOneReg(id, into: value)
    }

    package func setOneReg(_ id: UInt64, from value: UnsafeRawBufferPointer) throws(KVMError) {
        try fakeSetOneReg(id, from: value)
    }

    package func regList() throws(KVMError) -> [UInt64] {
        counter.record(.getRegList)
        guard initialized else { throw fakeError("KVM_GET_REG_LIST", nil, ENOEXEC) }
        guard !sveEnabled || sveFinalized else { throw fakeError("KVM_GET_REG_LIST", nil, EPERM) }
        var ids: [OneRegID] = []
        var offset = 0
        while offset < ARM64ID.CoreOffset.structSize {
            if let size = coreFieldSize(at: offset) {
                ids.append(ARM64ID.core(offset: offset, byteSize: size))
                offset += size
            } else {
                offset += 4
            }
        }
        if sveEnabled {
            ids.append(ARM64ID.vectorLengths)
            ids += (0..<32).map(ARM64ID.zreg) + (0..<16).map(ARM64ID.preg) + [ARM64ID.ffr]
        }
        ids += firmware.keys.sorted() + sysregs.keys.sorted().filter { sveEnabled || $0 != Self.zcrEL1 }
        return ids.map(\.rawValue)
    }

    /// The size of the core field at a byte offset, as core_reg_size_from_offset decides; nil = EINVAL.
    private func coreFieldSize(at offset: Int) -> Int? {
        typealias O = ARM64ID.CoreOffset
        switch offset {
        case 0..<O.spsrEL1 + 5 * 8: return offset % 8 == 0 ? 8 : nil
        case O.v(0)..<O.v(32): return offset % 16 == 0 && !sveEnabled ? 16 : nil
        case O.fpsr, O.fpcr: return 4
        default: return nil
        }
    }

    /// One ONE_REG access: returns the value (a get) or stores `write` (a set).
    func access(_ id: OneRegID, bufferSize: Int, write: [UInt8]?, operation: String) throws(KVMError) -> [UInt8]
    {
        func fail(_ e: Int32) -> KVMError { fakeError(operation, id.rawValue, e) }
        guard initialized else { throw fail(ENOEXEC) }
        // kvm_arm_get_reg: bits 63–32 other than the arch and size fields must be arm64's and nothing else.
        guard id.arch == OneRegID.archARM64, id.rawValue & 0x000f_ffff_0000_0000 == 0 else { throw fail(EINVAL) }
        guard bufferSize == id.byteSize else { throw fail(EINVAL) }
        switch id.rawValue & ARM64ID.coprocMask {
        case ARM64ID.core:
            let offset = Int(id.rawValue & 0xffff) * 4
            guard offset + id.byteSize <= core.count else { throw fail(ENOENT) }
            guard coreFieldSize(at: offset) == id.byteSize else { throw fail(EINVAL) }
            guard let value = write else { return Array(core[offset..<offset + id.byteSize]) }
            if offset == ARM64ID.CoreOffset.pstate, !pstateModeAllowed(loadU64(value) & 0x1f) { throw fail(EINVAL) }
            core.replaceSubrange(offset..<offset + value.count, with: value)
            return value
        case ARM64ID.sve:
            return try sveAccess(id, write: write, fail: fail)
        case ARM64ID.sysreg:
            guard id.byteSize == 8, let current = sysregs[id], sveEnabled || id != Self.zcrEL1 else { throw fail(ENOENT) }
            guard let value = write else { return littleEndianBytes(current) }
            sysregs[id] = loadU64(value)
            return value
        case ARM64ID.firmware:
            guard id.byteSize == 8, let current = firmware[id] else { throw fail(ENOENT) }
            guard let value = write else { return littleEndianBytes(current) }
            if id == ARM64ID.psciVersion {
                // KVM_ARM_PSCI_0_1 (0) without the 0.2 feature, 0.2 / 1.0 / 1.1 with it.
                guard psci0_2 ? Self.psciVersions.contains(loadU64(value)) : loadU64(value) == 0 else { throw fail(EINVAL) }
                firmware[id] = loadU64(value)
                return value
            }
            guard loadU64(value) == current else { throw fail(EINVAL) }  // the fake offers no other firmware level
            return value
        default:
            throw fail(ENOENT)
        }
    }

    private func sveAccess(_ id: OneRegID, write: [UInt8]?, fail: (Int32) -> KVMError) throws(KVMError) -> [UInt8] {
        if id == ARM64ID.vectorLengths {
            guard sveEnabled else { throw fail(ENOENT) }
            guard let value = write else { return vls }
            guard !sveFinalized else { throw fail(EPERM) }
            // Only a maximum can be chosen: every host length up to the highest one set must be set, and no other.
            let maxVQ = Self.highestVQ(value)
            guard maxVQ > 0 else { throw fail(EINVAL) }
            for vq in 1...512 {
                let wanted = vq <= maxVQ && hostVectorLengths.contains(vq * 128)
                let set = Self.offers(value, vq)
                if set != wanted { throw fail(EINVAL) }
            }
            vls = value
            return value
        }
        // sve_reg_to_region: an index outside Z, P and FFR, or one of them at another size, is no SVE register
        // (EINVAL); a real one is ENOENT without SVE and at any slice but 0.
        let index = Int(id.rawValue & 0xffff)
        let region: SVERegion
        switch index {
        case 0..<0x400 where id.byteSize == 256: region = .z(index >> 5)
        case 0x400..<0x600 where id.byteSize == 32: region = .p((index - 0x400) >> 5)
        case 0x600..<0x620 where id.byteSize == 32: region = .ffr
        default: throw fail(EINVAL)
        }
        guard sveEnabled, index & 31 == 0 else { throw fail(ENOENT) }
        guard sveFinalized else { throw fail(EPERM) }
        let live: [UInt8]
        switch region {
        case .z(let n): live = z[n]
        case .p(let n): live = p[n]
        case .ffr: live = ffr
        }
        // The kernel's value is always 2048 (256) bits: a get zero-fills above the vector length, a set drops those bytes.
        guard let value = write else { return live + [UInt8](repeating: 0, count: id.byteSize - live.count) }
        let kept = Array(value.prefix(live.count))
        switch region {
        case .z(let n): z[n] = kept
        case .p(let n): p[n] = kept
        case .ffr: ffr = kept
        }
        return value
    }

    /// set_core_reg's check of a pstate mode (M[4:0]).
    private func pstateModeAllowed(_ mode: UInt64) -> Bool {
        switch mode {
        case 0x10: return hostHasAArch32  // AArch32 User: needs AArch32 EL0
        case 0x11, 0x12, 0x13, 0x17, 0x1b, 0x1f: return el1Is32Bit  // FIQ, IRQ, SVC, ABT, UND, SYS
        case 0b0000, 0b0100, 0b0101: return !el1Is32Bit  // EL0t, EL1t, EL1h
        default: return false  // EL2t/EL2h without nested virtualisation, and anything else
        }
    }

    /// Whether a VLS value offers vq × 128 bits.
    static func offers(_ set: [UInt8], _ vq: Int) -> Bool {
        let mask: UInt8 = 1 << UInt8((vq - 1) % 8)
        return set[(vq - 1) / 8] & mask != 0
    }

    /// The highest vq a VLS value offers, 0 for none.
    static func highestVQ(_ set: [UInt8]) -> Int {
        for vq in stride(from: 512, through: 1, by: -1) where offers(set, vq) { return vq }
        return 0
    }

    private enum SVERegion {
        case z(Int)
        case p(Int)
        case ffr
    }

    // MARK: Running

    package func run(singleStep: Bool, memory: FakeRAM) throws(KVMError) -> FakeExit {
        counter.record(.run)
        guard initialized else { throw fakeError("KVM_RUN", nil, ENOEXEC) }
        guard !sveEnabled || sveFinalized else { throw fakeError("KVM_RUN", nil, EPERM) }
        let pc = loadU64(core[ARM64ID.CoreOffset.pc..<ARM64ID.CoreOffset.pc + 8])
        if singleStep {
            store(pc &+ 4, at: ARM64ID.CoreOffset.pc)
            return .stepped
        }
        guard let trap = memory.firstTrap(from: pc, instruction: trapInstruction) else { return .running }
        store(trap, at: ARM64ID.CoreOffset.pc)
        return .trap(address: trap)
    }

    private func store(_ v: UInt64, at offset: Int) {
        core.replaceSubrange(offset..<offset + 8, with: littleEndianBytes(v))
    }
}

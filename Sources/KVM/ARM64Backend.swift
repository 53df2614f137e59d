import Glibc
import Registers

/// The arm64 backend: every register is a ONE_REG ID, fetched and flushed one call each, a group at a time.
///
/// What it adds to "get the ID, hand over the bytes":
/// - gdb's `sp` is the stack pointer of the current exception level, and KVM's `regs.sp` is SP_EL0 whatever the
///   level: with pstate in EL1h it serves (and writes) `sp_el1` instead; at EL0 or EL1t, SP_EL0. In EL2h (nested
///   virtualisation) or AArch32 no core register holds gdb's sp, so it reads as unavailable (`xx`).
/// - With SVE the kernel's Z, P and FFR values are always 2048 and 256 bits wide: gdb gets the low VL/8 (VL/64)
///   bytes (the register file cuts them) and a write is zero-extended to the kernel's width here, as the
///   architecture zeroes a Z register above VL.
/// - `vg` is no kernel register: it is VL/64, the vector length this vCPU was finalized with.
/// - A register the kernel refuses (ENOENT, EINVAL, EPERM, ENXIO) reads as unavailable, never as zero; any other
///   failure is the group's and is thrown.
package final class ARM64Backend: RegisterBackend {
    package let table: RegisterTable
    package let device: any ARM64VCPUDevice
    /// VL in bits, nil without SVE.
    package let sveVectorLength: Int?
    /// Kernel-sized values by ID, as last fetched or written.
    private var values: [OneRegID: [UInt8]] = [:]
    /// IDs the kernel refused at the last fetch, with its errno.
    package private(set) var unavailable: [OneRegID: Int32] = [:]
    /// IDs written since the last flush of their group: only these go back.
    private var dirtyIDs: Set<OneRegID> = []
    /// The IDs each group fetches, in one batch.
    package let groupIDs: [SyncGroup: [OneRegID]]

    private typealias O = ARM64ID.CoreOffset
    private static let pstateID = ARM64ID.core(offset: O.pstate, byteSize: 8)
    private static let spEL0ID = ARM64ID.core(offset: O.sp, byteSize: 8)
    private static let spEL1ID = ARM64ID.core(offset: O.spEL1, byteSize: 8)

    /// A backend for a vCPU already set up (`initializeVCPU`): its system registers are whatever
    /// KVM_GET_REG_LIST lists.
    package convenience init(device: any ARM64VCPUDevice, sveVectorLength: Int?) throws(KVMError) {
        let sysregs = try device.regList().map(OneRegID.init(rawValue:)).filter { ARM64ID.sysregFields(of: $0) != nil }
        self.init(
            device: device, table: .arm64(sveVectorLength: sveVectorLength, systemRegisters: sysregs),
            sveVectorLength: sveVectorLength)
    }

    package init(device: any ARM64VCPUDevice, table: RegisterTable, sveVectorLength: Int?) {
        self.device = device
        self.table = table
        self.sveVectorLength = sveVectorLength
        var ids: [SyncGroup: [OneRegID]] = [:]
        for r in table.registers where !ARM64ID.isProjectPrivate(r.id) {
            if ids[r.syncGroup, default: []].contains(r.id) { continue }
            ids[r.syncGroup, default: []].append(r.id)
        }
        // sp_el1 comes with the core batch even when the table does not list it: gdb's sp may be it.
        if !(ids[.arm64Core]?.contains(Self.spEL1ID) ?? false) { ids[.arm64Core, default: []].append(Self.spEL1ID) }
        groupIDs = ids
    }

    // MARK: Setting the vCPU up

    /// `KVM_ARM_VCPU_INIT`, and with SVE the order the kernel demands (Documentation/virt/kvm/api.rst,
    /// KVM_ARM_VCPU_FINALIZE): init with the SVE feature, then write `KVM_REG_ARM64_SVE_VLS` — the host's set cut
    /// at the wanted length (the kernel refuses to hide a length below the maximum) — then finalize SVE. Only then
    /// are the Z/P/FFR registers accessible (EPERM before) and the vCPU runnable; VLS is read-only after.
    /// `target` is what the VM's KVM_ARM_PREFERRED_TARGET answered: no fixed target is right on every host.
    package static func initializeVCPU(
        _ device: some ARM64VCPUDevice, target: UInt32, sveVectorLength: Int?,
        features: [Int] = [ARM64VCPUFeature.psci0_2]
    ) throws(KVMError) {
        _ = try initializeVCPU(
            device, target: target, sve: sveVectorLength.map { .length($0) } ?? .none, features: features)
    }

    /// What a VMM asks of SVE: none, the largest vector length the host offers, or one length in bits.
    package enum SVEChoice: Sendable, Equatable {
        case none
        case largest
        case length(Int)
    }

    /// `initializeVCPU` with the vector length chosen by `sve`; returns the length the vCPU was finalized with,
    /// in bits (nil without SVE).
    package static func initializeVCPU(
        _ device: some ARM64VCPUDevice, target: UInt32, sve: SVEChoice, features: [Int] = [ARM64VCPUFeature.psci0_2]
    ) throws(KVMError) -> Int? {
        var bits = features
        if sve != .none { bits.append(ARM64VCPUFeature.sve) }
        var words = [UInt32](repeating: 0, count: 7)
        for b in bits { words[b / 32] |= 1 << UInt32(b % 32) }
        try device.armVCPUInit(target: target, features: words)
        let vl: Int
        switch sve {
        case .none: return nil
        case .length(let bits): vl = bits
        case .largest:
            guard let largest = offeredLengths(try device.getOneReg(ARM64ID.vectorLengths)).last else {
                throw KVMError(operation: "KVM_REG_ARM64_SVE_VLS: this host offers no SVE vector length", errno: EINVAL)
            }
            vl = largest
        }
        let vq = vl / 128
        var set = try device.getOneReg(ARM64ID.vectorLengths)
        guard vl % 128 == 0, vq >= 1, vq <= 512, vlsBit(set, vq - 1) else {
            throw KVMError(
                operation:
                    "KVM_REG_ARM64_SVE_VLS: this host offers no \(vl)-bit SVE vector length (it offers \(offeredLengths(set)))",
                errno: EINVAL)
        }
        for bit in vq..<512 {
            let mask: UInt8 = 1 << UInt8(bit % 8)
            set[bit / 8] &= ~mask
        }
        try device.setOneReg(ARM64ID.vectorLengths, set)
        try device.armVCPUFinalize(feature: Int32(ARM64VCPUFeature.sve))
        return vl
    }

    /// The vector lengths, in bits, a `KVM_REG_ARM64_SVE_VLS` value offers.
    package static func offeredLengths(_ set: [UInt8]) -> [Int] {
        var lengths: [Int] = []
        for bit in 0..<min(512, set.count * 8) where vlsBit(set, bit) { lengths.append((bit + 1) * 128) }
        return lengths
    }

    /// Bit `bit` (vq - 1) of a `KVM_REG_ARM64_SVE_VLS` value: its u64 words are little-endian in memory.
    static func vlsBit(_ set: [UInt8], _ bit: Int) -> Bool {
        let mask: UInt8 = 1 << UInt8(bit % 8)
        return set[bit / 8] & mask != 0
    }

    // MARK: RegisterBackend

    package func fetch(_ group: SyncGroup) throws(KVMError) {
        try getBatch(groupIDs[group] ?? [])
    }

    /// The one place the ONE_REG gets of a group are made (the seeds' MANY_REGS idea: a kernel with a batched
    /// call would be used here).
    private func getBatch(_ ids: [OneRegID]) throws(KVMError) {
        for id in ids {
            do {
                values[id] = try device.getOneReg(id)
                unavailable[id] = nil
            } catch  where [ENOENT, EINVAL, EPERM, ENXIO].contains(error.errno) {
                values[id] = nil
                unavailable[id] = error.errno
            }
        }
    }

    package func flush(_ group: SyncGroup) throws(KVMError) {
        // An ID stays dirty until the kernel took it: a value it refuses (a pstate mode it does not allow) is
        // refused again at the next run rather than silently dropped.
        for id in (groupIDs[group] ?? []) where dirtyIDs.contains(id) {
            if let value = values[id] { try device.setOneReg(id, value) }
            dirtyIDs.remove(id)
        }
    }

    /// Which kernel register holds gdb's `sp` for this pstate: SP_EL1 in EL1h, SP_EL0 in EL0t/EL1t; nil in EL2h,
    /// EL3h or AArch32 (nRW set), where no core register does.
    package static func stackPointerID(pstate: UInt64) -> OneRegID? {
        guard pstate & 0x10 == 0 else { return nil }  // AArch32
        switch pstate & 0xf {
        case 0b0000, 0b0100: return spEL0ID  // EL0t, EL1t
        case 0b0101: return spEL1ID  // EL1h
        default: return nil
        }
    }

    private func stackPointerID() -> OneRegID? {
        guard let p = values[Self.pstateID] else { return nil }
        return Self.stackPointerID(pstate: p.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    }

    /// The kernel ID that holds a register's value now (gdb's sp moves with the exception level).
    private func source(of register: RegisterDescriptor) -> OneRegID? {
        if register.regnum == table.spRegnum && register.id == Self.spEL0ID { return stackPointerID() }
        return register.id
    }

    package func kernelValue(of register: RegisterDescriptor) -> [UInt8]? {
        if register.id == ARM64ID.vectorGranules {
            guard let vl = sveVectorLength else { return nil }
            return withUnsafeBytes(of: UInt64(vl / 64).littleEndian) { Array($0) }
        }
        guard let id = source(of: register) else { return nil }
        return values[id]
    }

    package func setKernelValue(_ bytes: [UInt8], of register: RegisterDescriptor) {
        // vg cannot change once the vCPU is finalized: the target refuses a different value before it gets here.
        if register.id == ARM64ID.vectorGranules { return }
        guard let id = source(of: register), bytes.count == id.byteSize else { return }
        var value = bytes
        if ARM64ID.isSVE(id) {
            // Above VL the kernel's value is zero: gdb's VL/8 (VL/64) bytes, zero-extended.
            for i in register.byteSize..<value.count { value[i] = 0 }
        }
        values[id] = value
        unavailable[id] = nil
        dirtyIDs.insert(id)
    }
}

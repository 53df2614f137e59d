import Glibc
import Registers

/// The 64-bit POWER backend. The private IDs of `PPCID.regs` are offsets in powerpc's `struct kvm_regs`
/// (KVM_GET_REGS / KVM_SET_REGS, one call for the RUNTIME group); everything else is a kernel ONE_REG ID.
///
/// FPR n is one doubleword of VSR n and gdb's vsNh the other, so the FP group caches whole VSRs: fetched with
/// `KVM_REG_PPC_VSR(n)` (both halves in one call), written back the same way, so an f3 and a vs3h written in the
/// same stop cannot overwrite each other. On a CPU without VSX the kernel refuses the VSR IDs (ENXIO): the group
/// then uses `KVM_REG_PPC_FPR(n)` and the vsNh read as unavailable. `PPCID.fprHalfOffset` says which doubleword is
/// which in the kernel's value (host byte order); this backend, like the register file's narrowing of cr and xer
/// to their low word, assumes a little-endian host (ppc64le), the only one the tests can check.
package final class PPC64Backend: RegisterBackend {
    package let table: RegisterTable
    package let device: any PPC64VCPUDevice
    /// powerpc `struct kvm_regs`.
    package private(set) var regs = [UInt8](repeating: 0, count: PPCID.RegsOffset.structSize)
    /// VSR n as the kernel's `KVM_REG_PPC_VSR(n)` value: 16 bytes, FPR n at `fprHalfOffset`, vsNh at `vsrLowHalfOffset`.
    private var vsr = [[UInt8]](repeating: [UInt8](repeating: 0, count: 16), count: 32)
    /// Whether each half of each VSR was had from the kernel (or written by gdb).
    private var fprKnown = [Bool](repeating: false, count: 32)
    private var lowKnown = [Bool](repeating: false, count: 32)
    /// Other ONE_REG values (fpscr, vr0–31, vscr, vrsave) by ID; absent = unavailable.
    private var values: [OneRegID: [UInt8]] = [:]
    /// nil until the first FP fetch decides: false = the kernel refuses the VSR IDs (no VSX).
    package private(set) var hasVSX: Bool?
    private var dirtyVSR: Set<Int> = []
    private var dirtyIDs: Set<OneRegID> = []

    package init(device: any PPC64VCPUDevice, table: RegisterTable = .ppc64) {
        self.device = device
        self.table = table
    }

    private lazy var vectorIDs: [OneRegID] = table.registers.filter { $0.syncGroup == .ppcVector }.map(\.id)

    package func fetch(_ group: SyncGroup) throws(KVMError) {
        switch group {
        case .ppcRegs: try withMutableBytes(&regs) { (b) throws(KVMError) in try device.getPPCRegs(into: b) }
        case .ppcFP: try fetchFP()
        case .ppcVector: for id in vectorIDs { try get(id) }
        default: break
        }
    }

    private func fetchFP() throws(KVMError) {
        if hasVSX != false {
            do {
                for n in 0..<32 { try fetchVSR(n) }
                hasVSX = true
            } catch  where hasVSX == nil && [ENXIO, EINVAL, ENOENT].contains(error.errno) {
                hasVSX = false
            }
        }
        if hasVSX == false {
            for n in 0..<32 {
                lowKnown[n] = false
                do {
                    store(try device.getOneReg(PPCID.fpr(n)), half: PPCID.fprHalfOffset, of: n)
                    fprKnown[n] = true
                } catch  where [EINVAL, ENOENT, ENXIO].contains(error.errno) {
                    fprKnown[n] = false
                }
            }
        }
        try get(PPCID.fpscr)
    }

    private func fetchVSR(_ n: Int) throws(KVMError) {
        // A dirty VSR keeps gdb's value until it is flushed (a fetch of this group only follows a flush or a run).
        if dirtyVSR.contains(n) { return }
        vsr[n] = try device.getOneReg(PPCID.vsr(n))
        fprKnown[n] = true
        lowKnown[n] = true
    }

    /// A ONE_REG get of one register; one the kernel refuses (EINVAL, ENOENT, ENXIO) is unavailable, not zero.
    private func get(_ id: OneRegID) throws(KVMError) {
        do {
            values[id] = try device.getOneReg(id)
        } catch  where [EINVAL, ENOENT, ENXIO].contains(error.errno) {
            values[id] = nil
        }
    }

    package func flush(_ group: SyncGroup) throws(KVMError) {
        switch group {
        case .ppcRegs: try withBytes(regs) { (b) throws(KVMError) in try device.setPPCRegs(from: b) }
        case .ppcFP:
            for n in dirtyVSR.sorted() {
                if hasVSX == true {
                    try device.setOneReg(PPCID.vsr(n), vsr[n])
                } else {
                    try device.setOneReg(PPCID.fpr(n), Array(vsr[n][PPCID.fprHalfOffset..<PPCID.fprHalfOffset + 8]))
                }
                dirtyVSR.remove(n)
            }
            try flushIDs([PPCID.fpscr])
        case .ppcVector: try flushIDs(vectorIDs)
        default: break
        }
    }

    private func flushIDs(_ ids: [OneRegID]) throws(KVMError) {
        for id in ids where dirtyIDs.contains(id) {
            if let v = values[id] { try device.setOneReg(id, v) }
            dirtyIDs.remove(id)
        }
    }

    private func store(_ bytes: some Collection<UInt8>, half offset: Int, of n: Int) {
        for (i, b) in bytes.prefix(8).enumerated() { vsr[n][offset + i] = b }
    }

    private static func index(_ id: OneRegID, base: OneRegID) -> Int? {
        let d = Int(id.archSpecific) - Int(base.archSpecific)
        return id.byteSize == base.byteSize && (0..<32).contains(d) ? d : nil
    }

    package func kernelValue(of register: RegisterDescriptor) -> [UInt8]? {
        let id = register.id
        if let offset = PPCID.regsOffset(of: id) {
            guard offset + id.byteSize <= regs.count else { return nil }
            return Array(regs[offset..<offset + id.byteSize])
        }
        if let n = Self.index(id, base: PPCID.fpr(0)) {
            guard fprKnown[n] else { return nil }
            return Array(vsr[n][PPCID.fprHalfOffset..<PPCID.fprHalfOffset + 8])
        }
        if let n = Self.index(id, base: PPCID.vsr(0)) {
            // gdb's vsNh first (what it sees), FPR n after it (kept as it is on a write).
            guard lowKnown[n], fprKnown[n] else { return nil }
            let low = PPCID.vsrLowHalfOffset
            let fpr = PPCID.fprHalfOffset
            return Array(vsr[n][low..<low + 8]) + Array(vsr[n][fpr..<fpr + 8])
        }
        return values[id]
    }

    package func setKernelValue(_ bytes: [UInt8], of register: RegisterDescriptor) {
        let id = register.id
        guard bytes.count == id.byteSize else { return }
        if let offset = PPCID.regsOffset(of: id) {
            guard offset + bytes.count <= regs.count else { return }
            regs.replaceSubrange(offset..<offset + bytes.count, with: bytes)
        } else if let n = Self.index(id, base: PPCID.fpr(0)) {
            store(bytes, half: PPCID.fprHalfOffset, of: n)
            fprKnown[n] = true
            dirtyVSR.insert(n)
        } else if let n = Self.index(id, base: PPCID.vsr(0)) {
            store(bytes[0..<8], half: PPCID.vsrLowHalfOffset, of: n)
            store(bytes[8..<16], half: PPCID.fprHalfOffset, of: n)
            dirtyVSR.insert(n)
        } else {
            values[id] = bytes
            dirtyIDs.insert(id)
        }
    }
}

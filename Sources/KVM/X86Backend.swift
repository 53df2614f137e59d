import CKVM
import Glibc
import Registers

// x86 only: struct kvm_regs/kvm_sregs/kvm_fpu/kvm_xsave and the x86 sync-regs page (CKVM declares them on x86).
#if KVMSTUB_X86

/// The x86-64 backend: the private IDs of `X86RegisterSpace` resolve to offsets in the bulk structs
/// (KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_FPU); MSRs go through KVM_GET_ONE_REG with the kernel's own IDs
/// (Linux 6.18+), or KVM_GET_MSRS where the kernel refuses ONE_REG for them.
package final class X86Backend: RegisterBackend {
    package let table: RegisterTable
    package let vcpu: VCPU
    package var regs = kvm_regs()
    package var sregs = kvm_sregs()
    package var fpu = kvm_fpu()
    package private(set) var msrs: [UInt32: UInt64] = [:]
    /// MSRs gdb wrote since the last flush: only these go back, so a flush never replays a stale value of
    /// an MSR that KVM_SET_SREGS also sets (EFER, and the FS/GS bases).
    private var dirtyMSRs: Set<UInt32> = []
    /// Use kvm_run->s.regs for REGS and SREGS (KVM_CAP_SYNC_REGS).
    package let syncRegs: Bool
    /// Serve the FPU group from KVM_GET_XSAVE/KVM_SET_XSAVE (KVM_CAP_XSAVE). KVM_SET_FPU writes the legacy
    /// FXSAVE area without setting XSTATE_BV's x87/SSE bits, so when the guest's state was in its init
    /// state, XRSTOR on entry ignores what was written: seen here (kvm_pvm) losing xmm writes in about one run
    /// in ten; QEMU avoids KVM_SET_FPU where XSAVE exists for the same reason.
    package let useXSAVE: Bool
    /// The whole XSAVE area as last fetched; the `fpu` cache is its legacy region in kvm_fpu's layout.
    package var xsave = kvm_xsave()
    /// nil until the first MSR access decides: true = ONE_REG works for MSRs here. false from the start where
    /// the kernel has no KVM_CAP_ONE_REG at all (x86 before Linux 6.18): no failing KVM_GET_ONE_REG is tried.
    package private(set) var msrsThroughOneReg: Bool?

    package init(
        vcpu: VCPU, table: RegisterTable = .x86_64, syncRegs: Bool, useXSAVE: Bool = true,
        xsaveLayout: RegisterTable.XSAVELayout? = nil, oneReg: Bool = true
    ) {
        if !oneReg { msrsThroughOneReg = false }
        self.vcpu = vcpu
        self.xsaveLayout = xsaveLayout
        self.table = table
        self.syncRegs = syncRegs
        self.useXSAVE = useXSAVE
        if syncRegs {
            ckvm_run_valid_regs(vcpu.runPage).pointee = CKVM_SYNC_X86_REGS | CKVM_SYNC_X86_SREGS
        }
    }

    package var debugregs = kvm_debugregs()
    /// XSTATE_BV bits of the components gdb wrote since the last flush (x87 and SSE are always set).
    private var xsaveComponentsWritten: UInt64 = 3
    private let xsaveLayout: RegisterTable.XSAVELayout?

    /// The MSRs of one group (the four of `.x86MSRs`, or the kernel's list in `.x86MSRList`).
    private lazy var msrIndicesByGroup: [SyncGroup: [UInt32]] = Dictionary(
        grouping: table.registers.filter { X86ID.space(of: $0.id) == .msr }, by: \.syncGroup
    ).mapValues { $0.map { X86ID.index(of: $0.id) } }

    package func fetch(_ group: SyncGroup) throws(KVMError) {
        switch group {
        case .x86Regs: try vcpu.getRegs(&regs)
        case .x86Sregs: try vcpu.getSregs(&sregs)
        case .x86FPU where useXSAVE:
            try vcpu.getXSAVE(&xsave)
            fpuFromXSAVE()
        case .x86FPU: try vcpu.getFPU(&fpu)
        case .x86MSRs, .x86MSRList: try fetchMSRs(group)
        case .x86DebugRegs: try vcpu.getDebugRegs(&debugregs)
        default: break
        }
    }

    package func flush(_ group: SyncGroup) throws(KVMError) {
        switch group {
        case .x86Regs: try vcpu.setRegs(&regs)
        case .x86Sregs:
            try vcpu.setSregs(&sregs)
            publishCR8()
        case .x86FPU where useXSAVE:
            fpuIntoXSAVE()
            try vcpu.setXSAVE(&xsave)
            xsaveComponentsWritten = 3
        case .x86FPU: try vcpu.setFPU(&fpu)
        case .x86MSRs, .x86MSRList: try flushMSRs(group)
        case .x86DebugRegs: try vcpu.setDebugRegs(&debugregs)
        default: break
        }
    }

    private func fetchMSRs(_ group: SyncGroup) throws(KVMError) {
        let msrIndices = msrIndicesByGroup[group] ?? []
        if group == .x86MSRList {
            // Listed MSRs one by one: one the kernel will not read stays unknown (`xx`), not zero.
            if msrsThroughOneReg == nil { try fetchMSRs(.x86MSRs) }  // decides ONE_REG or KVM_GET_MSRS first
            for msr in msrIndices {
                var v: UInt64 = 0
                do {
                    if msrsThroughOneReg == true {
                        try withUnsafeMutableBytes(of: &v) { (b) throws(KVMError) in
                            try vcpu.getOneReg(X86ID.msr(msr).rawValue, into: b)
                        }
                    } else {
                        v = try vcpu.getMSRs([msr])[0]
                    }
                    msrs[msr] = v
                } catch {
                    msrs[msr] = nil
                }
            }
            return
        }
        if msrsThroughOneReg != false {
            do {
                for msr in msrIndices {
                    var v: UInt64 = 0
                    try withUnsafeMutableBytes(of: &v) { (b) throws(KVMError) in
                        try vcpu.getOneReg(X86ID.msr(msr).rawValue, into: b)
                    }
                    msrs[msr] = v
                }
                msrsThroughOneReg = true
                return
            } catch  where msrsThroughOneReg == nil && [EINVAL, ENOENT, ENOTTY].contains(error.errno) {
                msrsThroughOneReg = false  // a kernel before 6.18: fall back for good
            }
        }
        for (msr, v) in zip(msrIndices, try vcpu.getMSRs(msrIndices)) { msrs[msr] = v }
    }

    private func flushMSRs(_ group: SyncGroup) throws(KVMError) {
        let written = (msrIndicesByGroup[group] ?? []).filter { dirtyMSRs.contains($0) }
        dirtyMSRs.subtract(written)
        if msrsThroughOneReg == true {
            for msr in written {
                var v = msrs[msr] ?? 0
                try withUnsafeBytes(of: &v) { (b) throws(KVMError) in
                    try vcpu.setOneReg(X86ID.msr(msr).rawValue, from: b)
                }
            }
        } else if !written.isEmpty {
            try vcpu.setMSRs(written, values: written.map { msrs[$0] ?? 0 })
        }
    }

    /// Without an in-kernel local APIC, KVM_RUN first sets CR8 from kvm_run->cr8 (arch/x86/kvm/x86.c,
    /// "re-sync apic's tpr"), overriding what KVM_SET_SREGS wrote: so a CR8 write goes there too.
    private func publishCR8() { vcpu.runPage.pointee.cr8 = sregs.cr8 }

    /// kvm_sregs also carries EFER and the FS/GS bases: keep the cached copy in step with an MSR write, so
    /// a later KVM_SET_SREGS (or kvm_run's SREGS) does not undo it.
    private func mirrorIntoSregs(_ msr: UInt32, _ value: UInt64) {
        switch msr {
        case X86MSR.efer: sregs.efer = value
        case X86MSR.fsBase: sregs.fs.base = value
        case X86MSR.gsBase: sregs.gs.base = value
        default: break
        }
    }

    package func kernelValue(of register: RegisterDescriptor) -> [UInt8]? {
        let id = register.id
        let index = Int(X86ID.index(of: id))
        let size = id.byteSize
        switch X86ID.space(of: id) {
        case .regs: return Self.bytes(of: &regs, at: index, count: size)
        case .sregs: return Self.bytes(of: &sregs, at: index, count: size)
        case .fpu where UInt32(index) == X86ID.fullTagWordIndex:
            return withUnsafeBytes(of: fullTagWord()) { Array($0) }
        case .fpu: return Self.bytes(of: &fpu, at: index, count: size)
        case .msr: return msrs[UInt32(index)].map { v in withUnsafeBytes(of: v) { Array($0) } }
        case .xsave where useXSAVE: return Self.bytes(of: &xsave, at: index, count: size)
        case .debugregs: return Self.bytes(of: &debugregs, at: index, count: size)
        default: return nil
        }
    }

    package func setKernelValue(_ bytes: [UInt8], of register: RegisterDescriptor) {
        let id = register.id
        let index = Int(X86ID.index(of: id))
        switch X86ID.space(of: id) {
        case .regs: Self.store(bytes, into: &regs, at: index)
        case .sregs: Self.store(bytes, into: &sregs, at: index)
        case .fpu where UInt32(index) == X86ID.fullTagWordIndex:
            // FXSAVE keeps one bit per physical register: set = not empty (full tag != 0b11).
            let full = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
            var abridged: UInt8 = 0
            for i in 0..<8 where (full >> (2 * i)) & 3 != 3 { abridged |= 1 << i }
            fpu.ftwx = abridged
        case .fpu: Self.store(bytes, into: &fpu, at: index)
        case .msr:
            let value = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            msrs[UInt32(index)] = value
            dirtyMSRs.insert(UInt32(index))
            mirrorIntoSregs(UInt32(index), value)
        case .xsave where useXSAVE:
            Self.store(bytes, into: &xsave, at: index)
            xsaveComponentsWritten |= xsaveComponent(ofOffset: index)
        case .debugregs: Self.store(bytes, into: &debugregs, at: index)
        default: break
        }
    }

    /// The XSTATE_BV bit of the component an XSAVE offset lies in: AVX 2, opmask 5, ZMM_Hi256 6, Hi16_ZMM 7.
    private func xsaveComponent(ofOffset o: Int) -> UInt64 {
        guard let l = xsaveLayout else { return 0 }
        if (l.avx..<l.avx + 256).contains(o) { return 1 << 2 }
        if let k = l.opmask, (k..<k + 64).contains(o) { return 1 << 5 }
        if let h = l.zmmHi256, (h..<h + 512).contains(o) { return 1 << 6 }
        if let h = l.hi16ZMM, (h..<h + 1024).contains(o) { return 1 << 7 }
        return 0
    }

    /// kvm_fpu offsets → FXSAVE legacy-region offsets (Intel SDM vol. 1, 10.5.1), as (fpu, fxsave, bytes).
    private static let fxsaveLayout: [(Int, Int, Int)] = [
        (0, 32, 128),  // ST0–ST7, 16 bytes each, stack order
        (128, 0, 2), (130, 2, 2), (132, 4, 1), (134, 6, 2),  // FCW, FSW, abridged FTW, FOP
        (136, 8, 8), (144, 16, 8),  // FIP, FDP (64-bit format)
        (152, 160, 256),  // XMM0–XMM15
        (408, 24, 4),  // MXCSR
    ]

    private func fpuFromXSAVE() {
        withUnsafeBytes(of: &xsave) { x in
            withUnsafeMutableBytes(of: &fpu) { f in
                for (fo, xo, n) in Self.fxsaveLayout {
                    f.baseAddress!.advanced(by: fo).copyMemory(from: x.baseAddress! + xo, byteCount: n)
                }
            }
        }
    }

    private func fpuIntoXSAVE() {
        withUnsafeMutableBytes(of: &xsave) { x in
            withUnsafeBytes(of: &fpu) { f in
                for (fo, xo, n) in Self.fxsaveLayout {
                    x.baseAddress!.advanced(by: xo).copyMemory(from: f.baseAddress! + fo, byteCount: n)
                }
            }
            // XSTATE_BV (offset 512): x87, SSE and whatever gdb wrote now hold real values, so XRSTOR must load
            // them (KVM_GET_XSAVE filled components in their init state with init values, so this is exact).
            let bv = x.loadUnaligned(fromByteOffset: 512, as: UInt64.self)
            x.storeBytes(of: bv | xsaveComponentsWritten, toByteOffset: 512, as: UInt64.self)
        }
    }

    /// gdb's ftag: two bits per physical register (valid 00, zero 01, special 10, empty 11), computed the way
    /// the FSAVE tag word is from the abridged FXSAVE tag, as gdb's own i387-tdep does.
    func fullTagWord() -> UInt16 {
        let top = Int((fpu.fsw >> 11) & 7)
        var tag: UInt16 = 0
        for physical in 0..<8 {
            var t: UInt16 = 3
            if fpu.ftwx & (1 << physical) != 0 {
                let st = (physical - top + 8) % 8  // kvm_fpu.fpr holds ST(i) in stack order
                let raw = Self.bytes(of: &fpu, at: st * 16, count: 10)
                let exponent = (UInt16(raw[9]) << 8 | UInt16(raw[8])) & 0x7fff
                let integerBit = raw[7] & 0x80 != 0
                if exponent == 0x7fff {
                    t = 2
                } else if exponent == 0 {
                    t = raw[0..<8].allSatisfy { $0 == 0 } ? 1 : 2
                } else {
                    t = integerBit ? 0 : 2
                }
            }
            tag |= t << (2 * physical)
        }
        return tag
    }

    package func prepareRun(dirty: SyncGroup) -> SyncGroup {
        guard syncRegs else { return [] }
        var handed: SyncGroup = []
        var bits: UInt64 = 0
        if dirty.contains(.x86Regs) {
            ckvm_run_sync_regs(vcpu.runPage).pointee = regs
            bits |= CKVM_SYNC_X86_REGS
            handed.insert(.x86Regs)
        }
        if dirty.contains(.x86Sregs) {
            ckvm_run_sync_sregs(vcpu.runPage).pointee = sregs
            publishCR8()
            bits |= CKVM_SYNC_X86_SREGS
            handed.insert(.x86Sregs)
        }
        ckvm_run_dirty_regs(vcpu.runPage).pointee = bits
        return handed
    }

    package func finishRun() -> SyncGroup {
        guard syncRegs else { return [] }
        regs = ckvm_run_sync_regs(vcpu.runPage).pointee
        sregs = ckvm_run_sync_sregs(vcpu.runPage).pointee
        return [.x86Regs, .x86Sregs]
    }

    static func bytes<T>(of value: inout T, at offset: Int, count: Int) -> [UInt8] {
        withUnsafeBytes(of: &value) { raw in
            guard offset >= 0, offset + count <= raw.count else { return [] }
            return Array(raw[offset..<offset + count])
        }
    }

    static func store<T>(_ bytes: [UInt8], into value: inout T, at offset: Int) {
        withUnsafeMutableBytes(of: &value) { raw in
            guard offset >= 0, offset + bytes.count <= raw.count else { return }
            for (i, b) in bytes.enumerated() { raw[offset + i] = b }
        }
    }
}

#endif

/// arm64 ONE_REG IDs (arch/arm64/include/uapi/asm/kvm.h). Every register gdb sees is a real kernel ID except
/// `vg`, which no kernel register holds: the vector length is a property of the vCPU, fixed by
/// `KVM_REG_ARM64_SVE_VLS` before `KVM_ARM_VCPU_FINALIZE`. kvmstub gives it a project-private ID in the way the
/// x86 table does: bits 39–32 (a field the arm64 kernel never sets: its IDs live in bits 31–0) hold 0xE0, the
/// low bits an index. The arm64 backend answers it from its configuration and never sends it to the kernel.
public enum ARM64ID {
    /// `KVM_REG_ARM_COPROC_SHIFT` is 16; the coprocessor field is bits 27–16.
    public static let core: UInt64 = 0x0010 << 16  // KVM_REG_ARM_CORE
    public static let sysreg: UInt64 = 0x0013 << 16  // KVM_REG_ARM64_SYSREG
    public static let firmware: UInt64 = 0x0014 << 16  // KVM_REG_ARM_FW
    public static let sve: UInt64 = 0x0015 << 16  // KVM_REG_ARM64_SVE
    public static let coprocMask: UInt64 = 0x0fff_0000  // KVM_REG_ARM_COPROC_MASK

    /// Byte offsets in arm64's `struct kvm_regs` (user_pt_regs regs; sp_el1; elr_el1; spsr[5]; then the
    /// 16-byte aligned user_fpsimd_state fp_regs: vregs[32], fpsr, fpcr).
    public enum CoreOffset {
        public static func x(_ n: Int) -> Int { n * 8 }
        /// `regs.sp`: SP_EL0.
        public static let sp = 248
        public static let pc = 256
        public static let pstate = 264
        public static let spEL1 = 272
        public static let elrEL1 = 280
        /// `spsr[KVM_SPSR_EL1]` (index 0).
        public static let spsrEL1 = 288
        public static func v(_ n: Int) -> Int { 336 + 16 * n }
        public static let fpsr = 848
        public static let fpcr = 852
        /// sizeof(struct kvm_regs).
        public static let structSize = 864
    }

    /// `KVM_REG_ARM64 | size | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(field)`: the index is the offset / 4.
    public static func core(offset: Int, byteSize: Int) -> OneRegID {
        OneRegID(arch: OneRegID.archARM64, byteSize: byteSize, rest: core | UInt64(offset / 4))
    }

    /// The byte offset in `struct kvm_regs` of a core ID, or nil for another kind of ID.
    public static func coreOffset(of id: OneRegID) -> Int? {
        guard id.arch == OneRegID.archARM64, id.rawValue & coprocMask == core, !isProjectPrivate(id) else { return nil }
        return Int(id.rawValue & 0xffff) * 4
    }

    /// `KVM_REG_ARM64_SVE_ZREG(n, 0)`: U2048, whatever the vector length.
    public static func zreg(_ n: Int) -> OneRegID {
        OneRegID(arch: OneRegID.archARM64, byteSize: 256, rest: sve | UInt64(n & 31) << 5)
    }
    /// `KVM_REG_ARM64_SVE_PREG(n, 0)`: U256.
    public static func preg(_ n: Int) -> OneRegID {
        OneRegID(arch: OneRegID.archARM64, byteSize: 32, rest: sve | 0x400 | UInt64(n & 15) << 5)
    }
    /// `KVM_REG_ARM64_SVE_FFR(0)`: U256.
    public static let ffr = OneRegID(arch: OneRegID.archARM64, byteSize: 32, rest: sve | 0x600)
    /// `KVM_REG_ARM64_SVE_VLS`: U512, bit (vq - 1) set for each vector length vq × 128 bits the vCPU offers.
    public static let vectorLengths = OneRegID(arch: OneRegID.archARM64, byteSize: 64, rest: sve | 0xffff)
    /// `KVM_REG_ARM_PSCI_VERSION` (KVM_REG_ARM_FW_REG(0)): the PSCI version the guest is offered.
    public static let psciVersion = OneRegID(arch: OneRegID.archARM64, byteSize: 8, rest: firmware | 0)

    /// `ARM64_SYS_REG(op0, op1, CRn, CRm, op2)`: U64.
    public static func sysreg(_ op0: Int, _ op1: Int, _ crn: Int, _ crm: Int, _ op2: Int) -> OneRegID {
        let encoding =
            UInt64(op0 & 3) << 14 | UInt64(op1 & 7) << 11 | UInt64(crn & 15) << 7 | UInt64(crm & 15) << 3
            | UInt64(op2 & 7)
        return OneRegID(arch: OneRegID.archARM64, byteSize: 8, rest: sysreg | encoding)
    }

    /// (op0, op1, CRn, CRm, op2) of a system register ID, nil for any other ID.
    public static func sysregFields(of id: OneRegID) -> (op0: Int, op1: Int, crn: Int, crm: Int, op2: Int)? {
        guard id.arch == OneRegID.archARM64, id.rawValue & coprocMask == sysreg, !isProjectPrivate(id) else {
            return nil
        }
        let e = Int(id.rawValue & 0xffff)
        return (e >> 14 & 3, e >> 11 & 7, e >> 7 & 15, e >> 3 & 15, e & 7)
    }

    public static func isSVE(_ id: OneRegID) -> Bool {
        id.arch == OneRegID.archARM64 && id.rawValue & coprocMask == sve && !isProjectPrivate(id)
    }

    /// Project-private: gdb's `vg`, the vector length in 64-bit granules (VL / 64). Never sent to the kernel.
    public static let vectorGranules = OneRegID(arch: OneRegID.archARM64, byteSize: 8, rest: 0xE0 << 32)

    public static func isProjectPrivate(_ id: OneRegID) -> Bool {
        id.arch == OneRegID.archARM64 && (id.rawValue >> 32) & 0xff == 0xE0
    }

    /// `BRK #0`, the software breakpoint instruction (little-endian in memory: 00 00 20 d4).
    public static let breakpointInstruction: UInt32 = 0xd420_0000
}

/// Names for the system registers a KVM vCPU commonly lists (Arm ARM, D17 "AArch64 System Register
/// Descriptions"); any other `KVM_GET_REG_LIST` entry is named by its encoding, `S3_0_C0_C5_2`, the assembler's
/// generic spelling.
public enum ARM64SystemRegister {
    public static let named: [(name: String, op0: Int, op1: Int, crn: Int, crm: Int, op2: Int)] = [
        ("MDSCR_EL1", 2, 0, 0, 2, 2),
        ("MIDR_EL1", 3, 0, 0, 0, 0), ("MPIDR_EL1", 3, 0, 0, 0, 5), ("REVIDR_EL1", 3, 0, 0, 0, 6),
        ("ID_AA64PFR0_EL1", 3, 0, 0, 4, 0), ("ID_AA64PFR1_EL1", 3, 0, 0, 4, 1), ("ID_AA64ZFR0_EL1", 3, 0, 0, 4, 4),
        ("ID_AA64DFR0_EL1", 3, 0, 0, 5, 0), ("ID_AA64ISAR0_EL1", 3, 0, 0, 6, 0), ("ID_AA64ISAR1_EL1", 3, 0, 0, 6, 1),
        ("ID_AA64MMFR0_EL1", 3, 0, 0, 7, 0), ("ID_AA64MMFR1_EL1", 3, 0, 0, 7, 1), ("ID_AA64MMFR2_EL1", 3, 0, 0, 7, 2),
        ("SCTLR_EL1", 3, 0, 1, 0, 0), ("ACTLR_EL1", 3, 0, 1, 0, 1), ("CPACR_EL1", 3, 0, 1, 0, 2),
        ("ZCR_EL1", 3, 0, 1, 2, 0),
        ("TTBR0_EL1", 3, 0, 2, 0, 0), ("TTBR1_EL1", 3, 0, 2, 0, 1), ("TCR_EL1", 3, 0, 2, 0, 2),
        ("AFSR0_EL1", 3, 0, 5, 1, 0), ("AFSR1_EL1", 3, 0, 5, 1, 1), ("ESR_EL1", 3, 0, 5, 2, 0),
        ("FAR_EL1", 3, 0, 6, 0, 0), ("PAR_EL1", 3, 0, 7, 4, 0),
        ("MAIR_EL1", 3, 0, 10, 2, 0), ("AMAIR_EL1", 3, 0, 10, 3, 0), ("VBAR_EL1", 3, 0, 12, 0, 0),
        ("CONTEXTIDR_EL1", 3, 0, 13, 0, 1), ("TPIDR_EL1", 3, 0, 13, 0, 4), ("CNTKCTL_EL1", 3, 0, 14, 1, 0),
        ("CSSELR_EL1", 3, 2, 0, 0, 0),
        ("TPIDR_EL0", 3, 3, 13, 0, 2), ("TPIDRRO_EL0", 3, 3, 13, 0, 3),
        // The timers as KVM exposes them: KVM_REG_ARM_TIMER_CVAL and _CNT carry each other's architectural
        // encodings (an ABI slip kept for compatibility): (3,3,14,0,2) is the compare value, (3,3,14,3,2) the count.
        ("CNTV_CTL_EL0", 3, 3, 14, 3, 1), ("CNTV_CVAL_EL0", 3, 3, 14, 0, 2), ("CNTVCT_EL0", 3, 3, 14, 3, 2),
        ("CNTP_CTL_EL0", 3, 3, 14, 2, 1), ("CNTP_CVAL_EL0", 3, 3, 14, 2, 2), ("CNTPCT_EL0", 3, 3, 14, 0, 1),
    ]

    private static let byID: [OneRegID: String] = Dictionary(
        named.map { (ARM64ID.sysreg($0.op0, $0.op1, $0.crn, $0.crm, $0.op2), $0.name) }, uniquingKeysWith: { a, _ in a }
    )

    /// The IDs of the named registers, in ID order: what `kvmstub regs --arch arm64` shows without a vCPU to ask.
    public static let commonIDs: [OneRegID] = byID.keys.sorted()

    /// The name gdb sees for a system register ID.
    public static func name(of id: OneRegID) -> String? {
        if let name = byID[id] { return name }
        guard let f = ARM64ID.sysregFields(of: id) else { return nil }
        return "S\(f.op0)_\(f.op1)_C\(f.crn)_C\(f.crm)_\(f.op2)"
    }
}

extension SyncGroup {
    /// arm64 core registers (x0–x30, sp, pc, pstate, sp_el1): one KVM_GET_ONE_REG each, batched. RUNTIME.
    public static let arm64Core = SyncGroup(rawValue: 1 << 8)
    /// arm64 FP/SIMD (v0–v31, fpsr, fpcr) or, with SVE, z0–z31, p0–p15, ffr, fpsr, fpcr.
    public static let arm64FP = SyncGroup(rawValue: 1 << 9)
    /// arm64 system registers (KVM_GET_REG_LIST's sysregs, and elr_el1/spsr_el1 from the core block).
    public static let arm64SysRegs = SyncGroup(rawValue: 1 << 10)
    /// arm64 `vg`: no ioctl, the vector length the vCPU was finalized with.
    public static let arm64VectorLength = SyncGroup(rawValue: 1 << 11)
}

extension RegisterTable {
    /// The SVE vector lengths the architecture allows, in bits: 128 to 2048 in steps of 128.
    public static let arm64VectorLengths = Array(stride(from: 128, through: 2048, by: 128))

    /// arm64 in gdb's order. Core: `gdb/features/aarch64-core.xml` (x0–x30, sp, pc, cpsr). Then either
    /// `aarch64-fpu.xml` (v0–v31, fpsr, fpcr) when `sveVectorLength` is nil, or the SVE feature gdb builds from the
    /// vector length in `gdb/features/aarch64-sve.c` (z0–z31, fpsr, fpcr, p0–p15, ffr, vg) — never both: gdb
    /// rejects a description with the FPU and the SVE feature. Then a feature of kvmstub's own, as QEMU has one:
    /// SP_EL0, SP_EL1, ELR_EL1, SPSR_EL1 (core IDs), and the system registers, named where they have a common name.
    /// Kernel layout: `struct kvm_regs` and the SVE IDs in arch/arm64/include/uapi/asm/kvm.h.
    ///
    /// - Parameters:
    ///   - sveVectorLength: VL in bits (128…2048, a multiple of 128), or nil for a vCPU without SVE.
    ///   - systemRegisters: the `KVM_ARM64_SYSREG` IDs to expose (others in the list are ignored) — what
    ///     KVM_GET_REG_LIST returned; by default the commonly named ones.
    public static func arm64(
        sveVectorLength: Int?, systemRegisters: [OneRegID] = ARM64SystemRegister.commonIDs
    ) -> RegisterTable {
        if let vl = sveVectorLength {
            precondition(arm64VectorLengths.contains(vl), "SVE vector length \(vl): want 128…2048 in steps of 128")
        }
        let core = "org.gnu.gdb.aarch64.core"
        let fpu = "org.gnu.gdb.aarch64.fpu"
        let sve = "org.gnu.gdb.aarch64.sve"
        let sys = "org.kvmstub.aarch64.sysregs"
        var list = RegisterList()
        typealias O = ARM64ID.CoreOffset
        for n in 0...30 { list.add("x\(n)", 64, "int", core, ARM64ID.core(offset: O.x(n), byteSize: 8), .arm64Core) }
        // The ID is KVM's regs.sp (SP_EL0); the backend serves SP_EL1 instead when pstate says EL1h.
        list.add("sp", 64, "data_ptr", core, ARM64ID.core(offset: O.sp, byteSize: 8), .arm64Core)
        list.add("pc", 64, "code_ptr", core, ARM64ID.core(offset: O.pc, byteSize: 8), .arm64Core)
        // pstate is a U64 in struct kvm_regs; gdb's cpsr is its low 32 bits.
        list.add("cpsr", 32, "cpsr_flags", core, ARM64ID.core(offset: O.pstate, byteSize: 8), .arm64Core)
        let fpsr = ARM64ID.core(offset: O.fpsr, byteSize: 4)
        let fpcr = ARM64ID.core(offset: O.fpcr, byteSize: 4)
        var features = [RegisterFeature(name: core, fileName: "aarch64-core.xml", typeDefinitions: ARM64Types.core)]
        if let vl = sveVectorLength {
            for n in 0..<32 { list.add("z\(n)", vl, "svev", sve, ARM64ID.zreg(n), .arm64FP) }
            list.add("fpsr", 32, "fpsr_flags", sve, fpsr, .arm64FP)
            list.add("fpcr", 32, "fpcr_flags", sve, fpcr, .arm64FP)
            for n in 0..<16 { list.add("p\(n)", vl / 8, "svep", sve, ARM64ID.preg(n), .arm64FP) }
            list.add("ffr", vl / 8, "svep", sve, ARM64ID.ffr, .arm64FP)
            list.add("vg", 64, "int", sve, ARM64ID.vectorGranules, .arm64VectorLength)
            features.append(
                RegisterFeature(
                    name: sve, fileName: "aarch64-sve.xml", typeDefinitions: ARM64Types.sve(scale: vl / 128)))
        } else {
            for n in 0..<32 { list.add("v\(n)", 128, "aarch64v", fpu, ARM64ID.core(offset: O.v(n), byteSize: 16), .arm64FP) }
            list.add("fpsr", 32, "fpsr_flags", fpu, fpsr, .arm64FP)
            list.add("fpcr", 32, "fpcr_flags", fpu, fpcr, .arm64FP)
            features.append(RegisterFeature(name: fpu, fileName: "aarch64-fpu.xml", typeDefinitions: ARM64Types.fpu))
        }
        let gPacketCount = list.registers.count
        list.add("SP_EL0", 64, "data_ptr", sys, ARM64ID.core(offset: O.sp, byteSize: 8), .arm64Core, gdbGroup: "system")
        list.add("SP_EL1", 64, "data_ptr", sys, ARM64ID.core(offset: O.spEL1, byteSize: 8), .arm64Core, gdbGroup: "system")
        list.add(
            "ELR_EL1", 64, "code_ptr", sys, ARM64ID.core(offset: O.elrEL1, byteSize: 8), .arm64SysRegs,
            gdbGroup: "system")
        list.add(
            "SPSR_EL1", 64, "uint64", sys, ARM64ID.core(offset: O.spsrEL1, byteSize: 8), .arm64SysRegs,
            gdbGroup: "system")
        var seen = Set(list.registers.map(\.name))
        // ZCR_EL1 exists only with SVE: a vCPU without it answers ENOENT (the arm64 rig's probe found the table
        // listing it there).
        let zcr = ARM64ID.sysreg(3, 0, 1, 2, 0)
        for id in systemRegisters.sorted() where id.byteSize == 8 && (sveVectorLength != nil || id != zcr) {
            guard let name = ARM64SystemRegister.name(of: id), seen.insert(name).inserted else { continue }
            list.add(name, 64, "uint64", sys, id, .arm64SysRegs, gdbGroup: "system")
        }
        features.append(RegisterFeature(name: sys, fileName: "kvmstub-aarch64-sysregs.xml"))

        var groups = [
            SyncGroupInfo(
                group: .arm64Core, name: "core",
                servedBy:
                    "KVM_GET_ONE_REG / KVM_SET_ONE_REG of each KVM_REG_ARM_CORE field, batched (x0–x30, sp, pc, pstate, sp_el1)"
            ),
            SyncGroupInfo(
                group: .arm64FP, name: sveVectorLength == nil ? "fp" : "sve",
                servedBy: sveVectorLength == nil
                    ? "KVM_GET_ONE_REG / KVM_SET_ONE_REG of the core vregs, fpsr, fpcr"
                    : "KVM_GET_ONE_REG / KVM_SET_ONE_REG of ZREG(n,0) (U2048), PREG(n,0) and FFR(0) (U256), fpsr, fpcr; gdb sees the low VL/8 (VL/64) bytes"
            ),
            SyncGroupInfo(
                group: .arm64SysRegs, name: "sysregs",
                servedBy:
                    "KVM_GET_ONE_REG / KVM_SET_ONE_REG of each KVM_GET_REG_LIST sysreg, and core elr_el1, spsr[EL1]"),
        ]
        if sveVectorLength != nil {
            groups.append(
                SyncGroupInfo(
                    group: .arm64VectorLength, name: "vl",
                    servedBy:
                        "no ioctl: the vector length written to KVM_REG_ARM64_SVE_VLS before KVM_ARM_VCPU_FINALIZE"))
        }
        let runtime: SyncGroup = .arm64Core
        let reset: SyncGroup = [runtime, .arm64FP, .arm64VectorLength]
        var expedited = [29, 31, 32]  // x29 (fp), sp, pc: as gdbserver
        if sveVectorLength != nil, let vg = list.registers.first(where: { $0.name == "vg" }) { expedited.append(vg.regnum) }
        return RegisterTable(
            architecture: "aarch64", features: features, registers: list.registers, groups: groups,
            runtime: runtime, reset: reset, full: [reset, .arm64SysRegs],
            // The g packet is everything in gdb's own features (9020 bytes at VL 2048); the system registers, one
            // ioctl each and a few hundred on real hardware, come with `p` when asked for.
            gPacketCount: gPacketCount, expedited: expedited, pcRegnum: 32, spRegnum: 31)
    }
}

/// Type definitions from gdb/features/aarch64-core.xml, aarch64-fpu.xml and aarch64-sve.c.
enum ARM64Types {
    static let core = FeatureTypes.flags(
        "cpsr_flags", 4,
        [
            ("SP", 0, 0), ("EL", 2, 3), ("nRW", 4, 4), ("F", 6, 6), ("I", 7, 7), ("A", 8, 8), ("D", 9, 9),
            ("BTYPE", 10, 11), ("SSBS", 12, 12), ("IL", 20, 20), ("SS", 21, 21), ("PAN", 22, 22), ("UAO", 23, 23),
            ("DIT", 24, 24), ("TCO", 25, 25), ("V", 28, 28), ("C", 29, 29), ("Z", 30, 30), ("N", 31, 31),
        ])

    static let fpStatus =
        FeatureTypes.flags(
            "fpsr_flags", 4,
            [
                ("IOC", 0, 0), ("DZC", 1, 1), ("OFC", 2, 2), ("UFC", 3, 3), ("IXC", 4, 4), ("IDC", 7, 7),
                ("QC", 27, 27),
                ("V", 28, 28), ("C", 29, 29), ("Z", 30, 30), ("N", 31, 31),
            ])
        + FeatureTypes.flags(
            "fpcr_flags", 4,
            [
                ("FIZ", 0, 0), ("AH", 1, 1), ("NEP", 2, 2), ("IOE", 8, 8), ("DZE", 9, 9), ("OFE", 10, 10),
                ("UFE", 11, 11),
                ("IXE", 12, 12), ("IDE", 15, 15), ("FZ16", 19, 19), ("RMode", 22, 23), ("FZ", 24, 24), ("DN", 25, 25),
                ("AHP", 26, 26),
            ])

    static let fpu =
        FeatureTypes.vectors([
            ("v2d", "ieee_double", 2), ("v2u", "uint64", 2), ("v2i", "int64", 2), ("v4f", "ieee_single", 4),
            ("v4u", "uint32", 4), ("v4i", "int32", 4), ("v8f", "ieee_half", 8), ("v8u", "uint16", 8),
            ("v8i", "int16", 8),
            ("v16u", "uint8", 16), ("v16i", "int8", 16), ("v1u", "uint128", 1), ("v1i", "int128", 1),
        ])
        + FeatureTypes.union("vnd", [("f", "v2d"), ("u", "v2u"), ("s", "v2i")])
        + FeatureTypes.union("vns", [("f", "v4f"), ("u", "v4u"), ("s", "v4i")])
        + FeatureTypes.union("vnh", [("f", "v8f"), ("u", "v8u"), ("s", "v8i")])
        + FeatureTypes.union("vnb", [("u", "v16u"), ("s", "v16i")])
        + FeatureTypes.union("vnq", [("u", "v1u"), ("s", "v1i")])
        + FeatureTypes.union("aarch64v", [("d", "vnd"), ("s", "vns"), ("h", "vnh"), ("b", "vnb"), ("q", "vnq")])
        + fpStatus

    /// `scale` = the number of 128-bit chunks in a Z register (VL / 128), as create_feature_aarch64_sve takes it.
    static func sve(scale s: Int) -> String {
        FeatureTypes.vectors([
            ("svevqu", "uint128", s), ("svevqs", "int128", s), ("svevdf", "ieee_double", 2 * s),
            ("svevdu", "uint64", 2 * s), ("svevds", "int64", 2 * s), ("svevsf", "ieee_single", 4 * s),
            ("svevsu", "uint32", 4 * s), ("svevss", "int32", 4 * s), ("svevhf", "ieee_half", 8 * s),
            ("svevhu", "uint16", 8 * s), ("svevhs", "int16", 8 * s), ("svevbu", "uint8", 16 * s),
            ("svevbs", "int8", 16 * s),
        ])
            + FeatureTypes.union("svevnq", [("u", "svevqu"), ("s", "svevqs")])
            + FeatureTypes.union("svevnd", [("f", "svevdf"), ("u", "svevdu"), ("s", "svevds")])
            + FeatureTypes.union("svevns", [("f", "svevsf"), ("u", "svevsu"), ("s", "svevss")])
            + FeatureTypes.union("svevnh", [("f", "svevhf"), ("u", "svevhu"), ("s", "svevhs")])
            + FeatureTypes.union("svevnb", [("u", "svevbu"), ("s", "svevbs")])
            + FeatureTypes.union(
                "svev", [("q", "svevnq"), ("d", "svevnd"), ("s", "svevns"), ("h", "svevnh"), ("b", "svevnb")])
            + FeatureTypes.vectors([("svep", "uint8", 2 * s)])
            + fpStatus
    }
}

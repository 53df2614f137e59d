/// 64-bit POWER ONE_REG IDs (arch/powerpc/include/uapi/asm/kvm.h): `KVM_REG_PPC | size | index`, the index in
/// bits 31–0. FPRs, VRs, VSRs, FPSCR, VSCR and VRSAVE are the kernel's own IDs. The GPRs, pc (nip), msr, cr, lr,
/// ctr and xer exist only in `struct kvm_regs` (KVM_GET_REGS): kvmstub gives them project-private IDs, as on x86 —
/// bits 39–32 hold 0xE0 (the kernel's ppc IDs never set bits above 31) and the index is the field's byte offset
/// in the struct; the size is the field's (u64, even for gdb's 32-bit cr and xer). The ppc backend resolves
/// them to KVM_GET_REGS / KVM_SET_REGS and never sends them to KVM_GET_ONE_REG.
public enum PPCID {
    /// Byte offsets in powerpc's `struct kvm_regs`: pc, cr, ctr, lr, xer, msr, srr0, srr1, pid, sprg0–7, gpr[32].
    public enum RegsOffset {
        public static let pc = 0
        public static let cr = 8
        public static let ctr = 16
        public static let lr = 24
        public static let xer = 32
        public static let msr = 40
        public static func gpr(_ n: Int) -> Int { 136 + 8 * n }
        /// sizeof(struct kvm_regs).
        public static let structSize = 392
    }

    /// Project-private: a field of `struct kvm_regs`.
    public static func regs(offset: Int) -> OneRegID {
        OneRegID(arch: OneRegID.archPPC, byteSize: 8, rest: 0xE0 << 32 | UInt64(offset))
    }

    /// The `struct kvm_regs` offset of a private ID, nil for a kernel ID.
    public static func regsOffset(of id: OneRegID) -> Int? {
        guard id.arch == OneRegID.archPPC, (id.rawValue >> 32) & 0xff == 0xE0 else { return nil }
        return Int(id.rawValue & 0xffff_ffff)
    }

    /// `KVM_REG_PPC_FPR(n)`: U64, FPR0 = 0x1030000000000020.
    public static func fpr(_ n: Int) -> OneRegID {
        OneRegID(arch: OneRegID.archPPC, byteSize: 8, rest: 0x20 + UInt64(n))
    }
    /// `KVM_REG_PPC_VR(n)`: U128, VR0 = 0x1040000000000040.
    public static func vr(_ n: Int) -> OneRegID {
        OneRegID(arch: OneRegID.archPPC, byteSize: 16, rest: 0x40 + UInt64(n))
    }
    /// `KVM_REG_PPC_VSR(n)`: U128, the whole VSR n, whose other doubleword is FPR n.
    public static func vsr(_ n: Int) -> OneRegID {
        OneRegID(arch: OneRegID.archPPC, byteSize: 16, rest: 0x60 + UInt64(n))
    }
    /// `KVM_REG_PPC_FPSCR`: U64 (ISA 2.05 widened it).
    public static let fpscr = OneRegID(arch: OneRegID.archPPC, byteSize: 8, rest: 0x80)
    /// `KVM_REG_PPC_VSCR`: U32.
    public static let vscr = OneRegID(arch: OneRegID.archPPC, byteSize: 4, rest: 0x81)
    /// `KVM_REG_PPC_VRSAVE`: U32.
    public static let vrsave = OneRegID(arch: OneRegID.archPPC, byteSize: 4, rest: 0xb4)

    /// `trap` (tw 31,0,0), the software breakpoint instruction gdb itself uses on POWER.
    public static let breakpointInstruction: UInt32 = 0x7fe0_0008

    /// In the 16 bytes of a `KVM_REG_PPC_VSR(n)` value (the kernel's `fp.fpr[n][0..1]` in host order), the byte
    /// offset of the doubleword FPR n holds (TS_FPROFFSET) and of the other one, gdb's `vsNh` (TS_VSRLOWOFFSET),
    /// as arch/powerpc/include/asm/processor.h places them.
    #if _endian(little)
        public static let fprHalfOffset = 8
        public static let vsrLowHalfOffset = 0
    #else
        public static let fprHalfOffset = 0
        public static let vsrLowHalfOffset = 8
    #endif
}

extension SyncGroup {
    /// ppc `struct kvm_regs`: r0–r31, pc, msr, cr, lr, ctr, xer. RUNTIME.
    public static let ppcRegs = SyncGroup(rawValue: 1 << 12)
    /// ppc floating point: FPR n and gdb's vsNh are the two halves of VSR n, so one group holds both (served by
    /// the VSR IDs, or the FPR IDs on a CPU without VSX), and fpscr.
    public static let ppcFP = SyncGroup(rawValue: 1 << 13)
    /// ppc AltiVec: vr0–vr31, vscr, vrsave.
    public static let ppcVector = SyncGroup(rawValue: 1 << 14)
}

extension RegisterTable {
    /// 64-bit POWER in gdb's order (`gdb/features/rs6000/powerpc-vsx64.xml`): `power64-core.xml` (r0–r31 regnums
    /// 0–31, pc msr cr lr ctr xer 64–69), `power-fpu-isa205.xml` (f0–f31 32–63, the 64-bit fpscr 70),
    /// `power-altivec.xml` (vr0–vr31, vscr, vrsave) and `power-vsx.xml` (vs0h–vs31h: the doubleword of VSR n that
    /// FPR n does not hold). Kernel layout: `struct kvm_regs` and `KVM_REG_PPC_*` in
    /// arch/powerpc/include/uapi/asm/kvm.h.
    public static let ppc64: RegisterTable = {
        let core = "org.gnu.gdb.power.core"
        let fpu = "org.gnu.gdb.power.fpu"
        let altivec = "org.gnu.gdb.power.altivec"
        let vsx = "org.gnu.gdb.power.vsx"
        var list = RegisterList()
        typealias O = PPCID.RegsOffset
        for n in 0..<32 { list.add("r\(n)", 64, "uint64", core, PPCID.regs(offset: O.gpr(n)), .ppcRegs) }
        for n in 0..<32 { list.add("f\(n)", 64, "ieee_double", fpu, PPCID.fpr(n), .ppcFP) }
        list.add("pc", 64, "code_ptr", core, PPCID.regs(offset: O.pc), .ppcRegs)
        list.add("msr", 64, "uint64", core, PPCID.regs(offset: O.msr), .ppcRegs)
        // cr and xer are u64 in struct kvm_regs, 32 bits in gdb: the low word.
        list.add("cr", 32, "uint32", core, PPCID.regs(offset: O.cr), .ppcRegs)
        list.add("lr", 64, "code_ptr", core, PPCID.regs(offset: O.lr), .ppcRegs)
        list.add("ctr", 64, "uint64", core, PPCID.regs(offset: O.ctr), .ppcRegs)
        list.add("xer", 32, "uint32", core, PPCID.regs(offset: O.xer), .ppcRegs)
        list.add("fpscr", 64, "int", fpu, PPCID.fpscr, .ppcFP, gdbGroup: "float")
        for n in 0..<32 { list.add("vr\(n)", 128, "vec128", altivec, PPCID.vr(n), .ppcVector) }
        list.add("vscr", 32, "int", altivec, PPCID.vscr, .ppcVector, gdbGroup: "vector")
        list.add("vrsave", 32, "int", altivec, PPCID.vrsave, .ppcVector, gdbGroup: "vector")
        // The VSR's ID (U128): the backend hands gdb the doubleword FPR n does not hold.
        for n in 0..<32 { list.add("vs\(n)h", 64, "uint64", vsx, PPCID.vsr(n), .ppcFP) }

        let runtime: SyncGroup = .ppcRegs
        let reset: SyncGroup = [runtime, .ppcFP, .ppcVector]
        return RegisterTable(
            architecture: "powerpc:common64",
            features: [
                RegisterFeature(name: core, fileName: "power64-core.xml"),
                RegisterFeature(name: fpu, fileName: "power-fpu.xml"),
                RegisterFeature(name: altivec, fileName: "power-altivec.xml", typeDefinitions: PPCTypes.altivec),
                RegisterFeature(name: vsx, fileName: "power-vsx.xml"),
            ],
            registers: list.registers,
            groups: [
                SyncGroupInfo(
                    group: .ppcRegs, name: "regs", servedBy: "KVM_GET_REGS / KVM_SET_REGS (powerpc struct kvm_regs)"),
                SyncGroupInfo(
                    group: .ppcFP, name: "fp",
                    servedBy:
                        "KVM_GET_ONE_REG / KVM_SET_ONE_REG of VSR0–31 (both halves: FPR n and vsNh) and FPSCR; FPR0–31 without VSX"
                ),
                SyncGroupInfo(
                    group: .ppcVector, name: "altivec",
                    servedBy: "KVM_GET_ONE_REG / KVM_SET_ONE_REG of VR0–31, VSCR, VRSAVE"),
            ],
            runtime: runtime, reset: reset, full: reset,
            // Everything: the FPRs sit between r31 and pc in gdb's numbering, so the g packet cannot stop at RUNTIME.
            gPacketCount: list.registers.count,
            expedited: [1, 64],  // r1 (the stack pointer), pc
            pcRegnum: 64, spRegnum: 1)
    }()
}

/// Type definitions from gdb/features/rs6000/power-altivec.xml.
enum PPCTypes {
    static let altivec =
        FeatureTypes.vectors([
            ("v4f", "ieee_single", 4), ("v4i32", "int32", 4), ("v8i16", "int16", 8), ("v16i8", "int8", 16),
        ])
        + FeatureTypes.union(
            "vec128",
            [
                ("uint128", "uint128"), ("v4_float", "v4f"), ("v4_int32", "v4i32"), ("v8_int16", "v8i16"),
                ("v16_int8", "v16i8"),
            ])
}

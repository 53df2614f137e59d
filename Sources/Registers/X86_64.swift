/// Where an x86 ONE_REG ID points. The kernel's x86 IDs are `KVM_REG_X86 | size | type << 32 | index`;
/// since Linux 6.18 type 2 (`KVM_X86_REG_TYPE_MSR`) serves MSRs (arch/x86/include/uapi/asm/kvm.h).
/// Everything else on x86 the kernel serves only in bulk structs, so kvmstub gives those registers
/// project-private types 0xE0…0xE5 — values the kernel does not use — whose index is the byte offset of the
/// field in the struct. A private ID is resolved by the x86 backend and never sent to KVM_GET_ONE_REG.
public enum X86RegisterSpace: UInt64, Sendable, CaseIterable {
    /// Kernel ID: `KVM_X86_REG_TYPE_MSR`, index = MSR number.
    case msr = 2
    /// Private: offset in `struct kvm_regs` (KVM_GET_REGS).
    case regs = 0xE0
    /// Private: offset in `struct kvm_sregs` (KVM_GET_SREGS).
    case sregs = 0xE1
    /// Private: offset in `struct kvm_fpu` (KVM_GET_FPU); index `X86ID.fullTagWordIndex` is gdb's ftag.
    case fpu = 0xE2
    /// Private: offset in `struct kvm_debugregs` (KVM_GET_DEBUGREGS).
    case debugregs = 0xE3
    /// Private: offset in the XSAVE area (KVM_GET_XSAVE).
    case xsave = 0xE4

    public var isProjectPrivate: Bool { self != .msr }
}

public enum X86ID {
    /// gdb's 16-bit x87 tag word is not stored anywhere: `struct kvm_fpu` has the abridged FXSAVE tag byte.
    /// The backend computes it from ftwx, the stack top in fsw and the registers' classes.
    public static let fullTagWordIndex: UInt32 = 0xF000

    public static func make(_ space: X86RegisterSpace, index: UInt32, byteSize: Int) -> OneRegID {
        OneRegID(arch: OneRegID.archX86, byteSize: byteSize, rest: space.rawValue << 32 | UInt64(index))
    }

    /// The kernel's ONE_REG ID of an MSR (`KVM_X86_REG_MSR(index)`); EFER is 0x20300002c0000080.
    public static func msr(_ index: UInt32) -> OneRegID { make(.msr, index: index, byteSize: 8) }

    public static func space(of id: OneRegID) -> X86RegisterSpace? {
        guard id.arch == OneRegID.archX86 else { return nil }
        return X86RegisterSpace(rawValue: (id.rawValue >> 32) & 0xff)
    }

    public static func index(of id: OneRegID) -> UInt32 { UInt32(truncatingIfNeeded: id.rawValue) }
}

extension SyncGroup {
    /// x86 `struct kvm_regs`: the GPRs, rip, rflags. RUNTIME.
    public static let x86Regs = SyncGroup(rawValue: 1 << 0)
    /// x86 `struct kvm_sregs`: segments, control registers.
    public static let x86Sregs = SyncGroup(rawValue: 1 << 1)
    /// x86 `struct kvm_fpu`: x87, SSE.
    public static let x86FPU = SyncGroup(rawValue: 1 << 2)
    /// x86 MSRs through ONE_REG.
    public static let x86MSRs = SyncGroup(rawValue: 1 << 3)
    /// x86 `struct kvm_debugregs`.
    public static let x86DebugRegs = SyncGroup(rawValue: 1 << 4)
    /// Every other MSR the kernel lists (KVM_GET_MSR_INDEX_LIST), one ONE_REG call each.
    public static let x86MSRList = SyncGroup(rawValue: 1 << 5)
}

/// Model-specific register numbers the table uses.
public enum X86MSR {
    /// gdb register names for the MSRs people look for; the rest are `msr_<hex>`.
    public static func name(_ msr: UInt32) -> String {
        let names: [UInt32: String] = [
            0x10: "tsc", 0x1b: "apic_base", 0x3a: "feature_control", 0x3b: "tsc_adjust", 0x48: "spec_ctrl",
            0x174: "sysenter_cs", 0x175: "sysenter_esp", 0x176: "sysenter_eip", 0x1a0: "misc_enable", 0x277: "pat",
            0xC000_0081: "star", 0xC000_0082: "lstar", 0xC000_0083: "cstar", 0xC000_0084: "fmask",
            0xC000_0103: "tsc_aux", 0x6e0: "tsc_deadline", 0x4b56_4d00: "kvm_wall_clock", 0x4b56_4d01: "kvm_system_time",
        ]
        return names[msr] ?? "msr_" + String(msr, radix: 16)
    }

    public static let efer: UInt32 = 0xC000_0080
    public static let fsBase: UInt32 = 0xC000_0100
    public static let gsBase: UInt32 = 0xC000_0101
    public static let kernelGSBase: UInt32 = 0xC000_0102
}

extension RegisterTable {
    /// x86-64 in gdb's order: `gdb/features/i386/64bit-core.xml`, `64bit-sse.xml`, `64bit-segments.xml`, then a
    /// system feature of kvmstub's own (k_gs_base, cr0, cr2, cr3, cr4, cr8, efer, as QEMU exposes them).
    /// Kernel layouts: `struct kvm_regs`, `kvm_sregs`, `kvm_fpu` in arch/x86/include/uapi/asm/kvm.h.
    public static let x86_64: RegisterTable = x86_64(extended: nil)

    /// The XSAVE standard-format offsets of the AVX and AVX-512 state (CPUID leaf 0xD, sub-leaves 2, 5, 6, 7).
    public struct XSAVELayout: Sendable, Equatable {
        public var avx: Int
        public var opmask: Int?
        public var zmmHi256: Int?
        public var hi16ZMM: Int?

        public init(avx: Int, opmask: Int? = nil, zmmHi256: Int? = nil, hi16ZMM: Int? = nil) {
            self.avx = avx
            self.opmask = opmask
            self.zmmHi256 = zmmHi256
            self.hi16ZMM = hi16ZMM
        }
    }

    /// What a particular host adds to the base table: AVX/AVX-512 from XSAVE, and the MSRs its kernel lists.
    public struct X86Extensions: Sendable, Equatable {
        public var xsave: XSAVELayout?
        public var msrs: [UInt32]

        public init(xsave: XSAVELayout?, msrs: [UInt32]) {
            self.xsave = xsave
            self.msrs = msrs
        }
    }

    /// The full x86-64 table. `extended` nil is the base (gdb's core, SSE and segments plus the system
    /// feature); with extensions it appends gdb's `64bit-avx.xml` and `64bit-avx512.xml` (served from the
    /// XSAVE area, in the FPU group: the same ioctl), the debug registers (their own group, KVM_GET_DEBUGREGS),
    /// descriptor-table and segment-base registers (sregs), and every listed MSR (their own group).
    public static func x86_64(extended: X86Extensions?) -> RegisterTable {
        let core = "org.gnu.gdb.i386.core"
        let sse = "org.gnu.gdb.i386.sse"
        let segments = "org.gnu.gdb.i386.segments"
        let sys = "org.kvmstub.i386.sys"
        var list = RegisterList()
        // struct kvm_regs: rax rbx rcx rdx rsi rdi rsp rbp r8–r15 rip rflags, 8 bytes each.
        let kvmRegsOrder = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp"]
        func gpr(_ name: String) -> OneRegID {
            let slot = kvmRegsOrder.firstIndex(of: name) ?? (Int(name.dropFirst())! - 8 + 8)
            return X86ID.make(.regs, index: UInt32(slot * 8), byteSize: 8)
        }
        for name in ["rax", "rbx", "rcx", "rdx", "rsi", "rdi"] { list.add(name, 64, "int64", core, gpr(name), .x86Regs) }
        list.add("rbp", 64, "data_ptr", core, gpr("rbp"), .x86Regs)
        list.add("rsp", 64, "data_ptr", core, gpr("rsp"), .x86Regs)
        for n in 8...15 { list.add("r\(n)", 64, "int64", core, gpr("r\(n)"), .x86Regs) }
        list.add("rip", 64, "code_ptr", core, X86ID.make(.regs, index: 128, byteSize: 8), .x86Regs)
        list.add("eflags", 32, "i386_eflags", core, X86ID.make(.regs, index: 136, byteSize: 8), .x86Regs)
        // struct kvm_sregs: cs ds es fs gs ss tr ldt (struct kvm_segment, 24 bytes, selector at +12).
        let segmentSlot = ["cs": 0, "ds": 1, "es": 2, "fs": 3, "gs": 4, "ss": 5]
        for name in ["cs", "ss", "ds", "es", "fs", "gs"] {
            list.add(name, 32, "int32", core, X86ID.make(.sregs, index: UInt32(segmentSlot[name]! * 24 + 12), byteSize: 2), .x86Sregs)
        }
        // struct kvm_fpu: fpr[8][16] (ST(i) in stack order), fcw, fsw, ftwx, pad, last_opcode, last_ip, last_dp,
        // xmm[16][16] at 152, mxcsr at 408.
        for i in 0..<8 { list.add("st\(i)", 80, "i387_ext", core, X86ID.make(.fpu, index: UInt32(i * 16), byteSize: 16), .x86FPU) }
        let fpuFields: [(String, UInt32, Int)] = [
            ("fctrl", 128, 2), ("fstat", 130, 2), ("ftag", X86ID.fullTagWordIndex, 2),
            // 64-bit FXSAVE keeps a 64-bit FIP/FDP: gdb's "segment" halves are their upper 32 bits.
            ("fiseg", 140, 4), ("fioff", 136, 4), ("foseg", 148, 4), ("fooff", 144, 4), ("fop", 134, 2),
        ]
        for (name, offset, size) in fpuFields {
            list.add(name, 32, "int", core, X86ID.make(.fpu, index: offset, byteSize: size), .x86FPU, gdbGroup: "float")
        }
        for i in 0..<16 { list.add("xmm\(i)", 128, "vec128", sse, X86ID.make(.fpu, index: UInt32(152 + i * 16), byteSize: 16), .x86FPU) }
        list.add("mxcsr", 32, "i386_mxcsr", sse, X86ID.make(.fpu, index: 408, byteSize: 4), .x86FPU, gdbGroup: "vector")
        list.add("fs_base", 64, "int", segments, X86ID.msr(X86MSR.fsBase), .x86MSRs)
        list.add("gs_base", 64, "int", segments, X86ID.msr(X86MSR.gsBase), .x86MSRs)
        list.add("k_gs_base", 64, "int", sys, X86ID.msr(X86MSR.kernelGSBase), .x86MSRs, gdbGroup: "system")
        // kvm_sregs: cr0 at 224, cr2 232, cr3 240, cr4 248, cr8 256.
        list.add("cr0", 64, "i386_cr0", sys, X86ID.make(.sregs, index: 224, byteSize: 8), .x86Sregs, gdbGroup: "system")
        list.add("cr2", 64, "int", sys, X86ID.make(.sregs, index: 232, byteSize: 8), .x86Sregs, gdbGroup: "system")
        list.add("cr3", 64, "data_ptr", sys, X86ID.make(.sregs, index: 240, byteSize: 8), .x86Sregs, gdbGroup: "system")
        list.add("cr4", 64, "i386_cr4", sys, X86ID.make(.sregs, index: 248, byteSize: 8), .x86Sregs, gdbGroup: "system")
        list.add("cr8", 64, "int", sys, X86ID.make(.sregs, index: 256, byteSize: 8), .x86Sregs, gdbGroup: "system")
        list.add("efer", 64, "i386_efer", sys, X86ID.msr(X86MSR.efer), .x86MSRs, gdbGroup: "system")
        var features = [
            RegisterFeature(name: core, fileName: "64bit-core.xml", typeDefinitions: X86Types.eflags),
            RegisterFeature(name: sse, fileName: "64bit-sse.xml", typeDefinitions: X86Types.sse),
            RegisterFeature(name: segments, fileName: "64bit-segments.xml"),
            RegisterFeature(name: sys, fileName: "kvmstub-x86-sys.xml", typeDefinitions: X86Types.system),
        ]
        var groups = [
            SyncGroupInfo(group: .x86Regs, name: "regs", servedBy: "KVM_GET_REGS / KVM_SET_REGS (struct kvm_regs)"),
            SyncGroupInfo(group: .x86Sregs, name: "sregs", servedBy: "KVM_GET_SREGS / KVM_SET_SREGS (struct kvm_sregs)"),
            SyncGroupInfo(
                group: .x86FPU, name: "fpu",
                servedBy: "KVM_GET_XSAVE / KVM_SET_XSAVE, or KVM_GET_FPU / KVM_SET_FPU without XSAVE"),
            SyncGroupInfo(
                group: .x86MSRs, name: "msrs",
                servedBy: "KVM_GET_ONE_REG / KVM_SET_ONE_REG (Linux 6.18+), else KVM_GET_MSRS / KVM_SET_MSRS"),
        ]
        var full: SyncGroup = [.x86Regs, .x86Sregs, .x86FPU, .x86MSRs]
        if let ext = extended {
            if let x = ext.xsave {
                let avx = "org.gnu.gdb.i386.avx"
                for i in 0..<16 { list.add("ymm\(i)h", 128, "uint128", avx, X86ID.make(.xsave, index: UInt32(x.avx + 16 * i), byteSize: 16), .x86FPU) }
                features.append(RegisterFeature(name: avx, fileName: "64bit-avx.xml"))
                if let k = x.opmask, let hi = x.zmmHi256, let hi16 = x.hi16ZMM {
                    let f = "org.gnu.gdb.i386.avx512"
                    for i in 0..<16 { list.add("xmm\(i + 16)", 128, "vec128", f, X86ID.make(.xsave, index: UInt32(hi16 + 64 * i), byteSize: 16), .x86FPU) }
                    for i in 0..<16 { list.add("ymm\(i + 16)h", 128, "uint128", f, X86ID.make(.xsave, index: UInt32(hi16 + 64 * i + 16), byteSize: 16), .x86FPU) }
                    for i in 0..<8 { list.add("k\(i)", 64, "uint64", f, X86ID.make(.xsave, index: UInt32(k + 8 * i), byteSize: 8), .x86FPU) }
                    for i in 0..<16 { list.add("zmm\(i)h", 256, "v2ui128", f, X86ID.make(.xsave, index: UInt32(hi + 32 * i), byteSize: 32), .x86FPU) }
                    for i in 0..<16 { list.add("zmm\(i + 16)h", 256, "v2ui128", f, X86ID.make(.xsave, index: UInt32(hi16 + 64 * i + 32), byteSize: 32), .x86FPU) }
                    features.append(RegisterFeature(name: f, fileName: "64bit-avx512.xml", typeDefinitions: X86Types.avx512))
                }
            }
            let debug = "org.kvmstub.i386.debug"
            for i in 0..<4 { list.add("dr\(i)", 64, "data_ptr", debug, X86ID.make(.debugregs, index: UInt32(8 * i), byteSize: 8), .x86DebugRegs, gdbGroup: "system") }
            list.add("dr6", 64, "int", debug, X86ID.make(.debugregs, index: 32, byteSize: 8), .x86DebugRegs, gdbGroup: "system")
            list.add("dr7", 64, "int", debug, X86ID.make(.debugregs, index: 40, byteSize: 8), .x86DebugRegs, gdbGroup: "system")
            features.append(RegisterFeature(name: debug, fileName: "kvmstub-x86-debug.xml"))
            groups.append(SyncGroupInfo(group: .x86DebugRegs, name: "debugregs", servedBy: "KVM_GET_DEBUGREGS / KVM_SET_DEBUGREGS"))
            full.insert(.x86DebugRegs)
            let tables = "org.kvmstub.i386.tables"
            // kvm_sregs: kvm_segment {base u64, limit u32, selector u16, …} for cs ds es fs gs ss tr ldt at 0, 24 … 168;
            // gdt and idt are {base u64, limit u16} at 192 and 208.
            for (i, seg) in ["cs", "ds", "es", "fs", "gs", "ss"].enumerated() where seg != "fs" && seg != "gs" {
                list.add("\(seg)_base", 64, "data_ptr", tables, X86ID.make(.sregs, index: UInt32(24 * i), byteSize: 8), .x86Sregs, gdbGroup: "system")
            }
            list.add("tr", 32, "int32", tables, X86ID.make(.sregs, index: 144 + 12, byteSize: 2), .x86Sregs, gdbGroup: "system")
            list.add("tr_base", 64, "data_ptr", tables, X86ID.make(.sregs, index: 144, byteSize: 8), .x86Sregs, gdbGroup: "system")
            list.add("tr_limit", 32, "int", tables, X86ID.make(.sregs, index: 144 + 8, byteSize: 4), .x86Sregs, gdbGroup: "system")
            list.add("ldtr", 32, "int32", tables, X86ID.make(.sregs, index: 168 + 12, byteSize: 2), .x86Sregs, gdbGroup: "system")
            list.add("ldtr_base", 64, "data_ptr", tables, X86ID.make(.sregs, index: 168, byteSize: 8), .x86Sregs, gdbGroup: "system")
            list.add("gdtr_base", 64, "data_ptr", tables, X86ID.make(.sregs, index: 192, byteSize: 8), .x86Sregs, gdbGroup: "system")
            list.add("gdtr_limit", 32, "int", tables, X86ID.make(.sregs, index: 200, byteSize: 2), .x86Sregs, gdbGroup: "system")
            list.add("idtr_base", 64, "data_ptr", tables, X86ID.make(.sregs, index: 208, byteSize: 8), .x86Sregs, gdbGroup: "system")
            list.add("idtr_limit", 32, "int", tables, X86ID.make(.sregs, index: 216, byteSize: 2), .x86Sregs, gdbGroup: "system")
            features.append(RegisterFeature(name: tables, fileName: "kvmstub-x86-tables.xml"))
            let known: Set<UInt32> = [X86MSR.efer, X86MSR.fsBase, X86MSR.gsBase, X86MSR.kernelGSBase]
            let listed = ext.msrs.filter { !known.contains($0) }
            if !listed.isEmpty {
                let msrFeature = "org.kvmstub.i386.msr"
                for msr in listed {
                    list.add(X86MSR.name(msr), 64, "uint64", msrFeature, X86ID.msr(msr), .x86MSRList, gdbGroup: "msr")
                }
                features.append(RegisterFeature(name: msrFeature, fileName: "kvmstub-x86-msr.xml"))
                groups.append(SyncGroupInfo(group: .x86MSRList, name: "msr-list", servedBy: "KVM_GET_ONE_REG per MSR from KVM_GET_MSR_INDEX_LIST (KVM_GET_MSRS before 6.18)"))
                full.insert(.x86MSRList)
            }
        }

        let runtime: SyncGroup = .x86Regs
        let reset: SyncGroup = [runtime, .x86Sregs, .x86FPU]
        return RegisterTable(
            architecture: "i386:x86-64", features: features, registers: list.registers, groups: groups,
            runtime: runtime, reset: reset, full: full,
            // The g packet stops after eflags: everything in it is RUNTIME, so a stop costs one group.
            gPacketCount: 18,
            expedited: [6, 7, 16],  // rbp, rsp, rip
            pcRegnum: 16, spRegnum: 7)
    }

}

/// Type definitions from gdb/features/i386/64bit-core.xml and 64bit-sse.xml, and flag types for the system
/// registers (bit names from the Intel SDM, vol. 3, 2.5).
enum X86Types {
    static let eflags = flags(
        "i386_eflags", 4,
        [
            ("CF", 0), ("", 1), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8), ("IF", 9), ("DF", 10), ("OF", 11),
            ("NT", 14), ("RF", 16), ("VM", 17), ("AC", 18), ("VIF", 19), ("VIP", 20), ("ID", 21),
        ])

    static let sse = vec128 + mxcsr

    /// gdb types are per feature: 64bit-avx512.xml defines vec128 again for xmm16–31.
    static let vec128 = """
          <vector id="v8bf16" type="bfloat16" count="8"/>
          <vector id="v8h" type="ieee_half" count="8"/>
          <vector id="v4f" type="ieee_single" count="4"/>
          <vector id="v2d" type="ieee_double" count="2"/>
          <vector id="v16i8" type="int8" count="16"/>
          <vector id="v8i16" type="int16" count="8"/>
          <vector id="v4i32" type="int32" count="4"/>
          <vector id="v2i64" type="int64" count="2"/>
          <union id="vec128">
            <field name="v8_bfloat16" type="v8bf16"/>
            <field name="v8_half" type="v8h"/>
            <field name="v4_float" type="v4f"/>
            <field name="v2_double" type="v2d"/>
            <field name="v16_int8" type="v16i8"/>
            <field name="v8_int16" type="v8i16"/>
            <field name="v4_int32" type="v4i32"/>
            <field name="v2_int64" type="v2i64"/>
            <field name="uint128" type="uint128"/>
          </union>

        """

    static let mxcsr =
        flags(
            "i386_mxcsr", 4,
            [
                ("IE", 0), ("DE", 1), ("ZE", 2), ("OE", 3), ("UE", 4), ("PE", 5), ("DAZ", 6), ("IM", 7), ("DM", 8),
                ("ZM", 9), ("OM", 10), ("UM", 11), ("PM", 12), ("FZ", 15),
            ])

    static let system =
        flags(
            "i386_cr0", 8,
            [("PE", 0), ("MP", 1), ("EM", 2), ("TS", 3), ("ET", 4), ("NE", 5), ("WP", 16), ("AM", 18), ("NW", 29), ("CD", 30), ("PG", 31)])
        + flags(
            "i386_cr4", 8,
            [
                ("VME", 0), ("PVI", 1), ("TSD", 2), ("DE", 3), ("PSE", 4), ("PAE", 5), ("MCE", 6), ("PGE", 7), ("PCE", 8),
                ("OSFXSR", 9), ("OSXMMEXCPT", 10), ("UMIP", 11), ("LA57", 12), ("VMXE", 13), ("SMXE", 14),
                ("FSGSBASE", 16), ("PCIDE", 17), ("OSXSAVE", 18), ("SMEP", 20), ("SMAP", 21), ("PKE", 22),
            ])
        + flags("i386_efer", 8, [("SCE", 0), ("LME", 8), ("LMA", 10), ("NXE", 11), ("SVME", 12), ("LMSLE", 13), ("FFXSR", 14), ("TCE", 15)])

    /// gdb/features/i386/64bit-avx512.xml's vector type for the zmm upper halves.
    static let avx512 = vec128 + """
          <vector id="v2ui128" type="uint128" count="2"/>

        """

    static func flags(_ id: String, _ size: Int, _ fields: [(String, Int)]) -> String {
        var s = "  <flags id=\"\(id)\" size=\"\(size)\">\n"
        for (name, bit) in fields { s += "    <field name=\"\(name)\" start=\"\(bit)\" end=\"\(bit)\"/>\n" }
        return s + "  </flags>\n"
    }
}

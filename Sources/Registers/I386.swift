extension RegisterTable {
    /// 32-bit x86 as gdb's i386 target sees it, for a guest that starts in real mode (`kvmstub run --real-mode`):
    /// gdb's `gdb/features/i386/32bit-core.xml` and `32bit-sse.xml` in gdb's order, then kvmstub's own system
    /// feature (cr0, cr2, cr3, cr4, efer) and the segment bases (real mode: base = selector * 16).
    ///
    /// gdb lets `set architecture i8086` (16-bit disassembly) replace only an architecture it thinks compatible:
    /// i386 or i8086, never i386:x86-64, whose registers are 64 bits wide. So a real-mode guest is offered this
    /// table, with `architecture` "i8086" (gdb then starts in 16-bit mode by itself).
    ///
    /// The ONE_REG IDs are the x86-64 table's: the same fields of `struct kvm_regs`, `kvm_sregs`, `kvm_fpu`
    /// (arch/x86/include/uapi/asm/kvm.h), of which gdb sees the low 32 bits (eax is the low half of rax's
    /// 8 bytes; a write keeps the upper half).
    public static func i386(architecture: String = "i386") -> RegisterTable {
        let core = "org.gnu.gdb.i386.core"
        let sse = "org.gnu.gdb.i386.sse"
        let sys = "org.kvmstub.i386.sys"
        let tables = "org.kvmstub.i386.tables"
        var list = RegisterList()
        // struct kvm_regs: rax rbx rcx rdx rsi rdi rsp rbp r8–r15 rip rflags, 8 bytes each; gdb's order differs.
        let kvmRegsSlot = ["eax": 0, "ebx": 1, "ecx": 2, "edx": 3, "esi": 4, "edi": 5, "esp": 6, "ebp": 7]
        for name in ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] {
            let type = name == "esp" || name == "ebp" ? "data_ptr" : "int32"
            list.add(name, 32, type, core, X86ID.make(.regs, index: UInt32(kvmRegsSlot[name]! * 8), byteSize: 8), .x86Regs)
        }
        list.add("eip", 32, "code_ptr", core, X86ID.make(.regs, index: 128, byteSize: 8), .x86Regs)
        list.add("eflags", 32, "i386_eflags", core, X86ID.make(.regs, index: 136, byteSize: 8), .x86Regs)
        // struct kvm_sregs: cs ds es fs gs ss (struct kvm_segment, 24 bytes: base u64, limit u32, selector u16 …).
        let segmentSlot = ["cs": 0, "ds": 1, "es": 2, "fs": 3, "gs": 4, "ss": 5]
        for name in ["cs", "ss", "ds", "es", "fs", "gs"] {
            list.add(
                name, 32, "int32", core, X86ID.make(.sregs, index: UInt32(segmentSlot[name]! * 24 + 12), byteSize: 2),
                .x86Sregs)
        }
        // struct kvm_fpu, as in the x86-64 table.
        for i in 0..<8 {
            list.add("st\(i)", 80, "i387_ext", core, X86ID.make(.fpu, index: UInt32(i * 16), byteSize: 16), .x86FPU)
        }
        let fpuFields: [(String, UInt32, Int)] = [
            ("fctrl", 128, 2), ("fstat", 130, 2), ("ftag", X86ID.fullTagWordIndex, 2),
            ("fiseg", 140, 4), ("fioff", 136, 4), ("foseg", 148, 4), ("fooff", 144, 4), ("fop", 134, 2),
        ]
        for (name, offset, size) in fpuFields {
            list.add(name, 32, "int", core, X86ID.make(.fpu, index: offset, byteSize: size), .x86FPU, gdbGroup: "float")
        }
        for i in 0..<8 {
            list.add("xmm\(i)", 128, "vec128", sse, X86ID.make(.fpu, index: UInt32(152 + i * 16), byteSize: 16), .x86FPU)
        }
        list.add("mxcsr", 32, "i386_mxcsr", sse, X86ID.make(.fpu, index: 408, byteSize: 4), .x86FPU, gdbGroup: "vector")
        // kvm_sregs: cr0 at 224, cr2 232, cr3 240, cr4 248.
        list.add("cr0", 64, "i386_cr0", sys, X86ID.make(.sregs, index: 224, byteSize: 8), .x86Sregs, gdbGroup: "system")
        list.add("cr2", 64, "int", sys, X86ID.make(.sregs, index: 232, byteSize: 8), .x86Sregs, gdbGroup: "system")
        list.add("cr3", 64, "data_ptr", sys, X86ID.make(.sregs, index: 240, byteSize: 8), .x86Sregs, gdbGroup: "system")
        list.add("cr4", 64, "i386_cr4", sys, X86ID.make(.sregs, index: 248, byteSize: 8), .x86Sregs, gdbGroup: "system")
        list.add("efer", 64, "i386_efer", sys, X86ID.msr(X86MSR.efer), .x86MSRs, gdbGroup: "system")
        for name in ["cs", "ds", "es", "fs", "gs", "ss"] {
            list.add(
                "\(name)_base", 64, "data_ptr", tables,
                X86ID.make(.sregs, index: UInt32(segmentSlot[name]! * 24), byteSize: 8), .x86Sregs, gdbGroup: "system")
        }
        let features = [
            RegisterFeature(name: core, fileName: "32bit-core.xml", typeDefinitions: X86Types.eflags),
            RegisterFeature(name: sse, fileName: "32bit-sse.xml", typeDefinitions: X86Types.sse),
            RegisterFeature(name: sys, fileName: "kvmstub-x86-sys.xml", typeDefinitions: X86Types.system),
            RegisterFeature(name: tables, fileName: "kvmstub-x86-tables.xml"),
        ]
        let groups = [
            SyncGroupInfo(group: .x86Regs, name: "regs", servedBy: "KVM_GET_REGS / KVM_SET_REGS (struct kvm_regs)"),
            SyncGroupInfo(
                group: .x86Sregs, name: "sregs", servedBy: "KVM_GET_SREGS / KVM_SET_SREGS (struct kvm_sregs)"),
            SyncGroupInfo(
                group: .x86FPU, name: "fpu",
                servedBy: "KVM_GET_XSAVE / KVM_SET_XSAVE, or KVM_GET_FPU / KVM_SET_FPU without XSAVE"),
            SyncGroupInfo(
                group: .x86MSRs, name: "msrs",
                servedBy: "KVM_GET_ONE_REG / KVM_SET_ONE_REG (Linux 6.18+), else KVM_GET_MSRS / KVM_SET_MSRS"),
        ]
        let runtime: SyncGroup = .x86Regs
        return RegisterTable(
            architecture: architecture, features: features, registers: list.registers, groups: groups,
            runtime: runtime, reset: [runtime, .x86Sregs, .x86FPU], full: [.x86Regs, .x86Sregs, .x86FPU, .x86MSRs],
            // eax … eflags: all RUNTIME, as in the x86-64 table.
            gPacketCount: 10,
            expedited: [5, 4, 8],  // ebp, esp, eip
            pcRegnum: 8, spRegnum: 4)
    }
}

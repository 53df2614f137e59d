import CKVM
import Foundation
import KVM
import Registers
import Testing

/// The arm64 and ppc64 IDs checked against the kernel's own headers: a C program compiled with gcc against the
/// cross headers (`apt-get install linux-libc-dev-arm64-cross linux-libc-dev-ppc64el-cross`) prints what the
/// kernel's macros make of every register in the Swift tables, and each must be the table's ID.
/// Skipped, with a message, where gcc or those headers are missing.
@Suite struct KernelHeaderTests {
    static let arm64Headers = "/usr/aarch64-linux-gnu/include"
    static let ppcHeaders = "/usr/powerpc64le-linux-gnu/include"
    static let gcc = ["/usr/bin/gcc", "/usr/local/bin/gcc"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static func have(_ dir: String) -> Bool { gcc != nil && FileManager.default.fileExists(atPath: dir + "/asm/kvm.h") }

    /// Compiles `lines` (C statements printing "name value") against `include`, runs it, returns name → value.
    func kernelValues(include: String, _ lines: [String]) throws -> [String: UInt64] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvmstub-headers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = """
            #include <stdio.h>
            #include <stddef.h>
            #include <linux/kvm.h>
            #define P(name, expr) printf("%s %llu\\n", name, (unsigned long long)(expr))
            #define CORE(size, field) (KVM_REG_ARM64 | KVM_REG_SIZE_##size | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(field))
            int main(void) {
            \(lines.joined(separator: "\n"))
              return 0;
            }

            """
        try source.write(to: dir.appendingPathComponent("ids.c"), atomically: true, encoding: .utf8)
        // Only the kernel's uapi directories of the cross tree: where a cross compiler is installed, that tree also
        // holds its C library's headers, and the host's gcc must keep its own <stdio.h>.
        let kernelHeaders = dir.appendingPathComponent("include")
        try FileManager.default.createDirectory(at: kernelHeaders, withIntermediateDirectories: true)
        for sub in ["linux", "asm", "asm-generic"] {
            try FileManager.default.createSymbolicLink(
                at: kernelHeaders.appendingPathComponent(sub), withDestinationURL: URL(fileURLWithPath: include + "/" + sub))
        }
        let exe = dir.appendingPathComponent("ids").path
        let cc = try runTool(Self.gcc!, ["-I", kernelHeaders.path, "-o", exe, dir.appendingPathComponent("ids.c").path])
        try #require(cc.status == 0, "gcc failed:\n\(cc.output)")
        let out = try runTool(exe, [])
        try #require(out.status == 0)
        var values: [String: UInt64] = [:]
        for line in out.output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = UInt64(parts[1]) { values[String(parts[0])] = v }
        }
        return values
    }

    func runTool(_ path: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The kernel's macro for an arm64 register of the tables, by its gdb name; nil for vg (project-private).
    func arm64Macro(_ name: String) -> String? {
        if name.hasPrefix("x"), let n = Int(name.dropFirst()) { return "CORE(U64, regs.regs[\(n)])" }
        if name.hasPrefix("v"), let n = Int(name.dropFirst()) { return "CORE(U128, fp_regs.vregs[\(n)])" }
        if name.hasPrefix("z"), let n = Int(name.dropFirst()) { return "KVM_REG_ARM64_SVE_ZREG(\(n), 0)" }
        if name.hasPrefix("p"), let n = Int(name.dropFirst()) { return "KVM_REG_ARM64_SVE_PREG(\(n), 0)" }
        let timers = [
            "CNTV_CTL_EL0": "KVM_REG_ARM_TIMER_CTL", "CNTV_CVAL_EL0": "KVM_REG_ARM_TIMER_CVAL",
            "CNTVCT_EL0": "KVM_REG_ARM_TIMER_CNT", "CNTP_CTL_EL0": "KVM_REG_ARM_PTIMER_CTL",
            "CNTP_CVAL_EL0": "KVM_REG_ARM_PTIMER_CVAL", "CNTPCT_EL0": "KVM_REG_ARM_PTIMER_CNT",
        ]
        if let t = timers[name] { return t }
        switch name {
        case "sp", "SP_EL0": return "CORE(U64, regs.sp)"
        case "pc": return "CORE(U64, regs.pc)"
        case "cpsr": return "CORE(U64, regs.pstate)"
        case "SP_EL1": return "CORE(U64, sp_el1)"
        case "ELR_EL1": return "CORE(U64, elr_el1)"
        case "SPSR_EL1": return "CORE(U64, spsr[KVM_SPSR_EL1])"
        case "fpsr": return "CORE(U32, fp_regs.fpsr)"
        case "fpcr": return "CORE(U32, fp_regs.fpcr)"
        case "ffr": return "KVM_REG_ARM64_SVE_FFR(0)"
        case "vg": return nil
        default: break
        }
        // System registers: the encoding from the Arm ARM, written out here independently of the table.
        let encodings: [String: String] = [
            "MDSCR_EL1": "2,0,0,2,2", "MIDR_EL1": "3,0,0,0,0", "MPIDR_EL1": "3,0,0,0,5", "REVIDR_EL1": "3,0,0,0,6",
            "ID_AA64PFR0_EL1": "3,0,0,4,0", "ID_AA64PFR1_EL1": "3,0,0,4,1", "ID_AA64ZFR0_EL1": "3,0,0,4,4",
            "ID_AA64DFR0_EL1": "3,0,0,5,0", "ID_AA64ISAR0_EL1": "3,0,0,6,0", "ID_AA64ISAR1_EL1": "3,0,0,6,1",
            "ID_AA64MMFR0_EL1": "3,0,0,7,0", "ID_AA64MMFR1_EL1": "3,0,0,7,1", "ID_AA64MMFR2_EL1": "3,0,0,7,2",
            "SCTLR_EL1": "3,0,1,0,0", "ACTLR_EL1": "3,0,1,0,1", "CPACR_EL1": "3,0,1,0,2", "ZCR_EL1": "3,0,1,2,0",
            "TTBR0_EL1": "3,0,2,0,0", "TTBR1_EL1": "3,0,2,0,1", "TCR_EL1": "3,0,2,0,2", "AFSR0_EL1": "3,0,5,1,0",
            "AFSR1_EL1": "3,0,5,1,1", "ESR_EL1": "3,0,5,2,0", "FAR_EL1": "3,0,6,0,0", "PAR_EL1": "3,0,7,4,0",
            "MAIR_EL1": "3,0,10,2,0", "AMAIR_EL1": "3,0,10,3,0", "VBAR_EL1": "3,0,12,0,0",
            "CONTEXTIDR_EL1": "3,0,13,0,1",
            "TPIDR_EL1": "3,0,13,0,4", "CNTKCTL_EL1": "3,0,14,1,0", "CSSELR_EL1": "3,2,0,0,0",
            "TPIDR_EL0": "3,3,13,0,2",
            "TPIDRRO_EL0": "3,3,13,0,3",
        ]
        if let e = encodings[name] { return "ARM64_SYS_REG(\(e))" }
        return nil
    }

    @Test(
        .enabled(
            if: have(arm64Headers),
            "needs gcc and /usr/aarch64-linux-gnu/include (apt-get install linux-libc-dev-arm64-cross)"))
    func arm64IDsAreTheKernelHeaders() throws {
        let tables = [RegisterTable.arm64(sveVectorLength: nil), RegisterTable.arm64(sveVectorLength: 2048)]
        var lines: [String] = []
        var expected: [String: UInt64] = [:]
        for table in tables {
            for r in table.registers {
                if ARM64ID.isProjectPrivate(r.id) { continue }
                let macro = try #require(arm64Macro(r.name), "no kernel macro known for \(r.name)")
                lines.append("  P(\"\(r.name)\", \(macro));")
                if let earlier = expected[r.name] {
                    #expect(earlier == r.id.rawValue, "\(r.name) differs between tables")
                }
                expected[r.name] = r.id.rawValue
            }
        }
        let constants: [(String, String, UInt64)] = [
            ("VLS", "KVM_REG_ARM64_SVE_VLS", ARM64ID.vectorLengths.rawValue),
            ("sizeof_kvm_regs", "sizeof(struct kvm_regs)", UInt64(ARM64ID.CoreOffset.structSize)),
            ("KVM_ARM_VCPU_SVE", "KVM_ARM_VCPU_SVE", UInt64(ARM64VCPUFeature.sve)),
            ("KVM_ARM_VCPU_PSCI_0_2", "KVM_ARM_VCPU_PSCI_0_2", UInt64(ARM64VCPUFeature.psci0_2)),
            ("KVM_ARM_TARGET_GENERIC_V8", "KVM_ARM_TARGET_GENERIC_V8", UInt64(kvmARMTargetGenericV8)),
            ("KVM_ARM_VCPU_INIT", "KVM_ARM_VCPU_INIT", UInt64(CKVM_ARM_VCPU_INIT)),
            ("KVM_ARM_VCPU_FINALIZE", "KVM_ARM_VCPU_FINALIZE", UInt64(CKVM_ARM_VCPU_FINALIZE)),
            ("KVM_ARM_PREFERRED_TARGET", "KVM_ARM_PREFERRED_TARGET", UInt64(CKVM_ARM_PREFERRED_TARGET)),
            ("KVM_GET_REG_LIST", "KVM_GET_REG_LIST", UInt64(CKVM_GET_REG_LIST)),
        ]
        for (name, macro, value) in constants {
            lines.append("  P(\"\(name)\", \(macro));")
            expected[name] = value
        }
        let kernel = try kernelValues(include: Self.arm64Headers, lines)
        #expect(kernel.count == expected.count)
        for (name, value) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(
                kernel[name] == value,
                "\(name): the kernel says 0x\(String(kernel[name] ?? 0, radix: 16)), the table 0x\(String(value, radix: 16))"
            )
        }
    }

    @Test(
        .enabled(
            if: have(ppcHeaders),
            "needs gcc and /usr/powerpc64le-linux-gnu/include (apt-get install linux-libc-dev-ppc64el-cross)"))
    func ppc64IDsAreTheKernelHeaders() throws {
        var lines: [String] = []
        var expected: [String: UInt64] = [:]
        let fields = ["pc": "pc", "msr": "msr", "cr": "cr", "lr": "lr", "ctr": "ctr", "xer": "xer"]
        for r in RegisterTable.ppc64.registers {
            let n = r.name
            if let offset = PPCID.regsOffset(of: r.id) {
                // A private ID: its index is the field's offset in the kernel's struct kvm_regs, its size the field's.
                let field = fields[n] ?? "gpr[\(n.dropFirst())]"
                lines.append("  P(\"\(n).offset\", offsetof(struct kvm_regs, \(field)));")
                lines.append("  P(\"\(n).size\", sizeof(((struct kvm_regs *)0)->\(field)));")
                expected["\(n).offset"] = UInt64(offset)
                expected["\(n).size"] = UInt64(r.id.byteSize)
                continue
            }
            let macro: String
            if n.hasPrefix("vs"), n.hasSuffix("h") {
                macro = "KVM_REG_PPC_VSR(\(n.dropFirst(2).dropLast()))"
            } else if n.hasPrefix("vr"), let i = Int(n.dropFirst(2)) {
                macro = "KVM_REG_PPC_VR(\(i))"
            } else if n.hasPrefix("f"), let i = Int(n.dropFirst()) {
                macro = "KVM_REG_PPC_FPR(\(i))"
            } else {
                macro = "KVM_REG_PPC_\(n.uppercased())"  // fpscr, vscr, vrsave
            }
            lines.append("  P(\"\(n)\", \(macro));")
            expected[n] = r.id.rawValue
        }
        let constants: [(String, String, UInt64)] = [
            ("sizeof_kvm_regs", "sizeof(struct kvm_regs)", UInt64(PPCID.RegsOffset.structSize)),
            ("KVM_GET_REGS", "KVM_GET_REGS", UInt64(CKVM_PPC_GET_REGS)),
            ("KVM_SET_REGS", "KVM_SET_REGS", UInt64(CKVM_PPC_SET_REGS)),
        ]
        for (name, macro, value) in constants {
            lines.append("  P(\"\(name)\", \(macro));")
            expected[name] = value
        }
        let kernel = try kernelValues(include: Self.ppcHeaders, lines)
        #expect(kernel.count == expected.count)
        for (name, value) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(
                kernel[name] == value,
                "\(name): the kernel says 0x\(String(kernel[name] ?? 0, radix: 16)), the table 0x\(String(value, radix: 16))"
            )
        }
    }

    /// CKVM's header for every architecture kvmstub has tables for: on arm64 and powerpc <linux/kvm.h> brings that
    /// architecture's <asm/kvm.h>, where x86's structs do not exist. Compiled (syntax and types, with -Werror) by
    /// the cross compilers scripts/test.sh installs for the rigs' probes (gcc-aarch64-linux-gnu,
    /// gcc-powerpc64le-linux-gnu): an x86-only line outside the header's x86 block fails here, not in the arm64
    /// build half an hour later.
    @Test(arguments: ["aarch64-linux-gnu-gcc", "powerpc64le-linux-gnu-gcc"])
    func ckvmCompilesForOtherArchitectures(compiler: String) throws {
        let path = try #require(
            ["/usr/bin/\(compiler)"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "\(compiler) is missing: scripts/test.sh installs it (apt-get install gcc-\(compiler.dropLast(4)))")
        let include = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/CKVM/include").standardized.path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvmstub-ckvm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("ckvm.c")
        try "#include \"ckvm.h\"\nint main(void) { return (int)CKVM_RUN & 0; }\n".write(to: source, atomically: true, encoding: .utf8)
        let r = try runTool(path, ["-fsyntax-only", "-Wall", "-Werror", "-Wno-unused-function", "-I", include, source.path])
        #expect(r.status == 0, "\(compiler) rejects ckvm.h:\n\(r.output)")
    }
}

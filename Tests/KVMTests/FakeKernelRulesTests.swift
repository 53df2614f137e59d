import FakeKernel
import Foundation
import Glibc
import KVM
import Registers
import Testing

/// The fake kernel against what real kernels answered. rig/probes/arm64.rules and ppc64.rules hold, one
/// `rule NAME ANSWER` line each, what arm64 KVM and POWER KVM-HV said to the edge cases of
/// rig/probes/onereg-probe.c (`--rules`), taken in the rigs (rig/arm64.sh, rig/ppc64.sh; rig/probe.sh checks the
/// real kernels still say it). Here each rule is asked of a fresh FAKE vCPU the same way, and the answer must be the
/// recorded one: the fake cannot drift from the kernel unnoticed, and a rule the probe gains needs its twin here.
@Suite struct FakeKernelRulesTests {
    static let probes = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../rig/probes").standardized

    /// NAME → ANSWER ("ok", an errno name, or a 0x value) from a rules file.
    static func recorded(_ arch: String) throws -> [String: String] {
        let text = try String(contentsOf: probes.appendingPathComponent("\(arch).rules"), encoding: .utf8)
        var rules: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("rule ") {
            let parts = line.split(separator: " ")
            if parts.count == 3 { rules[String(parts[1])] = String(parts[2]) }
        }
        return rules
    }

    static func answer(_ body: () throws -> Void) -> String {
        do { try body() } catch let e as KVMError { return errnoName(e.errno) } catch { return "\(error)" }
        return "ok"
    }

    static func errnoName(_ e: Int32) -> String {
        switch e {
        case ENOENT: "ENOENT"
        case EINVAL: "EINVAL"
        case EPERM: "EPERM"
        case ENOEXEC: "ENOEXEC"
        case EFAULT: "EFAULT"
        case ENXIO: "ENXIO"
        case EBUSY: "EBUSY"
        default: "errno\(e)"
        }
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    static func u64(_ bytes: [UInt8]) -> UInt64 {
        bytes.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
    }

    static func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    // MARK: arm64

    typealias O = ARM64ID.CoreOffset
    static let x0 = ARM64ID.core(offset: O.x(0), byteSize: 8)
    static let pstate = ARM64ID.core(offset: O.pstate, byteSize: 8)
    static let v0 = ARM64ID.core(offset: O.v(0), byteSize: 16)
    static let zcr = ARM64ID.sysreg(3, 0, 1, 2, 0)
    static let midr = ARM64ID.sysreg(3, 0, 0, 0, 0)
    static let psci = UInt32(1 << ARM64VCPUFeature.psci0_2)
    static let sve = UInt32(1 << ARM64VCPUFeature.sve)
    static let el1_32 = UInt32(1 << ARM64VCPUFeature.el1_32bit)

    /// An ID with other size bits (bits 55–52 = log2 of the byte count).
    static func resized(_ id: OneRegID, bytes: Int) -> OneRegID {
        OneRegID(rawValue: id.rawValue & ~OneRegID.sizeMask | UInt64(bytes.trailingZeroBitCount) << 52)
    }

    static func initialized(_ features: UInt32) throws -> FakeARM64VCPU {
        let cpu = FakeARM64VCPU()
        try cpu.armVCPUInit(target: cpu.preferredTarget, features: [features])
        return cpu
    }

    /// Each rule of onereg-probe.c's arm64 print_rules, asked of the fake the same way.
    static let arm64Rules: [String: @Sendable () throws -> String] = [
        "get_before_init": { answer { _ = try FakeARM64VCPU().getOneReg(x0) } },
        "finalize_before_init": { answer { try FakeARM64VCPU().armVCPUFinalize(feature: Int32(ARM64VCPUFeature.sve)) } },
        "init_unknown_feature_word0": {
            let cpu = FakeARM64VCPU()
            return answer { try cpu.armVCPUInit(target: cpu.preferredTarget, features: [1 << 30]) }
        },
        "init_unknown_feature_word1": {
            let cpu = FakeARM64VCPU()
            return answer { try cpu.armVCPUInit(target: cpu.preferredTarget, features: [0, 1]) }
        },
        "init_other_target": {
            let cpu = FakeARM64VCPU()
            return answer { try cpu.armVCPUInit(target: cpu.preferredTarget + 1, features: [0]) }
        },
        "init_el1_32bit": { answer { _ = try initialized(psci | el1_32) } },
        "reset_pstate_el1_32bit": { hex(u64(try initialized(psci | el1_32).getOneReg(pstate))) },
        "init_el1_32bit_with_sve": { answer { _ = try initialized(psci | el1_32 | sve) } },
        "reset_pstate": { hex(u64(try initialized(psci).getOneReg(pstate))) },
        "zcr_el1_without_sve": { let c = try initialized(psci); return answer { _ = try c.getOneReg(zcr) } },
        "sve_zreg_without_sve": { let c = try initialized(psci); return answer { _ = try c.getOneReg(ARM64ID.zreg(0)) } },
        "vls_without_sve": { let c = try initialized(psci); return answer { _ = try c.getOneReg(ARM64ID.vectorLengths) } },
        "v0_without_sve": { let c = try initialized(psci); return answer { _ = try c.getOneReg(v0) } },
        "core_id_bits_32_51": {
            let c = try initialized(psci)
            return answer { _ = try c.getOneReg(OneRegID(rawValue: x0.rawValue | 1 << 32)) }
        },
        "core_id_bit_51": {
            let c = try initialized(psci)
            return answer { _ = try c.getOneReg(OneRegID(rawValue: x0.rawValue | 1 << 51)) }
        },
        "core_wrong_size": {
            let c = try initialized(psci)
            return answer { _ = try c.getOneReg(ARM64ID.core(offset: 0, byteSize: 4)) }
        },
        "core_past_end": {
            let c = try initialized(psci)
            return answer { _ = try c.getOneReg(ARM64ID.core(offset: O.structSize, byteSize: 8)) }
        },
        "sysreg_wrong_size": { let c = try initialized(psci); return answer { _ = try c.getOneReg(resized(midr, bytes: 4)) } },
        "sysreg_unknown": { let c = try initialized(psci); return answer { _ = try c.getOneReg(ARM64ID.sysreg(3, 7, 15, 15, 7)) } },
        "other_arch_id": {
            let c = try initialized(psci)
            return answer { _ = try c.getOneReg(OneRegID(rawValue: x0.rawValue & ~OneRegID.archMask | OneRegID.archX86)) }
        },
        "unknown_coproc": {
            let c = try initialized(psci)
            return answer { _ = try c.getOneReg(OneRegID(arch: OneRegID.archARM64, byteSize: 8, rest: 0x0ff0 << 16)) }
        },
        "set_pstate_aarch32_usr": { let c = try initialized(psci); return answer { try c.setOneReg(pstate, le64(0x10)) } },
        "set_pstate_el2h": { let c = try initialized(psci); return answer { try c.setOneReg(pstate, le64(0x9)) } },
        "psci_version": { hex(u64(try initialized(psci).getOneReg(ARM64ID.psciVersion))) },
        "set_psci_version_0_2": { let c = try initialized(psci); return answer { try c.setOneReg(ARM64ID.psciVersion, le64(0x2)) } },
        "set_psci_version_1_0": {
            let c = try initialized(psci)
            return answer { try c.setOneReg(ARM64ID.psciVersion, le64(0x1_0000)) }
        },
        "set_psci_version_0_3": { let c = try initialized(psci); return answer { try c.setOneReg(ARM64ID.psciVersion, le64(0x3)) } },
        "sve_zreg_before_finalize": { let c = try initialized(psci | sve); return answer { _ = try c.getOneReg(ARM64ID.zreg(0)) } },
        "reg_list_before_finalize": { let c = try initialized(psci | sve); return answer { _ = try c.regList() } },
        "vls_with_hole": {
            let c = try initialized(psci | sve)
            var vls = try c.getOneReg(ARM64ID.vectorLengths)
            vls[0] &= ~1  // no 128 bits below the maximum
            return answer { try c.setOneReg(ARM64ID.vectorLengths, vls) }
        },
        "v0_with_sve": { let c = try initialized(psci | sve); return answer { _ = try c.getOneReg(v0) } },
        "finalize_twice": {
            let c = try initialized(psci | sve)
            try c.armVCPUFinalize(feature: Int32(ARM64VCPUFeature.sve))
            return answer { try c.armVCPUFinalize(feature: Int32(ARM64VCPUFeature.sve)) }
        },
        "vls_set_after_finalize": {
            let c = try initialized(psci | sve)
            let vls = try c.getOneReg(ARM64ID.vectorLengths)
            try c.armVCPUFinalize(feature: Int32(ARM64VCPUFeature.sve))
            return answer { try c.setOneReg(ARM64ID.vectorLengths, vls) }
        },
        "reset_zcr_el1": {
            let c = try initialized(psci | sve)
            try c.armVCPUFinalize(feature: Int32(ARM64VCPUFeature.sve))
            return hex(u64(try c.getOneReg(zcr)))
        },
        "sve_zreg_wrong_size": { try finalized { c in _ = try c.getOneReg(resized(ARM64ID.zreg(0), bytes: 128)) } },
        "sve_zreg_slice_1": { try finalized { c in _ = try c.getOneReg(OneRegID(rawValue: ARM64ID.zreg(0).rawValue + 1)) } },
        "sve_index_past_ffr": {
            try finalized { c in _ = try c.getOneReg(OneRegID(arch: OneRegID.archARM64, byteSize: 32, rest: ARM64ID.sve | 0x700)) }
        },
        "sve_ffr_slice_1": { try finalized { c in _ = try c.getOneReg(OneRegID(rawValue: ARM64ID.ffr.rawValue + 1)) } },
        "finalize_other_feature": {
            let c = try initialized(psci | sve)
            return answer { try c.armVCPUFinalize(feature: Int32(ARM64VCPUFeature.psci0_2)) }
        },
    ]

    static func finalized(_ body: (FakeARM64VCPU) throws -> Void) throws -> String {
        let c = try initialized(psci | sve)
        try c.armVCPUFinalize(feature: Int32(ARM64VCPUFeature.sve))
        return answer { try body(c) }
    }

    // MARK: ppc64

    static func ppcRegs(_ cpu: FakePPC64VCPU) throws -> [UInt8] {
        var regs = [UInt8](repeating: 0, count: PPCID.RegsOffset.structSize)
        try withMutableBytes(&regs) { (b) throws(KVMError) in try cpu.getPPCRegs(into: b) }
        return regs
    }

    static func field(_ regs: [UInt8], _ offset: Int) -> UInt64 { u64(Array(regs[offset..<offset + 8])) }

    static let fpr0 = PPCID.fpr(0)

    /// Each rule of onereg-probe.c's ppc64 print_rules, asked of the fake the same way.
    static let ppc64Rules: [String: @Sendable () throws -> String] = [
        "reset_msr": { hex(field(try ppcRegs(FakePPC64VCPU()), PPCID.RegsOffset.msr)) },
        "reset_pc": { hex(field(try ppcRegs(FakePPC64VCPU()), PPCID.RegsOffset.pc)) },
        "set_regs_roundtrip": {
            let cpu = FakePPC64VCPU()
            var want = try ppcRegs(cpu)
            for n in 0..<32 {
                let o = PPCID.RegsOffset.gpr(n)
                want.replaceSubrange(o..<o + 8, with: le64(0x0101_0101_0101_0101 &* UInt64(n + 1)))
            }
            for (o, v) in [(PPCID.RegsOffset.pc, 0x10000), (PPCID.RegsOffset.lr, 0x2000), (PPCID.RegsOffset.ctr, 0x3000),
                (PPCID.RegsOffset.cr, 0x2400_0042), (PPCID.RegsOffset.xer, 0x2000_0000)] as [(Int, UInt64)]
            {
                want.replaceSubrange(o..<o + 8, with: le64(v))
            }
            try withBytes(want) { (b) throws(KVMError) in try cpu.setPPCRegs(from: b) }
            return try ppcRegs(cpu) == want ? "ok" : "EIO"
        },
        "reset_vscr": { hex(u64(try FakePPC64VCPU().getOneReg(PPCID.vscr))) },
        "reset_fpscr": { hex(u64(try FakePPC64VCPU().getOneReg(PPCID.fpscr))) },
        "vsr0": { answer { _ = try FakePPC64VCPU().getOneReg(PPCID.vsr(0)) } },
        "unknown_index": { answer { _ = try FakePPC64VCPU().getOneReg(OneRegID(arch: OneRegID.archPPC, byteSize: 8, rest: 0xfff0)) } },
        "fpr_wrong_size": { answer { _ = try FakePPC64VCPU().getOneReg(resized(fpr0, bytes: 4)) } },
        "id_bits_32_51": { answer { _ = try FakePPC64VCPU().getOneReg(OneRegID(rawValue: fpr0.rawValue | 1 << 32)) } },
        "other_arch_id": {
            answer { _ = try FakePPC64VCPU().getOneReg(OneRegID(rawValue: fpr0.rawValue & ~OneRegID.archMask | OneRegID.archARM64)) }
        },
        "reg_list": { answer { _ = try FakePPC64VCPU().regList() } },
    ]

    // MARK: Tests

    @Test(arguments: ["arm64", "ppc64"])
    func theFakeAnswersAsTheRealKernelDid(arch: String) throws {
        let real = try Self.recorded(arch)
        let fake = arch == "arm64" ? Self.arm64Rules : Self.ppc64Rules
        #expect(real.count >= 10, "rig/probes/\(arch).rules has too few rules to be the probe's output")
        #expect(Set(real.keys) == Set(fake.keys), "the probe's rules and the fake's twins differ")
        for (name, want) in real.sorted(by: { $0.key < $1.key }) {
            guard let ask = fake[name] else { continue }
            #expect(try ask() == want, "rule \(name): the real \(arch) kernel answered \(want)")
        }
    }
}

import Registers
import Testing

@Suite struct ARM64TableTests {
    func id(_ table: RegisterTable, _ name: String) -> UInt64? { table.register(named: name)?.id.rawValue }

    @Test func coreIDsAreTheKernels() {
        let t = RegisterTable.arm64(sveVectorLength: nil)
        #expect(id(t, "x0") == 0x6030_0000_0010_0000)
        #expect(id(t, "x30") == 0x6030_0000_0010_003c)
        #expect(id(t, "sp") == 0x6030_0000_0010_003e)  // regs.sp: SP_EL0; the backend picks by EL
        #expect(id(t, "pc") == 0x6030_0000_0010_0040)
        #expect(id(t, "cpsr") == 0x6030_0000_0010_0042)  // pstate is U64 …
        #expect(t.register(named: "cpsr")?.bitSize == 32)  // … gdb's cpsr 32 bits
        #expect(id(t, "v0") == 0x6040_0000_0010_0054)
        #expect(id(t, "v31") == 0x6040_0000_0010_0054 + 31 * 4)
        #expect(id(t, "fpsr") == 0x6020_0000_0010_00d4)
        #expect(id(t, "fpcr") == 0x6020_0000_0010_00d5)
        #expect(id(t, "SP_EL1") == 0x6030_0000_0010_0044)
        #expect(id(t, "ELR_EL1") == 0x6030_0000_0010_0046)
        #expect(id(t, "SPSR_EL1") == 0x6030_0000_0010_0048)
    }

    @Test func sveIDsAreTheKernels() {
        let t = RegisterTable.arm64(sveVectorLength: 512)
        #expect(id(t, "z0") == 0x6080_0000_0015_0000)
        #expect(id(t, "z31") == 0x6080_0000_0015_0000 + 31 << 5)
        #expect(id(t, "p0") == 0x6050_0000_0015_0400)
        #expect(id(t, "p15") == 0x6050_0000_0015_0400 + 15 << 5)
        #expect(id(t, "ffr") == 0x6050_0000_0015_0600)
        #expect(ARM64ID.vectorLengths.rawValue == 0x6060_0000_0015_ffff)
        #expect(ARM64ID.zreg(3).byteSize == 256 && ARM64ID.preg(3).byteSize == 32 && ARM64ID.ffr.byteSize == 32)
        // vg has no kernel register: a project-private ID nobody sends to the kernel.
        let vg = t.register(named: "vg")!.id
        #expect(ARM64ID.isProjectPrivate(vg) && !ARM64ID.isSVE(vg) && ARM64ID.coreOffset(of: vg) == nil)
        #expect(ARM64ID.breakpointInstruction == 0xd420_0000)
    }

    @Test func withoutSVEItIsCoreAndFPU() {
        let t = RegisterTable.arm64(sveVectorLength: nil)
        #expect(t.architecture == "aarch64")
        #expect(
            t.features.map(\.name) == [
                "org.gnu.gdb.aarch64.core", "org.gnu.gdb.aarch64.fpu", "org.kvmstub.aarch64.sysregs",
            ])
        let names = t.registers.prefix(68).map(\.name)
        #expect(
            names == (0...30).map { "x\($0)" } + ["sp", "pc", "cpsr"] + (0..<32).map { "v\($0)" } + ["fpsr", "fpcr"])
        #expect(t.gPacketCount == 68)
        #expect(t.gPacketByteCount == 31 * 8 + 8 + 8 + 4 + 32 * 16 + 4 + 4)
        #expect(t.register(named: "vg") == nil && t.register(named: "z0") == nil)
        #expect(t.pcRegnum == 32 && t.spRegnum == 31 && t.expedited == [29, 31, 32])
    }

    @Test(arguments: RegisterTable.arm64VectorLengths)
    func sveTableFollowsTheVectorLength(vl: Int) {
        let t = RegisterTable.arm64(sveVectorLength: vl)
        // gdb refuses a description with both the FPU and the SVE feature.
        #expect(
            t.features.map(\.name) == [
                "org.gnu.gdb.aarch64.core", "org.gnu.gdb.aarch64.sve", "org.kvmstub.aarch64.sysregs",
            ])
        let names = t.registers.prefix(86).map(\.name)
        let sve = (0..<32).map { "z\($0)" } + ["fpsr", "fpcr"] + (0..<16).map { "p\($0)" } + ["ffr", "vg"]
        #expect(names == (0...30).map { "x\($0)" } + ["sp", "pc", "cpsr"] + sve)
        #expect(t.register(named: "z17")?.bitSize == vl)
        #expect(t.register(named: "p9")?.bitSize == vl / 8)
        #expect(t.register(named: "ffr")?.bitSize == vl / 8)
        #expect(t.register(named: "vg")?.bitSize == 64)
        #expect(t.gPacketCount == 86)
        #expect(t.gPacketByteCount == 268 + 32 * vl / 8 + 8 + 17 * vl / 64 + 8)
        #expect(t.expedited == [29, 31, 32, 85])  // vg too, as gdbserver does
        let xml = t.targetDescription()["aarch64-sve.xml"]!
        let scale = vl / 128
        #expect(xml.contains("<vector id=\"svevqu\" type=\"uint128\" count=\"\(scale)\"/>"))
        #expect(xml.contains("<vector id=\"svevbu\" type=\"uint8\" count=\"\(16 * scale)\"/>"))
        #expect(xml.contains("<vector id=\"svep\" type=\"uint8\" count=\"\(2 * scale)\"/>"))
        #expect(xml.contains("<reg name=\"z0\" bitsize=\"\(vl)\" type=\"svev\" regnum=\"34\"/>"))
        #expect(xml.contains("<reg name=\"vg\" bitsize=\"64\" type=\"int\" regnum=\"85\"/>"))
        #expect(!t.targetDescription().keys.contains("aarch64-fpu.xml"))
    }

    @Test func theIssuesGPacketSize() {
        #expect(RegisterTable.arm64(sveVectorLength: 2048).gPacketByteCount == 9020)
    }

    @Test func systemRegistersComeFromTheListAndAreNamedWhereTheyCanBe() {
        let list = [
            ARM64ID.sysreg(3, 0, 1, 0, 0),  // SCTLR_EL1
            ARM64ID.sysreg(3, 0, 0, 5, 2),  // no common name
            ARM64ID.core(offset: 0, byteSize: 8),  // not a sysreg: ignored
            OneRegID(rawValue: 0x6030_0000_0014_0000),  // firmware (PSCI version): ignored
        ]
        let t = RegisterTable.arm64(sveVectorLength: nil, systemRegisters: list)
        let sys = t.registers.filter { $0.feature == "org.kvmstub.aarch64.sysregs" }.map(\.name)
        #expect(sys == ["SP_EL0", "SP_EL1", "ELR_EL1", "SPSR_EL1", "S3_0_C0_C5_2", "SCTLR_EL1"])
        #expect(id(t, "SCTLR_EL1") == 0x6030_0000_0013_c080)
        #expect(t.register(named: "SCTLR_EL1")?.syncGroup == .arm64SysRegs)
        #expect(t.register(named: "SCTLR_EL1")!.regnum >= t.gPacketCount)  // p only: not in g
        #expect(ARM64SystemRegister.name(of: ARM64ID.sysreg(3, 0, 2, 0, 0)) == "TTBR0_EL1")
        #expect(ARM64SystemRegister.name(of: ARM64ID.sysreg(3, 3, 13, 0, 2)) == "TPIDR_EL0")
        let f = ARM64ID.sysregFields(of: ARM64ID.sysreg(2, 7, 15, 15, 7))!
        #expect(f.op0 == 2 && f.op1 == 7 && f.crn == 15 && f.crm == 15 && f.op2 == 7)
    }

    @Test func everyNamedSystemRegisterIsInTheDefaultTable() {
        let t = RegisterTable.arm64(sveVectorLength: 128)
        for r in ARM64SystemRegister.named {
            #expect(t.register(named: r.name)?.id == ARM64ID.sysreg(r.op0, r.op1, r.crn, r.crm, r.op2), "\(r.name)")
        }
    }

    /// Real arm64 KVM answers ZCR_EL1 with ENOENT on a vCPU without SVE (rig/probes/arm64.rules,
    /// zcr_el1_without_sve): the table without SVE does not offer it, even when asked to.
    @Test func zcrEL1OnlyWithSVE() {
        let zcr = ARM64ID.sysreg(3, 0, 1, 2, 0)
        #expect(RegisterTable.arm64(sveVectorLength: nil).register(named: "ZCR_EL1") == nil)
        #expect(RegisterTable.arm64(sveVectorLength: nil, systemRegisters: [zcr]).register(named: "ZCR_EL1") == nil)
        #expect(RegisterTable.arm64(sveVectorLength: 2048).register(named: "ZCR_EL1")?.id == zcr)
    }

    @Test func syncGroupsStayApartFromX86s() {
        let x86 = RegisterTable.x86_64.full
        for vl in [nil, 512] as [Int?] {
            let t = RegisterTable.arm64(sveVectorLength: vl)
            #expect(t.full.intersection(x86).isEmpty)
            #expect(t.full.rawValue >= 1 << 8)
            #expect(t.runtime == .arm64Core)
            #expect(t.groups(of: t.gRegisters).subtracting(t.reset).isEmpty)
            #expect(t.registers.allSatisfy { t.full.contains($0.syncGroup) })
        }
    }

    @Test func listingShowsIDsAndGroups() {
        let text = RegisterTable.arm64(sveVectorLength: 2048).listing()
        #expect(text.hasPrefix("# aarch64: "))
        #expect(text.contains("g packet 86 registers / 9020 bytes"))
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(
            lines.contains {
                $0.split(separator: " ").elementsEqual(["z0", "34", "2048", "0x6080000000150000", "sve"])
            })
        #expect(
            lines.contains { $0.split(separator: " ").elementsEqual(["vg", "85", "64", "0x603000e000000000", "vl"]) })
    }
}

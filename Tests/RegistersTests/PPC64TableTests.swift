import Registers
import Testing

@Suite struct PPC64TableTests {
    let t = RegisterTable.ppc64

    func id(_ name: String) -> UInt64? { t.register(named: name)?.id.rawValue }

    @Test func kernelIDsAreTheIssues() {
        #expect(id("f0") == 0x1030_0000_0000_0020)
        #expect(id("f31") == 0x1030_0000_0000_003f)
        #expect(id("vr0") == 0x1040_0000_0000_0040)
        #expect(id("vr31") == 0x1040_0000_0000_005f)
        #expect(id("vscr") == 0x1020_0000_0000_0081)
        #expect(id("fpscr") == 0x1030_0000_0000_0080)
        #expect(id("vrsave") == 0x1020_0000_0000_00b4)
        // vsNh is served from the whole VSR n (U128): the backend hands gdb the half FPR n does not hold.
        #expect(id("vs0h") == 0x1040_0000_0000_0060)
        #expect(id("vs31h") == 0x1040_0000_0000_007f)
        #expect(PPCID.breakpointInstruction == 0x7fe0_0008)
    }

    @Test func structKvmRegsFieldsGetPrivateIDs() {
        let fields: [(String, Int)] = [
            ("pc", 0), ("cr", 8), ("ctr", 16), ("lr", 24), ("xer", 32), ("msr", 40), ("r0", 136), ("r31", 384),
        ]
        for (name, offset) in fields {
            let reg = t.register(named: name)!
            #expect(PPCID.regsOffset(of: reg.id) == offset, "\(name)")
            #expect(reg.id.byteSize == 8, "\(name): the kernel's field is a u64")
            #expect(reg.syncGroup == .ppcRegs)
        }
        #expect(t.register(named: "cr")?.bitSize == 32)
        #expect(t.register(named: "xer")?.bitSize == 32)
        #expect(PPCID.regsOffset(of: PPCID.fpr(3)) == nil)
        #expect(id("r0") == 0x1030_00e0_0000_0088)
    }

    @Test func gdbsOrderAndNumbers() {
        #expect(t.architecture == "powerpc:common64")
        #expect(
            t.features.map(\.name) == [
                "org.gnu.gdb.power.core", "org.gnu.gdb.power.fpu", "org.gnu.gdb.power.altivec", "org.gnu.gdb.power.vsx",
            ])
        let expected =
            (0..<32).map { "r\($0)" } + (0..<32).map { "f\($0)" } + ["pc", "msr", "cr", "lr", "ctr", "xer", "fpscr"]
            + (0..<32).map { "vr\($0)" } + ["vscr", "vrsave"] + (0..<32).map { "vs\($0)h" }
        #expect(t.registers.map(\.name) == expected)
        #expect(t.register(named: "pc")?.regnum == 64)
        #expect(t.register(named: "fpscr")?.regnum == 70)
        #expect(t.register(named: "fpscr")?.bitSize == 64)  // ISA 2.05
        #expect(t.register(named: "vr0")?.regnum == 71)
        #expect(t.register(named: "vs0h")?.regnum == 105)
        #expect(t.gPacketCount == 137)
        #expect(t.gPacketByteCount == 32 * 8 + 32 * 8 + 8 + 8 + 4 + 8 + 8 + 4 + 8 + 32 * 16 + 4 + 4 + 32 * 8)
        #expect(t.pcRegnum == 64 && t.spRegnum == 1)
    }

    @Test func targetDescriptionIsGdbs() {
        let files = t.targetDescription()
        #expect(files["target.xml"]!.contains("<architecture>powerpc:common64</architecture>"))
        #expect(
            files["power64-core.xml"]!.contains("<reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\" regnum=\"64\"/>"))
        #expect(
            files["power-fpu.xml"]!.contains("<reg name=\"f0\" bitsize=\"64\" type=\"ieee_double\" regnum=\"32\"/>"))
        #expect(
            files["power-fpu.xml"]!.contains(
                "<reg name=\"fpscr\" bitsize=\"64\" type=\"int\" regnum=\"70\" group=\"float\"/>"))
        #expect(files["power-altivec.xml"]!.contains("<union id=\"vec128\">"))
        #expect(files["power-vsx.xml"]!.contains("<reg name=\"vs5h\" bitsize=\"64\" type=\"uint64\" regnum=\"110\"/>"))
    }

    @Test func groups() {
        #expect(t.runtime == .ppcRegs)
        #expect(t.full.intersection(RegisterTable.x86_64.full).isEmpty)
        #expect(t.full.intersection(RegisterTable.arm64(sveVectorLength: 512).full).isEmpty)
        #expect(t.register(named: "f3")?.syncGroup == t.register(named: "vs3h")?.syncGroup)  // two halves of VSR 3
        #expect(t.register(named: "vr3")?.syncGroup == .ppcVector)
    }
}

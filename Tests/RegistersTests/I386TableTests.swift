import Registers
import Testing

@Suite struct I386TableTests {
    let table = RegisterTable.i386(architecture: "i8086")

    @Test func coreAndSSEInGdbOrder() {
        // gdb/features/i386/32bit-core.xml, 32bit-sse.xml
        let names = table.registers.map(\.name)
        #expect(
            names.prefix(16) == [
                "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags",
                "cs", "ss", "ds", "es", "fs", "gs",
            ])
        #expect(names[16] == "st0" && names[24] == "fctrl" && names[31] == "fop")
        #expect(names[32] == "xmm0" && names[39] == "xmm7" && names[40] == "mxcsr")
        #expect(Set(names).count == names.count)
        #expect(table.registers.map(\.regnum) == Array(0..<table.registers.count))
    }

    @Test func gPacketIsTenRuntimeRegistersOfFourBytes() {
        #expect(table.gPacketCount == 10)
        #expect(table.gPacketByteCount == 40)
        #expect(table.groups(of: table.gRegisters) == table.runtime)
        #expect(table.registers[table.pcRegnum].name == "eip" && table.registers[table.spRegnum].name == "esp")
        #expect(table.expedited.map { table.registers[$0].name } == ["ebp", "esp", "eip"])
    }

    @Test func theSameKernelFieldsAsX86_64CutTo32Bits() {
        let wide = RegisterTable.x86_64
        for (narrow, full) in [
            ("eax", "rax"), ("ecx", "rcx"), ("esp", "rsp"), ("eip", "rip"), ("eflags", "eflags"),
            ("cs", "cs"), ("cr0", "cr0"), ("cr3", "cr3"), ("efer", "efer"), ("xmm7", "xmm7"),
        ] {
            #expect(table.register(named: narrow)!.id == wide.register(named: full)!.id, "\(narrow)")
        }
        #expect(table.register(named: "eax")!.bitSize == 32)
        #expect(table.register(named: "cs_base")!.id == X86ID.make(.sregs, index: 0, byteSize: 8))
    }

    @Test func targetXMLNamesI8086() {
        let files = table.targetDescription()
        #expect(files["target.xml"]!.contains("<architecture>i8086</architecture>"))
        #expect(files["32bit-core.xml"]!.contains("<reg name=\"eip\" bitsize=\"32\" type=\"code_ptr\" regnum=\"8\"/>"))
        #expect(RegisterTable.i386().architecture == "i386")
    }
}

import Registers
import Testing

@Suite struct X86TableTests {
    let table = RegisterTable.x86_64

    @Test func regnumsAreUniqueAndInGdbOrder() {
        #expect(table.registers.map(\.regnum) == Array(0..<table.registers.count))
        #expect(Set(table.registers.map(\.name)).count == table.registers.count)
        // gdb/features/i386/64bit-core.xml, 64bit-sse.xml, 64bit-segments.xml
        let names = table.registers.map(\.name)
        #expect(names.prefix(18) == ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
                                     "r12", "r13", "r14", "r15", "rip", "eflags"])
        #expect(names[24] == "st0" && names[32] == "fctrl" && names[39] == "fop")
        #expect(names[40] == "xmm0" && names[55] == "xmm15" && names[56] == "mxcsr")
        #expect(names[57] == "fs_base" && names[58] == "gs_base")
        #expect(names.suffix(7) == ["k_gs_base", "cr0", "cr2", "cr3", "cr4", "cr8", "efer"])
    }

    @Test func gPacketIsTheRuntimeGroupAndItsSizeIsTheSumOfBitsizes() {
        #expect(table.gPacketByteCount == table.gRegisters.reduce(0) { $0 + $1.bitSize / 8 })
        #expect(table.gPacketByteCount == 17 * 8 + 4)
        #expect(table.groups(of: table.gRegisters) == table.runtime)
        #expect(table.expedited.allSatisfy { table.runtime.contains(table.registers[$0].syncGroup) })
    }

    @Test func msrIDsAreTheKernels() {
        // KVM_X86_REG_MSR(index) = KVM_REG_X86 | KVM_REG_SIZE_U64 | KVM_X86_REG_TYPE_MSR << 32 | index (Linux 6.18)
        #expect(table.register(named: "efer")!.id.rawValue == 0x2030_0002_c000_0080)
        #expect(table.register(named: "fs_base")!.id.rawValue == 0x2030_0002_c000_0100)
        #expect(table.register(named: "gs_base")!.id.rawValue == 0x2030_0002_c000_0101)
        #expect(table.register(named: "k_gs_base")!.id.rawValue == 0x2030_0002_c000_0102)
        for name in ["efer", "fs_base", "gs_base", "k_gs_base"] {
            #expect(X86ID.space(of: table.register(named: name)!.id) == .msr)
        }
    }

    @Test func everyOtherIDIsProjectPrivateAndInsideItsStruct() {
        let structSizes: [X86RegisterSpace: Int] = [.regs: 144, .sregs: 312, .fpu: 416]
        for r in table.registers {
            let space = X86ID.space(of: r.id)!
            #expect(r.id.arch == OneRegID.archX86)
            guard space != .msr else { continue }
            #expect(space.isProjectPrivate)
            let index = Int(X86ID.index(of: r.id))
            if index == Int(X86ID.fullTagWordIndex) { continue }
            #expect(index + r.id.byteSize <= structSizes[space]!, "\(r.name)")
        }
        #expect(table.register(named: "rip")!.id.rawValue == 0x2030_00e0_0000_0080)  // kvm_regs.rip at 128
        #expect(table.register(named: "cr3")!.id.rawValue == 0x2030_00e1_0000_00f0)  // kvm_sregs.cr3 at 240
        #expect(table.register(named: "xmm0")!.id.byteSize == 16)
        #expect(table.register(named: "cs")!.id.byteSize == 2)  // kvm_segment.selector is a u16; gdb's cs is 32 bits
    }

    @Test func oneRegIDFields() {
        let id = OneRegID(rawValue: 0x6080_0000_0015_0000)  // arm64 SVE ZREG(0,0), U2048
        #expect(id.byteSize == 256)
        #expect(id.archName == "arm64")
        #expect(OneRegID(arch: OneRegID.archX86, byteSize: 8, rest: 0x2_c000_0080).description == "0x20300002c0000080")
    }

    @Test func targetDescriptionIncludesEveryFeatureAndEveryRegisterOnce() {
        let files = table.targetDescription()
        let target = files["target.xml"]!
        #expect(target.contains("<architecture>i386:x86-64</architecture>"))
        for f in table.features {
            #expect(target.contains("<xi:include href=\"\(f.fileName)\"/>"))
            #expect(files[f.fileName]!.contains("<feature name=\"\(f.name)\">"))
        }
        let all = files.values.joined()
        for r in table.registers {
            #expect(all.ranges(of: "<reg name=\"\(r.name)\" ").count == 1, "\(r.name)")
            #expect(all.contains("regnum=\"\(r.regnum)\""))
        }
        #expect(files["64bit-core.xml"]!.contains("<flags id=\"i386_eflags\" size=\"4\">"))
        #expect(files["64bit-sse.xml"]!.contains("<union id=\"vec128\">"))
    }

    @Test func syncLevelsAreUnionsOfDisjointGroups() {
        let bits = table.groups.map(\.group)
        for (i, a) in bits.enumerated() {
            #expect(a.rawValue.nonzeroBitCount == 1)
            for b in bits[(i + 1)...] { #expect(a.intersection(b).isEmpty) }
        }
        #expect(table.reset.isSuperset(of: table.runtime))
        #expect(table.full.isSuperset(of: table.reset))
        #expect(table.full == SyncGroup(bits))
    }
}

extension SyncGroup {
    init(_ bits: [SyncGroup]) { self = bits.reduce(SyncGroup()) { $0.union($1) } }
}

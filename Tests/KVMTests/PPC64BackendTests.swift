import FakeKernel
import Glibc
import KVM
import Registers
import Testing

/// The ppc64 backend over the fake kernel (FakeKernel: an in-memory ppc64le vCPU with the kernel's rules).
@Suite struct PPC64BackendTests {
    struct Rig {
        let cpu: FakePPC64VCPU
        let backend: PPC64Backend
        let file: RegisterFile
        func regnum(_ name: String) -> Int { RegisterTable.ppc64.register(named: name)!.regnum }
        func read(_ name: String) throws -> [UInt8]? { try file.read(regnum(name)) }
        func write(_ name: String, _ bytes: [UInt8]) throws { try file.write(regnum(name), bytes) }
        func count(_ name: String) -> Int { cpu.counter.snapshot()[name] ?? 0 }
        func run() throws {
            try file.flushBeforeRun()
            file.invalidateAfterRun()
        }
        func kernelRegs() throws -> [UInt8] {
            var regs = [UInt8](repeating: 0, count: PPCID.RegsOffset.structSize)
            try regs.withUnsafeMutableBytes { try cpu.getPPCRegs(into: $0) }
            return regs
        }
        func setKernelRegs(_ regs: [UInt8]) throws { try regs.withUnsafeBytes { try cpu.setPPCRegs(from: $0) } }
    }

    func rig(hasVSX: Bool = true) -> Rig {
        let cpu = FakePPC64VCPU(hasVSX: hasVSX)
        let backend = PPC64Backend(device: cpu)
        return Rig(cpu: cpu, backend: backend, file: RegisterFile(backend: backend))
    }

    func errno(_ body: () throws -> Void) -> Int32? {
        do { try body() } catch let e as KVMError { return e.errno } catch { return -1 }
        return nil
    }

    @Test func theFakeKeepsPowerPCsRules() {
        let cpu = FakePPC64VCPU(hasVSX: false)
        // An unknown ID is EINVAL on powerpc (arm64 says ENOENT):
        #expect(errno { _ = try cpu.getOneReg(OneRegID(rawValue: 0x1030_0000_0000_00ff)) } == EINVAL)
        #expect(errno { _ = try cpu.getOneReg(OneRegID(rawValue: 0x1020_0000_0000_0020)) } == EINVAL)  // FPR0 as U32
        #expect(errno { _ = try cpu.getOneReg(PPCID.regs(offset: 0)) } == EINVAL)  // private IDs are not the kernel's
        #expect(errno { _ = try cpu.getOneReg(PPCID.vsr(0)) } == ENXIO)  // no VSX
        #expect(errno { _ = try cpu.regList() } == EINVAL)  // powerpc has no KVM_GET_REG_LIST
        #expect(errno { _ = try cpu.getOneReg(PPCID.fpr(0)) } == nil)
    }

    @Test func groupsAreFetchedOnceAndOnlyWhenAsked() throws {
        let r = rig()
        _ = try r.read("r1")
        _ = try r.read("pc")
        _ = try r.read("cr")
        #expect(r.cpu.counter.snapshot() == ["KVM_GET_REGS": 1])
        _ = try r.read("f3")
        #expect(r.count("KVM_GET_ONE_REG") == 33)  // VSR0–31 (both halves) and FPSCR
        _ = try r.read("vs31h")
        _ = try r.read("fpscr")
        #expect(r.count("KVM_GET_ONE_REG") == 33)
        _ = try r.read("vr0")
        #expect(r.count("KVM_GET_ONE_REG") == 33 + 34)  // VR0–31, VSCR, VRSAVE
        try r.write("r7", le64(7))
        try r.run()
        #expect(r.count("KVM_SET_REGS") == 1 && r.count("KVM_SET_ONE_REG") == 0)
        _ = try r.read("r7")
        #expect(r.count("KVM_GET_REGS") == 2)
    }

    @Test func everyRegisterRoundTripsThroughTheKernel() throws {
        let r = rig()
        var written: [Int: [UInt8]] = [:]
        for reg in RegisterTable.ppc64.registers {
            let value = (0..<reg.byteSize).map { UInt8(truncatingIfNeeded: reg.regnum * 5 + $0 + 1) }
            try r.file.write(reg.regnum, value)
            written[reg.regnum] = value
        }
        try r.run()
        for reg in RegisterTable.ppc64.registers {
            #expect(try r.file.read(reg.regnum) == written[reg.regnum], "\(reg.name)")
        }
    }

    @Test func fprAndVsrHalvesShareTheVSR() throws {
        let r = rig()
        try r.write("f3", le64(0x4004_0000_0000_0000))  // 2.5
        try r.write("vs3h", le64(0x1122_3344_5566_7788))
        try r.run()
        // One VSR: on little-endian, vsNh is the low doubleword (bytes 0–7), FPR n the high one.
        #expect(r.cpu.fp[3] == le64(0x1122_3344_5566_7788) + le64(0x4004_0000_0000_0000))
        #expect(r.count("KVM_SET_ONE_REG") == 1)  // one VSR carries both
        #expect(try r.read("f3") == le64(0x4004_0000_0000_0000))
        #expect(try r.read("vs3h") == le64(0x1122_3344_5566_7788))
    }

    @Test func crAndXerAreTheLowWordOfTheKernelsU64() throws {
        let r = rig()
        var regs = try r.kernelRegs()
        regs.replaceSubrange(8..<16, with: le64(0xaaaa_aaaa_0000_0000))  // cr
        try r.setKernelRegs(regs)
        #expect(try r.read("cr") == [0, 0, 0, 0])
        try r.write("cr", [0x78, 0x56, 0x34, 0x12])
        try r.run()
        #expect(Array(try r.kernelRegs()[8..<16]) == le64(0xaaaa_aaaa_1234_5678))  // the upper word kept
    }

    @Test func withoutVSXTheFPRsServeAndVsNhIsUnavailable() throws {
        let r = rig(hasVSX: false)
        try r.write("f1", le64(0x3ff0_0000_0000_0000))
        #expect(r.backend.hasVSX == false)
        #expect(r.count("KVM_GET_ONE_REG") == 1 + 32 + 1)  // the VSR0 refusal, FPR0–31, FPSCR
        #expect(try r.read("vs1h") == nil)  // `xx`, never zero
        try r.write("vs1h", le64(5))  // nothing to write into
        try r.run()
        #expect(r.count("KVM_SET_ONE_REG") == 1)  // FPR1 only
        #expect(try r.read("f1") == le64(0x3ff0_0000_0000_0000))
        #expect(try r.read("vs1h") == nil)
    }
}

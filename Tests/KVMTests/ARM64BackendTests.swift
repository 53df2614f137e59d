import FakeKernel
import Glibc
import KVM
import Registers
import Testing

/// The arm64 backend over the fake kernel (FakeKernel: an in-memory vCPU with the kernel's ONE_REG rules).
@Suite struct ARM64BackendTests {
    struct Rig {
        let cpu: FakeARM64VCPU
        let backend: ARM64Backend
        let file: RegisterFile
        var table: RegisterTable { file.table }
        func regnum(_ name: String) -> Int { table.register(named: name)!.regnum }
        func read(_ name: String) throws -> [UInt8]? { try file.read(regnum(name)) }
        func write(_ name: String, _ bytes: [UInt8]) throws { try file.write(regnum(name), bytes) }
        func gets() -> Int { cpu.counter[.getOneReg] }
        func sets() -> Int { cpu.counter[.setOneReg] }
        /// What a KVM_RUN does to the cache: dirty groups out, then everything stale.
        func run() throws {
            try file.flushBeforeRun()
            file.invalidateAfterRun()
        }
        func kernel(_ id: OneRegID) throws -> [UInt8] { try cpu.getOneReg(id) }
    }

    func rig(_ vl: Int?, cpu: FakeARM64VCPU = FakeARM64VCPU()) throws -> Rig {
        try ARM64Backend.initializeVCPU(cpu, target: cpu.preferredTarget, sveVectorLength: vl)
        let backend = try ARM64Backend(device: cpu, sveVectorLength: vl)
        cpu.counter.reset()
        return Rig(cpu: cpu, backend: backend, file: RegisterFile(backend: backend))
    }

    typealias O = ARM64ID.CoreOffset
    let pstate = ARM64ID.core(offset: O.pstate, byteSize: 8)
    let spEL0 = ARM64ID.core(offset: O.sp, byteSize: 8)
    let spEL1 = ARM64ID.core(offset: O.spEL1, byteSize: 8)

    // MARK: Set-up order

    @Test func sveSetUpIsInitThenVLSThenFinalize() throws {
        let cpu = FakeARM64VCPU()
        try ARM64Backend.initializeVCPU(cpu, target: cpu.preferredTarget, sveVectorLength: 512)
        #expect(
            cpu.counter.snapshot() == [
                "KVM_ARM_VCPU_INIT": 1, "KVM_GET_ONE_REG": 1, "KVM_SET_ONE_REG": 1, "KVM_ARM_VCPU_FINALIZE": 1,
            ])
        #expect(cpu.sveFinalized && cpu.vectorLength == 512)
        // The VLS the backend wrote: every host length up to 512 bits, none above.
        #expect(ARM64Backend.offeredLengths(try cpu.getOneReg(ARM64ID.vectorLengths)) == [128, 256, 384, 512])
    }

    @Test func aLengthTheHostLacksIsRefused() throws {
        let cpu = FakeARM64VCPU(hostVectorLengths: [128, 256, 512])
        #expect {
            try ARM64Backend.initializeVCPU(cpu, target: cpu.preferredTarget, sveVectorLength: 1024)
        } throws: { error in
            let e = error as! KVMError
            return e.errno == EINVAL && "\(e)".contains("no 1024-bit SVE vector length (it offers [128, 256, 512])")
        }
        #expect(!cpu.sveFinalized)
    }

    @Test func theFakeKeepsTheKernelsSVERules() throws {
        let cpu = FakeARM64VCPU()
        func errno(_ body: () throws -> Void) -> Int32? {
            do { try body() } catch let e as KVMError { return e.errno } catch { return -1 }
            return nil
        }
        #expect(errno { _ = try cpu.getOneReg(ARM64ID.core(offset: O.pc, byteSize: 8)) } == ENOEXEC)  // before INIT
        try cpu.armVCPUInit(target: cpu.preferredTarget, features: [1 << UInt32(ARM64VCPUFeature.sve)])
        #expect(errno { _ = try cpu.getOneReg(ARM64ID.zreg(0)) } == EPERM)  // before FINALIZE
        #expect(errno { _ = try cpu.getOneReg(ARM64ID.ffr) } == EPERM)
        #expect(errno { _ = try cpu.regList() } == EPERM)
        #expect(errno { _ = try cpu.run(singleStep: true, memory: FakeRAM(base: 0, size: 16, fill: 0)) } == EPERM)
        var vls = try cpu.getOneReg(ARM64ID.vectorLengths)  // readable before
        #expect(ARM64Backend.offeredLengths(vls).count == 16)
        vls[0] = 0b1101  // 128, 384, 512 but not 256: a hole below the maximum
        #expect(errno { try cpu.setOneReg(ARM64ID.vectorLengths, vls) } == EINVAL)
        vls[0] = 0b0011
        for i in 1..<vls.count { vls[i] = 0 }
        try cpu.setOneReg(ARM64ID.vectorLengths, vls)
        try cpu.armVCPUFinalize(feature: Int32(ARM64VCPUFeature.sve))
        #expect(cpu.vectorLength == 256)
        #expect(errno { try cpu.setOneReg(ARM64ID.vectorLengths, vls) } == EPERM)  // writable only before
        #expect(errno { try cpu.armVCPUFinalize(feature: Int32(ARM64VCPUFeature.sve)) } == EPERM)
        #expect(try cpu.getOneReg(ARM64ID.zreg(31)).count == 256)
        #expect(errno { _ = try cpu.getOneReg(OneRegID(rawValue: ARM64ID.zreg(0).rawValue + 1)) } == ENOENT)  // slice 1
        #expect(errno { _ = try cpu.getOneReg(ARM64ID.core(offset: O.v(0), byteSize: 16)) } == EINVAL)  // V regs: use Z
    }

    @Test func theFakeKeepsTheKernelsOtherRules() throws {
        let r = try rig(nil)
        func errno(_ body: () throws -> Void) -> Int32? {
            do { try body() } catch let e as KVMError { return e.errno } catch { return -1 }
            return nil
        }
        #expect(errno { _ = try r.cpu.getOneReg(ARM64ID.sysreg(3, 7, 15, 15, 7)) } == ENOENT)  // not listed
        #expect(errno { _ = try r.cpu.getOneReg(ARM64ID.core(offset: O.pc, byteSize: 4)) } == EINVAL)  // wrong size
        #expect(errno { _ = try r.cpu.getOneReg(ARM64ID.core(offset: 4, byteSize: 8)) } == EINVAL)  // misaligned
        // Past the end of struct kvm_regs:
        #expect(errno { _ = try r.cpu.getOneReg(ARM64ID.core(offset: 4096, byteSize: 8)) } == ENOENT)
        #expect(errno { _ = try r.cpu.getOneReg(OneRegID(rawValue: 0x6020_0000_0013_c080)) } == ENOENT)  // SCTLR as U32
        #expect(errno { _ = try r.cpu.getOneReg(ARM64ID.zreg(0)) } == ENOENT)  // no SVE on this vCPU
        #expect(errno { _ = try r.cpu.getOneReg(X86ID.msr(X86MSR.efer)) } == EINVAL)  // another architecture
        // AArch32 SVC on a 64-bit EL1 (AArch32 User is allowed where the host has AArch32 EL0: the real kernel said so).
        #expect(errno { try r.cpu.setOneReg(self.pstate, [0x13, 0, 0, 0, 0, 0, 0, 0]) } == EINVAL)
        // A second KVM_ARM_VCPU_INIT cannot add SVE:
        #expect(errno { try r.cpu.armVCPUInit(target: r.cpu.preferredTarget, features: [1 << 4]) } == EINVAL)
        let list = try r.cpu.regList().map(OneRegID.init(rawValue:))
        #expect(list.contains(ARM64ID.core(offset: O.v(31), byteSize: 16)))
        #expect(list.contains(ARM64ID.core(offset: O.fpcr, byteSize: 4)))
        #expect(!list.contains(ARM64ID.vectorLengths))
    }

    // MARK: Lazy fetching

    @Test func groupsAreFetchedOnceAndOnlyWhenAsked() throws {
        let r = try rig(2048)
        #expect(r.gets() == 0)
        _ = try r.read("x0")
        let core = 31 + 3 + 1  // x0–x30, sp, pc, pstate, and sp_el1 for gdb's sp
        #expect(r.gets() == core)
        _ = try r.read("pc")
        _ = try r.read("sp")
        _ = try r.read("cpsr")
        #expect(r.gets() == core)  // same group: no more calls
        #expect(try r.read("vg") == [32, 0, 0, 0, 0, 0, 0, 0])
        #expect(r.gets() == core)  // vg costs nothing
        _ = try r.read("z5")
        let sve = 32 + 16 + 1 + 2  // z, p, ffr, fpsr, fpcr
        #expect(r.gets() == core + sve)
        _ = try r.read("ffr")
        #expect(r.gets() == core + sve)
        _ = try r.read("SCTLR_EL1")
        let sys = r.table.registers.filter { $0.syncGroup == .arm64SysRegs }.count
        #expect(r.gets() == core + sve + sys)
        #expect(r.file.valid == r.table.full)

        // A write is read-modify-write of a valid group, and only the written ID goes back.
        try r.write("x1", le64(0x1111))
        #expect(r.gets() == core + sve + sys)
        try r.run()
        #expect(r.sets() == 1)
        #expect(r.file.valid.isEmpty)
        _ = try r.read("x2")
        #expect(r.gets() == 2 * core + sve + sys)  // stale after the run: fetched again
    }

    @Test func aGPacketCostsCoreAndSVEGroupsOnly() throws {
        let r = try rig(512)
        for reg in r.table.gRegisters { _ = try r.file.read(reg.regnum) }
        #expect(r.file.valid == [.arm64Core, .arm64FP, .arm64VectorLength])
        #expect(r.gets() == 35 + 51)
    }

    // MARK: Round trips

    @Test(arguments: [nil, 128, 512, 2048] as [Int?])
    func everyGroupRoundTripsThroughTheKernel(vl: Int?) throws {
        let r = try rig(vl)
        var written: [String: [UInt8]] = [:]
        for reg in r.table.registers where reg.name != "vg" && reg.name != "sp" {
            var value = (0..<reg.byteSize).map { UInt8(truncatingIfNeeded: reg.regnum * 7 + $0 + 1) }
            if reg.name == "cpsr" { value[0] = 0xc5 }  // keep EL1h: the kernel refuses other modes
            try r.file.write(reg.regnum, value)
            written[reg.name] = value
        }
        #expect(r.file.dirty == r.table.full.subtracting(.arm64VectorLength))
        try r.run()
        for reg in r.table.registers where written[reg.name] != nil {
            #expect(try r.file.read(reg.regnum) == written[reg.name], "\(reg.name)")
        }
        // In the kernel itself: x5, and at EL1h gdb's sp is SP_EL1 (written last, through the system feature).
        #expect(try r.kernel(ARM64ID.core(offset: O.x(5), byteSize: 8)) == written["x5"])
        #expect(try r.read("sp") == written["SP_EL1"])
        #expect(try r.kernel(spEL0) == written["SP_EL0"])
    }

    @Test(arguments: [128, 512, 2048])
    func sveValuesAreSlicedAndZeroExtended(vl: Int) throws {
        let r = try rig(vl)
        // gdb writes VL/8 bytes of z7; the kernel gets its 2048-bit value with zeros above VL.
        let z = (0..<vl / 8).map { UInt8(truncatingIfNeeded: 0xa5 ^ $0) }
        try r.write("z7", z)
        let p = (0..<vl / 64).map { UInt8(truncatingIfNeeded: 0x3c + $0) }
        try r.write("p3", p)
        try r.write("ffr", [UInt8](repeating: 0xff, count: vl / 64))
        try r.run()
        let kz = try r.kernel(ARM64ID.zreg(7))
        #expect(kz.count == 256 && Array(kz.prefix(vl / 8)) == z && kz.dropFirst(vl / 8).allSatisfy { $0 == 0 })
        let kp = try r.kernel(ARM64ID.preg(3))
        #expect(kp.count == 32 && Array(kp.prefix(vl / 64)) == p && kp.dropFirst(vl / 64).allSatisfy { $0 == 0 })
        // The kernel's value in, gdb's VL/8 bytes out.
        try r.cpu.setOneReg(ARM64ID.zreg(9), [UInt8](repeating: 0x5a, count: 256))
        #expect(try r.read("z9") == [UInt8](repeating: 0x5a, count: vl / 8))
        #expect(try r.read("vg") == le64(UInt64(vl / 64)))
        // The backend itself zeroes whatever lies above VL in a value handed to it.
        let z9 = r.table.register(named: "z9")!
        r.backend.setKernelValue([UInt8](repeating: 0x77, count: 256), of: z9)
        let cached = try #require(r.backend.kernelValue(of: z9))
        #expect(cached.prefix(vl / 8).allSatisfy { $0 == 0x77 } && cached.dropFirst(vl / 8).allSatisfy { $0 == 0 })
    }

    // MARK: gdb's sp

    @Test func spIsTheStackPointerOfTheExceptionLevel() throws {
        let r = try rig(nil)
        try r.cpu.setOneReg(spEL0, le64(0xe0e0))
        try r.cpu.setOneReg(spEL1, le64(0xe1e1))
        #expect(try r.read("cpsr") == [0xc5, 0x03, 0, 0])  // the kernel's reset state: EL1h, DAIF masked
        #expect(try r.read("sp") == le64(0xe1e1))
        try r.write("cpsr", [0xc4, 0x03, 0, 0])  // EL1t
        #expect(try r.read("sp") == le64(0xe0e0))
        try r.write("cpsr", [0x00, 0, 0, 0])  // EL0t
        #expect(try r.read("sp") == le64(0xe0e0))
        try r.write("cpsr", [0x09, 0, 0, 0])  // EL2h: no core register holds it
        #expect(try r.read("sp") == nil)
        try r.write("cpsr", [0x10, 0, 0, 0])  // AArch32
        #expect(try r.read("sp") == nil)
        try r.write("cpsr", [0xc5, 0x03, 0, 0])  // EL1h again: a write of sp goes to SP_EL1
        try r.write("sp", le64(0x5151))
        try r.run()
        #expect(try r.kernel(spEL1) == le64(0x5151))
        #expect(try r.kernel(spEL0) == le64(0xe0e0))
        #expect(ARM64Backend.stackPointerID(pstate: 0x3c5) == spEL1)
        #expect(ARM64Backend.stackPointerID(pstate: 0x3c4) == spEL0)
    }

    // MARK: Unavailable is unavailable

    @Test func aRegisterTheKernelRefusesIsNilNotZero() throws {
        let cpu = FakeARM64VCPU()
        try ARM64Backend.initializeVCPU(cpu, target: cpu.preferredTarget, sveVectorLength: nil)
        let missing = ARM64ID.sysreg(3, 0, 15, 15, 7)  // the table lists it, this vCPU does not
        let table = RegisterTable.arm64(
            sveVectorLength: nil, systemRegisters: ARM64SystemRegister.commonIDs + [missing])
        let backend = ARM64Backend(device: cpu, table: table, sveVectorLength: nil)
        let file = RegisterFile(backend: backend)
        let reg = try #require(table.registers.first { $0.id == missing })
        #expect(try file.read(reg.regnum) == nil)
        #expect(backend.unavailable[missing] == ENOENT)
        #expect(try file.read(table.register(named: "SCTLR_EL1")!.regnum) != nil)  // the rest of the group is fine
        try file.write(reg.regnum, le64(1))  // nothing to write into: ignored, not invented
        #expect(try file.read(reg.regnum) == nil)
    }

    @Test func systemRegistersAreWhatTheListSays() throws {
        let r = try rig(512)
        let listed = Set(
            try r.cpu.regList().map(OneRegID.init(rawValue:)).filter { ARM64ID.sysregFields(of: $0) != nil })
        let inTable = Set(
            r.table.registers.filter { $0.syncGroup == .arm64SysRegs && ARM64ID.sysregFields(of: $0.id) != nil }.map(
                \.id))
        #expect(listed == inTable)
        #expect(r.table.register(named: "S3_0_C0_C5_2") != nil)
        #expect(try r.read("MIDR_EL1") == le64(0x410f_d083))
    }
}

func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

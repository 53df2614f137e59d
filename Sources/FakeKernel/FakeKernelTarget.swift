import GDBStub
import Glibc
import KVM
import Registers

/// A `DebugTarget` over a FAKE KERNEL, for tests: one fake arm64 or ppc64 vCPU (FakeARM64VCPU, FakePPC64VCPU),
/// its registers served by the real backend (ARM64Backend, PPC64Backend) through the real lazy RegisterFile, and
/// 64 KiB of fake RAM filled with no-op instructions. It lets the real GDBStub session — and real gdb-multiarch —
/// be checked against the arm64 and ppc64 register code on a host without those KVMs. No guest code runs: a step
/// moves pc on by 4, a continue moves it to the next trap instruction (a breakpoint) or "runs" until Ctrl-C.
package final class FakeKernelTarget: DebugTarget {
    package enum Architecture: Sendable, Equatable, CustomStringConvertible {
        case arm64(sveVectorLength: Int?)
        case ppc64

        package var description: String {
            switch self {
            case .arm64(let vl?): "arm64 (SVE, \(vl)-bit vectors)"
            case .arm64(nil): "arm64 (no SVE)"
            case .ppc64: "ppc64le"
            }
        }
    }

    package let architecture: Architecture
    package let vcpu: any FakeVCPU
    package let registers: RegisterFile
    package let memory: FakeRAM
    package var registerTable: RegisterTable { registers.table }
    package let threadIDs = [1]

    /// Inserted software breakpoints: address → the 4 bytes the trap replaced.
    package private(set) var breakpoints: [UInt64: [UInt8]] = [:]
    private var running = false
    private var pendingStop: StopEvent?
    private var lastStop = StopEvent(thread: 1, reason: .stepped)
    private var statsBase: [String: Int] = [:]
    private let pipeFDs: (read: Int32, write: Int32)
    package private(set) var killed = false

    /// Sets up the fake vCPU as a VMM would (for arm64: KVM_ARM_VCPU_INIT, and with SVE the VLS write and
    /// KVM_ARM_VCPU_FINALIZE, through the backend's own set-up), then points pc at the start of RAM and the stack
    /// pointer (SP_EL1 at EL1h; r1) at its end.
    package init(_ architecture: Architecture, memoryBase: UInt64 = 0x1_0000, memorySize: Int = 0x1_0000)
        throws(KVMError)
    {
        self.architecture = architecture
        let top = memoryBase + UInt64(memorySize)
        switch architecture {
        case .arm64(let vl):
            let cpu = FakeARM64VCPU()
            try ARM64Backend.initializeVCPU(cpu, target: cpu.preferredTarget, sveVectorLength: vl)
            typealias O = ARM64ID.CoreOffset
            try cpu.setOneReg(ARM64ID.core(offset: O.pc, byteSize: 8), littleEndianBytes(memoryBase))
            try cpu.setOneReg(ARM64ID.core(offset: O.spEL1, byteSize: 8), littleEndianBytes(top))
            vcpu = cpu
            registers = RegisterFile(backend: try ARM64Backend(device: cpu, sveVectorLength: vl))
            memory = FakeRAM(base: memoryBase, size: memorySize, fill: 0xd503_201f)  // NOP
        case .ppc64:
            let cpu = FakePPC64VCPU()
            var regs = [UInt8](repeating: 0, count: PPCID.RegsOffset.structSize)
            try withMutableBytes(&regs) { (b) throws(KVMError) in try cpu.getPPCRegs(into: b) }
            regs.replaceSubrange(0..<8, with: littleEndianBytes(memoryBase))  // pc
            let r1 = PPCID.RegsOffset.gpr(1)
            regs.replaceSubrange(r1..<r1 + 8, with: littleEndianBytes(top))
            try withBytes(regs) { (b) throws(KVMError) in try cpu.setPPCRegs(from: b) }
            vcpu = cpu
            registers = RegisterFile(backend: PPC64Backend(device: cpu))
            memory = FakeRAM(base: memoryBase, size: memorySize, fill: 0x6000_0000)  // nop (ori 0,0,0)
        }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw KVMError(operation: "pipe", errno: errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        pipeFDs = (fds[0], fds[1])
    }

    deinit {
        close(pipeFDs.read)
        close(pipeFDs.write)
    }

    private func check(_ thread: Int) throws(TargetError) {
        guard thread == 1 else { throw .invalidArgument("no thread \(thread): the fake target has one vCPU") }
    }

    private func failed(_ error: KVMError) -> TargetError { .failed("\(error)") }

    // MARK: Registers

    package func readRegister(_ regnum: Int, thread: Int) throws(TargetError) -> [UInt8]? {
        try check(thread)
        guard registerTable[regnum] != nil else { throw .invalidArgument("no register \(regnum)") }
        do { return try registers.read(regnum) } catch { throw failed(error) }
    }

    package func writeRegister(_ regnum: Int, value: [UInt8], thread: Int) throws(TargetError) {
        try check(thread)
        guard let reg = registerTable[regnum] else { throw .invalidArgument("no register \(regnum)") }
        guard value.count == reg.byteSize else { throw .invalidArgument("\(reg.name) is \(reg.byteSize) bytes") }
        if reg.id == ARM64ID.vectorGranules, let now = try readRegister(regnum, thread: thread), now != value {
            throw .invalidArgument("vg is fixed: the vector length was chosen before KVM_ARM_VCPU_FINALIZE")
        }
        do { try registers.write(regnum, value) } catch { throw failed(error) }
    }

    // MARK: Memory

    package func readMemory(at address: UInt64, count: Int, thread: Int) throws(TargetError) -> [UInt8] {
        try check(thread)
        var bytes = memory.read(address, count: count)
        if bytes.isEmpty && count > 0 { throw .badAddress(address) }
        for (bp, original) in breakpoints {
            for i in 0..<4 where bp + UInt64(i) >= address && bp + UInt64(i) < address + UInt64(bytes.count) {
                bytes[Int(bp + UInt64(i) - address)] = original[i]
            }
        }
        return bytes
    }

    package func writeMemory(at address: UInt64, bytes: [UInt8], thread: Int) throws(TargetError) {
        try check(thread)
        guard memory.contains(address, count: bytes.count) else { throw .badAddress(address) }
        var data = bytes
        for (bp, original) in breakpoints {
            var saved = original
            for i in 0..<4 where bp + UInt64(i) >= address && bp + UInt64(i) < address + UInt64(data.count) {
                let k = Int(bp + UInt64(i) - address)
                saved[i] = data[k]  // the trap stays in memory; the write changes what it will restore
                data[k] = trapBytes[i]
            }
            breakpoints[bp] = saved
        }
        memory.write(address, data)
    }

    // MARK: Breakpoints

    private var trapBytes: [UInt8] { littleEndianBytes(vcpu.trapInstruction) }

    package var supportedBreakpointKinds: Set<BreakpointKind> { [.software] }

    package func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        guard kind == .software else { throw .unsupported }
        guard address % 4 == 0 else { throw .invalidArgument("instructions are 4-byte aligned") }
        guard breakpoints[address] == nil else { return }
        guard memory.contains(address, count: 4) else { throw .badAddress(address) }
        breakpoints[address] = memory.read(address, count: 4)
        memory.write(address, trapBytes)
    }

    package func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        guard kind == .software, let original = breakpoints.removeValue(forKey: address) else { return }
        memory.write(address, original)
    }

    // MARK: Run control

    package func resume(_ actions: [Int: ResumeAction], otherThreads: ResumeAction?) throws(TargetError) -> ResumeResult
    {
        guard let action = actions[1] ?? otherThreads else { return .stopped(lastStop) }
        let exit: FakeExit
        do {
            try registers.flushBeforeRun()
            exit = try vcpu.run(singleStep: action.steps, memory: memory)
            registers.invalidateAfterRun()
        } catch {
            throw failed(error)
        }
        let stop: StopEvent
        switch exit {
        case .stepped: stop = StopEvent(thread: 1, reason: .stepped)
        case .trap(let address) where breakpoints[address] != nil:
            stop = StopEvent(thread: 1, reason: .softwareBreakpoint)
        case .trap(let address):
            let where_ = "0x" + String(address, radix: 16)
            stop = StopEvent(
                thread: 1,
                reason: .fault(signal: 5, description: "a trap instruction kvmstub did not plant, at \(where_)"))
        case .running:
            running = true
            return .running
        }
        lastStop = stop
        return .stopped(stop)
    }

    package var stopNotificationFD: Int32 { pipeFDs.read }

    package func takeStop() -> StopEvent? {
        var byte: UInt8 = 0
        while read(pipeFDs.read, &byte, 1) == 1 {}
        guard let stop = pendingStop else { return nil }
        pendingStop = nil
        lastStop = stop
        return stop
    }

    package func interrupt() {
        guard running else { return }
        running = false
        pendingStop = StopEvent(thread: 1, reason: .interrupted)
        var byte: UInt8 = 1
        _ = write(pipeFDs.write, &byte, 1)
    }

    package func attach() -> StopEvent {
        if running {
            running = false
            lastStop = StopEvent(thread: 1, reason: .interrupted)
        }
        pendingStop = nil
        _ = takeStop()
        statsBase = vcpu.counter.snapshot()
        return lastStop
    }

    package func detach() {}

    package func kill() { killed = true }

    // MARK: Monitor

    package var monitorHelp: [String] {
        [
            "sync-stats [reset]  fake ioctls since attach, and the register groups valid/dirty now",
            "fake                what this target is: a fake kernel for tests",
        ]
    }

    package func monitor(_ command: String) -> String? {
        let words = command.split(separator: " ").map(String.init)
        switch words.first {
        case "sync-stats":
            if words.dropFirst().first == "reset" { statsBase = vcpu.counter.snapshot() }
            var out = "fake \(architecture) vCPU: valid=\(name(registers.valid)) dirty=\(name(registers.dirty))\n"
            let counts = vcpu.counter.since(statsBase)
            if counts.isEmpty { out += "  no ioctls since attach\n" }
            for (k, v) in counts.sorted(by: { $0.key < $1.key }) { out += "  \(k) \(v)\n" }
            return out
        case "fake":
            return "a FAKE \(architecture) kernel for tests: an in-memory vCPU behind the ONE_REG ioctl surface, "
                + "\(memory.bytes.count / 1024) KiB of fake RAM at 0x\(String(memory.base, radix: 16)); no guest code runs\n"
        default: return nil
        }
    }

    private func name(_ g: SyncGroup) -> String { g.isEmpty ? "-" : registerTable.groupName(g) }

    package func threadExtraInfo(_ thread: Int) -> String? {
        thread == 1 ? "fake \(architecture) vCPU (a fake kernel for tests)" : nil
    }
}

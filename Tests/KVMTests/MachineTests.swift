import Glibc
import GDBStub
import KVM
@testable import Machine
import Registers
import Testing

/// True when this machine can run KVM guests; tests that need it say so and skip otherwise.
let kvmAvailable: Bool = access("/dev/kvm", R_OK | W_OK) == 0

/// A machine running `code` at 0x10000, stopped, with a debugger attached.
func makeMachine(
    _ code: [UInt8], syncRegs: Bool = true, strategy: SoftwareBreakpointStrategy? = nil,
    watchpoints: WatchpointStrategy? = nil, irqChip: Bool = false, linuxPlatform: Bool = false
) throws -> Machine {
    var config = MachineConfiguration()
    config.inKernelIRQChip = irqChip
    config.linuxPlatform = linuxPlatform
    config.watchpointStrategy = watchpoints
    config.memorySize = 4 << 20
    config.useSyncRegs = syncRegs
    config.breakpointStrategy = strategy
    config.serialFD = open("/dev/null", O_WRONLY)
    let machine = try quietMachine(config)
    try machine.loadFlat(code, at: 0x10000)
    machine.start(running: false)
    _ = machine.attach()
    return machine
}

/// A machine whose diagnostic lines stay out of the test output: every line it reports (a fault, a vCPU halted
/// for good, a refused ioctl) is also in what it returns — the stop's reason, the thrown TargetError — which the
/// tests assert on, so a failure shows it there.
func quietMachine(_ config: MachineConfiguration) throws -> Machine {
    let machine = try Machine(configuration: config)
    machine.diagnostics = { _ in }
    return machine
}

/// Resume and wait (at most 10 s) for the stop.
func run(_ m: Machine, _ action: ResumeAction) throws -> StopEvent {
    let result = try m.resume([1: action], otherThreads: nil)
    if case .stopped(let e) = result { return e }
    var pfd = pollfd(fd: m.stopNotificationFD, events: Int16(POLLIN), revents: 0)
    guard poll(&pfd, 1, 10_000) == 1, let stop = m.takeStop() else {
        m.interrupt()
        throw TargetError.failed("no stop within 10 s")
    }
    return stop
}

func u64(_ bytes: [UInt8]?) -> UInt64 { (bytes ?? []).prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) } }
func bytes64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

let table = RegisterTable.x86_64
func regnum(_ name: String) -> Int { table.register(named: name)!.regnum }

// nop; nop; mov eax, 0x1234 (5 bytes); inc rax (3); jmp $ (2)
let nopsThenLoop: [UInt8] = [0x90, 0x90, 0xB8, 0x34, 0x12, 0x00, 0x00, 0x48, 0xFF, 0xC0, 0xEB, 0xFE]

@Suite(.enabled(if: kvmAvailable, "needs /dev/kvm"))
struct MachineTests {
    @Test func singleStepAdvancesRipByInstructionLength() throws {
        let m = try makeMachine(nopsThenLoop)
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10000)
        var rips: [UInt64] = []
        for _ in 0..<4 {
            let stop = try run(m, .step)
            #expect(stop == StopEvent(thread: 1, reason: .stepped))
            rips.append(u64(try m.readRegister(regnum("rip"), thread: 1)))
        }
        #expect(rips == [0x10001, 0x10002, 0x10007, 0x1000a])
        #expect(u64(try m.readRegister(regnum("rax"), thread: 1)) == 0x1235)
    }

    @Test(arguments: [true, false])
    func registersRoundTripThroughEveryGroup(syncRegs: Bool) throws {
        let m = try makeMachine(nopsThenLoop, syncRegs: syncRegs)
        let xmm3 = (0..<16).map { UInt8($0 * 7 + 1) }
        m.writeRegisterChecked("r12", bytes64(0x1122_3344_5566_7788))
        m.writeRegisterChecked("cr8", bytes64(0x5))
        m.writeRegisterChecked("xmm3", xmm3)
        m.writeRegisterChecked("k_gs_base", bytes64(0xffff_8000_dead_b000))
        m.writeRegisterChecked("fctrl", [0x7f, 0x03, 0, 0])
        // The step flushes every dirty group and invalidates the cache: the values below come from the kernel.
        #expect(try run(m, .step).reason == .stepped)
        #expect(u64(try m.readRegister(regnum("r12"), thread: 1)) == 0x1122_3344_5566_7788)
        #expect(u64(try m.readRegister(regnum("cr8"), thread: 1)) == 5)
        #expect(try m.readRegister(regnum("xmm3"), thread: 1) == xmm3)
        #expect(u64(try m.readRegister(regnum("k_gs_base"), thread: 1)) == 0xffff_8000_dead_b000)
        #expect(try m.readRegister(regnum("fctrl"), thread: 1) == [0x7f, 0x03, 0, 0])
        #expect(u64(try m.readRegister(regnum("efer"), thread: 1)) & 0x500 == 0x500)  // LME | LMA
        #expect(u64(try m.readRegister(regnum("cs"), thread: 1)) == 0x08)
        #expect(u64(try m.readRegister(regnum("cr3"), thread: 1)) == 0x1000)
        // An empty x87 stack: every tag is 0b11.
        #expect(try m.readRegister(regnum("ftag"), thread: 1) == [0xff, 0xff, 0, 0])
    }

    @Test func readsCostOneFetchPerGroupAndWritesOneFlush() throws {
        let m = try makeMachine(nopsThenLoop, syncRegs: false)
        #expect(try run(m, .step).reason == .stepped)  // flushes the boot state, invalidates the cache
        let counter = m.counter(thread: 1)
        var before = counter.snapshot()
        _ = try m.readRegister(regnum("rax"), thread: 1)
        _ = try m.readRegister(regnum("rip"), thread: 1)
        _ = try m.readRegister(regnum("rax"), thread: 1)
        #expect(counter.since(before) == ["KVM_GET_REGS": 1])
        before = counter.snapshot()
        _ = try m.readRegister(regnum("cr3"), thread: 1)
        _ = try m.readRegister(regnum("cr0"), thread: 1)
        #expect(counter.since(before) == ["KVM_GET_SREGS": 1])
        before = counter.snapshot()
        m.writeRegisterChecked("rax", bytes64(42))
        #expect(try run(m, .step).reason == .stepped)
        let cost = counter.since(before)
        #expect(cost["KVM_SET_REGS"] == 1)
        #expect(cost["KVM_SET_SREGS"] == nil)
        #expect(cost["KVM_GET_REGS"] == nil)
    }

    @Test func withSyncRegsAStepIsOneRunAndNoRegisterIoctl() throws {
        let m = try makeMachine(nopsThenLoop, syncRegs: true)
        _ = try run(m, .step)  // first step sets guest debug
        let counter = m.counter(thread: 1)
        let before = counter.snapshot()
        for _ in 0..<2 {
            #expect(try run(m, .step).reason == .stepped)
            _ = try m.readRegister(regnum("rip"), thread: 1)
            _ = try m.readRegister(regnum("cr3"), thread: 1)
        }
        #expect(counter.since(before) == ["KVM_RUN": 2])
        m.writeRegisterChecked("rbx", bytes64(7))
        let before2 = counter.snapshot()
        _ = try run(m, .step)
        // A step right after a write: the registers go in first and the step is set again at their rip. KVM keeps a
        // step's TF across a register write only at the rip it noted at KVM_SET_GUEST_DEBUG (singlestep_rip); in
        // kvm_dirty_regs the write would come after that and, on architectural KVM, run the guest away
        // (gdb-scripts/step-after-write.gdb in the nested rig).
        #expect(counter.since(before2) == ["KVM_SET_REGS": 1, "KVM_SET_GUEST_DEBUG": 1, "KVM_RUN": 1])
        #expect(u64(try m.readRegister(regnum("rbx"), thread: 1)) == 7)
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x1000a)  // one instruction further (inc rax)
        let before3 = counter.snapshot()
        _ = try run(m, .step)
        #expect(counter.since(before3) == ["KVM_RUN": 1])  // and the next step is one ioctl again
    }

    @Test(arguments: [SoftwareBreakpointStrategy.hardwareThenHalt])
    func breakpointsStopAtTheirAddressAndReadAsOriginalBytes(strategy: SoftwareBreakpointStrategy) throws {
        // 8 x inc rax (3 bytes each), then jmp $
        let code = [UInt8](repeating: 0, count: 0).appending(contentsOf: (0..<8).flatMap { _ in [0x48, 0xFF, 0xC0] as [UInt8] }) + [0xEB, 0xFE]
        let m = try makeMachine(code, strategy: strategy)
        // Six breakpoints: four take the debug registers, two are HLT patches.
        let addresses: [UInt64] = (1...6).map { 0x10000 + 3 * $0 }
        for a in addresses { try m.insertBreakpoint(.software, at: a, length: 1) }
        #expect(try m.readMemory(at: 0x10000, count: code.count, thread: 1) == code)
        for a in addresses {
            let stop = try run(m, .continue)
            #expect(stop.reason == .softwareBreakpoint)
            #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == a)
            // gdb steps over a breakpoint with it removed.
            try m.removeBreakpoint(.software, at: a, length: 1)
            #expect(try run(m, .step).reason == .stepped)
        }
        #expect(u64(try m.readRegister(regnum("rax"), thread: 1)) == 7)
        #expect(try m.readMemory(at: 0x10000, count: code.count, thread: 1) == code)
    }

    @Test func memoryReadsWalkThePageTablesAndStopAtUnmappedPages() throws {
        let m = try makeMachine(nopsThenLoop)
        #expect(try m.readMemory(at: 0x10000, count: 4, thread: 1) == [0x90, 0x90, 0xB8, 0x34])
        // The identity map covers 4 GiB, RAM only 4 MiB: a read running past RAM returns what was readable.
        #expect(try m.readMemory(at: (4 << 20) - 16, count: 64, thread: 1).count == 16)
        #expect(throws: TargetError.badAddress(0x1_0000_0000)) { try m.readMemory(at: 0x1_0000_0000, count: 4, thread: 1) }
        #expect(throws: TargetError.badAddress(0x8000_0000_0000)) { try m.readMemory(at: 0x8000_0000_0000, count: 1, thread: 1) }
        try m.writeMemory(at: 0x20000, bytes: [1, 2, 3], thread: 1)
        #expect(try m.readMemory(at: 0x20000, count: 3, thread: 1) == [1, 2, 3])
        #expect(throws: TargetError.self) { try m.writeMemory(at: (4 << 20) - 2, bytes: [1, 2, 3, 4], thread: 1) }
        #expect(try m.readMemory(at: (4 << 20) - 2, count: 2, thread: 1) == [0, 0])  // all or nothing
    }

    @Test func guestExitPortAndHaltAreReported() throws {
        // mov al, 42; out 0xf4, al
        let exits = try makeMachine([0xB0, 42, 0xE6, 0xF4, 0xEB, 0xFE])
        #expect(try run(exits, .continue).reason == .exited(status: 42))
        // cli; hlt
        let halts = try makeMachine([0xFA, 0xF4])
        guard case .fault(17, _) = try run(halts, .continue).reason else {
            Issue.record("HLT with interrupts off should stop with signal 17")
            return
        }
    }

    @Test func interruptStopsARunningGuest() throws {
        let m = try makeMachine([0xEB, 0xFE])  // jmp $
        #expect(try m.resume([:], otherThreads: .continue) == .running)
        usleep(20_000)
        m.interrupt()
        var pfd = pollfd(fd: m.stopNotificationFD, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pfd, 1, 5000) == 1)
        #expect(m.takeStop() == StopEvent(thread: 1, reason: .interrupted))
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10000)
    }
}

extension Machine {
    func writeRegisterChecked(_ name: String, _ value: [UInt8]) {
        do { try writeRegister(regnum(name), value: value, thread: 1) } catch { Issue.record("write \(name): \(error)") }
    }
}

extension Array {
    func appending(contentsOf other: [Element]) -> [Element] { self + other }
}

@Suite(.enabled(if: kvmAvailable, "needs /dev/kvm"))
struct DebugRegisterTests {
    // mov qword [0x20000], rax (48 89 04 25 00 00 02 00); inc rax; jmp back to the store
    let storeLoop: [UInt8] = [0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0x48, 0xFF, 0xC0, 0xEB, 0xF3]

    /// nil: whatever the host probe chose (debug registers on real KVM, single steps on kvm_pvm).
    @Test(arguments: [nil, WatchpointStrategy.singleStep])
    func writeWatchpointStopsAfterTheStore(strategy: WatchpointStrategy?) throws {
        let m = try makeMachine(storeLoop, watchpoints: strategy)
        try m.insertBreakpoint(.writeWatchpoint, at: 0x20000, length: 8)
        let stop = try run(m, .continue)
        #expect(stop.reason == .watchpoint(.writeWatchpoint, address: 0x20000))
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10008)  // trap-like: after the store
    }

    @Test func hardwareBreakpointStopsBeforeTheInstruction() throws {
        let m = try makeMachine(storeLoop)
        try m.insertBreakpoint(.hardware, at: 0x10008, length: 1)
        #expect(try run(m, .continue).reason == .hardwareBreakpoint)
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10008)
    }

    @Test func withAnInKernelIRQChipHaltPatchesAreRefusedNotLost() throws {
        // HLT stays inside KVM with an in-kernel LAPIC: a fifth `break` must fail loudly, not never hit.
        let code: [UInt8] = (0..<8).flatMap { _ in [0x48, 0xFF, 0xC0] as [UInt8] } + [0xEB, 0xFE]
        let m = try makeMachine(code, strategy: .hardwareThenHalt, irqChip: true)
        for i in 0..<4 { try m.insertBreakpoint(.software, at: 0x10000 + 3 * UInt64(i), length: 1) }
        #expect(throws: TargetError.self) { try m.insertBreakpoint(.software, at: 0x1000c, length: 1) }
        #expect(try m.readMemory(at: 0x1000c, count: 1, thread: 1) == [0x48])
        // The four in debug registers still stop the guest, interrupt controller or not.
        let stop = try run(m, .continue)
        #expect(stop.reason == .softwareBreakpoint)
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10000)
    }

    @Test func aFifthDebugRegisterIsRefused() throws {
        let m = try makeMachine(storeLoop)
        for i in 0..<4 { try m.insertBreakpoint(.hardware, at: 0x10000 + UInt64(i), length: 1) }
        #expect(throws: TargetError.noSpace("all four debug registers are in use")) {
            try m.insertBreakpoint(.hardware, at: 0x10004, length: 1)
        }
        // Watchpoints beyond the debug registers are page protection (PageWatchpointsTests.swift), read ones too.
        try m.insertBreakpoint(.readWatchpoint, at: 0x20000, length: 8)
        try m.insertBreakpoint(.accessWatchpoint, at: 0x20008, length: 8)
        try m.insertBreakpoint(.writeWatchpoint, at: 0x20001, length: 8)  // unaligned: no register could
        #expect(m.monitor("breakpoints")?.components(separatedBy: ": page protection, phys page").count == 4)
        _ = m.monitor("watch-strategy debug-registers")
        #expect(throws: TargetError.noSpace("all four debug registers are in use")) {
            try m.insertBreakpoint(.writeWatchpoint, at: 0x20010, length: 8)
        }
    }
}

/// The int3 strategy: the trap byte in guest memory, the saved byte in every read, writes over a breakpoint,
/// removal; hits where the host lets an int3 reach kvmstub (KVM_EXIT_DEBUG on real KVM, an emulation-failure
/// exit where CPL0 code is emulated), and a guest's own int3 still reaching the guest's handler.
@Suite(.enabled(if: kvmAvailable, "needs /dev/kvm"))
struct Int3BookkeepingTests {
    /// lidt [0x13000]; nop; int3; hlt — and a #BP handler at 0x11000: mov rax, [rsp] (the pushed rip); hlt.
    static let guestInt3: [UInt8] = [0x0F, 0x01, 0x1C, 0x25, 0x00, 0x30, 0x01, 0x00, 0x90, 0xCC, 0xF4]

    @Test func aGuestsOwnInt3ReachesItsHandlerWithRipPastIt() throws {
        let m = try makeMachine(Self.guestInt3, strategy: .int3)
        let handler: UInt64 = 0x11000, idt: UInt64 = 0x12000
        m.memory.write(handler, [0x48, 0x8B, 0x04, 0x24, 0xF4])
        m.memory.writeUInt64(idt + 3 * 16, (handler & 0xffff) | 0x08 << 16 | 0x8E00 << 32 | (handler >> 16 & 0xffff) << 48)
        m.memory.writeUInt64(idt + 3 * 16 + 8, handler >> 32)
        m.memory.write(0x13000, [0x3F, 0x00] + bytes64(idt))  // limit 63, base
        // A breakpoint of ours elsewhere, so that int3s are being caught (USE_SW_BP, or the emulator's exit).
        try m.insertBreakpoint(.software, at: 0x10008, length: 1)
        #expect(try run(m, .continue).reason == .softwareBreakpoint)
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10008)
        try m.removeBreakpoint(.software, at: 0x10008, length: 1)
        let stop = try run(m, .continue)  // the guest's int3: its handler runs and halts
        #expect(stop.reason != .softwareBreakpoint)
        #expect(u64(try m.readRegister(regnum("rax"), thread: 1)) == 0x1000a)  // #BP pushed the rip after the int3
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == handler + 5)  // after its hlt
    }

    /// FWAIT: nothing pending, it is a no-op; with an unmasked x87 exception pending (FSW.ES) and CR0.NE, #MF at
    /// the FWAIT. KVM's emulator has no x87, so where CPL0 code is emulated kvmstub finishes it (EmulatorGaps).
    @Test(arguments: [false, true])
    func fwaitRunsOrRaisesMF(pending: Bool) throws {
        // lidt [0x13000]; fwait; mov eax, 0x42; hlt — and a #MF handler at 0x11000: mov rax, [rsp]; hlt.
        let code: [UInt8] = [0x0F, 0x01, 0x1C, 0x25, 0x00, 0x30, 0x01, 0x00, 0x9B, 0xB8, 0x42, 0x00, 0x00, 0x00, 0xF4]
        let m = try makeMachine(code)
        let handler: UInt64 = 0x11000, idt: UInt64 = 0x12000
        m.memory.write(handler, [0x48, 0x8B, 0x04, 0x24, 0xF4])
        m.memory.writeUInt64(idt + 16 * 16, (handler & 0xffff) | 0x08 << 16 | 0x8E00 << 32 | (handler >> 16 & 0xffff) << 48)
        m.memory.writeUInt64(idt + 16 * 16 + 8, handler >> 32)
        m.memory.write(0x13000, [0xFF, 0x01] + bytes64(idt))  // limit 511, base
        if pending {
            let cr0 = u64(try m.readRegister(regnum("cr0"), thread: 1))
            try m.writeRegister(regnum("cr0"), value: bytes64(cr0 | 0x20), thread: 1)  // NE
            try m.writeRegister(regnum("fctrl"), value: [0x7B, 0x03, 0, 0], thread: 1)  // ZE unmasked
            try m.writeRegister(regnum("fstat"), value: [0x84, 0x00, 0, 0], thread: 1)  // ZE and ES: #MF is owed
        }
        _ = try run(m, .continue)
        if pending {
            #expect(u64(try m.readRegister(regnum("rax"), thread: 1)) == 0x10008)  // #MF is a fault: at the FWAIT
            #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == handler + 5)
        } else {
            #expect(u64(try m.readRegister(regnum("rax"), thread: 1)) == 0x42)
        }
    }

    /// A step over FWAIT is one instruction, whoever finishes it (the CPU, or kvmstub for KVM's emulator).
    @Test func aStepOverFWAITIsOneInstruction() throws {
        let m = try makeMachine([0x9B, 0xB8, 0x42, 0x00, 0x00, 0x00, 0xF4])  // fwait; mov eax, 0x42; hlt
        #expect(try run(m, .step).reason == .stepped)
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10001)
        #expect(u64(try m.readRegister(regnum("rax"), thread: 1)) != 0x42)
        #expect(try run(m, .step).reason == .stepped)
        #expect(u64(try m.readRegister(regnum("rax"), thread: 1)) == 0x42)
    }

    @Test func int3BreakpointsStopWhereTheHostLetsThemReachUs() throws {
        guard try HostProfile.of(KVMSystem()).int3 != .deliveredToGuest else { return }
        // 8 x inc rax, then jmp $: eight breakpoints, more than the four debug registers.
        let code: [UInt8] = (0..<8).flatMap { _ in [0x48, 0xFF, 0xC0] as [UInt8] } + [0xEB, 0xFE]
        let m = try makeMachine(code, strategy: .int3)
        let addresses: [UInt64] = (0..<8).map { 0x10000 + 3 * $0 }
        for a in addresses { try m.insertBreakpoint(.software, at: a, length: 1) }
        for (i, a) in addresses.enumerated() {
            #expect(try run(m, .continue).reason == .softwareBreakpoint)
            #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == a)
            #expect(u64(try m.readRegister(regnum("rax"), thread: 1)) == UInt64(i))
            try m.removeBreakpoint(.software, at: a, length: 1)  // gdb steps over a breakpoint with it removed
            #expect(try run(m, .step).reason == .stepped)
            if i < 7 { try m.insertBreakpoint(.software, at: a, length: 1) }
        }
        #expect(try m.readMemory(at: 0x10000, count: code.count, thread: 1) == code)
    }

    @Test func int3IsPatchedInAndShadowedInReads() throws {
        let m = try makeMachine(nopsThenLoop, strategy: .int3)
        try m.insertBreakpoint(.software, at: 0x10002, length: 1)
        #expect(m.memory.read(0x10002, count: 1) == [0xCC])  // what the guest would execute
        #expect(try m.readMemory(at: 0x10000, count: 4, thread: 1) == [0x90, 0x90, 0xB8, 0x34])  // what gdb sees
        try m.writeMemory(at: 0x10001, bytes: [0x91, 0xB9], thread: 1)  // gdb writes over the breakpoint
        #expect(m.memory.read(0x10001, count: 2) == [0x91, 0xCC])  // the trap stays
        #expect(try m.readMemory(at: 0x10001, count: 2, thread: 1) == [0x91, 0xB9])
        #expect(m.monitor("breakpoints")?.contains("trap 0xcc saved 0xb9") == true)
        try m.removeBreakpoint(.software, at: 0x10002, length: 1)
        #expect(m.memory.read(0x10001, count: 2) == [0x91, 0xB9])  // the new original comes back
        #expect(m.debugStateForTests(step: false).control == 0)  // nothing left: guest debug off
    }

    @Test func int3StrategyAsksForUseSwBp() throws {
        let m = try makeMachine(nopsThenLoop, strategy: .int3)
        try m.insertBreakpoint(.software, at: 0x10002, length: 1)
        let state = m.debugStateForTests(step: false)
        #expect(state.control == 0x1 | 0x10000)  // ENABLE | USE_SW_BP
        #expect(m.debugStateForTests(step: true).control & 0x2 == 0x2)  // SINGLESTEP
    }
}

import CKVM
import GDBStub
import Glibc
import KVM
import Registers
import Synchronization

public struct MachineConfiguration: Sendable {
    public var memorySize: Int = 128 << 20
    public var vcpuCount: Int = 1
    /// Where the serial port's output goes.
    public var serialFD: Int32 = 1
    /// nil: probe the host at start-up.
    public var breakpointStrategy: SoftwareBreakpointStrategy? = nil
    /// nil: probe the host at start-up.
    public var watchpointStrategy: WatchpointStrategy? = nil
    /// Use kvm_run->s.regs (KVM_CAP_SYNC_REGS) when the host has it.
    public var useSyncRegs: Bool = true
    /// KVM_GUESTDBG_BLOCKIRQ on steps, where the kernel lists it.
    public var blockIRQWhileStepping: Bool = true
    /// Hand single steps to the vCPU threads instead of running them on the caller's (for measurements).
    public var stepOnVCPUThreads = false
    /// The registers gdb is offered: x86-64, or i8086 for a real-mode image (Machine+RealMode.swift).
    public var targetDescription: X86TargetDescription = .x86_64

    /// `run --kernel`: in-kernel PIC/IOAPIC/LAPIC and PIT, a 16550A with IRQ 4, unbacked MMIO reading all ones
    /// (LinuxBoot.swift). Off for the example guests, which rely on HLT exits that an in-kernel LAPIC swallows.
    public var linuxPlatform = false
    /// Which addresses gdb's memory map lists (Machine+MemoryMap.swift).
    public var memoryMap: GuestMemoryMap = .none
    /// `run --irqchip`: the in-kernel PIC/IOAPIC/LAPIC and PIT for an example guest that wants a timer
    /// interrupt (examples/timer). HLT then waits for an interrupt inside KVM instead of exiting, so the
    /// hw-then-hlt strategy has only its four debug registers; the guest still ends through port 0xf4.
    public var inKernelIRQChip = false
    /// Either way there is an in-kernel interrupt controller.
    var hasInKernelIRQChip: Bool { linuxPlatform || inKernelIRQChip }

    public init() {}
}

/// One vCPU, its register file and its thread. Fields marked (lock) belong to `Machine.control`.
final class VCPUContext: @unchecked Sendable {
    let vcpu: VCPU
    let backend: X86Backend
    let registers: RegisterFile
    var thread = pthread_t()
    /// (lock) What to do next; taken by the vCPU thread.
    var command: RunCommand?
    /// (lock) Inside its run loop.
    var running = false
    /// (lock) Parked on HLT with nothing to wake it.
    var halted = false
    /// (lock) For `info threads` and `monitor vcpus`.
    var lastExit = "none yet"
    /// The last exit's instruction was finished by kvmstub (Machine+EmulatorGaps.swift): a step is complete.
    var finishedInstruction = false
    /// The guest-debug state last given to the kernel, so KVM_SET_GUEST_DEBUG is called only on a change.
    var appliedDebug: GuestDebugState?
    /// Virtual page → physical page, valid until the next run.
    var translations: [UInt64: UInt64] = [:]
    /// The counter snapshot at attach, for `monitor sync-stats`.
    var statsBase: [String: Int] = [:]
    /// What `vCont;r` did since then (Machine+RangeStep.swift).
    var rangeSteps = RangeStepCount()

    init(vcpu: VCPU, table: RegisterTable, syncRegs: Bool, xsave: RegisterTable.XSAVELayout?, useXSAVE: Bool) {
        self.vcpu = vcpu
        backend = X86Backend(vcpu: vcpu, table: table, syncRegs: syncRegs, useXSAVE: useXSAVE, xsaveLayout: xsave)
        registers = RegisterFile(backend: backend)
    }
}

struct GuestDebugState: Equatable {
    var control: UInt32
    var debugRegisters: [UInt64]
}

/// How a vCPU's run loop ended.
enum RunOutcome {
    /// Something gdb must hear about: all-stop the others and report it.
    case stop(StopReason)
    /// Kicked out of KVM_RUN by the all-stop or an interrupt.
    case kicked
    /// HLT with no interrupt controller to wake it: the vCPU parks. Only when every vCPU is parked is it a
    /// stop (an SMP guest's secondary vCPUs halt when their work is done; the boot vCPU goes on).
    case halted(rip: UInt64)
}

struct RunCommand {
    let action: ResumeAction
    let debug: GuestDebugState
    /// Write watchpoints to check after every step (`WatchpointStrategy.singleStep`): address, length.
    var steppedWatches: [(address: UInt64, length: Int)] = []
    /// Run on the session's thread: gdb's socket, whose input (routed as a signal) ends the run.
    var interruptFD: Int32? = nil
}

/// The minimal VMM: guest RAM, one thread per vCPU, port I/O, and the `DebugTarget` gdb talks to.
public final class Machine: DebugTarget, @unchecked Sendable {
    public let kvm: KVMSystem
    public let capabilities: KVMCapabilities
    public let vm: VirtualMachine
    public let memory: GuestMemory
    public let configuration: MachineConfiguration
    public let registerTable: RegisterTable
    public internal(set) var strategy: SoftwareBreakpointStrategy
    /// What the start-up probe found int3 to do here (nil when --sw-breakpoints chose the strategy).
    public let int3Finding: Int3Finding?
    /// The host queues #UD with an emulation-failure exit (probed; upstream KVM does, kvm_pvm does not). Unknown
    /// when --sw-breakpoints chose the strategy: then assume it does.
    var emulationFailureQueuesUD = true
    public let watchpointStrategy: WatchpointStrategy
    let contexts: [VCPUContext]
    let ports: PortIO

    let control = Condition()
    let notifier = EventNotifier()
    /// Set when every vCPU must leave KVM_RUN (all-stop); read by the vCPU threads after EINTR.
    let stopRequested = Atomic<Bool>(false)

    // (lock) Run state.
    var runningCount = 0
    var firstStop: StopEvent?
    var pendingStop: StopEvent?
    var lastStop: StopEvent
    var debuggerAttached = false
    var shuttingDown = false

    // Session thread only, while every vCPU is stopped.
    var breakpoints: BreakpointTable
    /// When each vCPU stopped, and what KVM_KVMCLOCK_CTRL said on resume (Machine+KVMClock.swift).
    public let pauseClock = GuestPauseClock()
    /// A Linux kernel's link-time text address, set by `loadLinux` (Machine+KASLR.swift).
    var linuxTextLinkAddress: UInt64?
    public var blockIRQWhileStepping: Bool
    /// Hand single steps to the vCPU threads instead of running them on the caller's (for measurements).
    public var stepOnVCPUThreads = false
    /// gdb's socket while a session is attached (session thread only).
    var interruptFD: Int32?
    /// The exit status the guest asked for through the exit port, once it has.
    public private(set) var guestExitStatus: UInt8?
    /// Called on a vCPU thread when the guest stops with no debugger attached (exit port, fault).
    public var unattendedStop: (@Sendable (StopEvent) -> Void)?

    public init(configuration: MachineConfiguration = MachineConfiguration(), kvm: KVMSystem? = nil) throws {
        self.configuration = configuration
        let kvm = try kvm ?? KVMSystem()
        self.kvm = kvm
        capabilities = KVMCapabilities(kvm)
        if let chosen = configuration.breakpointStrategy {
            strategy = chosen
            int3Finding = nil
        } else {
            let (finding, queuesUD) = try SoftwareBreakpointProbe.probeInDetail(kvm)
            int3Finding = finding
            strategy = finding.strategy
            emulationFailureQueuesUD = queuesUD
        }
        breakpoints = BreakpointTable(strategy: strategy)
        watchpointStrategy = try configuration.watchpointStrategy ?? DataBreakpointProbe.run(kvm)
        blockIRQWhileStepping = configuration.blockIRQWhileStepping
        stepOnVCPUThreads = configuration.stepOnVCPUThreads
        vm = try kvm.createVM()
        try vm.setTSSAddress(0xfffb_d000)
        if configuration.hasInKernelIRQChip { try LinuxBoot.createPlatform(vm) }  // before the vCPUs
        memory = try GuestMemory(size: configuration.memorySize)
        try vm.mapMemory(guestPhysical: 0, size: configuration.memorySize, host: memory.host)
        let syncRegs = configuration.useSyncRegs && capabilities.syncRegs & CKVM_SYNC_X86_REGS != 0
            && capabilities.syncRegs & CKVM_SYNC_X86_SREGS != 0
        let layout = capabilities.xsave ? HostCPU.xsaveLayout() : nil
        let table =
            configuration.targetDescription == .i8086
            ? RegisterTable.i386(architecture: "i8086")
            : RegisterTable.x86_64(extended: .init(xsave: layout, msrs: (try? kvm.msrIndexList()) ?? []))
        registerTable = table
        var contexts: [VCPUContext] = []
        for i in 0..<configuration.vcpuCount {
            let vcpu = try vm.createVCPU(index: i)
            // Linux on a host that emulates CPL0 code (probed: data breakpoints never fire) must not see features
            // whose instructions KVM's emulator lacks (VCPU.emulatorMissing).
            try vcpu.setCPUID(
                fromSupportedOf: kvm,
                hiding: Self.hidesEmulatorGaps(configuration, watchpointStrategy) ? VCPU.emulatorMissing : [])
            _ = ckvm_unblock_all_in_run(vcpu.fd)
            contexts.append(
                VCPUContext(vcpu: vcpu, table: table, syncRegs: syncRegs, xsave: layout, useXSAVE: capabilities.xsave))
        }
        self.contexts = contexts
        ports = PortIO(
            serialFD: configuration.serialFD,
            uart: configuration.linuxPlatform ? LinuxBoot.makeUART(vm, fd: configuration.serialFD) : nil)
        lastStop = StopEvent(thread: 1, reason: .stepped)
        X86Boot.writeTables(memory)
        VCPUSignal.install()
    }

    deinit {
        control.withLock {
            shuttingDown = true
            control.broadcast()
        }
    }

    // MARK: Loading

    /// Copy an ELF image into guest RAM and point every vCPU at its entry in long mode.
    public func load(_ image: ELFImage, name: String) throws {
        for s in image.segments where s.memorySize > 0 {  // an empty PT_LOAD (no data, no bss) loads nothing
            guard s.physicalAddress >= X86Boot.reservedEnd else {
                throw LoadError(
                    "\(name): segment at 0x\(String(s.physicalAddress, radix: 16)) overlaps the boot page tables below 0x8000")
            }
            guard memory.contains(s.physicalAddress, count: s.memorySize) else {
                throw LoadError(
                    "\(name): segment at 0x\(String(s.physicalAddress, radix: 16)) (+\(s.memorySize) bytes) lies outside guest RAM (\(memory.size >> 20) MiB)")
            }
            memory.write(s.physicalAddress, image.bytes[s.fileOffset..<s.fileOffset + s.fileSize])
            if s.memorySize > s.fileSize,
                let p = memory.pointer(s.physicalAddress + UInt64(s.fileSize), count: s.memorySize - s.fileSize)
            {
                memset(p, 0, s.memorySize - s.fileSize)
            }
        }
        let stackTop = UInt64(memory.size) & ~0xf
        guard UInt64(contexts.count) * 0x10000 + X86Boot.reservedEnd < stackTop else {
            throw LoadError("\(contexts.count) vCPUs need \(contexts.count * 64) KiB of stack: more than the guest RAM")
        }
        let apEntry = image.symbols[Self.secondaryEntrySymbol]
        if contexts.count > 1 && apEntry == nil {
            throw LoadError(
                "\(name) has no `\(Self.secondaryEntrySymbol)` symbol: with --cpus \(contexts.count) the secondary vCPUs need an entry point")
        }
        for (i, ctx) in contexts.enumerated() {
            // Secondary vCPUs start at `ap_start` with rdi = their index and their own 64 KiB stack.
            try X86Boot.enterLongMode(
                ctx.backend, registers: ctx.registers, entry: i == 0 ? image.entry : apEntry!,
                stack: stackTop - UInt64(i) * 0x10000, firstArgument: UInt64(i))
            // An in-kernel LAPIC holds a secondary vCPU until INIT/SIPI; ours start at `ap_start` instead.
            if i > 0 && configuration.hasInKernelIRQChip { try ctx.vcpu.setMPState(CKVM_MP_STATE_RUNNABLE) }
        }
    }

    /// The ELF symbol where secondary vCPUs start (there is no interrupt controller to send them SIPIs).
    public static let secondaryEntrySymbol = "ap_start"

    /// Copy raw code into guest RAM at `address` and start every vCPU there in long mode (tests, probes).
    public func loadFlat(_ code: [UInt8], at address: UInt64) throws {
        guard address >= X86Boot.reservedEnd, memory.write(address, code) else {
            throw LoadError("flat image at 0x\(String(address, radix: 16)) does not fit in guest RAM")
        }
        for (i, ctx) in contexts.enumerated() {
            try X86Boot.enterLongMode(
                ctx.backend, registers: ctx.registers, entry: address,
                stack: (UInt64(memory.size) & ~0xf) - UInt64(i) * 0x10000, firstArgument: UInt64(i))
        }
    }

    // MARK: Threads

    /// Start the vCPU threads. With `running`, the guest runs at once; otherwise it waits for a debugger.
    public func start(running: Bool) {
        for ctx in contexts {
            let box = Unmanaged.passRetained(ThreadBox(machine: self, context: ctx)).toOpaque()
            var tid = pthread_t()
            pthread_create(
                &tid, nil,
                { arg in
                    let box = Unmanaged<ThreadBox>.fromOpaque(arg!).takeRetainedValue()
                    box.machine.vcpuThread(box.context)
                    return nil
                }, box)
            ctx.thread = tid
        }
        if running { _ = try? resume([:], otherThreads: .continue) }
    }

    private final class ThreadBox {
        let machine: Machine
        let context: VCPUContext
        init(machine: Machine, context: VCPUContext) {
            self.machine = machine
            self.context = context
        }
    }

    func vcpuThread(_ ctx: VCPUContext) {
        VCPUSignal.unblockInThisThread()  // the creating thread may block it (a test runner's pool does)
        control.lock()
        while true {
            while ctx.command == nil && !shuttingDown { control.wait() }
            if shuttingDown { break }
            let command = ctx.command!
            ctx.command = nil
            ctx.running = true
            ctx.halted = false
            // A kick that came before this run started must still stop it.
            ctx.vcpu.setImmediateExit(stopRequested.load(ordering: .relaxed))
            control.unlock()
            let outcome = execute(ctx, command)
            control.lock()
            ctx.running = false
            vcpuStopped(ctx, outcome)
        }
        control.unlock()
    }

    /// Runs until something gdb must hear about; nil when kicked out by the all-stop.
    /// True when gdb's socket holds a Ctrl-C (0x03) or has closed: a continue run inline must end. Anything
    /// else (a late ack) stays unread for the session.
    static func interruptPending(_ fd: Int32) -> Bool {
        var peek = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &peek, peek.count, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n == 0 { return true }
        if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR }
        return peek[0..<n].contains(0x03)
    }

    /// A kick signal left pending by input that was not an interrupt: take it, so the next KVM_RUN (which
    /// unblocks it) does not return at once, forever.
    static func takePendingKick() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, VCPUSignal.number)
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        while sigtimedwait(&set, nil, &zero) == VCPUSignal.number {}
    }

    /// Run one command on the calling thread and turn its outcome into the stop to report (the vCPU's own
    /// thread stays parked meanwhile).
    /// nil when a continue cannot be made interruptible here (no session socket, or routing its input as a
    /// signal failed): the caller hands it to the vCPU thread instead.
    func runInline(_ ctx: VCPUContext, _ command: RunCommand) -> StopEvent? {
        ctx.vcpu.setImmediateExit(false)
        control.withLock { ctx.halted = false }
        var command = command
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, VCPUSignal.number)
        var routed = false
        if case .rangeStep = command.action {
            // Its runs are single steps: the socket is peeked between them (Machine+RangeStep.swift).
            command.interruptFD = interruptFD
        } else if command.action == .continue {
            // Input on gdb's socket raises the kick signal in this thread (O_ASYNC, F_SETOWN_EX). It is blocked
            // here and unblocked only inside KVM_RUN (KVM_SET_SIGNAL_MASK), so one that arrives before the
            // ioctl ends it at once instead of being lost.
            guard let fd = interruptFD else { return nil }
            pthread_sigmask(SIG_BLOCK, &blocked, nil)
            guard ckvm_route_input_signal(fd, 1, VCPUSignal.number) == 0 else {
                pthread_sigmask(SIG_UNBLOCK, &blocked, nil)
                return nil
            }
            command.interruptFD = fd
            routed = true
        }
        defer {
            if routed, let fd = command.interruptFD {
                _ = ckvm_route_input_signal(fd, 0, 0)
                pthread_sigmask(SIG_UNBLOCK, &blocked, nil)  // a pending kick meets the no-op handler
            }
        }
        if let fd = command.interruptFD, Self.interruptPending(fd) {
            return StopEvent(thread: ctx.vcpu.index + 1, reason: .interrupted)
        }
        let outcome = execute(ctx, command)
        let thread = ctx.vcpu.index + 1
        let stop: StopEvent
        switch outcome {
        case .stop(let reason):
            if case .fault(_, let description) = reason { report("vCPU \(ctx.vcpu.index): \(description)") }
            stop = StopEvent(thread: thread, reason: reason)
        case .halted(let rip):
            control.withLock { ctx.halted = true }
            // Inline, nothing else moves: a continue that halts can go no further (a step onto HLT is a step).
            if command.action == .continue || contexts.allSatisfy({ $0 === ctx || $0.halted }) {
                report("vCPU \(ctx.vcpu.index): halted at rip 0x\(hex(rip))")
                stop = StopEvent(
                    thread: thread,
                    reason: .fault(signal: 17, description: "halted at rip 0x\(hex(rip)) with nothing to wake it (no interrupt controller)"))
            } else {
                stop = StopEvent(thread: thread, reason: .stepped)
            }
        case .kicked:
            stop = StopEvent(thread: thread, reason: .interrupted)
        }
        if case .exited(let status) = stop.reason { guestExitStatus = status }
        control.withLock { lastStop = stop }
        return stop
    }

    private func execute(_ ctx: VCPUContext, _ command: RunCommand) -> RunOutcome {
        do {
            if ctx.appliedDebug != command.debug {
                try ctx.vcpu.setGuestDebug(control: command.debug.control, debugRegisters: command.debug.debugRegisters)
                ctx.appliedDebug = command.debug
            }
            var watched = command.steppedWatches.map { readWatched(ctx, $0) }
            while true {
                try ctx.registers.flushBeforeRun()
                let exited = try ctx.vcpu.runOnce()
                ctx.registers.invalidateAfterRun()
                ctx.translations.removeAll(keepingCapacity: true)
                if !exited {
                    if stopRequested.load(ordering: .acquiring) {
                        ctx.lastExit = "interrupted (all-stop)"
                        return .kicked
                    }
                    if let fd = command.interruptFD {
                        if Self.interruptPending(fd) {
                            ctx.lastExit = "interrupted (Ctrl-C)"
                            return .kicked
                        }
                        Self.takePendingKick()  // input that is not a Ctrl-C (a late ack): run on
                    }
                    continue
                }
                ctx.finishedInstruction = false
                var handled = try handleExit(ctx)
                if handled == nil, ctx.finishedInstruction, command.action.steps { handled = .stop(.stepped) }
                guard let outcome = handled else { continue }
                if case .stop(.stepped) = outcome, !command.steppedWatches.isEmpty {
                    for (i, w) in command.steppedWatches.enumerated() {
                        let now = readWatched(ctx, w)
                        if now != watched[i] { return .stop(.watchpoint(.writeWatchpoint, address: w.address)) }
                        watched[i] = now
                    }
                    if command.action == .continue { continue }
                }
                if case .stop(.stepped) = outcome, case .rangeStep(let range) = command.action {
                    if let end = try rangeStepEnds(ctx, range, interruptFD: command.interruptFD) { return end }
                    continue
                }
                return outcome
            }
        } catch {
            // The rip this run was to start from, as the register file has it (gdb's writes included), taken
            // before the cache is dropped: the kernel may have refused what was flushed.
            let rip = GuestFault.RIP { try ripOf(ctx) }
            ctx.registers.invalidateAll()
            return .stop(.fault(signal: 4, description: GuestFault.failed(error, rip: rip)))
        }
    }

    /// (lock held) One vCPU left its run loop.
    private func vcpuStopped(_ ctx: VCPUContext, _ outcome: RunOutcome) {
        runningCount -= 1
        switch outcome {
        case .stop(let reason):
            if case .fault(_, let description) = reason { report("vCPU \(ctx.vcpu.index): \(description)") }
            if firstStop == nil {
                firstStop = StopEvent(thread: ctx.vcpu.index + 1, reason: reason)
                kickAll()
            }
        case .halted(let rip):
            ctx.halted = true
            if runningCount == 0 && firstStop == nil && !stopRequested.load(ordering: .relaxed) {
                let what = contexts.count == 1 ? "halted" : "halted, and so are all other vCPUs"
                let reason = StopReason.fault(
                    signal: 17, description: "\(what) at rip 0x\(hex(rip)) with nothing to wake it (no interrupt controller)")
                report("vCPU \(ctx.vcpu.index): \(what) at rip 0x\(hex(rip))")
                firstStop = StopEvent(thread: ctx.vcpu.index + 1, reason: reason)
            }
        case .kicked:
            break
        }
        guard runningCount == 0 else { return }
        let stop = firstStop ?? StopEvent(thread: lastStop.thread, reason: .interrupted)
        firstStop = nil
        stopRequested.store(false, ordering: .releasing)
        if case .exited(let status) = stop.reason { guestExitStatus = status }
        if debuggerAttached {
            pendingStop = stop
            notifier.signal()
        } else {
            lastStop = stop
            unattendedStop?(stop)
        }
        control.broadcast()
    }

    /// (lock held) All-stop: make every running vCPU leave KVM_RUN.
    func kickAll() {
        stopRequested.store(true, ordering: .releasing)
        for ctx in contexts where ctx.running {
            ctx.vcpu.setImmediateExit(true)
            pthread_kill(ctx.thread, VCPUSignal.number)
        }
    }

    func report(_ line: String) {
        let text = "kvmstub: \(line)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }

    // MARK: Exits

    private func handleExit(_ ctx: VCPUContext) throws -> RunOutcome? {
        if case .halted(let rip) = try haltCheck(ctx) { return .halted(rip: rip) }
        return try exitReason(ctx).map { .stop($0) }
    }

    private enum HaltCheck { case notHalt, halted(UInt64) }

    private func haltCheck(_ ctx: VCPUContext) throws -> HaltCheck {
        guard ckvm_run_exit_reason(ctx.vcpu.run) == CKVM_EXIT_HLT else { return .notHalt }
        let rip = try ripOf(ctx)
        if let phys = translate(ctx, rip &- 1), breakpoints.patch(atPhysical: phys)?.trap == 0xF4 { return .notHalt }
        ctx.lastExit = "HLT"
        return .halted(rip &- 1)
    }

    private func exitReason(_ ctx: VCPUContext) throws -> StopReason? {
        let run = ctx.vcpu.run
        let reason = ckvm_run_exit_reason(run)
        switch reason {
        case CKVM_EXIT_IO:
            ctx.lastExit = "IO"
            return handleIO(run)
        case CKVM_EXIT_DEBUG:
            ctx.lastExit = "DEBUG"
            return try handleDebug(ctx)
        case CKVM_EXIT_HLT:
            ctx.lastExit = "HLT"
            let rip = try ripOf(ctx)
            if let phys = translate(ctx, rip &- 1), let patch = breakpoints.patch(atPhysical: phys), patch.trap == 0xF4 {
                try ctx.registers.write(registerTable.pcRegnum, withUnsafeBytes(of: rip &- 1) { Array($0) })
                return .softwareBreakpoint
            }
            return nil  // not reached: haltCheck took every other HLT
        case CKVM_EXIT_MMIO:
            ctx.lastExit = "MMIO"
            if configuration.linuxPlatform {  // a PC bus: no device there, reads all ones, writes vanish
                if ckvm_run_mmio_is_write(run) == 0 { memset(ckvm_run_mmio_data(run), 0xff, 8) }
                return nil
            }
            let fault = GuestFault.unbackedAccess(
                write: ckvm_run_mmio_is_write(run) != 0, address: ckvm_run_mmio_phys_addr(run), rip: rip(ctx))
            return .fault(signal: 10, description: fault.description)
        case CKVM_EXIT_SHUTDOWN:
            ctx.lastExit = "SHUTDOWN"
            return .fault(signal: 11, description: GuestFault.tripleFault(rip: rip(ctx)).description)
        case CKVM_EXIT_FAIL_ENTRY:
            ctx.lastExit = "FAIL_ENTRY"
            let fault = GuestFault.failedEntry(hardwareReason: ckvm_run_fail_entry_reason(run), rip: rip(ctx))
            return .fault(signal: 4, description: fault.description)
        case CKVM_EXIT_INTERNAL_ERROR:
            ctx.lastExit = "INTERNAL_ERROR"
            let sub = ckvm_run_internal_suberror(run)
            if sub == CKVM_INTERNAL_ERROR_EMULATION, let done = try finishWhatTheEmulatorCouldNot(ctx) { return done.stop }
            return .fault(signal: 4, description: GuestFault.internalError(suberror: sub, rip: rip(ctx)).description)
        case CKVM_EXIT_SET_TPR:
            return nil  // the guest lowered CR8 with no in-kernel APIC: nothing to do but run on
        case CKVM_EXIT_SYSTEM_EVENT:
            ctx.lastExit = "SYSTEM_EVENT"
            let fault = GuestFault.systemEvent(type: ckvm_run_system_event_type(run), rip: rip(ctx))
            return .fault(signal: 11, description: fault.description)
        default:
            ctx.lastExit = "exit \(reason)"
            return .fault(signal: 4, description: GuestFault.unhandledExit(reason: reason, rip: rip(ctx)).description)
        }
    }

    private func handleIO(_ run: UnsafeMutablePointer<kvm_run>) -> StopReason? {
        let size = Int(ckvm_run_io_size(run))
        let count = Int(ckvm_run_io_count(run))
        let port = ckvm_run_io_port(run)
        let data = UnsafeMutableRawBufferPointer(start: ckvm_run_io_data(run), count: size * count)
        if ckvm_run_io_direction(run) == CKVM_EXIT_IO_OUT {
            if case .exit(let status) = ports.write(port: port, bytes: UnsafeRawBufferPointer(data)) {
                return .exited(status: status)
            }
        } else {
            ports.read(port: port, into: data)
        }
        return nil
    }

    private func handleDebug(_ ctx: VCPUContext) throws -> StopReason? {
        let run = ctx.vcpu.run
        let exception = ckvm_run_debug_exception(run)
        if exception == 3 {  // #BP from an int3: ours, or the guest's own to give back
            let pc = ckvm_run_debug_pc(run)
            if let phys = translate(ctx, pc), breakpoints.patch(atPhysical: phys)?.trap == 0xCC {
                return .softwareBreakpoint
            }
            var debug = ctx.appliedDebug ?? GuestDebugState(control: 0, debugRegisters: [])
            debug.control |= CKVM_GUESTDBG_INJECT_BP
            try ctx.vcpu.setGuestDebug(control: debug.control, debugRegisters: debug.debugRegisters)
            ctx.appliedDebug = nil  // the next run sets the plain state again
            return nil
        }
        let dr6 = ckvm_run_debug_dr6(run)
        for i in 0..<4 where dr6 & (1 << UInt64(i)) != 0 {
            guard let slot = breakpoints.slots[i] else { continue }
            switch slot.kind {
            case .software: return .softwareBreakpoint
            case .hardware: return .hardwareBreakpoint
            default: return .watchpoint(slot.kind, address: slot.address)
            }
        }
        return .stepped
    }

    /// The bytes under a single-stepped watchpoint (nil while unmapped: a mapping that appears is a change).
    private func readWatched(_ ctx: VCPUContext, _ w: (address: UInt64, length: Int)) -> [UInt8]? {
        guard let pa = translate(ctx, w.address) else { return nil }
        return memory.read(pa, count: w.length)
    }

    func ripOf(_ ctx: VCPUContext) throws -> UInt64 {
        let bytes = try ctx.registers.read(registerTable.pcRegnum) ?? []
        return bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }  // 8 bytes, or 4 (eip) with the i8086 table
    }

    // MARK: Translation

    /// Guest-virtual to guest-physical through the guest's page tables (cached until the next run).
    func translate(_ ctx: VCPUContext, _ virtual: UInt64) -> UInt64? {
        let page = virtual & ~0xfff
        if let p = ctx.translations[page] { return p | (virtual & 0xfff) }
        guard let walk = pageWalk(ctx), let (physical, _) = walk.translate(page) else { return nil }
        ctx.translations[page] = physical
        return physical | (virtual & 0xfff)
    }

    func pageWalk(_ ctx: VCPUContext) -> X86PageWalk? {
        guard (try? ctx.registers.ensure(.x86Sregs)) != nil else { return nil }
        let s = ctx.backend.sregs
        return X86PageWalk(cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer, memory: memory)
    }

    func context(_ thread: Int) throws(TargetError) -> VCPUContext {
        guard thread >= 1 && thread <= contexts.count else { throw .invalidArgument("no thread \(thread)") }
        return contexts[thread - 1]
    }

    func hex(_ v: UInt64) -> String { String(v, radix: 16) }

    /// The rip for a fault line: read through the register file, or why it could not be.
    private func rip(_ ctx: VCPUContext) -> GuestFault.RIP { GuestFault.RIP { try ripOf(ctx) } }
}

/// What the host CPU says about the XSAVE layout the kernel's KVM_GET_XSAVE uses (standard format:
/// CPUID leaf 0xD sub-leaf n gives component n's size in EAX and offset in EBX).
enum HostCPU {
    static func cpuid(_ leaf: UInt32, _ sub: UInt32 = 0) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        var r: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        withUnsafeMutablePointer(to: &r) { $0.withMemoryRebound(to: UInt32.self, capacity: 4) { ckvm_cpuid(leaf, sub, $0) } }
        return r
    }

    static func xsaveLayout() -> RegisterTable.XSAVELayout? {
        guard cpuid(0).eax >= 0xD, cpuid(1).ecx & (1 << 28) != 0 else { return nil }  // AVX
        let avx = cpuid(0xD, 2)
        guard avx.eax == 256 else { return nil }
        var layout = RegisterTable.XSAVELayout(avx: Int(avx.ebx))
        if cpuid(7).ebx & (1 << 16) != 0 {  // AVX512F
            let (k, hi, hi16) = (cpuid(0xD, 5), cpuid(0xD, 6), cpuid(0xD, 7))
            if k.eax == 64, hi.eax == 512, hi16.eax == 1024, hi16.ebx + 1024 <= 4096 {
                layout.opmask = Int(k.ebx)
                layout.zmmHi256 = Int(hi.ebx)
                layout.hi16ZMM = Int(hi16.ebx)
            }
        }
        return layout
    }
}

/// The signal that kicks a vCPU thread out of KVM_RUN. Its handler does nothing: the point is the EINTR.
enum VCPUSignal {
    static let number = SIGUSR1

    static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: KVM_RUN must return
        sigaction(number, &action, nil)
    }

    static func unblockInThisThread() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, number)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

import GDBStub
import Glibc
import GuestImage
import KVM
import Registers
import Synchronization

/// What `kvmstub run` asks of the arm64 VMM.
package struct ARM64MachineConfiguration: Sendable {
    package var memorySize = 128 << 20
    /// `--sve-vl BITS` (`.length`), `--no-sve` (`.none`); by default the largest length the host offers, or no
    /// SVE where the host has none.
    package var sve: ARM64Backend.SVEChoice = .largest
    /// Where the PL011's output goes (`--serial`): stdout by default.
    package var serialFD: Int32 = 1

    package init() {}
}

/// The arm64 VMM: RAM at QEMU virt's 0x4000_0000, one vCPU (KVM_ARM_PREFERRED_TARGET, PSCI 0.2 in the kernel,
/// SVE finalized at the chosen length), a PL011 (ARM64Platform.swift), and the `DebugTarget` gdb talks to
/// (ARM64Machine+DebugTarget.swift). The vCPU runs on a thread of its own (`start`); the session thread reads and
/// writes its state only while it is stopped, and the hand-over under `lock` orders the two.
///
/// One vCPU: the in-kernel PSCI would start others (CPU_ON), but each needs its own thread and the all-stop of
/// the x86 Machine; not done.
package final class ARM64Machine: @unchecked Sendable {
    package let kvm: KVMSystem
    package let capabilities: KVMCapabilities
    package let vm: VirtualMachine
    package let memory: GuestMemory
    package let vcpu: VCPU
    package let backend: ARM64Backend
    package let registers: RegisterFile
    package let configuration: ARM64MachineConfiguration
    /// The vector length the vCPU was finalized with, in bits; nil without SVE.
    package let sveVectorLength: Int?
    /// KVM_ARM_PREFERRED_TARGET's answer.
    package let target: UInt32
    let uart: PL011
    /// gdb regnums by ONE_REG ID, for the system registers the VMM reads through the register file.
    let regnumByID: [OneRegID: Int]

    // The run hand-over (`lock`/`condition`): the session thread sets `command`, the vCPU thread takes it, runs,
    // and leaves `pendingStop`; `running` is true from the command to the stop.
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var command: ResumeAction?
    private(set) var running = false
    private var pendingStop: StopEvent?
    private var shuttingDown = false
    private var vcpuThread: pthread_t?
    /// A Ctrl-C (or gdb attaching) wants the vCPU out of KVM_RUN.
    let stopRequested = Atomic<Bool>(false)
    /// The stop pipe: a byte per stop, read end polled by the session.
    let stopPipe: (read: Int32, write: Int32)

    // Session thread while stopped, vCPU thread while running.
    /// Inserted software breakpoints by guest-virtual address: where the BRK went and what it replaced.
    var softwareBreakpoints: [UInt64: (physical: UInt64, original: [UInt8])] = [:]
    /// Hardware breakpoint slots (dbg_bcr/bvr): the address, as many as KVM_CAP_GUEST_DEBUG_HW_BPS says.
    var hardwareBreakpoints: [UInt64?]
    /// Watchpoint slots (dbg_wcr/wvr), as many as KVM_CAP_GUEST_DEBUG_HW_WPS says.
    var watchpoints: [Watchpoint?]
    /// The KVM_SET_GUEST_DEBUG state last applied, so an unchanged one is not sent again.
    var appliedDebug: (control: GuestDebugControl, words: [UInt64])?
    var lastStop = StopEvent(thread: 1, reason: .stepped)
    var lastExit = "none yet"
    /// BRKs of the guest's own handed back to it (`monitor breakpoints`).
    var guestTrapsReturned = 0
    /// `vCont;r` resumes and the single steps they took (`monitor sync-stats`).
    var rangeResumes = 0
    var rangeSteps = 0
    var debuggerAttached = false
    var statsBase: [String: Int] = [:]

    struct Watchpoint {
        let kind: BreakpointKind
        let address: UInt64
        let length: Int
        let control: UInt64
        let value: UInt64
    }

    /// Called on the vCPU thread when the guest stops with no debugger attached (it powered off, or faulted).
    package var unattendedStop: (@Sendable (StopEvent) -> Void)?
    /// Where diagnostic lines go (a fault, a reset): stderr.
    package var diagnostics: @Sendable (String) -> Void = { text in _ = text.withCString { write(2, $0, strlen($0)) } }

    package init(configuration: ARM64MachineConfiguration, kvm: KVMSystem) throws(KVMError) {
        self.configuration = configuration
        self.kvm = kvm
        capabilities = KVMCapabilities(kvm)
        vm = try kvm.createVM()
        target = try vm.armPreferredTarget()
        memory = try GuestMemory(base: ARM64Platform.ramBase, size: configuration.memorySize)
        _ = try vm.mapMemory(guestPhysical: ARM64Platform.ramBase, size: configuration.memorySize, host: memory.host)
        vcpu = try vm.createVCPU(index: 0)
        var sve = configuration.sve
        if sve == .largest && !capabilities.armSVE { sve = .none }
        if case .length(let bits) = sve, !capabilities.armSVE {
            throw KVMError(
                operation: "--sve-vl \(bits): this host's KVM offers no SVE (KVM_CAP_ARM_SVE)", errno: EINVAL)
        }
        sveVectorLength = try ARM64Backend.initializeVCPU(vcpu, target: target, sve: sve)
        backend = try ARM64Backend(device: vcpu, sveVectorLength: sveVectorLength)
        registers = RegisterFile(backend: backend)
        var ids: [OneRegID: Int] = [:]
        for r in backend.table.registers where ids[r.id] == nil { ids[r.id] = r.regnum }
        regnumByID = ids
        hardwareBreakpoints = Array(
            repeating: nil,
            count: min(ARM64Architecture.maxDebugRegisters, max(0, Int(capabilities.hardwareBreakpoints))))
        watchpoints = Array(
            repeating: nil,
            count: min(ARM64Architecture.maxDebugRegisters, max(0, Int(capabilities.hardwareWatchpoints))))
        let fd = configuration.serialFD
        uart = PL011 { byte in
            var b = byte
            while write(fd, &b, 1) < 0 && errno == EINTR {}
        }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw KVMError(operation: "pipe", errno: errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        stopPipe = (fds[0], fds[1])
        pthread_mutex_init(lock, nil)
        pthread_cond_init(condition, nil)
        try? vcpu.unblockAllSignalsInRun()
        KickSignal.install()
    }

    deinit {
        withLock {
            shuttingDown = true
            pthread_cond_broadcast(condition)
        }
        close(stopPipe.read)
        close(stopPipe.write)
    }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return try body()
    }

    func report(_ line: String) { diagnostics("kvmstub: \(line)\n") }

    // MARK: Loading

    /// Copies the PT_LOAD segments to their physical addresses (each must lie in RAM) and sets the boot state:
    /// pc at the entry, EL1h with D, A, I and F masked, the MMU off (the reset value of SCTLR_EL1), SP_EL1 at the
    /// top of RAM, x0 0 (no device tree).
    package func load(_ image: ELFImage, name: String) throws(LoadError) {
        let end = ARM64Platform.ramBase + UInt64(memory.size)
        for s in image.segments {
            guard memory.contains(s.physicalAddress, count: s.memorySize) else {
                throw LoadError(
                    "\(name): a segment at 0x\(hex(s.physicalAddress)) (\(s.memorySize) bytes) lies outside RAM (0x\(hex(ARM64Platform.ramBase))-0x\(hex(end - 1)); --memory sizes it)"
                )
            }
            memory.write(s.physicalAddress, image.bytes[s.fileOffset..<s.fileOffset + s.fileSize])
            memory.synchronizeInstructions(s.physicalAddress, count: s.memorySize)
        }
        guard memory.contains(image.entry, count: 4) else {
            throw LoadError("\(name): the entry point 0x\(hex(image.entry)) lies outside RAM")
        }
        typealias R = ARM64SystemRegisterID
        do {
            try vcpu.setOneReg(R.pc, le(image.entry))
            try vcpu.setOneReg(R.pstate, le(0x3c5))  // EL1h, DAIF masked
            try vcpu.setOneReg(R.spEL1, le(end))
            try vcpu.setOneReg(ARM64ID.core(offset: ARM64ID.CoreOffset.x(0), byteSize: 8), le(0))
        } catch {
            throw LoadError("setting the boot state: \(error)")
        }
        registers.invalidateAll()
    }

    // MARK: The vCPU thread

    /// Starts the vCPU thread; with `running` the guest runs at once, else it waits for gdb's first resume.
    package func start(running: Bool) {
        if running { post(.continue) }
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        pthread_create(
            &thread, nil,
            { raw in
                let machine = Unmanaged<ARM64Machine>.fromOpaque(raw!).takeRetainedValue()
                machine.vcpuLoop()
                return nil
            }, box.toOpaque())
        pthread_detach(thread)
    }

    /// Hands the vCPU thread a run (the session thread, with the registers flushed and guest debug set).
    func post(_ action: ResumeAction) {
        withLock {
            command = action
            running = true
            pendingStop = nil
            pthread_cond_broadcast(condition)
        }
    }

    private func vcpuLoop() {
        KickSignal.blockInThisThread()  // KVM_RUN unblocks it (KVM_SET_SIGNAL_MASK): a kick never gets lost
        withLock { vcpuThread = pthread_self() }
        while true {
            pthread_mutex_lock(lock)
            while command == nil && !shuttingDown { pthread_cond_wait(condition, lock) }
            if shuttingDown {
                pthread_mutex_unlock(lock)
                return
            }
            let action = command!
            command = nil
            pthread_mutex_unlock(lock)
            let reason = run(action)
            let stop = StopEvent(thread: 1, reason: reason)
            let attached: Bool = withLock {
                running = false
                pendingStop = stop
                pthread_cond_broadcast(condition)  // attach() and kill() wait for this
                // No kick can come now (interrupt() kicks only while running): take any that came too late, so
                // the next KVM_RUN does not end at once.
                vcpu.setImmediateExit(false)
                KickSignal.takePending()
                stopRequested.store(false, ordering: .relaxed)
                return debuggerAttached
            }
            var byte: UInt8 = 1
            _ = write(stopPipe.write, &byte, 1)
            if !attached { unattendedStop?(stop) }
        }
    }

    /// Ctrl-C, or gdb attaching: the vCPU leaves KVM_RUN (immediate_exit and the kick signal) and stops.
    func kick() {
        withLock {
            guard running else { return }
            // Before the vCPU thread has named itself (gdb attaching just as `start` made it) there is nobody to
            // signal, but the request still stands: runUntilStop checks it before its first KVM_RUN.
            stopRequested.store(true, ordering: .relaxed)
            if let thread = vcpuThread { vcpu.kick(thread) }
        }
    }

    /// Waits (the session thread) until the vCPU thread has stopped.
    func waitUntilStopped() {
        pthread_mutex_lock(lock)
        while running { pthread_cond_wait(condition, lock) }
        pthread_mutex_unlock(lock)
    }

    /// The stop the vCPU thread left, if any.
    func takePendingStop() -> StopEvent? {
        var byte: UInt8 = 0
        while read(stopPipe.read, &byte, 1) == 1 {}
        return withLock {
            let stop = pendingStop
            pendingStop = nil
            return stop
        }
    }

    /// A resume to its stop: a range step (`vCont;r`) steps here while pc stays in the range and is not at one of
    /// gdb's breakpoints, so gdb's `next` costs one round trip a line instead of one an instruction.
    func run(_ action: ResumeAction) -> StopReason {
        guard case .rangeStep(let range) = action else { return runUntilStop(step: action.steps) }
        rangeResumes += 1
        while true {
            let reason = runUntilStop(step: true)
            guard case .stepped = reason, let pc = try? readCore(ARM64SystemRegisterID.pc) else { return reason }
            rangeSteps += 1
            if !range.contains(pc) || softwareBreakpoints[pc] != nil || hardwareBreakpoints.contains(pc) {
                return .stepped
            }
        }
    }

    /// Runs the vCPU until something gdb (or the run's owner) must hear of; `step`: one instruction.
    func runUntilStop(step: Bool) -> StopReason {
        while true {
            if stopRequested.load(ordering: .relaxed) { return .interrupted }
            let exit: VCPUExit
            do { exit = try vcpu.run() } catch {
                lastExit = "error"
                return .fault(signal: 11, description: "KVM_RUN failed: \(error)")
            }
            lastExit = exit.name
            switch exit {
            case .interrupted:
                if stopRequested.load(ordering: .relaxed) { return .interrupted }
                vcpu.setImmediateExit(false)
            case .mmio(let address, let isWrite, let data):
                if address >= ARM64Platform.uartBase && address - ARM64Platform.uartBase < ARM64Platform.uartSize {
                    // KVM finishes the access at the next KVM_RUN; a step's exit comes after it.
                    uart.access(offset: address - ARM64Platform.uartBase, isWrite: isWrite, data: data)
                    continue
                }
                return .fault(
                    signal: 10,
                    description:
                        "the guest \(isWrite ? "wrote" : "read") \(data.count) bytes at 0x\(hex(address)), outside RAM and the PL011 (0x\(hex(ARM64Platform.uartBase)))"
                )
            case .systemEvent(let type):
                guard let status = ARM64Platform.exitStatus(systemEvent: type) else {
                    return .fault(signal: 6, description: "KVM_EXIT_SYSTEM_EVENT of unknown type \(type)")
                }
                if type == ARM64Platform.SystemEvent.reset {
                    report("the guest asked for a reset (PSCI SYSTEM_RESET): the run ends with status 1")
                } else if type == ARM64Platform.SystemEvent.crash {
                    report("the guest reported a crash (KVM_SYSTEM_EVENT_CRASH): the run ends with status 2")
                }
                return .exited(status: status)
            case .debug(let e):
                switch ARM64Architecture.debugEvent(hsr: e.dr6, far: e.address) {
                case .step: return .stepped
                case .hardwareBreakpoint: return .hardwareBreakpoint
                case .watchpoint(let far):
                    let slots = watchpoints.map { w in w.map { (address: $0.address, length: $0.length) } }
                    guard
                        let i = ARM64Architecture.watchpointHit(
                            far: far, slots, kinds: watchpoints.map { $0?.kind },
                            write: ARM64Architecture.watchpointAccessIsWrite(hsr: e.dr6)),
                        let w = watchpoints[i]
                    else {
                        return .watchpoint(.accessWatchpoint, address: far)
                    }
                    return .watchpoint(w.kind, address: w.address)
                case .brk:
                    guard let pc = try? readCore(ARM64SystemRegisterID.pc) else {
                        return .fault(signal: 5, description: "a BRK trapped and pc cannot be read")
                    }
                    if softwareBreakpoints[pc] != nil { return .softwareBreakpoint }
                    if let at = ourBreakpoint(reachedAt: pc) {
                        // Not a swbreak stop: gdb, finding no breakpoint of its own at pc (and the original bytes
                        // there), would take it for a late trap of a removed one and resume into it for ever.
                        return .fault(
                            signal: 5,
                            description:
                                "pc 0x\(hex(pc)) is gdb's breakpoint at 0x\(hex(at)) reached through another alias of its page (the same guest-physical BRK)"
                        )
                    }
                    switch returnTrapToGuest(pc: pc, syndrome: e.dr6) {
                    case nil:
                        guestTrapsReturned += 1
                        if step { return .stepped }
                    case let why?:
                        return .fault(signal: 5, description: why)
                    }
                case .other(let ec):
                    return .fault(signal: 5, description: "a debug exit of exception class 0x\(hex(UInt64(ec)))")
                }
            case let other:
                return .fault(signal: 11, description: "KVM exit \(other.name), which an arm64 guest should not cause")
            }
        }
    }

    /// One of our BRKs reached through another alias of its page (code that also runs at its identity or a TTBR1
    /// address): ours by its guest-physical address, as the x86 Machine decides. Given back to the guest it would
    /// take a `BRK #0` it never wrote (Linux: "Unexpected kernel BRK exception"); gdb gets a SIGTRAP there instead.
    /// The breakpoint's own address, or nil. Read straight from the kernel: this is the vCPU thread, and the
    /// register file is the session's.
    private func ourBreakpoint(reachedAt pc: UInt64) -> UInt64? {
        typealias R = ARM64SystemRegisterID
        guard !softwareBreakpoints.isEmpty, let sctlr = try? readCore(R.sctlr), let tcr = try? readCore(R.tcr),
            let ttbr0 = try? readCore(R.ttbr0), let ttbr1 = try? readCore(R.ttbr1)
        else { return nil }
        let memory = memory
        let walk = ARM64PageWalk(sctlr: sctlr, tcr: tcr, ttbr0: ttbr0, ttbr1: ttbr1) { memory.readUInt64($0) }
        guard let (pa, _) = walk.translate(pc), memory.read(pa, count: 4) == ARM64Architecture.breakpointInstruction
        else { return nil }
        return softwareBreakpoints.first(where: { $0.value.physical == pa })?.key
    }

    /// A BRK of the guest's own, trapped because USE_SW_BP traps them all: take the exception the guest would
    /// have taken (ARM64Architecture.synchronousExceptionEntry). nil when done, else why it could not be.
    private func returnTrapToGuest(pc: UInt64, syndrome: UInt64) -> String? {
        typealias R = ARM64SystemRegisterID
        do {
            let pstate = try readCore(R.pstate)
            let vbar = try readCore(R.vbar)
            let sctlr = try readCore(R.sctlr)
            let hasPAN = ((try? readCore(R.idAA64MMFR1)) ?? 0) >> 20 & 0xf != 0
            guard
                let entry = ARM64Architecture.synchronousExceptionEntry(
                    pc: pc, pstate: pstate, vbar: vbar, esr: syndrome, sctlr: sctlr, hasPAN: hasPAN)
            else {
                return "a BRK at 0x\(hex(pc)) in a mode (pstate 0x\(hex(pstate))) no exception to EL1 comes from"
            }
            try vcpu.setOneReg(R.elrEL1, le(entry.elr))
            try vcpu.setOneReg(R.spsrEL1, le(entry.spsr))
            try vcpu.setOneReg(R.esr, le(entry.esr))
            try vcpu.setOneReg(R.pstate, le(entry.pstate))
            try vcpu.setOneReg(R.pc, le(entry.pc))
            return nil
        } catch {
            return "a BRK of the guest's own at 0x\(hex(pc)) could not be given back to it: \(error)"
        }
    }

    func readCore(_ id: OneRegID) throws(KVMError) -> UInt64 {
        let bytes = try vcpu.getOneReg(id)
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    // MARK: Running without a debugger

    /// Runs on the calling thread until the guest powers off or faults: the status to exit with.
    package func runToEnd() -> Int32 {
        let reason = runUntilStop(step: false)
        switch reason {
        case .exited(let status): return Int32(status)
        case .fault(_, let description):
            report("vCPU 0: \(description)")
            return 1
        default:
            report("vCPU 0 stopped: \(reason)")
            return 1
        }
    }
}

func le(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
func hex(_ v: UInt64) -> String { String(v, radix: 16) }

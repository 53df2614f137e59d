import GDBStub
import Glibc
import KVM
import Registers
import Synchronization

/// The minimal VMM: guest RAM, one thread per vCPU, port I/O, and the `DebugTarget` gdb talks to.
///
/// Where the rest is: configuration (MachineConfiguration.swift), a vCPU's context (VCPUContext.swift), loaders
/// (Machine+Loading.swift, Machine+RealMode.swift, LinuxBoot*.swift), the vCPU threads and the one place a stop is
/// built (Machine+Threads.swift, RunState.swift), a run and its inline variant (Machine+Run.swift), what each
/// KVM exit means (Machine+Exits.swift), address translation (Machine+Translation.swift), gdb's side
/// (Machine+DebugTarget.swift, Machine+Monitor.swift).
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

    /// The run lock and the state it guards (RunState.swift).
    let control: RunControl
    let notifier = EventNotifier()
    /// Set when every vCPU must leave KVM_RUN (all-stop); read by the vCPU threads after EINTR.
    let stopRequested = Atomic<Bool>(false)

    // Session thread only, while every vCPU is stopped.
    var breakpoints: BreakpointTable
    /// Page-protection watchpoints and what serves each watchpoint (PageWatchpoints.swift); its own lock.
    let pageWatches: PageWatchState
    /// When each vCPU stopped, and what KVM_KVMCLOCK_CTRL said on resume (Machine+KVMClock.swift).
    public let pauseClock = GuestPauseClock()
    /// A Linux kernel's link-time text address, set by `loadLinux` (Machine+KASLR.swift).
    var linuxTextLinkAddress: UInt64?
    public var blockIRQWhileStepping: Bool
    /// Hand single steps to the vCPU threads instead of running them on the caller's (for measurements).
    public var stepOnVCPUThreads = false
    /// gdb's socket while a session is attached (session thread only).
    var interruptFD: Int32?
    /// The exit status the guest asked for through the exit port, once it has (set with the run lock held).
    public internal(set) var guestExitStatus: UInt8?
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
        let ramSlot = try vm.mapMemory(guestPhysical: 0, size: configuration.memorySize, host: memory.host)
        pageWatches = PageWatchState(
            ramSlot: ramSlot, readOnlySlots: vm.offersReadOnlySlots, request: configuration.watchRequest)
        let syncRegs = configuration.useSyncRegs && capabilities.syncsX86RegsAndSregs
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
            try? vcpu.unblockAllSignalsInRun()
            contexts.append(
                VCPUContext(
                    vcpu: vcpu, table: table, syncRegs: syncRegs, xsave: layout, useXSAVE: capabilities.xsave,
                    oneReg: capabilities.oneReg))
        }
        self.contexts = contexts
        control = RunControl(vcpuCount: contexts.count)
        ports = PortIO(
            serialFD: configuration.serialFD,
            uart: configuration.linuxPlatform ? LinuxBoot.makeUART(vm, fd: configuration.serialFD) : nil)
        X86Boot.writeTables(memory)
        KickSignal.install()
    }

    deinit {
        control.withLock {
            $0.shuttingDown = true
            control.broadcast()
            for i in contexts.indices { control.wakeVCPU(i) }
        }
    }

    func report(_ line: String) {
        let text = "kvmstub: \(line)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }

    func context(_ thread: Int) throws(TargetError) -> VCPUContext {
        guard thread >= 1 && thread <= contexts.count else { throw .invalidArgument("no thread \(thread)") }
        return contexts[thread - 1]
    }

    func hex(_ v: UInt64) -> String { String(v, radix: 16) }
}

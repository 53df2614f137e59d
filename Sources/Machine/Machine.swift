import ARM64VMM
import GDBStub
@_exported import GuestImage  // ELFImage and LoadError, which the x86 loaders and their callers use
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
package final class Machine: DebugTarget, @unchecked Sendable {
    package let kvm: KVMSystem
    package let capabilities: KVMCapabilities
    package let vm: VirtualMachine
    package let memory: GuestMemory
    package let configuration: MachineConfiguration
    package let registerTable: RegisterTable
    /// What this host's KVM does differently, probed once per process (HostProfile.swift).
    package let host: HostProfile
    /// How Z0 is served (SoftwareBreakpoints.swift): the host profile's choice unless --sw-breakpoints chose.
    package internal(set) var strategy: SoftwareBreakpointStrategy
    package let watchpointStrategy: WatchpointStrategy
    /// What the run loop needs from the architecture (MachineArchitecture.swift).
    let architecture: any MachineArchitecture
    let contexts: [VCPUContext]
    let ports: PortIO
    /// The devices on MMIO addresses (arm64: the PL011); nil where they are ports.
    let mmio: MMIOBus?

    /// The run lock and the state it guards (RunState.swift).
    let control: RunControl
    let notifier = EventNotifier()
    /// Set when every vCPU must leave KVM_RUN (all-stop); read by the vCPU threads after EINTR.
    let stopRequested = Atomic<Bool>(false)

    // Session thread only, while every vCPU is stopped.
    var breakpoints: BreakpointTable
    /// Page-protection watchpoints and what serves each watchpoint (Machine+PageWatchpoints.swift); its own lock.
    let pageWatches: PageWatchState
    /// When each vCPU stopped, and what KVM_KVMCLOCK_CTRL said on resume (Machine+KVMClock.swift).
    package let pauseClock = GuestPauseClock()
    /// A Linux kernel's link-time text address, set by `loadLinux` (Machine+KASLR.swift).
    var linuxTextLinkAddress: UInt64?
    package var blockIRQWhileStepping: Bool
    /// Hand single steps to the vCPU threads instead of running them on the caller's (for measurements).
    package var stepOnVCPUThreads = false
    /// gdb's socket while a session is attached (session thread only).
    var interruptFD: Int32?
    /// The exit status the guest asked for through the exit port, once it has (set with the run lock held).
    package internal(set) var guestExitStatus: UInt8?
    /// Where diagnostic lines go (a guest fault, a vCPU halted for good, a refused ioctl): stderr, written directly,
    /// unless the owner wants them elsewhere (a test keeps them for its failure message).
    package var diagnostics: @Sendable (String) -> Void = { text in _ = text.withCString { write(2, $0, strlen($0)) } }
    /// Called on a vCPU thread when the guest stops with no debugger attached (exit port, fault).
    package var unattendedStop: (@Sendable (StopEvent) -> Void)?

    package init(configuration: MachineConfiguration = MachineConfiguration(), kvm: KVMSystem? = nil) throws {
        self.configuration = configuration
        let kvm = try kvm ?? KVMSystem()
        self.kvm = kvm
        capabilities = KVMCapabilities(kvm)
        host = try HostProfile.of(kvm)
        strategy = configuration.breakpointStrategy ?? host.softwareBreakpoints
        watchpointStrategy = configuration.watchpointStrategy ?? host.watchpoints
        guard let architecture = configuration.architecture.machine(capabilities) else {
            throw LoadError(
                "no VMM for \(configuration.architecture.rawValue) in this build (arm64, and x86-64 where built for it; ppc64: kvmstub fake-target)"
            )
        }
        self.architecture = architecture
        breakpoints = BreakpointTable(slots: architecture.debugSlotCount)
        blockIRQWhileStepping = configuration.blockIRQWhileStepping
        stepOnVCPUThreads = configuration.stepOnVCPUThreads
        vm = try kvm.createVM()
        memory = try GuestMemory(base: architecture.ramBase, size: configuration.memorySize)
        try architecture.prepare(vm, memory: memory)
        #if KVMSTUB_X86
            if configuration.hasInKernelIRQChip { try LinuxBoot.createPlatform(vm) }  // before the vCPUs
        #endif
        let ramSlot = try vm.mapMemory(
            guestPhysical: architecture.ramBase, size: configuration.memorySize, host: memory.host)
        pageWatches = PageWatchState(
            ramSlot: ramSlot, readOnlySlots: vm.offersReadOnlySlots, request: configuration.watchRequest)
        var table = architecture.registerTable(kvm, capabilities, configuration)
        var contexts: [VCPUContext] = []
        for i in 0..<configuration.vcpuCount {
            let vcpu = try vm.createVCPU(index: i)
            try? vcpu.unblockAllSignalsInRun()
            let ctx = try architecture.makeContext(
                vcpu, vm: vm, table: table, kvm: kvm, capabilities: capabilities, configuration: configuration,
                host: host)
            table = table ?? ctx.backend.table  // arm64: vCPU 0's KVM_GET_REG_LIST; the others share it
            contexts.append(ctx)
        }
        registerTable = contexts[0].backend.table
        self.contexts = contexts
        control = RunControl(vcpuCount: contexts.count)
        mmio = architecture.mmioDevices(configuration)
        #if KVMSTUB_X86
            ports = PortIO(
                serialFD: configuration.serialFD,
                uart: configuration.linuxPlatform ? LinuxBoot.makeUART(vm, fd: configuration.serialFD) : nil,
                disk: configuration.disk,
                rtc: configuration.linuxPlatform ? CMOSRTC() : nil)
        #else
            ports = PortIO(serialFD: configuration.serialFD, uart: nil, disk: nil, rtc: nil)
        #endif
        KickSignal.install()
    }

    deinit {
        control.withLock {
            $0.shuttingDown = true
            control.broadcast()
            for i in contexts.indices { control.wakeVCPU(i) }
        }
    }

    /// A diagnostic line ("kvmstub: vCPU 0: …"), to `diagnostics`.
    func report(_ line: String) { diagnostics("kvmstub: \(line)\n") }

    func context(_ thread: Int) throws(TargetError) -> VCPUContext {
        guard thread >= 1 && thread <= contexts.count else { throw .invalidArgument("no thread \(thread)") }
        return contexts[thread - 1]
    }

    func hex(_ v: UInt64) -> String { String(v, radix: 16) }
}

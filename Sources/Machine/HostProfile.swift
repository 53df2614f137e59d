import KVM
import Synchronization

/// What this host's KVM does differently, probed once per process at start-up (`SoftwareBreakpointProbe`,
/// `DataBreakpointProbe`: two scratch VMs, a few milliseconds). The breakpoint strategy, the watchpoint strategy,
/// the real-mode loader and the Linux boot read it; the general run path carries no host-specific branches.
///
/// On upstream KVM (VMX/SVM): int3 intercepted, data breakpoints fire, nothing emulated, #UD queued with an
/// emulation failure. On kvm_pvm (this project's build machines): int3 an emulation failure, data breakpoints
/// never fire, CPL0 code emulated, no #UD queued.
package struct HostProfile: Sendable, Equatable {
    /// What a guest's int3 does while KVM_GUESTDBG_USE_SW_BP is set.
    package let int3: Int3Finding
    /// Debug-register data breakpoints (DR7 RW=01/11) fire.
    package let dataBreakpointsFire: Bool
    /// KVM queues #UD along with an emulation-failure exit (upstream's handle_emulation_failure does; kvm_pvm does
    /// not): kvmstub clears it when it finishes such an instruction itself (Machine+EmulatorGaps.swift).
    package let queuesUDOnEmulationFailure: Bool

    package init(int3: Int3Finding, dataBreakpointsFire: Bool, queuesUDOnEmulationFailure: Bool) {
        self.int3 = int3
        self.dataBreakpointsFire = dataBreakpointsFire
        self.queuesUDOnEmulationFailure = queuesUDOnEmulationFailure
    }

    /// CPL0 guest code runs through KVM's instruction emulator. Only the emulator stops on an int3 in long mode
    /// (it has no protected-mode INT): the int3 probe shows it.
    package var emulatesCPL0: Bool { int3 == .emulationFailure }

    /// The instructions that emulator lacks, as the CPUID features a Linux guest uses them by: hidden from a
    /// `--kernel` guest's CPUID and command line (LinuxBoot+Emulator.swift). A known list (VCPU.emulatorMissing),
    /// checked instruction by instruction on the host by LinuxPlatformTests.emulatorGaps; empty where nothing
    /// is emulated.
    #if KVMSTUB_X86
        package var emulatorMissing: [VCPU.CPUIDFeature] { emulatesCPL0 ? VCPU.emulatorMissing : [] }
    #endif

    /// The Z0 strategy this host calls for: int3 wherever an int3 reaches kvmstub.
    package var softwareBreakpoints: SoftwareBreakpointStrategy { int3.strategy }

    /// A real-mode int3 is run by the emulator through the IVT: where the emulation-failure stop is how int3
    /// breakpoints reach kvmstub, real-mode images need hw-then-hlt.
    package var softwareBreakpointsInRealMode: SoftwareBreakpointStrategy {
        int3 == .emulationFailure ? .hardwareThenHalt : softwareBreakpoints
    }

    package var watchpoints: WatchpointStrategy { dataBreakpointsFire ? .debugRegisters : .singleStep }

    private static let probed = Mutex<[String: HostProfile]>([:])

    /// The profile of the KVM at `kvm.path`, probed on first use and kept for the process.
    package static func of(_ kvm: KVMSystem) throws -> HostProfile {
        if let known = probed.withLock({ $0[kvm.path] }) { return known }
        #if KVMSTUB_X86
            let (int3, queuesUD) = try SoftwareBreakpointProbe.probeInDetail(kvm)
            let profile = HostProfile(
                int3: int3, dataBreakpointsFire: try DataBreakpointProbe.run(kvm) == .debugRegisters,
                queuesUDOnEmulationFailure: queuesUD)
        #else
            let profile = arm64
        #endif
        probed.withLock { $0[kvm.path] = profile }
        return profile
    }

    /// arm64 KVM, by its architecture rather than a probe: with KVM_GUESTDBG_USE_SW_BP every BRK traps to the
    /// host (kvm_handle_guest_debug: KVM_EXIT_DEBUG), the dbg_wcr/wvr watchpoints are the vCPU's own debug
    /// registers while guest debugging is on, and no guest code is emulated, so there is nothing host-specific to
    /// find out; the rig's sessions (scripts/rig-arm64.sh) check both on the kernels it boots.
    static let arm64 = HostProfile(int3: .intercepted, dataBreakpointsFire: true, queuesUDOnEmulationFailure: false)
}

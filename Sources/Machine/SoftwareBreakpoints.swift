import GDBStub

/// How a `Z0` is placed: one implementation per `SoftwareBreakpointStrategy`, chosen once (from the host profile,
/// or `--sw-breakpoints`). Whatever places it, a hit is recognised the same way: a patch remembers its trap, a
/// slot its kind (Machine+Exits.swift).
protocol SoftwareBreakpoints: Sendable {
    var strategy: SoftwareBreakpointStrategy { get }
    /// Place a software breakpoint at guest-virtual `address` (not placed yet).
    func insert(at address: UInt64, in machine: Machine) throws(TargetError)
    /// `monitor breakpoints`' first line.
    func summary(_ host: HostProfile) -> String
}

extension SoftwareBreakpointStrategy {
    /// The implementation.
    var placement: any SoftwareBreakpoints {
        switch self {
        case .int3: Int3Breakpoints()
        case .hardwareThenHalt: HardwareThenHaltBreakpoints()
        }
    }
}

/// The architecture's trap instruction in guest memory with KVM_GUESTDBG_USE_SW_BP: the kernel reports it as a
/// debug exit (or, where CPL0 code is emulated, KVM_RUN stops on it with an emulation failure).
struct Int3Breakpoints: SoftwareBreakpoints {
    var strategy: SoftwareBreakpointStrategy { .int3 }

    func insert(at address: UInt64, in machine: Machine) throws(TargetError) {
        try machine.patch(address, with: machine.architecture.breakpointInstruction)
    }

    func summary(_ host: HostProfile) -> String {
        host.int3 == .emulationFailure
            ? "int3 (0xCC in memory: this host's instruction emulator stops on it, an emulation-failure exit)"
            : "int3 (int3 + KVM_GUESTDBG_USE_SW_BP)"
    }
}

/// For hosts that let the guest take its own trap: a free debug-register slot first (an execute breakpoint);
/// beyond those, the halt instruction in guest memory, which exits to userspace for CPL0 code without an
/// in-kernel interrupt controller.
struct HardwareThenHaltBreakpoints: SoftwareBreakpoints {
    var strategy: SoftwareBreakpointStrategy { .hardwareThenHalt }

    func insert(at address: UInt64, in machine: Machine) throws(TargetError) {
        if let slot = machine.breakpoints.freeSlot(in: machine.architecture.slotRange(for: .software)) {
            machine.breakpoints.addSoftwareSlot(slot, virtual: address)
            return
        }
        if machine.configuration.hasInKernelIRQChip {
            // An in-kernel LAPIC keeps HLT inside KVM: a HLT patch would never reach us.
            throw .noSpace(
                "all four debug registers are in use, and HLT patches cannot work with an in-kernel interrupt controller"
            )
        }
        guard let halt = machine.architecture.haltInstruction else {
            throw .noSpace("all \(machine.breakpoints.slots.count) debug registers are in use")
        }
        try machine.patch(address, with: halt)
    }

    func summary(_ host: HostProfile) -> String {
        "hw-then-hlt (debug registers first, then HLT: this host does not intercept int3)"
    }
}

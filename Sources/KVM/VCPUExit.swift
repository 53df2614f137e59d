import CKVM

/// Why KVM_RUN returned, decoded from the shared `struct kvm_run` (Documentation/virt/kvm/api.rst, 5.
/// "The kvm_run structure"; kvm-ioctls' `VcpuExit` is the model). The VMM never reads kvm_run itself.
///
/// The buffers an `io` or `mmio` exit carries point into the kvm_run page: they are valid until the next
/// KVM_RUN, and what the VMM writes there (the data of an IN or an MMIO read) is what the guest gets.
package enum VCPUExit {
    /// KVM_EXIT_IO: `count` accesses of `size` bytes each to `port`, their bytes in `data`.
    case io(port: UInt16, direction: IODirection, size: Int, data: UnsafeMutableRawBufferPointer)
    /// KVM_EXIT_MMIO: an access outside every memory slot.
    case mmio(address: UInt64, isWrite: Bool, data: UnsafeMutableRawBufferPointer)
    /// KVM_EXIT_DEBUG: a trap the guest-debug settings asked for.
    case debug(DebugExit)
    /// KVM_EXIT_HLT: the guest halted (no in-kernel interrupt controller took it).
    case hlt
    /// KVM_EXIT_SHUTDOWN: a triple fault.
    case shutdown
    /// KVM_EXIT_FAIL_ENTRY with `hardware_entry_failure_reason`.
    case failEntry(hardwareReason: UInt64)
    /// KVM_EXIT_INTERNAL_ERROR with its `suberror` (`InternalError.emulation`: the instruction emulator gave up).
    case internalError(suberror: UInt32)
    /// KVM_EXIT_SYSTEM_EVENT with its `type` (1 shutdown, 2 reset, 3 crash).
    case systemEvent(type: UInt32)
    /// KVM_EXIT_SET_TPR: the guest lowered CR8 with no in-kernel APIC.
    case setTPR
    /// KVM_RUN returned EINTR (KVM_EXIT_INTR): a signal or `immediate_exit` kicked it before an exit to handle.
    case interrupted
    /// Any other exit reason.
    case unknown(reason: UInt32)

    package enum IODirection: Sendable { case `in`, out }

    /// `KVM_INTERNAL_ERROR_*` suberrors.
    package enum InternalError {
        package static let emulation: UInt32 = CKVM_INTERNAL_ERROR_EMULATION
    }

    /// The name `info threads` and `monitor vcpus` show for the last exit.
    package var name: String {
        switch self {
        case .io: "IO"
        case .mmio: "MMIO"
        case .debug: "DEBUG"
        case .hlt: "HLT"
        case .shutdown: "SHUTDOWN"
        case .failEntry: "FAIL_ENTRY"
        case .internalError: "INTERNAL_ERROR"
        case .systemEvent: "SYSTEM_EVENT"
        case .setTPR: "SET_TPR"
        case .interrupted: "INTR"
        case .unknown(let reason): "exit \(reason)"
        }
    }

    /// Decode the exit the kernel left in `run`.
    init(_ run: UnsafeMutablePointer<kvm_run>) {
        switch ckvm_run_exit_reason(run) {
        case CKVM_EXIT_IO:
            let size = Int(ckvm_run_io_size(run))
            let count = Int(ckvm_run_io_count(run))
            self = .io(
                port: ckvm_run_io_port(run), direction: ckvm_run_io_direction(run) == CKVM_EXIT_IO_OUT ? .out : .in,
                size: size, data: UnsafeMutableRawBufferPointer(start: ckvm_run_io_data(run), count: size * count))
        case CKVM_EXIT_MMIO:
            self = .mmio(
                address: ckvm_run_mmio_phys_addr(run), isWrite: ckvm_run_mmio_is_write(run) != 0,
                data: UnsafeMutableRawBufferPointer(
                    start: ckvm_run_mmio_data(run), count: Int(min(ckvm_run_mmio_len(run), 8))))
        case CKVM_EXIT_DEBUG: self = .debug(DebugExit(run))
        case CKVM_EXIT_HLT: self = .hlt
        case CKVM_EXIT_SHUTDOWN: self = .shutdown
        case CKVM_EXIT_FAIL_ENTRY: self = .failEntry(hardwareReason: ckvm_run_fail_entry_reason(run))
        case CKVM_EXIT_INTERNAL_ERROR: self = .internalError(suberror: ckvm_run_internal_suberror(run))
        case CKVM_EXIT_SYSTEM_EVENT: self = .systemEvent(type: ckvm_run_system_event_type(run))
        case CKVM_EXIT_SET_TPR: self = .setTPR
        case CKVM_EXIT_INTR: self = .interrupted
        case let reason: self = .unknown(reason: reason)
        }
    }
}

/// `kvm_run->debug.arch`, whose layout is the architecture's (struct kvm_debug_exit_arch).
package struct DebugExit: Sendable, Equatable {
    /// x86: the exception vector (1 #DB for a step or a debug-register hit, 3 #BP for an int3).
    /// arm64: the exception class, ESR_EL2.EC (`hsr` >> 26): 0x3c BRK, 0x32 software step, 0x30 breakpoint,
    /// 0x34 watchpoint.
    package let exception: UInt32
    /// x86: the address of the trapping instruction. arm64: 0 (the kernel does not report it; read pc).
    package let pc: UInt64
    /// x86: DR6 (bits 0–3: which of DR0–DR3 hit). arm64: the full syndrome (`hsr`, with `hsr_high`).
    package let dr6: UInt64
    /// arm64: FAR, the data address of a watchpoint hit. x86: DR7 at the exit.
    package let address: UInt64

    package init(exception: UInt32, pc: UInt64, dr6: UInt64, address: UInt64 = 0) {
        self.exception = exception
        self.pc = pc
        self.dr6 = dr6
        self.address = address
    }

    init(_ run: UnsafeMutablePointer<kvm_run>) {
        #if arch(arm64)
            let hsr = ckvm_run_debug_hsr(run)
            self.init(exception: hsr >> 26, pc: 0, dr6: UInt64(hsr), address: ckvm_run_debug_far(run))
        #else
            self.init(
                exception: ckvm_run_debug_exception(run), pc: ckvm_run_debug_pc(run), dr6: ckvm_run_debug_dr6(run),
                address: ckvm_run_debug_dr7(run))
        #endif
    }
}

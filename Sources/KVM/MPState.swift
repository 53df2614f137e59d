import CKVM

/// A vCPU's multiprocessing state (`struct kvm_mp_state`, KVM_GET_MP_STATE). Without an in-kernel LAPIC every
/// x86 vCPU is RUNNABLE; with one, a secondary vCPU starts UNINITIALIZED and runs only after the INIT and the
/// Startup IPI another vCPU sends it through its LAPIC's ICR, as on a real machine. On arm64 a vCPU created powered
/// off is STOPPED until another one's PSCI CPU_ON.
package struct MPState: RawRepresentable, Equatable, Sendable {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }

    package static let runnable = MPState(rawValue: CKVM_MP_STATE_RUNNABLE)
    package static let uninitialized = MPState(rawValue: CKVM_MP_STATE_UNINITIALIZED)
    package static let initReceived = MPState(rawValue: CKVM_MP_STATE_INIT_RECEIVED)
    package static let halted = MPState(rawValue: CKVM_MP_STATE_HALTED)
    package static let sipiReceived = MPState(rawValue: CKVM_MP_STATE_SIPI_RECEIVED)
    /// arm64 (and s390): powered off — created with KVM_ARM_VCPU_POWER_OFF, or after PSCI CPU_OFF — until another
    /// vCPU's PSCI CPU_ON (KVM_MP_STATE_STOPPED, 5 in linux/kvm.h).
    package static let stopped = MPState(rawValue: 5)
    /// arm64: suspended by PSCI SYSTEM_SUSPEND until a wake-up event (KVM_MP_STATE_SUSPENDED, 10; Linux 6.0 on).
    /// A vCPU in WFI stays RUNNABLE.
    package static let suspended = MPState(rawValue: 10)

    /// The kernel's name without the KVM_MP_STATE_ prefix.
    package var name: String {
        switch self {
        case .runnable: "RUNNABLE"
        case .uninitialized: "UNINITIALIZED"
        case .initReceived: "INIT_RECEIVED"
        case .halted: "HALTED"
        case .sipiReceived: "SIPI_RECEIVED"
        case .stopped: "STOPPED"
        case .suspended: "SUSPENDED"
        default: "\(rawValue)"
        }
    }

    /// What the state means for the vCPU, in a few words.
    package var meaning: String {
        switch self {
        case .runnable: "runs when resumed"
        case .uninitialized: "waits for an INIT IPI, then a SIPI"
        case .initReceived: "INIT received, waits for a SIPI"
        case .halted: "in hlt, waits in KVM for an interrupt"
        case .sipiReceived: "SIPI received, starts at the next KVM_RUN"
        case .stopped: "powered off, waits for a PSCI CPU_ON"
        case .suspended: "suspended in KVM, waits for a wake-up event"
        default: "state \(rawValue)"
        }
    }

    /// Waiting for INIT/SIPI (x86) or CPU_ON (arm64): KVM_RUN on this vCPU blocks until another vCPU starts it.
    package var waitsForStartup: Bool { self == .uninitialized || self == .initReceived || self == .stopped }
}

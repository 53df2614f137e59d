import Glibc
import KVM

/// A guest fault as one sentence: what happened and at which rip. kvmstub's stderr prints it after "vCPU N: "
/// and gdb gets it as console output, so it names the vCPU nowhere itself. Pure values, so every wording is
/// unit-tested, KVM_EXIT_FAIL_ENTRY's included, which KVM on the test host never delivers (it refuses a bad state
/// with EINVAL before any VM entry).
package enum GuestFault: CustomStringConvertible, Equatable {
    /// KVM_EXIT_MMIO outside every memory slot.
    case unbackedAccess(write: Bool, address: UInt64, rip: RIP)
    /// KVM_EXIT_SHUTDOWN.
    case tripleFault(rip: RIP)
    /// KVM_EXIT_SHUTDOWN after which the vCPU is at the reset vector (cs 0xf000, ip 0xfff0): KVM on AMD INITs
    /// it before the exit (SVM's shutdown intercept; the VMCB is undefined after a shutdown), so the rip of the
    /// fault is gone.
    case tripleFaultReset
    /// KVM_EXIT_FAIL_ENTRY: `hardware_entry_failure_reason` (VMX's exit qualification of a failed VM entry).
    case failedEntry(hardwareReason: UInt64, rip: RIP)
    /// KVM_EXIT_INTERNAL_ERROR with its `suberror`.
    case internalError(suberror: UInt32, rip: RIP)
    /// KVM_EXIT_SYSTEM_EVENT with its `type`.
    case systemEvent(type: UInt32, rip: RIP)
    /// Any exit reason the VMM has no case for.
    case unhandledExit(reason: UInt32, rip: RIP)
    /// An ioctl on the way into or out of the guest failed (KVM_RUN itself, the register flush before it, ...):
    /// the operation, its errno, and the rip the vCPU was to run from.
    case failedIoctl(operation: String, errno: Int32, rip: RIP)

    /// The rip, or why it could not be read (a fault line must not turn into a different error).
    package enum RIP: Equatable {
        case known(UInt64)
        case unreadable(String)

        /// Reads it with `body`; a failure becomes `.unreadable` with the error's own sentence.
        package init(_ body: () throws -> UInt64) {
            do { self = .known(try body()) } catch { self = .unreadable(GuestFault.sentence(for: error)) }
        }
    }

    package var description: String {
        switch self {
        case .unbackedAccess(let write, let address, let rip):
            // KVM finishes a store before it exits (the data travels in kvm_run), so rip is past it; a load
            // waits for the data and is finished on the next KVM_RUN, so rip is the load.
            let what =
                "\(write ? "write to" : "read from") guest-physical 0x\(hex(address)), which no memory slot covers"
            return write
                ? "\(what), by the instruction just before \(Self.at(rip, bare: true))" : "\(what), \(Self.at(rip))"
        case .tripleFault(let rip):
            return "triple fault (KVM_EXIT_SHUTDOWN) \(Self.at(rip))"
        case .tripleFaultReset:
            return "triple fault (KVM_EXIT_SHUTDOWN); KVM reset the vCPU before the exit, as on AMD (SVM's shutdown "
                + "intercept INITs it), so it is at cs:ip f000:fff0 and the rip of the fault is lost"
        case .failedEntry(let reason, let rip):
            return "VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason 0x\(hex(reason))) \(Self.at(rip))"
        case .internalError(let suberror, let rip):
            let what: String
            switch suberror {
            case 1: what = "instruction emulation failed"
            case 2: what = "a second exception while delivering one"
            case 3: what = "event delivery failed"
            default: what = "suberror \(suberror)"
            }
            return "KVM internal error: \(what) \(Self.at(rip))"
        case .systemEvent(let type, let rip):
            let what: String
            switch type {
            case 1: what = "shutdown"
            case 2: what = "reset"
            case 3: what = "crash"
            default: what = "type \(type)"
            }
            return "system event: \(what) (KVM_EXIT_SYSTEM_EVENT) \(Self.at(rip))"
        case .unhandledExit(let reason, let rip):
            return "unhandled KVM exit reason \(reason) \(Self.at(rip))"
        case .failedIoctl(let operation, let errno, let rip):
            let cause = errnoText(errno)
            if operation == "KVM_RUN" && errno == EINVAL {
                // KVM checks the state before entering the guest: nothing ran.
                return "KVM_RUN refused the register state (\(cause)) \(Self.at(rip))"
            }
            return "\(operation) failed (\(cause)) \(Self.at(rip))"
        }
    }

    /// "at rip 0x…" or "at an unreadable rip: why" (without the "at " when `bare`).
    private static func at(_ rip: RIP, bare: Bool = false) -> String {
        let place =
            switch rip {
            case .known(let value): "rip 0x\(hex(value))"
            case .unreadable(let why): "an unreadable rip: \(why)"
            }
        return bare ? place : "at " + place
    }

    /// A thrown error as a sentence without the vCPU (the line names it already).
    static func sentence(for error: any Error) -> String {
        guard let error = error as? KVMError else { return "\(error)" }
        return "\(error.operation) failed (\(errnoText(error.errno)))"
    }

    /// The fault for an error thrown on the way into or out of the guest.
    package static func failed(_ error: any Error, rip: RIP) -> String {
        guard let error = error as? KVMError else { return "\(error) \(at(rip))" }
        return GuestFault.failedIoctl(operation: error.operation, errno: error.errno, rip: rip).description
    }
}

private func errnoText(_ code: Int32) -> String {
    guard let message = strerror(code) else { return "errno \(code)" }
    return String(cString: message)
}

private func hex(_ value: UInt64) -> String { String(value, radix: 16) }

import GDBStub
import Glibc
import KVM
import Registers

/// One vCPU, its register file and its thread. What the run lock guards about it is in `RunState`; the fields
/// here belong to whichever thread runs the vCPU (its own, or the session's for an inline run) while it runs,
/// and to the session thread while every vCPU is stopped.
final class VCPUContext: @unchecked Sendable {
    let vcpu: VCPU
    /// The architecture's register backend (MachineArchitecture.makeContext).
    let backend: any RegisterBackend
    let registers: RegisterFile
    /// The vCPU's own thread (set once, at `start`).
    var thread = pthread_t()
    /// The last exit, as the run that took it names it; `RunState` publishes it when the run ends.
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
    /// KVM_RUNs that a signal ended before the guest did anything (EINTR), not for this vCPU's own stop: a
    /// step takes one KVM_RUN plus these. A signal meant for another thread of the process (another machine's
    /// kick in the same test process) counts here too.
    var interruptedRuns = 0
    /// A watched access to a protected page that stopped before it was made (arm64): made at the next run, just
    /// before KVM_RUN completes its instruction. `data` is the kvm_run MMIO buffer.
    var deferredPageAccess: (address: UInt64, isWrite: Bool, data: UnsafeMutableRawBufferPointer)?
    /// Traps of the guest's own given back to it (arm64: BRKs, through the exception entry; `monitor breakpoints`).
    var trapsReturned = 0
    /// gdb regnums by ONE_REG ID (the first register of each ID), for what the VMM reads by ID.
    private lazy var regnumByID: [OneRegID: Int] = {
        var ids: [OneRegID: Int] = [:]
        for r in backend.table.registers where ids[r.id] == nil { ids[r.id] = r.regnum }
        return ids
    }()

    init(vcpu: VCPU, backend: any RegisterBackend) {
        self.vcpu = vcpu
        self.backend = backend
        registers = RegisterFile(backend: backend)
    }

    #if KVMSTUB_X86
        /// The x86 register blocks, for the paths only an x86 machine takes (its boot state, real mode, the Linux
        /// boot, the emulator's gaps, `monitor reginfo`): a machine of another architecture never reaches them.
        var x86: X86Backend { backend as! X86Backend }
    #endif

    /// The gdb regnum of a ONE_REG ID in this vCPU's table.
    func regnum(of id: OneRegID) -> Int? { regnumByID[id] }

    /// gdb's thread id.
    var threadID: Int { vcpu.index + 1 }
}

/// What KVM_SET_GUEST_DEBUG was (or is to be) given.
struct GuestDebugState: Equatable {
    var control: GuestDebugControl
    /// The words of `struct kvm_guest_debug_arch` (x86: DR0–DR3, 4–5 unused, DR6, DR7).
    var arch: [UInt64]
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

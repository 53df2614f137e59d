import GDBStub
import KVM
import Registers

/// `vCont;r START,END` (range stepping): the vCPU steps itself while pc stays in gdb's range, so `next` and `step`
/// over a source line cost gdb one round trip instead of one per instruction.
///
/// Each internal step is one KVM_RUN: rip comes back in kvm_run (KVM_CAP_SYNC_REGS), so deciding "still in range"
/// fetches nothing; without SYNC_REGS it costs one KVM_GET_REGS. The range ends, as gdbserver's does, when pc
/// leaves it, when it lands on a breakpoint gdb inserted (reported as a plain step: gdb sees its breakpoint at pc
/// and says so, as after an `s`), or on anything that stops a single step: a watchpoint (hardware, or the
/// single-stepped ones compared after every step), a guest fault, the exit port, Ctrl-C. On the session's thread
/// gdb's socket is peeked every `interruptPollInterval` steps (a Ctrl-C, or gdb gone); on the vCPU threads the
/// all-stop kick ends it like any run.
extension Machine {
    /// Steps between two looks at gdb's socket: one recv(MSG_PEEK) per ~0.5 ms of stepping here.
    static let interruptPollInterval = 64

    /// After a step of a range that ended as a plain step: nil to step again, or the outcome that ends the range.
    func rangeStepEnds(_ ctx: VCPUContext, _ range: Range<UInt64>, interruptFD: Int32?) throws -> RunOutcome? {
        ctx.rangeSteps.steps += 1
        ctx.rangeSteps.lastSteps += 1
        ctx.rangeSteps.longest = max(ctx.rangeSteps.longest, ctx.rangeSteps.lastSteps)
        let pc = try pcAfterRun(ctx)
        guard range.contains(pc), !breakpoints.stopsExecution(at: pc) else { return .stop(.stepped) }
        if let fd = interruptFD, ctx.rangeSteps.lastSteps % Self.interruptPollInterval == 0, Self.interruptPending(fd) {
            ctx.lastExit = "interrupted (Ctrl-C)"
            return .kicked
        }
        return nil
    }

    /// gdb's pc right after a run: from the regs kvm_run handed back (no ioctl), else one KVM_GET_REGS. eip for
    /// the i8086 table, whose pc is 32 bits.
    private func pcAfterRun(_ ctx: VCPUContext) throws -> UInt64 {
        #if KVMSTUB_X86
            guard let x86 = ctx.backend as? X86Backend else { return try pc(ctx) }
            if !ctx.registers.valid.contains(.x86Regs) { try ctx.registers.ensure(.x86Regs) }
            let rip = x86.regs.rip
            return configuration.targetDescription == .i8086 ? rip & 0xffff_ffff : rip
        #else
            return try pc(ctx)
        #endif
    }
}

/// What range stepping did on one vCPU since attach (or `monitor sync-stats reset`): `monitor sync-stats`
/// shows it beside the ioctl counts, so a `next` shows how many steps one resume took.
struct RangeStepCount {
    /// `vCont;r` resumes of this vCPU.
    var resumes = 0
    /// Steps taken inside all of them.
    var steps = 0
    /// Steps taken inside the latest one, and the most inside one.
    var lastSteps = 0
    var longest = 0

    var report: String? {
        guard resumes > 0 else { return nil }
        return "  vCont;r \(resumes) (\(steps) steps inside: the most in one \(longest), in the last \(lastSteps))\n"
    }
}

extension BreakpointTable {
    /// A breakpoint of gdb's on the instruction at `address` (software, or a hardware execute breakpoint): a range
    /// step that lands there stops before running it.
    func stopsExecution(at address: UInt64) -> Bool {
        if software[address] != nil { return true }
        return slots.contains { $0?.kind == .hardware && $0?.address == address }
    }
}

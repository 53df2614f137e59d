import GDBStub
import KVM

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// Instructions KVM's instruction emulator cannot execute, finished by kvmstub.
///
/// Hosts that run CPL0 guest code through KVM's emulator (kvm_pvm) stop with KVM_EXIT_INTERNAL_ERROR /
/// KVM_INTERNAL_ERROR_EMULATION, rip on the instruction, wherever it meets one it lacks. What Linux cannot be
/// kept from through CPUID (LinuxBoot+Emulator.swift) and what kvmstub itself relies on are finished here as the
/// CPU would have:
/// - `int3` (the emulator has no protected-mode INT): rip moves past the 0xCC and #BP is injected
///   (KVM_SET_VCPU_EVENTS), so the guest's own handler runs — Linux executes one on purpose while booting
///   (`int3_selftest`), and kprobes and text patching use more. An int3 kvmstub placed (the int3 strategy) is a
///   breakpoint stop instead.
/// - `fwait` (no x87 in the emulator; Linux's fpu__drop waits for "delayed exceptions from user space"): #MF
///   when the x87 status word has an unmasked exception pending (ES) and CR0.NE is set, otherwise rip + 1.
/// A single step over an instruction finished here ends right after it (the finished FWAIT is the step); one
/// that delivers an exception ends in the handler, as a step into an interrupt does.
/// On KVM that runs guest code on the CPU this exit never comes for these instructions.
extension Machine {
    struct FinishedInstruction {
        /// What gdb hears: a breakpoint of ours, or nothing (the guest runs on).
        let stop: StopReason?
    }

    func finishWhatTheEmulatorCouldNot(_ ctx: VCPUContext) throws -> FinishedInstruction? {
        let rip = try pc(ctx)
        guard let phys = translate(ctx, rip), let byte = memory.read(phys, count: 1)?.first else { return nil }
        switch byte {
        case X86Instruction.int3:
            if let patch = breakpoints.patch(atPhysical: phys), patch.trap == [X86Instruction.int3] {
                try dropQueuedUD(ctx)
                ctx.lastExit = "INTERNAL_ERROR (int3: breakpoint)"
                return FinishedInstruction(stop: .softwareBreakpoint)
            }
            try skipAndInject(ctx, rip: rip, length: 1, vector: UInt8(X86Vector.breakpoint))
            ctx.lastExit = "INTERNAL_ERROR (int3: #BP given to the guest)"
        case X86Instruction.fwait:
            guard let fstat = registerTable.register(named: "fstat") else { return nil }  // no x87 state offered
            let fsw = try ctx.registers.read(fstat.regnum) ?? []
            try ctx.registers.ensure(.x86Sregs)
            // ES: an unmasked x87 exception waits for the next FWAIT; with CR0.NE it is #MF (without, the CPU
            // signals FERR# to an interrupt controller instead, which this machine does not model).
            let pending = (fsw.first ?? 0) & 0x80 != 0 && ctx.x86.sregs.cr0 & 0x20 != 0
            if pending {
                try skipAndInject(ctx, rip: rip, length: 0, vector: X86Vector.x87FloatingPoint)
                ctx.lastExit = "INTERNAL_ERROR (fwait: #MF given to the guest)"
            } else {
                try dropQueuedUD(ctx)
                try skipAndInject(ctx, rip: rip, length: 1, vector: nil)
                ctx.finishedInstruction = true  // a step ends here: the FWAIT was the instruction
                ctx.lastExit = "INTERNAL_ERROR (fwait: finished)"
            }
        default:
            return nil
        }
        return FinishedInstruction(stop: nil)
    }

    /// Upstream KVM queues #UD before it reports an emulation failure at CPL0 (handle_emulation_failure); the next
    /// KVM_RUN would deliver it. Where kvmstub takes the instruction over, that #UD must go. (kvm_pvm queues none:
    /// the start-up probe says so, and then this costs nothing.)
    private func dropQueuedUD(_ ctx: VCPUContext) throws {
        guard host.queuesUDOnEmulationFailure else { return }
        var events = try ctx.vcpu.getEvents()
        guard events.exception.nr == X86Vector.invalidOpcode,
            events.exception.pending != 0 || events.exception.injected != 0
        else { return }
        events.exception.pending = 0
        events.exception.injected = 0
        events.flags = 0
        try ctx.vcpu.setEvents(events)
    }

    /// rip += length, then, if given, an exception without error code delivered before the next instruction.
    /// (KVM_SET_VCPU_EVENTS delivers at the current rip on a host that emulates; VMX/SVM would inject a #BP as a
    /// soft exception with the last exit's instruction length — that path is only taken where the emulator
    /// failed, never on KVM that runs guest code on the CPU.)
    private func skipAndInject(_ ctx: VCPUContext, rip: UInt64, length: UInt64, vector: UInt8?) throws {
        if length > 0 { try setPC(ctx, rip &+ length) }
        guard let vector else { return }
        var events = try ctx.vcpu.getEvents()
        events.exception.injected = 1
        events.exception.nr = vector
        events.exception.has_error_code = 0
        events.exception.pending = 0
        events.flags = 0
        try ctx.vcpu.setEvents(events)
    }
}
#endif

import CKVM
import GDBStub
import KVM

/// An `int3` that KVM's instruction emulator could not execute.
///
/// Hosts that run CPL0 guest code through KVM's emulator (kvm_pvm) stop at every `int3` outside real mode
/// with KVM_EXIT_INTERNAL_ERROR / KVM_INTERNAL_ERROR_EMULATION: the emulator has no protected-mode INT. A
/// Linux kernel executes one on purpose while booting (`int3_selftest`), and kprobes and text patching use
/// more. kvmstub finishes the instruction as the CPU would have: rip moves past the 0xCC and #BP is injected
/// (KVM_SET_VCPU_EVENTS), so the guest's own handler runs. An int3 that kvmstub placed (the int3 strategy)
/// is a breakpoint stop instead. On KVM that runs guest code in hardware this exit never happens.
extension Machine {
    struct FailedInt3 {
        /// What gdb hears: a breakpoint of ours, or nothing (the guest's own #BP was delivered).
        let stop: StopReason?
    }

    func int3TheEmulatorCouldNotRun(_ ctx: VCPUContext) throws -> FailedInt3? {
        let rip = try ripOf(ctx)
        guard let phys = translate(ctx, rip), let byte = memory.read(phys, count: 1)?.first else { return nil }
        if let patch = breakpoints.patch(atPhysical: phys), patch.trap == 0xCC {
            ctx.lastExit = "INTERNAL_ERROR (int3: breakpoint)"
            return FailedInt3(stop: .softwareBreakpoint)
        }
        guard byte == 0xCC else { return nil }
        try ctx.registers.write(registerTable.pcRegnum, withUnsafeBytes(of: rip &+ 1) { Array($0) })
        var events = try ctx.vcpu.getEvents()
        events.exception.injected = 1
        events.exception.nr = 3
        events.exception.has_error_code = 0
        events.exception.pending = 0
        events.flags = 0
        try ctx.vcpu.setEvents(events)
        ctx.lastExit = "INTERNAL_ERROR (int3: #BP given to the guest)"
        return FailedInt3(stop: nil)
    }
}

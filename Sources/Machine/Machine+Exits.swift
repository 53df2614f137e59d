import GDBStub
import KVM

/// What each KVM exit means to this machine: a device access, a breakpoint of ours, a fault to report, or
/// nothing (the run goes on).
extension Machine {
    /// nil: run on. Otherwise how the run ends.
    func handle(_ exit: VCPUExit, _ ctx: VCPUContext) throws -> RunOutcome? {
        if case .setTPR = exit { return nil }  // the guest lowered CR8 with no in-kernel APIC: nothing to do
        ctx.lastExit = exit.name
        switch exit {
        case .io(let port, let direction, _, let data):
            if direction == .out {
                if case .exit(let status) = ports.write(port: port, bytes: UnsafeRawBufferPointer(data)) {
                    return .stop(.exited(status: status))
                }
            } else {
                ports.read(port: port, into: data)
            }
            return nil
        case .debug(let debug):
            return try handleDebug(ctx, debug).map { .stop($0) }
        case .hlt:
            return try handleHalt(ctx)
        case .mmio(let address, let isWrite, let data):
            let before = architecture.watchpointsStopBeforeAccess
            if let access = servePageAccess(address: address, isWrite: isWrite, data: data, deferHit: before) {  // Machine+PageWatchExits.swift
                guard case .hit(let kind, let watched) = access else { return nil }
                if before {
                    ctx.deferredPageAccess = (address, isWrite, data)
                    return .stop(.watchpoint(kind, address: watched))
                }
                return try completeWatchedAccess(ctx, kind, address: watched)
            }
            if let mmio, mmio.access(address, isWrite: isWrite, data: data) { return nil }  // arm64: the PL011
            if configuration.linuxPlatform {  // a PC bus: no device there, reads all ones, writes vanish
                if !isWrite { for i in data.indices { data[i] = 0xff } }
                return nil
            }
            let fault = GuestFault.unbackedAccess(write: isWrite, address: address, rip: rip(ctx))
            return .stop(.fault(signal: 10, description: fault.description))
        case .shutdown:
            #if KVMSTUB_X86
                let fault = try wasReset(ctx) ? GuestFault.tripleFaultReset : .tripleFault(rip: rip(ctx))
            #else
                let fault = GuestFault.tripleFault(rip: rip(ctx))
            #endif
            return .stop(.fault(signal: 11, description: fault.description))
        case .failEntry(let hardwareReason):
            let fault = GuestFault.failedEntry(hardwareReason: hardwareReason, rip: rip(ctx))
            return .stop(.fault(signal: 4, description: fault.description))
        case .internalError(let suberror):
            #if KVMSTUB_X86
                if suberror == VCPUExit.InternalError.emulation, try pageFetchFailed(ctx) { return nil }
                if suberror == VCPUExit.InternalError.emulation, let done = try finishWhatTheEmulatorCouldNot(ctx) {
                    return done.stop.map { .stop($0) }
                }
            #endif
            return .stop(
                .fault(signal: 4, description: GuestFault.internalError(suberror: suberror, rip: rip(ctx)).description))
        case .systemEvent(let type):
            if let (status, note) = architecture.systemEvent(type) {  // arm64: PSCI SYSTEM_OFF, SYSTEM_RESET
                if let note { report(note) }
                return .stop(.exited(status: status))
            }
            return .stop(.fault(signal: 11, description: GuestFault.systemEvent(type: type, rip: rip(ctx)).description))
        case .setTPR, .interrupted:
            return nil
        case .unknown(let reason):
            return .stop(
                .fault(signal: 4, description: GuestFault.unhandledExit(reason: reason, rip: rip(ctx)).description))
        }
    }

    /// HLT: a halt patch of ours (the hw-then-hlt strategy) is a breakpoint at the instruction before pc; any
    /// other HLT parks the vCPU.
    private func handleHalt(_ ctx: VCPUContext) throws -> RunOutcome {
        let pc = try pc(ctx)
        let halt = architecture.haltInstruction ?? []
        let start = pc &- UInt64(halt.count)
        if !halt.isEmpty, let phys = translate(ctx, start), breakpoints.patch(atPhysical: phys)?.trap == halt {
            try setPC(ctx, start)
            return .stop(.softwareBreakpoint)
        }
        return .halted(rip: start)
    }

    private func handleDebug(_ ctx: VCPUContext, _ exit: DebugExit) throws -> StopReason? {
        switch architecture.debugEvent(exit, slots: breakpoints.slots) {
        case .breakpointInstruction(let trapPC):
            // Ours, or the guest's own to give back.
            let at = try trapPC ?? pc(ctx)
            if let phys = translate(ctx, at), let patch = breakpoints.patch(atPhysical: phys),
                patch.trap == architecture.breakpointInstruction, trapPC != nil || trapIntact(patch)
            {
                // x86 reports the trap's linear address (cs.base + rip), which is not always the address gdb
                // gave (real mode with cs != 0): ours it is.
                if trapPC != nil || breakpoints.software[at] != nil { return .softwareBreakpoint }
                // arm64: our trap, reached through another virtual alias of its page (code that also runs at its
                // identity or a high-half address) where gdb has no breakpoint. Not a swbreak stop: gdb, finding
                // no breakpoint of its own at pc (and the original bytes there), would take it for a late trap of
                // a removed one and resume into it for ever; given back to the guest, it would take a trap it
                // never wrote. gdb gets a SIGTRAP there instead.
                return .fault(
                    signal: 5,
                    description:
                        "pc 0x\(hex(at)) is gdb's breakpoint at 0x\(hex(patch.virtual)) reached through another alias of its page (the same guest-physical trap)"
                )
            }
            if try architecture.reinjectTrap(ctx, exit) { return nil }
            return .fault(
                signal: 5,
                description:
                    "the guest's own breakpoint instruction at pc 0x\(hex(at)): this architecture cannot give it back from here")
        case .slot(let i):
            guard let slot = breakpoints.slots[i] else { return .stepped }
            switch slot.kind {
            case .software: return .softwareBreakpoint
            case .hardware: return .hardwareBreakpoint
            default: return .watchpoint(slot.kind, address: slot.address)
            }
        case .hardwareBreakpoint:
            let at = try pc(ctx)
            if case .slot? = breakpoints.software[at] { return .softwareBreakpoint }  // a Z0 in a breakpoint register
            return .hardwareBreakpoint
        case .step:
            return .stepped
        case .unknown(let what):
            return .fault(signal: 5, description: what)
        }
    }

    /// The rip for a fault line: read through the register file, or why it could not be.
    private func rip(_ ctx: VCPUContext) -> GuestFault.RIP { GuestFault.RIP { try pc(ctx) } }

    #if KVMSTUB_X86
        /// At the reset vector after a shutdown: KVM INITed the vCPU (AMD). Looked at, not assumed from the vendor.
        private func wasReset(_ ctx: VCPUContext) throws -> Bool {
            guard (try? pc(ctx)) == 0xfff0, (try? ctx.registers.ensure(.x86Sregs)) != nil else { return false }
            let cs = ctx.x86.sregs.cs
            return cs.selector == 0xf000 && cs.base == 0xffff_0000
        }
    #endif
}

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
            if let access = servePageAccess(address: address, isWrite: isWrite, data: data) {  // PageWatchpoints.swift
                guard case .hit(let kind, let watched) = access else { return nil }
                return try completeWatchedAccess(ctx, kind, address: watched)
            }
            if configuration.linuxPlatform {  // a PC bus: no device there, reads all ones, writes vanish
                if !isWrite { for i in data.indices { data[i] = 0xff } }
                return nil
            }
            let fault = GuestFault.unbackedAccess(write: isWrite, address: address, rip: rip(ctx))
            return .stop(.fault(signal: 10, description: fault.description))
        case .shutdown:
            let fault = try wasReset(ctx) ? GuestFault.tripleFaultReset : .tripleFault(rip: rip(ctx))
            return .stop(.fault(signal: 11, description: fault.description))
        case .failEntry(let hardwareReason):
            let fault = GuestFault.failedEntry(hardwareReason: hardwareReason, rip: rip(ctx))
            return .stop(.fault(signal: 4, description: fault.description))
        case .internalError(let suberror):
            if suberror == VCPUExit.InternalError.emulation, try pageFetchFailed(ctx) { return nil }
            if suberror == VCPUExit.InternalError.emulation, let done = try finishWhatTheEmulatorCouldNot(ctx) {
                return done.stop.map { .stop($0) }
            }
            return .stop(.fault(signal: 4, description: GuestFault.internalError(suberror: suberror, rip: rip(ctx)).description))
        case .systemEvent(let type):
            return .stop(.fault(signal: 11, description: GuestFault.systemEvent(type: type, rip: rip(ctx)).description))
        case .setTPR, .interrupted:
            return nil
        case .unknown(let reason):
            return .stop(.fault(signal: 4, description: GuestFault.unhandledExit(reason: reason, rip: rip(ctx)).description))
        }
    }

    /// HLT: a HLT patch of ours (the hw-then-hlt strategy) is a breakpoint at the byte before rip; any other HLT
    /// parks the vCPU.
    private func handleHalt(_ ctx: VCPUContext) throws -> RunOutcome {
        let rip = try ripOf(ctx)
        if let phys = translate(ctx, rip &- 1), breakpoints.patch(atPhysical: phys)?.trap == 0xF4 {
            try ctx.registers.write(registerTable.pcRegnum, withUnsafeBytes(of: rip &- 1) { Array($0) })
            return .stop(.softwareBreakpoint)
        }
        return .halted(rip: rip &- 1)
    }

    private func handleDebug(_ ctx: VCPUContext, _ exit: DebugExit) throws -> StopReason? {
        if exit.exception == 3 {  // #BP from an int3: ours, or the guest's own to give back
            if let phys = translate(ctx, exit.pc), breakpoints.patch(atPhysical: phys)?.trap == 0xCC {
                return .softwareBreakpoint
            }
            // INJECT_BP is KVM_SET_GUEST_DEBUG itself: it carries the whole state (ENABLE and the flags in force),
            // or KVM switches guest debugging off and the next int3 of ours reaches the guest. The state applied
            // stays on record (with INJECT_BP, which no plain state has: the next resume sets the plain one), so a
            // second int3 of the guest's in this run is given back the same way.
            var debug = ctx.appliedDebug ?? GuestDebugState(control: [.enable, .useSoftwareBreakpoints], arch: [])
            debug.control.formUnion([.enable, .injectBreakpoint])
            try ctx.vcpu.setGuestDebug(debug.control, arch: debug.arch)
            ctx.appliedDebug = debug
            return nil
        }
        for i in 0..<4 where exit.dr6 & (1 << UInt64(i)) != 0 {
            guard let slot = breakpoints.slots[i] else { continue }
            switch slot.kind {
            case .software: return .softwareBreakpoint
            case .hardware: return .hardwareBreakpoint
            default: return .watchpoint(slot.kind, address: slot.address)
            }
        }
        return .stepped
    }

    /// The rip for a fault line: read through the register file, or why it could not be.
    private func rip(_ ctx: VCPUContext) -> GuestFault.RIP { GuestFault.RIP { try ripOf(ctx) } }

    /// At the reset vector after a shutdown: KVM INITed the vCPU (AMD). Looked at, not assumed from the vendor.
    private func wasReset(_ ctx: VCPUContext) throws -> Bool {
        guard (try? ripOf(ctx)) == 0xfff0, (try? ctx.registers.ensure(.x86Sregs)) != nil else { return false }
        let cs = ctx.backend.sregs.cs
        return cs.selector == 0xf000 && cs.base == 0xffff_0000
    }
}

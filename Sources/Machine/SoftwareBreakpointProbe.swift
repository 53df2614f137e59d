import KVM

/// What happens to a guest's int3 on this host, found by `SoftwareBreakpointProbe`.
package enum Int3Finding: String, Sendable {
    /// KVM_GUESTDBG_USE_SW_BP works: the kernel turns the #BP into KVM_EXIT_DEBUG. Real KVM.
    case intercepted
    /// The host runs CPL0 guest code through KVM's instruction emulator (kvm_pvm), which cannot execute INT3
    /// outside real mode: the int3 ends KVM_RUN with KVM_EXIT_INTERNAL_ERROR (emulation failure), rip on it.
    /// That exit reaches kvmstub as surely as KVM_EXIT_DEBUG, so int3 breakpoints work; a guest's own int3
    /// is finished by kvmstub (Machine+EmulatorGaps.swift).
    case emulationFailure = "emulation-failure"
    /// The guest took its own #BP: an int3 cannot be caught here.
    case deliveredToGuest = "delivered-to-guest"

    package var strategy: SoftwareBreakpointStrategy { self == .deliveredToGuest ? .hardwareThenHalt : .int3 }

    package var explanation: String {
        switch self {
        case .intercepted: "int3: the kernel intercepts #BP (KVM_GUESTDBG_USE_SW_BP honoured)"
        case .emulationFailure:
            "int3: this host emulates CPL0 code and its emulator cannot run int3, so KVM_RUN stops on it (an emulation-failure exit) and kvmstub reports the breakpoint; a guest's own int3 is given back to it as #BP"
        case .deliveredToGuest:
            "hw-then-hlt: the guest takes its own #BP (USE_SW_BP not honoured); Z0 uses DR0-DR3, then HLT"
        }
    }
}

/// How write watchpoints are served on this host, chosen once at start-up by `DataBreakpointProbe`.
package enum WatchpointStrategy: String, Sendable {
    /// DR0–DR3 with RW=01/11 in DR7 (USE_HW_BP): the CPU traps after the access. What real KVM does.
    case debugRegisters = "debug-registers"
    /// For hosts where data breakpoints never fire (kvm_pvm emulates CPL0 code, and KVM's instruction
    /// emulator checks only code breakpoints): the vCPU single-steps while a write watchpoint is set and
    /// kvmstub compares the watched bytes after every step. Up to 16 (no slot limits them, the cost per step
    /// does: `Machine.steppedWatchCapacity`), slow (one exit per instruction), and only writes that change the
    /// value are seen; access watchpoints are refused.
    case singleStep = "single-step"
}

#if KVMSTUB_X86  // the probes run x86 code: x86-64 only (Package.swift)
/// What does this host do with a guest's int3 while KVM_GUESTDBG_USE_SW_BP is set? The probe runs one int3
/// in a scratch VM whose IDT sends #BP to a guard handler that writes to port 0x99: KVM_EXIT_DEBUG means the
/// kernel intercepted it; an emulation-failure exit on the int3 means the host's instruction emulator met
/// it (kvm_pvm); the guard's I/O exit (or anything else) means the guest took its own #BP. A few
/// milliseconds.
package enum SoftwareBreakpointProbe {
    package static func run(_ kvm: KVMSystem) throws -> SoftwareBreakpointStrategy { try probe(kvm).strategy }

    package static func probe(_ kvm: KVMSystem) throws -> Int3Finding { try probeInDetail(kvm).finding }

    /// The finding, and whether the host queued #UD along with the emulation-failure exit (upstream KVM's
    /// handle_emulation_failure does; kvm_pvm does not): kvmstub must then clear it whenever it finishes an
    /// instruction itself, one more ioctl per breakpoint hit, paid only where needed.
    package static func probeInDetail(_ kvm: KVMSystem) throws -> (finding: Int3Finding, queuesUD: Bool) {
        let handler: UInt64 = 0x11000
        let idt: UInt64 = 0x12000
        let scratch = try ScratchVM(kvm, code: [X86Instruction.int3, X86Instruction.hlt]) { memory in
            memory.write(handler, [0xE6, 0x99, 0xF4])  // out 0x99, al; hlt
            // IDT entry 3: a 64-bit interrupt gate to `handler` in the code segment.
            let gateLow =
                (handler & 0xffff) | UInt64(X86Boot.codeSelector) << 16 | 0x8E00 << 32 | (handler >> 16 & 0xffff) << 48
            memory.writeUInt64(idt + 3 * 16, gateLow)
            memory.writeUInt64(idt + 3 * 16 + 8, handler >> 32)
        }
        scratch.backend.sregs.idt.base = idt
        scratch.backend.sregs.idt.limit = 16 * 4 - 1
        scratch.registers.markDirty(.x86Sregs)
        try scratch.registers.flushNow()
        defer { withExtendedLifetime(scratch) {} }  // its guest RAM must outlive every KVM_RUN
        let vcpu = scratch.vcpu
        try vcpu.setGuestDebug([.enable, .useSoftwareBreakpoints])
        for _ in 0..<4 {
            switch try vcpu.run() {
            case .interrupted: continue
            // KVM that intercepts int3 runs guest code on the CPU; its rare emulation failures (an instruction
            // fetched from a page taken out of the memory slots: PageWatchpoints) come with a #UD queued, as
            // upstream's handle_emulation_failure does (seen in the nested SVM rig). dropQueuedUD looks first.
            case .debug(let d) where d.exception == X86Vector.breakpoint: return (.intercepted, true)
            case .internalError(let suberror) where suberror == VCPUExit.InternalError.emulation:
                var regs = X86Regs()
                try vcpu.getRegs(&regs)
                let events = try vcpu.getEvents()
                let ud =
                    events.exception.nr == X86Vector.invalidOpcode
                    && (events.exception.pending != 0 || events.exception.injected != 0)
                return (regs.rip == 0x10000 ? .emulationFailure : .deliveredToGuest, ud)
            default: return (.deliveredToGuest, false)
            }
        }
        return (.deliveredToGuest, false)
    }
}


/// Do data breakpoints fire here? A scratch VM stores to a watched address, then halts: KVM_EXIT_DEBUG
/// means the debug registers work for data; the HLT exit means the store went unseen.
package enum DataBreakpointProbe {
    package static func run(_ kvm: KVMSystem) throws -> WatchpointStrategy {
        // mov [0x20000], rax; hlt
        let scratch = try ScratchVM(kvm, code: [0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0xF4])
        defer { withExtendedLifetime(scratch) {} }  // its guest RAM must outlive every KVM_RUN
        let vcpu = scratch.vcpu
        var dr = [UInt64](repeating: 0, count: 8)
        dr[0] = 0x20000
        dr[7] = 0x600 | 2 | 1 << 16 | 2 << 18  // G0, write, 8 bytes
        try vcpu.setGuestDebug([.enable, .useHardwareBreakpoints], arch: dr)
        for _ in 0..<4 {
            switch try vcpu.run() {
            case .interrupted: continue
            case .debug: return .debugRegisters
            default: return .singleStep
            }
        }
        return .singleStep
    }
}

/// A one-vCPU VM with 1 MiB of RAM, in long mode at 0x10000 running `code`: what the start-up probes run.
struct ScratchVM {
    let vm: VirtualMachine
    let memory: GuestMemory
    let vcpu: VCPU
    let backend: X86Backend
    let registers: RegisterFile

    init(_ kvm: KVMSystem, code: [UInt8], prepare: (GuestMemory) -> Void = { _ in }) throws {
        vm = try kvm.createVM()
        try vm.setTSSAddress(0xfffb_d000)
        let size = 1 << 20
        memory = try GuestMemory(size: size)
        try vm.mapMemory(guestPhysical: 0, size: size, host: memory.host)
        X86Boot.writeTables(memory)
        memory.write(0x10000, code)
        prepare(memory)
        vcpu = try vm.createVCPU(index: 0)
        try vcpu.setCPUID(fromSupportedOf: kvm)
        backend = X86Backend(vcpu: vcpu, syncRegs: false)
        registers = RegisterFile(backend: backend)
        try X86Boot.enterLongMode(backend, registers: registers, entry: 0x10000, stack: 0x80000)
    }
}
#endif

import CKVM
import KVM

/// Does this host turn a guest's int3 into KVM_EXIT_DEBUG when KVM_GUESTDBG_USE_SW_BP is set?
/// Real KVM does. kvm_pvm accepts the flag and lets the guest take its own #BP. The probe runs one int3 in
/// a scratch VM whose IDT sends #BP to a guard handler that writes to port 0x99: KVM_EXIT_DEBUG means the
/// kernel intercepted it; the guard's I/O exit (or anything else) means it did not. A few milliseconds.
public enum SoftwareBreakpointProbe {
    public static func run(_ kvm: KVMSystem) throws -> SoftwareBreakpointStrategy {
        let handler: UInt64 = 0x11000
        let idt: UInt64 = 0x12000
        let scratch = try ScratchVM(kvm, code: [0xCC, 0xF4]) { memory in  // int3; hlt
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
        try vcpu.setGuestDebug(control: CKVM_GUESTDBG_ENABLE | CKVM_GUESTDBG_USE_SW_BP)
        for _ in 0..<4 {
            guard try vcpu.runOnce() else { continue }
            let reason = vcpu.exitReason
            if reason == CKVM_EXIT_DEBUG && ckvm_run_debug_exception(vcpu.run) == 3 { return .int3 }
            return .hardwareThenHalt
        }
        return .hardwareThenHalt
    }
}

/// How write watchpoints are served on this host, chosen once at start-up by `DataBreakpointProbe`.
public enum WatchpointStrategy: String, Sendable {
    /// DR0–DR3 with RW=01/11 in DR7 (USE_HW_BP): the CPU traps after the access. What real KVM does.
    case debugRegisters = "debug-registers"
    /// For hosts where data breakpoints never fire (kvm_pvm emulates CPL0 code, and KVM's instruction
    /// emulator checks only code breakpoints): the vCPU single-steps while a write watchpoint is set and
    /// kvmstub compares the watched bytes after every step. Unlimited in number, slow (one exit per
    /// instruction), and only writes that change the value are seen; access watchpoints are refused.
    case singleStep = "single-step"
}

/// Do data breakpoints fire here? A scratch VM stores to a watched address, then halts: KVM_EXIT_DEBUG
/// means the debug registers work for data; the HLT exit means the store went unseen.
public enum DataBreakpointProbe {
    public static func run(_ kvm: KVMSystem) throws -> WatchpointStrategy {
        // mov [0x20000], rax; hlt
        let scratch = try ScratchVM(kvm, code: [0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0xF4])
        defer { withExtendedLifetime(scratch) {} }  // its guest RAM must outlive every KVM_RUN
        let vcpu = scratch.vcpu
        var dr = [UInt64](repeating: 0, count: 8)
        dr[0] = 0x20000
        dr[7] = 0x600 | 2 | 1 << 16 | 2 << 18  // G0, write, 8 bytes
        try vcpu.setGuestDebug(control: CKVM_GUESTDBG_ENABLE | CKVM_GUESTDBG_USE_HW_BP, debugRegisters: dr)
        for _ in 0..<4 {
            guard try vcpu.runOnce() else { continue }
            return vcpu.exitReason == CKVM_EXIT_DEBUG ? .debugRegisters : .singleStep
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

import GDBStub
import KVM
import Registers

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// x86 instruction bytes the VMM writes or recognises.
enum X86Instruction {
    /// INT3: the software breakpoint.
    static let int3: UInt8 = 0xCC
    /// HLT: exits to userspace without an in-kernel interrupt controller (the hw-then-hlt strategy).
    static let hlt: UInt8 = 0xF4
    /// FWAIT, which KVM's emulator cannot run (Machine+EmulatorGaps.swift).
    static let fwait: UInt8 = 0x9B
}

/// x86 exception vectors the VMM meets.
enum X86Vector {
    static let debug: UInt32 = 1
    static let breakpoint: UInt32 = 3
    static let invalidOpcode: UInt8 = 6
    static let x87FloatingPoint: UInt8 = 16
}

/// The x86-64 machine: long mode through X86Boot, registers through X86Backend, DR0–DR3/DR7 in
/// kvm_guest_debug_arch.debugreg, the 4/5-level page walk of X86PageWalk.
struct X86Architecture: MachineArchitecture {
    var name: String { "x86-64" }
    var breakpointInstruction: [UInt8] { [X86Instruction.int3] }
    var haltInstruction: [UInt8]? { [X86Instruction.hlt] }
    var debugSlotCount: Int { 4 }
    var translationGroups: SyncGroup { [.x86Sregs, .x86MSRs] }  // cr0/cr3/cr4, EFER
    var stackPointerNames: [String] { ["rsp", "esp"] }
    var reservedLowMemory: UInt64 { X86Boot.reservedEnd }  // the GDT and the identity-mapping page tables
    var ramBase: UInt64 { 0 }
    var mpStateMovesRegisters: Bool { true }
    var watchpointsStopBeforeAccess: Bool { false }
    var pageHolesAreSafe: Bool { true }
    func flushesWriteAtOnce(_ group: SyncGroup) -> Bool { group == .x86MSRs || group == .x86MSRList }
    func checkWrite(_ register: RegisterDescriptor, _ value: [UInt8], current: () -> [UInt8]?) throws(TargetError) {}
    func slotRange(for kind: BreakpointKind) -> Range<Int> { 0..<4 }
    var secondaryStartup: String { "INIT/SIPI" }
    func secondariesWaitForGuest(_ configuration: MachineConfiguration) -> Bool { configuration.hasInKernelIRQChip }
    func hasMPState(_ configuration: MachineConfiguration) -> Bool { configuration.hasInKernelIRQChip }
    func mmioDevices(_ configuration: MachineConfiguration) -> MMIOBus? { nil }
    /// x86 KVM reports none for the guests here (a triple fault is KVM_EXIT_SHUTDOWN): a fault if one comes.
    func systemEvent(_ type: UInt32) -> (status: UInt8, note: String?)? { nil }

    func debugEvent(_ exit: DebugExit, slots: [BreakpointTable.Slot?]) -> DebugEvent {
        if exit.exception == X86Vector.breakpoint { return .breakpointInstruction(pc: exit.pc) }
        for i in slots.indices where exit.dr6 & (1 << UInt64(i)) != 0 && slots[i] != nil { return .slot(i) }
        return .step
    }

    /// debugreg[0–3] the slot addresses, [7] DR7: global-enable bits, RW (00 execute, 01 write, 11 read/write)
    /// and LEN (00 1, 01 2, 11 4, 10 8), plus bits 9–10 (GE, and bit 10 which reads as 1), as QEMU sets them.
    func guestDebugWords(_ slots: [BreakpointTable.Slot?]) -> [UInt64] {
        var regs = [UInt64](repeating: 0, count: 8)
        var dr7: UInt64 = 0x600
        for (i, slot) in slots.enumerated() {
            guard let slot else { continue }
            regs[i] = slot.address
            let rw: UInt64
            switch slot.kind {
            case .software, .hardware: rw = 0
            case .writeWatchpoint: rw = 1
            case .readWatchpoint, .accessWatchpoint: rw = 3
            }
            let len: UInt64 = rw == 0 ? 0 : [1: 0, 2: 1, 4: 3, 8: 2][slot.length] ?? 0
            dr7 |= 2 << (UInt64(i) * 2) | rw << (16 + UInt64(i) * 4) | len << (18 + UInt64(i) * 4)
        }
        regs[7] = dr7
        return regs
    }

    func watchpointSlotCount(_ kind: BreakpointKind, address: UInt64, length: Int) throws(TargetError) -> Int {
        // The debug registers trap writes or reads+writes, never reads alone.
        if kind == .readWatchpoint { throw .unsupported }
        guard [1, 2, 4, 8].contains(length), address % UInt64(length) == 0 else {
            throw .invalidArgument("a debug-register watchpoint covers 1, 2, 4 or 8 aligned bytes")
        }
        return 1
    }

    func reinjectTrap(_ ctx: VCPUContext, _ exit: DebugExit) throws -> Bool {
        // INJECT_BP is KVM_SET_GUEST_DEBUG itself: it carries the whole state (ENABLE and the flags in force),
        // or KVM switches guest debugging off and the next int3 of ours reaches the guest. The state applied
        // stays on record (with INJECT_BP, which no plain state has: the next resume sets the plain one), so a
        // second int3 of the guest's in this run is given back the same way.
        var debug = ctx.appliedDebug ?? GuestDebugState(control: [.enable, .useSoftwareBreakpoints], arch: [])
        debug.control.formUnion([.enable, .injectBreakpoint])
        try ctx.vcpu.setGuestDebug(debug.control, arch: debug.arch)
        ctx.appliedDebug = debug
        return true
    }

    func pageWalk(_ ctx: VCPUContext, memory: GuestMemory) -> (any GuestPageWalk)? { x86PageWalk(ctx, memory: memory) }

    /// The concrete walk, for what only x86 asks (`monitor translate`'s levels, the KASLR search).
    func x86PageWalk(_ ctx: VCPUContext, memory: GuestMemory) -> X86PageWalk? {
        guard (try? ctx.registers.ensure(.x86Sregs)) != nil else { return nil }
        let s = ctx.x86.sregs
        return X86PageWalk(cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer, memory: memory)
    }

    func prepare(_ vm: VirtualMachine, memory: GuestMemory) throws {
        try vm.setTSSAddress(LinuxBoot.tssAddress)
        X86Boot.writeTables(memory)
    }

    func registerTable(_ kvm: KVMSystem, _ capabilities: KVMCapabilities, _ configuration: MachineConfiguration)
        -> RegisterTable?
    {
        if configuration.targetDescription == .i8086 { return RegisterTable.i386(architecture: "i8086") }
        let layout = capabilities.xsave ? HostCPU.xsaveLayout() : nil
        return RegisterTable.x86_64(extended: .init(xsave: layout, msrs: (try? kvm.msrIndexList()) ?? []))
    }

    func makeContext(
        _ vcpu: VCPU, vm: VirtualMachine, table: RegisterTable?, kvm: KVMSystem, capabilities: KVMCapabilities,
        configuration: MachineConfiguration, host: HostProfile
    ) throws -> VCPUContext {
        let table = table ?? RegisterTable.x86_64(extended: nil)  // not reached: registerTable always gives one
        // A Linux guest on a host that emulates CPL0 code must not see the features whose instructions the
        // emulator lacks (LinuxBoot+Emulator.swift).
        try vcpu.setCPUID(fromSupportedOf: kvm, hiding: configuration.linuxPlatform ? host.emulatorMissing : [])
        let backend = X86Backend(
            vcpu: vcpu, table: table, syncRegs: configuration.useSyncRegs && capabilities.syncsX86RegsAndSregs,
            useXSAVE: capabilities.xsave, xsaveLayout: capabilities.xsave ? HostCPU.xsaveLayout() : nil,
            oneReg: capabilities.oneReg)
        return VCPUContext(vcpu: vcpu, backend: backend)
    }

    func enter(_ ctx: VCPUContext, entry: UInt64, stack: UInt64, argument: UInt64) throws {
        try X86Boot.enterLongMode(
            ctx.x86, registers: ctx.registers, entry: entry, stack: stack, firstArgument: argument)
    }
}
#endif

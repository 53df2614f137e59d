import ARM64VMM
import GDBStub
import Glibc
import KVM
import Registers

/// The arm64 machine, on QEMU virt's layout (ARM64Platform): RAM from 0x4000_0000, a PL011 at 0x0900_0000, no
/// interrupt controller; vCPUs initialized with KVM_ARM_PREFERRED_TARGET and PSCI 0.2 (the kernel's, over HVC),
/// SVE finalized at the configured length; the secondaries powered off until the guest's PSCI CPU_ON (or started at
/// `ap_start`). Software breakpoints are `BRK #0` with KVM_GUESTDBG_USE_SW_BP, the slots the dbg_bcr/bvr and
/// dbg_wcr/wvr pairs KVM offers (ARM64Architecture's encodings), the page walk the stage-1 walk of TTBR0/TTBR1_EL1.
/// The Arm ARM (DDI 0487) is the source of every encoding; arch/arm64/include/uapi/asm/kvm.h of the structures.
struct ARM64MachineArchitecture: MachineArchitecture {
    /// Breakpoint and watchpoint register pairs KVM offers (KVM_CAP_GUEST_DEBUG_HW_BPS/WPS), at most 16 each.
    let breakpointSlots: Int
    let watchpointSlots: Int

    init(hardwareBreakpoints: Int, hardwareWatchpoints: Int) {
        breakpointSlots = min(ARM64Architecture.maxDebugRegisters, max(0, hardwareBreakpoints))
        watchpointSlots = min(ARM64Architecture.maxDebugRegisters, max(0, hardwareWatchpoints))
    }

    var name: String { "arm64" }
    var breakpointInstruction: [UInt8] { ARM64Architecture.breakpointInstruction }
    /// WFI does not leave KVM_RUN: there is no halt patch on arm64.
    var haltInstruction: [UInt8]? { nil }
    var debugSlotCount: Int { breakpointSlots + watchpointSlots }
    var breakpointRange: Range<Int> { 0..<breakpointSlots }
    var watchpointRange: Range<Int> { breakpointSlots..<breakpointSlots + watchpointSlots }
    func slotRange(for kind: BreakpointKind) -> Range<Int> {
        kind == .hardware || kind == .software ? breakpointRange : watchpointRange
    }
    /// SCTLR_EL1, TCR_EL1, TTBR0/1_EL1 are system registers: their group's writes change the walk.
    var translationGroups: SyncGroup { .arm64SysRegs }
    var stackPointerNames: [String] { ["sp"] }
    var ramBase: UInt64 { ARM64Platform.ramBase }
    var mpStateMovesRegisters: Bool { false }
    var watchpointsStopBeforeAccess: Bool { true }
    var pageHolesAreSafe: Bool { false }
    var reservedLowMemory: UInt64 { ARM64Platform.ramBase }
    var secondaryStartup: String { "PSCI CPU_ON" }
    func secondariesWaitForGuest(_ configuration: MachineConfiguration) -> Bool { true }
    func hasMPState(_ configuration: MachineConfiguration) -> Bool { true }

    func flushesWriteAtOnce(_ group: SyncGroup) -> Bool { true }

    func checkWrite(_ register: RegisterDescriptor, _ value: [UInt8], current: () -> [UInt8]?) throws(TargetError) {
        guard register.id == ARM64ID.vectorGranules, current() != value else { return }
        throw .invalidArgument("vg is fixed: the vector length was chosen before KVM_ARM_VCPU_FINALIZE (--sve-vl)")
    }

    func watchpointSlotCount(_ kind: BreakpointKind, address: UInt64, length: Int) throws(TargetError) -> Int {
        try ARM64Architecture.watchpointSlots(kind, address: address, length: length).count
    }

    // MARK: Debug exits

    func debugEvent(_ exit: DebugExit, slots: [BreakpointTable.Slot?]) -> DebugEvent {
        switch ARM64Architecture.debugEvent(hsr: exit.dr6, far: exit.address) {
        case .brk: return .breakpointInstruction(pc: nil)
        case .step: return .step
        case .hardwareBreakpoint: return .hardwareBreakpoint
        case .watchpoint(let far):
            let range = watchpointRange.clamped(to: 0..<slots.count)
            let watched = range.map { i in slots[i].map { (address: $0.address, length: $0.length) } }
            if let j = ARM64Architecture.watchpointHit(
                far: far, watched, kinds: range.map { slots[$0]?.kind },
                write: ARM64Architecture.watchpointAccessIsWrite(hsr: exit.dr6))
            {
                return .slot(range.lowerBound + j)
            }
            return .unknown("a watchpoint exception at 0x\(String(far, radix: 16)) with no watchpoint set")
        case .other(let ec):
            return .unknown("a debug exit of exception class 0x\(String(ec, radix: 16))")
        }
    }

    /// The 64 words of kvm_guest_debug_arch: an execute breakpoint per breakpoint slot, and per watchpoint slot
    /// its piece of gdb's request (one per doubleword it touches, ARM64Architecture.watchpointSlots).
    func guestDebugWords(_ slots: [BreakpointTable.Slot?]) -> [UInt64] {
        let breakpoints: [UInt64?] = breakpointRange.map { slots[$0]?.address }
        let watchpoints: [(control: UInt64, value: UInt64)?] = watchpointRange.map { i in
            guard let s = slots[i],
                let pieces = try? ARM64Architecture.watchpointSlots(s.kind, address: s.address, length: s.length),
                s.piece < pieces.count
            else { return nil }
            return pieces[s.piece]
        }
        return ARM64Architecture.guestDebugWords(breakpoints: breakpoints, watchpoints: watchpoints)
    }

    /// A BRK of the guest's own (USE_SW_BP traps them all): arm64 KVM has no INJECT_BP, so do what the CPU would
    /// have done — the synchronous exception entry to EL1 (ARM64Architecture.synchronousExceptionEntry) —
    /// through ONE_REG, as QEMU's kvm_arm_handle_debug does. The register file is dropped after.
    func reinjectTrap(_ ctx: VCPUContext, _ exit: DebugExit) throws -> Bool {
        typealias R = ARM64SystemRegisterID
        try ctx.registers.flushNow()
        defer { ctx.registers.invalidateAll() }
        // pc and pstate come from the core group handleDebug fetched to find pc: no ioctl for them.
        let pc = try ctx.registerValue(R.pc)
        let pstate = try ctx.registerValue(R.pstate)
        let sctlr = try ctx.registerValue(R.sctlr)
        let hasPAN = ((try? ctx.registerValue(R.idAA64MMFR1)) ?? 0) >> 20 & 0xf != 0
        guard
            let entry = ARM64Architecture.synchronousExceptionEntry(
                pc: pc, pstate: pstate, vbar: try ctx.registerValue(R.vbar), esr: exit.dr6, sctlr: sctlr,
                hasPAN: hasPAN)
        else { return false }
        try ctx.vcpu.setOneReg(R.elrEL1, leBytes(entry.elr))
        try ctx.vcpu.setOneReg(R.spsrEL1, leBytes(entry.spsr))
        try ctx.vcpu.setOneReg(R.esr, leBytes(entry.esr))
        try ctx.vcpu.setOneReg(R.pstate, leBytes(entry.pstate))
        try ctx.vcpu.setOneReg(R.pc, leBytes(entry.pc))
        ctx.trapsReturned += 1
        // The BRK "ran": a step that met it ends at the vector's first instruction, as the CPU's own would.
        ctx.finishedInstruction = true
        return true
    }

    // MARK: Memory

    func pageWalk(_ ctx: VCPUContext, memory: GuestMemory) -> (any GuestPageWalk)? {
        arm64PageWalk(ctx, memory: memory)
    }

    /// The concrete walk, for `monitor translate`'s levels. SCTLR_EL1 first: with the MMU off nothing else is
    /// read (one ONE_REG, or none while the system registers are cached).
    func arm64PageWalk(_ ctx: VCPUContext, memory: GuestMemory) -> ARM64PageWalk? {
        typealias R = ARM64SystemRegisterID
        guard let sctlr = ctx.systemRegister(R.sctlr) else { return nil }
        let read: (UInt64) -> UInt64? = { memory.readUInt64($0) }
        if sctlr & 1 == 0 { return ARM64PageWalk(sctlr: sctlr, tcr: 0, ttbr0: 0, ttbr1: 0, read: read) }
        guard let tcr = ctx.systemRegister(R.tcr), let ttbr0 = ctx.systemRegister(R.ttbr0),
            let ttbr1 = ctx.systemRegister(R.ttbr1)
        else { return nil }
        return ARM64PageWalk(sctlr: sctlr, tcr: tcr, ttbr0: ttbr0, ttbr1: ttbr1, read: read)
    }

    func mmioDevices(_ configuration: MachineConfiguration) -> MMIOBus? {
        let fd = configuration.serialFD
        let uart = PL011 { byte in
            var b = byte
            while write(fd, &b, 1) < 0 && errno == EINTR {}
        }
        // KVM finishes the access at the next KVM_RUN; a step's exit comes after it.
        return MMIOBus([
            .init(base: ARM64Platform.uartBase, size: ARM64Platform.uartSize) { offset, isWrite, data in
                uart.access(offset: offset, isWrite: isWrite, data: data)
            }
        ])
    }

    func systemEvent(_ type: UInt32) -> (status: UInt8, note: String?)? {
        guard let status = ARM64Platform.exitStatus(systemEvent: type) else { return nil }
        switch type {
        case ARM64Platform.SystemEvent.reset:
            return (status, "the guest asked for a reset (PSCI SYSTEM_RESET): the run ends with status 1")
        case ARM64Platform.SystemEvent.crash:
            return (status, "the guest reported a crash (KVM_SYSTEM_EVENT_CRASH): the run ends with status 2")
        default: return (status, nil)
        }
    }

    // MARK: vCPUs

    func prepare(_ vm: VirtualMachine, memory: GuestMemory) throws {}

    func registerTable(_ kvm: KVMSystem, _ capabilities: KVMCapabilities, _ configuration: MachineConfiguration)
        -> RegisterTable?
    { nil }

    /// KVM_ARM_VCPU_INIT with the VM's preferred target, PSCI 0.2, SVE (finalized at the chosen length), and
    /// POWER_OFF for every vCPU but the first: they wait for PSCI CPU_ON (or `ap_start`: Machine.load).
    func makeContext(
        _ vcpu: VCPU, vm: VirtualMachine, table: RegisterTable?, kvm: KVMSystem, capabilities: KVMCapabilities,
        configuration: MachineConfiguration, host: HostProfile
    ) throws -> VCPUContext {
        var sve = configuration.sve
        if sve == .largest && !capabilities.armSVE { sve = .none }
        if case .length(let bits) = sve, !capabilities.armSVE {
            throw KVMError(
                operation: "--sve-vl \(bits): this host's KVM offers no SVE (KVM_CAP_ARM_SVE)", errno: EINVAL)
        }
        var features = [ARM64VCPUFeature.psci0_2]
        if vcpu.index > 0 { features.append(ARM64VCPUFeature.powerOff) }
        let vl = try ARM64Backend.initializeVCPU(
            vcpu, target: try vm.armPreferredTarget(), sve: sve, features: features)
        let backend =
            try table.map { ARM64Backend(device: vcpu, table: $0, sveVectorLength: vl) }
            ?? ARM64Backend(device: vcpu, sveVectorLength: vl)
        return VCPUContext(vcpu: vcpu, backend: backend)
    }

    /// pc at the entry, EL1h with D, A, I and F masked, the MMU off (SCTLR_EL1's reset value), SP_EL1 `stack`,
    /// x0 `argument` (0 for vCPU 0: no device tree).
    func enter(_ ctx: VCPUContext, entry: UInt64, stack: UInt64, argument: UInt64) throws {
        typealias R = ARM64SystemRegisterID
        try ctx.vcpu.setOneReg(R.pc, leBytes(entry))
        try ctx.vcpu.setOneReg(R.pstate, leBytes(0x3c5))
        try ctx.vcpu.setOneReg(R.spEL1, leBytes(stack))
        try ctx.vcpu.setOneReg(ARM64ID.core(offset: ARM64ID.CoreOffset.x(0), byteSize: 8), leBytes(argument))
        ctx.registers.invalidateAll()
    }
}

func leBytes(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

extension VCPU {
    /// A 64-bit ONE_REG value straight from the kernel.
    func oneRegValue(_ id: OneRegID) throws(KVMError) -> UInt64 {
        let bytes = try getOneReg(id)
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}

extension VCPUContext {
    /// A 64-bit register by ONE_REG ID: from the register file while it holds the group (so a value gdb wrote is
    /// the one used, and no ioctl is made), else straight from the kernel — one ONE_REG, not the whole group's
    /// (a page walk at a breakpoint hit needs four system registers of a hundred).
    func registerValue(_ id: OneRegID) throws(KVMError) -> UInt64 {
        if let regnum = regnum(of: id), let reg = backend.table[regnum],
            registers.valid.union(registers.dirty).contains(reg.syncGroup),
            let bytes = try registers.read(regnum), bytes.count >= 8
        {
            return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        }
        return try vcpu.oneRegValue(id)
    }

    /// `registerValue`, nil where it cannot be read.
    func systemRegister(_ id: OneRegID) -> UInt64? { try? registerValue(id) }
}

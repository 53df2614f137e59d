import GDBStub
import KVM
import Registers

/// What the arm64 VMM needs to know of the architecture, as pure functions: the jobs `MachineArchitecture` (the
/// x86 Machine's seam) names — the trap instruction, what a debug exit means, the guest-debug words of the
/// breakpoint and watchpoint slots, a trap given back to the guest — for AArch64. The Arm ARM (DDI 0487) is the
/// source of every encoding; arch/arm64/include/uapi/asm/kvm.h of the structures.
package enum ARM64Architecture {
    /// `BRK #0` as it lies in memory (0xd4200000, little-endian).
    package static let breakpointInstruction: [UInt8] = [0x00, 0x00, 0x20, 0xd4]

    /// KVM_ARM_MAX_DBG_REGS: the length of each array of `struct kvm_guest_debug_arch`.
    package static let maxDebugRegisters = 16

    // MARK: What a KVM_EXIT_DEBUG means

    /// ESR_ELx.EC values a debug exit carries (`kvm_debug_exit_arch.hsr` >> 26; Arm ARM D17.2.37).
    package enum ExceptionClass {
        package static let breakpointLowerEL: UInt32 = 0x30
        package static let breakpointSameEL: UInt32 = 0x31
        package static let softwareStepLowerEL: UInt32 = 0x32
        package static let softwareStepSameEL: UInt32 = 0x33
        package static let watchpointLowerEL: UInt32 = 0x34
        package static let watchpointSameEL: UInt32 = 0x35
        package static let brk: UInt32 = 0x3c
        /// BKPT from AArch32 (a 32-bit EL0 under an AArch64 EL1): KVM reports it like BRK (handle_exit.c).
        package static let bkpt32: UInt32 = 0x38
    }

    package enum DebugEvent: Equatable, Sendable {
        /// A BRK instruction (with its immediate), or an AArch32 BKPT: ours when pc is one of our breakpoints, else
        /// the guest's.
        case brk(immediate: UInt16)
        /// KVM_GUESTDBG_SINGLESTEP finished an instruction.
        case step
        /// A hardware breakpoint (dbg_bcr/bvr) matched pc.
        case hardwareBreakpoint
        /// A watchpoint (dbg_wcr/wvr) matched a data access at `address` (FAR).
        case watchpoint(address: UInt64)
        /// Any other class: KVM reports none today.
        case other(exceptionClass: UInt32)
    }

    /// The event of a debug exit from its syndrome (`hsr`) and fault address (`far`). The guest runs at EL1 or
    /// EL0, KVM traps its debug exceptions to EL2: the "lower EL" classes are the usual ones, the "same EL" ones
    /// are accepted too.
    package static func debugEvent(hsr: UInt64, far: UInt64) -> DebugEvent {
        let ec = UInt32(truncatingIfNeeded: hsr >> 26) & 0x3f
        switch ec {
        case ExceptionClass.brk, ExceptionClass.bkpt32: return .brk(immediate: UInt16(truncatingIfNeeded: hsr))
        case ExceptionClass.softwareStepLowerEL, ExceptionClass.softwareStepSameEL: return .step
        case ExceptionClass.breakpointLowerEL, ExceptionClass.breakpointSameEL: return .hardwareBreakpoint
        case ExceptionClass.watchpointLowerEL, ExceptionClass.watchpointSameEL: return .watchpoint(address: far)
        default: return .other(exceptionClass: ec)
        }
    }

    // MARK: Breakpoint and watchpoint registers

    /// DBGBCR<n>_EL1 for an address-match breakpoint: E (bit 0), PMC = 0b11 (bits 2:1, EL1 and EL0), BAS = 0b1111
    /// (bits 8:5, the whole A64 instruction); HMC, SSC, BT zero (unlinked address match).
    package static let breakpointControl: UInt64 = 1 | 0b11 << 1 | 0b1111 << 5

    /// DBGBVR<n>_EL1: the instruction's address, bits 1:0 RES0.
    package static func breakpointValue(_ address: UInt64) throws(TargetError) -> UInt64 {
        guard address % 4 == 0 else { throw .invalidArgument("A64 instructions are 4-byte aligned") }
        return address
    }

    /// DBGWCR<n>_EL1 and DBGWVR<n>_EL1 for a watchpoint: E, PAC = 0b11 (EL1 and EL0), LSC (bits 4:3: 01 load,
    /// 10 store, 11 both), and the bytes watched either as BAS (bits 12:5, one bit per byte of the aligned
    /// doubleword at DBGWVR: 1 to 8 bytes that do not cross it) or, for a larger power-of-two aligned range, as
    /// MASK (bits 28:24, log2 of the size, 3 to 31) with BAS all ones.
    package static func watchpointRegisters(_ kind: BreakpointKind, address: UInt64, length: Int) throws(TargetError)
        -> (control: UInt64, value: UInt64)
    {
        let lsc: UInt64
        switch kind {
        case .readWatchpoint: lsc = 0b01
        case .writeWatchpoint: lsc = 0b10
        case .accessWatchpoint: lsc = 0b11
        case .software, .hardware: throw .invalidArgument("not a watchpoint")
        }
        var control: UInt64 = 1 | 0b11 << 1 | lsc << 3
        let offset = address & 7
        if length >= 1, UInt64(length) + offset <= 8 {
            control |= (((1 << UInt64(length)) - 1) << offset) << 5
            return (control, address & ~7)
        }
        guard length > 8, length.nonzeroBitCount == 1, length <= 1 << 31, address % UInt64(length) == 0 else {
            throw .invalidArgument(
                "an arm64 watchpoint covers 1 to 8 bytes inside one aligned doubleword, or an aligned power of two up to 2 GiB"
            )
        }
        control |= 0xff << 5 | UInt64(length.trailingZeroBitCount) << 24
        return (control, address)
    }

    /// The watchpoint slots one gdb request takes: one (`watchpointRegisters`) when its bytes lie in one aligned
    /// doubleword or form an aligned power of two; else one BAS slot per doubleword they touch. gdb asks for 1 to 8
    /// bytes at any alignment (a long at 0x…4 crosses a doubleword) and for a whole struct, and sends each as one
    /// Z packet: split here, as gdb's own aarch64 Linux target splits them (aarch64_handle_unaligned_watchpoint).
    package static func watchpointSlots(_ kind: BreakpointKind, address: UInt64, length: Int) throws(TargetError)
        -> [(control: UInt64, value: UInt64)]
    {
        let fits = length >= 1 && UInt64(length) + (address & 7) <= 8
        let masked = length > 8 && length.nonzeroBitCount == 1 && length <= 1 << 31 && address % UInt64(length) == 0
        if fits || masked || kind == .software || kind == .hardware {
            return [try watchpointRegisters(kind, address: address, length: length)]
        }
        let (end, overflow) = address.addingReportingOverflow(UInt64(max(length, 0)))
        guard length >= 1, length <= 8 * maxDebugRegisters, !overflow else {
            throw .invalidArgument(
                "an arm64 watchpoint covers an aligned power of two up to 2 GiB, or up to \(8 * maxDebugRegisters) bytes one doubleword per slot"
            )
        }
        var slots: [(control: UInt64, value: UInt64)] = []
        var at = address
        while at < end {
            let next = min(end, (at & ~7) &+ 8)
            slots.append(try watchpointRegisters(kind, address: at, length: Int(next - at)))
            at = next
        }
        return slots
    }

    /// ESR WnR (ISS bit 6) of a watchpoint exception: a store (or cache maintenance) rather than a load.
    package static func watchpointAccessIsWrite(hsr: UInt64) -> Bool { hsr >> 6 & 1 == 1 }

    /// The 64 words of `struct kvm_guest_debug_arch`: dbg_bcr[16], dbg_bvr[16], dbg_wcr[16], dbg_wvr[16].
    package static func guestDebugWords(
        breakpoints: [UInt64?], watchpoints: [(control: UInt64, value: UInt64)?]
    ) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: 4 * maxDebugRegisters)
        for (i, address) in breakpoints.prefix(maxDebugRegisters).enumerated() {
            guard let address else { continue }
            words[i] = breakpointControl
            words[maxDebugRegisters + i] = address
        }
        for (i, w) in watchpoints.prefix(maxDebugRegisters).enumerated() {
            guard let w else { continue }
            words[2 * maxDebugRegisters + i] = w.control
            words[3 * maxDebugRegisters + i] = w.value
        }
        return words
    }

    /// The KVM_SET_GUEST_DEBUG state a run needs: nothing at all when gdb has nothing inserted and does not step,
    /// so the guest's own BRKs (and its own use of the debug registers) never leave the guest; USE_SW_BP only
    /// while a BRK of ours is in memory; USE_HW with the slots' words while a slot is in use.
    package static func guestDebug(
        step: Bool, softwareBreakpoints: Bool, hardwareBreakpoints: [UInt64?],
        watchpoints: [(control: UInt64, value: UInt64)?]
    ) -> (control: GuestDebugControl, words: [UInt64]) {
        var control: GuestDebugControl = []
        if step { control.insert(.singleStep) }
        if softwareBreakpoints { control.insert(.useSoftwareBreakpoints) }
        var words: [UInt64] = []
        if hardwareBreakpoints.contains(where: { $0 != nil }) || watchpoints.contains(where: { $0 != nil }) {
            control.insert(.useHardwareBreakpoints)
            words = guestDebugWords(breakpoints: hardwareBreakpoints, watchpoints: watchpoints)
        }
        if !control.isEmpty { control.insert(.enable) }
        return (control, words)
    }

    /// Which of the watchpoints (address, length) a hit at `far` belongs to: the first whose bytes hold it, else
    /// the first whose doubleword does (FAR may name any byte of a wider access), else the first one there is.
    /// With `kinds` and `write` (ESR WnR), a slot whose LSC cannot have matched the access is passed over: a load
    /// does not fire a write watchpoint, so a `watch` sharing bytes with an `rwatch` is not the one reported
    /// (gdb would find no change and go on silently, and the rwatch hit would be lost).
    package static func watchpointHit(
        far: UInt64, _ watchpoints: [(address: UInt64, length: Int)?], kinds: [BreakpointKind?] = [],
        write: Bool? = nil
    ) -> Int? {
        let all = watchpoints.indices.filter { watchpoints[$0] != nil }
        let eligible = all.filter { i in
            guard let write, i < kinds.count, let kind = kinds[i] else { return true }
            return write ? kind != .readWatchpoint : kind != .writeWatchpoint
        }
        let present = eligible.isEmpty ? all : eligible
        if let i = present.first(where: { i in
            let w = watchpoints[i]!
            return far >= w.address && far - w.address < UInt64(w.length)
        }) {
            return i
        }
        if let i = present.first(where: { i in
            let w = watchpoints[i]!
            let start = w.address & ~7
            return far >= start && far - start < UInt64(max(8, w.length))
        }) {
            return i
        }
        return present.first
    }

    // MARK: SVE

    /// The vector length the guest runs with at EL1, in bits: ZCR_EL1.LEN asks for (LEN + 1) × 128, and an
    /// implementation that lacks that length gives the largest it has below it (Arm ARM, "Effective SVE vector
    /// length"); `offered` is what the vCPU was finalized with (KVM_REG_ARM64_SVE_VLS), which caps it.
    package static func effectiveVectorLength(zcr: UInt64, offered: [Int]) -> Int {
        let asked = Int((zcr & 0xf) + 1) * 128
        return offered.last(where: { $0 <= asked }) ?? 128
    }

    // MARK: Giving a BRK back to the guest

    /// The state after a synchronous exception taken to EL1 (Arm ARM, AArch64.TakeException): arm64 KVM has no
    /// KVM_GUESTDBG_INJECT_BP and KVM_SET_VCPU_EVENTS injects only SErrors, so a BRK of the guest's own that
    /// trapped to us (USE_SW_BP traps every BRK) is delivered by doing what the CPU would have done, through
    /// ONE_REG — QEMU's kvm_arm_handle_debug does the same through its own exception-entry code.
    package struct ExceptionEntry: Equatable, Sendable {
        package var pc: UInt64
        package var pstate: UInt64
        /// ELR_EL1: the preferred return address, the BRK itself.
        package var elr: UInt64
        /// SPSR_EL1: PSTATE as it was.
        package var spsr: UInt64
        /// ESR_EL1: the syndrome, as KVM reported it (EC 0x3c, IL, the immediate).
        package var esr: UInt64

        package init(pc: UInt64, pstate: UInt64, elr: UInt64, spsr: UInt64, esr: UInt64) {
            self.pc = pc
            self.pstate = pstate
            self.elr = elr
            self.spsr = spsr
            self.esr = esr
        }
    }

    /// Where a synchronous exception from `pstate` to EL1 enters VBAR_EL1's table, and the PSTATE it gets:
    /// vector 0x000 from EL1t, 0x200 from EL1h, 0x400 from EL0 in AArch64, 0x600 from AArch32. NZCV and DIT are
    /// kept, DAIF set, mode EL1h; PAN set when the CPU has it and SCTLR_EL1.SPAN is 0; SSBS from SCTLR_EL1.DSSBS.
    /// nil from EL2 or EL3, which an exception to EL1 cannot come from.
    package static func synchronousExceptionEntry(
        pc: UInt64, pstate: UInt64, vbar: UInt64, esr: UInt64, sctlr: UInt64, hasPAN: Bool
    ) -> ExceptionEntry? {
        let offset: UInt64
        if pstate & 0x10 != 0 {
            offset = 0x600  // AArch32 (EL0)
        } else {
            switch (pstate >> 2) & 3 {
            case 0: offset = 0x400
            case 1: offset = pstate & 1 != 0 ? 0x200 : 0x000
            default: return nil
            }
        }
        var new = pstate & (0xf000_0000 | 1 << 24)  // NZCV, DIT
        new |= 0x3c0 | 0b0101  // DAIF, EL1h
        if hasPAN { new |= sctlr & (1 << 23) == 0 ? 1 << 22 : pstate & (1 << 22) }
        if sctlr & (1 << 44) != 0 { new |= 1 << 12 }  // SSBS = DSSBS
        return ExceptionEntry(
            pc: (vbar & ~0x7ff) + offset, pstate: new, elr: pc, spsr: pstate, esr: esr & 0xffff_ffff)
    }
}

/// The system registers the VMM itself reads or writes (ARM64_SYS_REG encodings).
package enum ARM64SystemRegisterID {
    package static let sctlr = ARM64ID.sysreg(3, 0, 1, 0, 0)
    package static let ttbr0 = ARM64ID.sysreg(3, 0, 2, 0, 0)
    package static let ttbr1 = ARM64ID.sysreg(3, 0, 2, 0, 1)
    package static let tcr = ARM64ID.sysreg(3, 0, 2, 0, 2)
    package static let esr = ARM64ID.sysreg(3, 0, 5, 2, 0)
    package static let vbar = ARM64ID.sysreg(3, 0, 12, 0, 0)
    package static let zcr = ARM64ID.sysreg(3, 0, 1, 2, 0)
    package static let idAA64MMFR1 = ARM64ID.sysreg(3, 0, 0, 7, 1)

    private typealias O = ARM64ID.CoreOffset
    package static let pc = ARM64ID.core(offset: O.pc, byteSize: 8)
    package static let pstate = ARM64ID.core(offset: O.pstate, byteSize: 8)
    package static let spEL1 = ARM64ID.core(offset: O.spEL1, byteSize: 8)
    package static let elrEL1 = ARM64ID.core(offset: O.elrEL1, byteSize: 8)
    package static let spsrEL1 = ARM64ID.core(offset: O.spsrEL1, byteSize: 8)
}

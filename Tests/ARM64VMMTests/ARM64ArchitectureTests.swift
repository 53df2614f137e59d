import ARM64VMM
import GDBStub
import Testing

/// The AArch64 encodings the arm64 VMM hands KVM, against values worked out from the Arm ARM by hand.
struct ARM64ArchitectureTests {
    @Test func debugExitClassesAreDecodedFromTheSyndrome() {
        typealias A = ARM64Architecture
        // BRK #0x2a from EL1: EC 0x3c, IL, ISS = the immediate.
        #expect(A.debugEvent(hsr: 0xf200_002a, far: 0) == .brk(immediate: 0x2a))
        #expect(A.debugEvent(hsr: 0x32 << 26 | 1 << 25, far: 0) == .step)
        #expect(A.debugEvent(hsr: 0x33 << 26, far: 0) == .step)
        #expect(A.debugEvent(hsr: 0x30 << 26, far: 0) == .hardwareBreakpoint)
        #expect(A.debugEvent(hsr: 0x31 << 26, far: 0) == .hardwareBreakpoint)
        #expect(A.debugEvent(hsr: 0x34 << 26 | 1 << 6, far: 0x4000_1008) == .watchpoint(address: 0x4000_1008))
        #expect(A.debugEvent(hsr: 0x35 << 26, far: 8) == .watchpoint(address: 8))
        #expect(A.debugEvent(hsr: 0x15 << 26, far: 0) == .other(exceptionClass: 0x15))
        // BKPT #5 from AArch32 (EC 0x38, a T32 BKPT: IL 0) is a BRK too: given back to the guest unless ours.
        #expect(A.debugEvent(hsr: 0x38 << 26 | 5, far: 0) == .brk(immediate: 5))
        // A watchpoint's WnR (ISS bit 6).
        #expect(A.watchpointAccessIsWrite(hsr: 0x34 << 26 | 1 << 6 | 0x22))
        #expect(!A.watchpointAccessIsWrite(hsr: 0x34 << 26 | 0x22))
        // hsr_high (ISS2) above bit 31 does not change the class.
        #expect(A.debugEvent(hsr: 1 << 32 | 0x32 << 26, far: 0) == .step)
    }

    @Test func breakpointControlEnablesAnAddressMatchAtEL1AndEL0() {
        // E = 1, PMC = 0b11, BAS = 0b1111: 0x1e7.
        #expect(ARM64Architecture.breakpointControl == 0x1e7)
        #expect(ARM64Architecture.breakpointInstruction == [0x00, 0x00, 0x20, 0xd4])
        #expect(throws: TargetError.self) { try ARM64Architecture.breakpointValue(0x4000_0002) }
        #expect((try? ARM64Architecture.breakpointValue(0x4000_0004)) == 0x4000_0004)
    }

    @Test func watchpointsUseByteSelectInsideADoubleword() throws {
        typealias A = ARM64Architecture
        // 4 bytes at offset 4 of the doubleword, writes: E | PAC 0b11 | LSC 0b10 | BAS 0b1111_0000.
        let w = try A.watchpointRegisters(.writeWatchpoint, address: 0x4000_1004, length: 4)
        #expect(w.value == 0x4000_1000)
        #expect(w.control == 1 | 0b11 << 1 | 0b10 << 3 | 0xf0 << 5)
        // 1 byte at offset 3, reads.
        let r = try A.watchpointRegisters(.readWatchpoint, address: 0x4000_1003, length: 1)
        #expect(r.value == 0x4000_1000)
        #expect(r.control == 1 | 0b11 << 1 | 0b01 << 3 | 0x08 << 5)
        // 8 aligned bytes, both.
        let b = try A.watchpointRegisters(.accessWatchpoint, address: 0x4000_1008, length: 8)
        #expect(b.control == 1 | 0b11 << 1 | 0b11 << 3 | 0xff << 5)
        // 64 aligned bytes: MASK = 6, BAS all ones, the address as it is.
        let m = try A.watchpointRegisters(.writeWatchpoint, address: 0x4000_1040, length: 64)
        #expect(m.value == 0x4000_1040)
        #expect(m.control == 1 | 0b11 << 1 | 0b10 << 3 | 0xff << 5 | 6 << 24)
        // Across a doubleword, a non-power-of-two, a misaligned range: refused.
        #expect(throws: TargetError.self) {
            try A.watchpointRegisters(.writeWatchpoint, address: 0x4000_1006, length: 4)
        }
        #expect(throws: TargetError.self) {
            try A.watchpointRegisters(.writeWatchpoint, address: 0x4000_1000, length: 24)
        }
        #expect(throws: TargetError.self) {
            try A.watchpointRegisters(.writeWatchpoint, address: 0x4000_1020, length: 64)
        }
        #expect(throws: TargetError.self) { try A.watchpointRegisters(.hardware, address: 0x4000_1000, length: 4) }
    }

    @Test func aWatchedRangeAcrossDoublewordsTakesASlotForEach() throws {
        typealias A = ARM64Architecture
        let base: UInt64 = 1 | 0b11 << 1 | 0b01 << 3  // E, PAC, LSC load
        // A long at offset 4 (gdb's `rwatch` of a packed member): bytes 4-7 of one doubleword, 0-3 of the next.
        let long = try A.watchpointSlots(.readWatchpoint, address: 0x4000_1004, length: 8)
        #expect(long.map(\.value) == [0x4000_1000, 0x4000_1008])
        #expect(long.map(\.control) == [base | 0xf0 << 5, base | 0x0f << 5])
        // 2 bytes at offset 7; 24 bytes from offset 0: three whole doublewords.
        #expect(
            try A.watchpointSlots(.readWatchpoint, address: 0x4000_1007, length: 2).map(\.control) == [
                base | 0x80 << 5, base | 0x01 << 5,
            ])
        let three = try A.watchpointSlots(.readWatchpoint, address: 0x4000_1000, length: 24)
        #expect(three.map(\.value) == [0x4000_1000, 0x4000_1008, 0x4000_1010])
        #expect(three.allSatisfy { $0.control == base | 0xff << 5 })
        // What one slot does stays one slot: inside a doubleword, or an aligned power of two (MASK).
        #expect(try A.watchpointSlots(.readWatchpoint, address: 0x4000_1004, length: 4).count == 1)
        #expect(try A.watchpointSlots(.readWatchpoint, address: 0x4000_1040, length: 64).count == 1)
        // More doublewords than KVM_ARM_MAX_DBG_REGS, an empty range, the top of the address space: refused.
        #expect(throws: TargetError.self) { try A.watchpointSlots(.readWatchpoint, address: 0x4000_1004, length: 200) }
        #expect(throws: TargetError.self) { try A.watchpointSlots(.readWatchpoint, address: 0x4000_1000, length: 0) }
        #expect(throws: TargetError.self) { try A.watchpointSlots(.readWatchpoint, address: ~0 - 3, length: 8) }
        #expect(throws: TargetError.self) { try A.watchpointSlots(.hardware, address: 0x4000_1000, length: 4) }
    }

    @Test func guestDebugWordsFollowTheKernelStruct() {
        let words = ARM64Architecture.guestDebugWords(
            breakpoints: [nil, 0x4000_0010], watchpoints: [(control: 0x1f7, value: 0x4000_2000)])
        #expect(words.count == 64)
        #expect(words[1] == 0x1e7)  // dbg_bcr[1]
        #expect(words[16 + 1] == 0x4000_0010)  // dbg_bvr[1]
        #expect(words[0] == 0 && words[16] == 0)
        #expect(words[32] == 0x1f7)  // dbg_wcr[0]
        #expect(words[48] == 0x4000_2000)  // dbg_wvr[0]
    }

    @Test func aWatchpointHitIsMatchedByItsBytesFirst() {
        let slots: [(address: UInt64, length: Int)?] = [(0x1000, 4), nil, (0x1004, 4)]
        #expect(ARM64Architecture.watchpointHit(far: 0x1005, slots) == 2)
        #expect(ARM64Architecture.watchpointHit(far: 0x1000, slots) == 0)
        // FAR of a wider access that starts in the doubleword before the bytes.
        #expect(ARM64Architecture.watchpointHit(far: 0x1000, [nil, (0x1006, 2)]) == 1)
        #expect(ARM64Architecture.watchpointHit(far: 0x9000, [nil, nil]) == nil)
    }

    @Test func aWatchpointHitSkipsSlotsTheAccessCannotHaveFired() {
        // `watch` of a long at 0x1000 and `rwatch` of its upper half: a load at 0x1004 is the rwatch's (a write
        // watchpoint does not fire on a load), a store there the watch's.
        let slots: [(address: UInt64, length: Int)?] = [(0x1000, 8), (0x1004, 4)]
        let kinds: [BreakpointKind?] = [.writeWatchpoint, .readWatchpoint]
        #expect(ARM64Architecture.watchpointHit(far: 0x1004, slots, kinds: kinds, write: false) == 1)
        #expect(ARM64Architecture.watchpointHit(far: 0x1004, slots, kinds: kinds, write: true) == 0)
        // An access watchpoint fires on either.
        let access: [BreakpointKind?] = [.writeWatchpoint, .accessWatchpoint]
        #expect(ARM64Architecture.watchpointHit(far: 0x1004, slots, kinds: access, write: false) == 1)
        // No slot of a kind that fits (an atomic's WnR): the bytes decide, as without kinds.
        #expect(ARM64Architecture.watchpointHit(far: 0x1000, [(0x1000, 8)], kinds: [.readWatchpoint], write: true) == 0)
    }

    @Test func aBRKIsGivenBackThroughTheVectorOfItsMode() {
        typealias A = ARM64Architecture
        let esr: UInt64 = 0xf200_0007  // BRK #7
        // From EL1h (pstate 0x3c5 with Z set): vector + 0x200, DAIF set, EL1h, NZCV kept.
        let e = A.synchronousExceptionEntry(
            pc: 0x4000_0100, pstate: 0x4000_03c5, vbar: 0x4000_0800, esr: esr, sctlr: 0x30d0_0980, hasPAN: false)
        #expect(e == .init(pc: 0x4000_0a00, pstate: 0x4000_03c5, elr: 0x4000_0100, spsr: 0x4000_03c5, esr: esr))
        // From EL1t with DAIF clear: + 0x000.
        #expect(
            A.synchronousExceptionEntry(pc: 4, pstate: 0x4, vbar: 0x800, esr: esr, sctlr: 0, hasPAN: false)?.pc == 0x800
        )
        // From EL0 (AArch64): + 0x400; SPAN = 0 with PAN present sets PSTATE.PAN.
        let el0 = A.synchronousExceptionEntry(pc: 4, pstate: 0x0, vbar: 0x800, esr: esr, sctlr: 0, hasPAN: true)
        #expect(el0?.pc == 0xc00)
        #expect(el0?.pstate == 0x3c5 | 1 << 22)
        // SPAN = 1 keeps PAN as it was; DSSBS sets SSBS.
        let kept = A.synchronousExceptionEntry(
            pc: 4, pstate: 0x5, vbar: 0x800, esr: esr, sctlr: 1 << 23 | 1 << 44, hasPAN: true)
        #expect(kept?.pstate == 0x3c5 | 1 << 12)
        // From AArch32: + 0x600. From EL2h: none.
        #expect(
            A.synchronousExceptionEntry(pc: 4, pstate: 0x10, vbar: 0x800, esr: esr, sctlr: 0, hasPAN: false)?.pc
                == 0xe00)
        #expect(A.synchronousExceptionEntry(pc: 4, pstate: 0x9, vbar: 0x800, esr: esr, sctlr: 0, hasPAN: false) == nil)
        // VBAR's low 11 bits are RES0.
        #expect(
            A.synchronousExceptionEntry(pc: 4, pstate: 0x5, vbar: 0x8ff, esr: esr, sctlr: 0, hasPAN: false)?.pc == 0xa00
        )
    }

    @Test func theEffectiveVectorLengthIsTheLargestOfferedUpToZCRLEN() {
        typealias A = ARM64Architecture
        let powers = [128, 256, 512, 1024, 2048]  // QEMU's -cpu max,sve2048=on
        #expect(A.effectiveVectorLength(zcr: 0, offered: powers) == 128)
        #expect(A.effectiveVectorLength(zcr: 2, offered: powers) == 256)  // 384 asked, not offered
        #expect(A.effectiveVectorLength(zcr: 15, offered: powers) == 2048)
        #expect(A.effectiveVectorLength(zcr: 15, offered: [128, 256]) == 256)  // the vCPU's maximum caps it
        #expect(A.effectiveVectorLength(zcr: 0x1f2, offered: Array(stride(from: 128, through: 2048, by: 128))) == 384)
    }

    @Test func systemEventsEndTheRunWithTheirStatus() {
        #expect(ARM64Platform.exitStatus(systemEvent: 1) == 0)
        #expect(ARM64Platform.exitStatus(systemEvent: 2) == 1)
        #expect(ARM64Platform.exitStatus(systemEvent: 3) == 2)
        #expect(ARM64Platform.exitStatus(systemEvent: 9) == nil)
    }

    @Test func thePL011WritesItsDataRegisterAndNeverLooksBusy() {
        final class Sink: @unchecked Sendable { var bytes: [UInt8] = [] }
        let sink = Sink()
        let uart = PL011 { sink.bytes.append($0) }
        var buffer = [UInt8](repeating: 0xee, count: 4)
        buffer[0] = 0x41
        buffer.withUnsafeMutableBytes { uart.access(offset: 0, isWrite: true, data: $0) }
        buffer.withUnsafeMutableBytes { uart.access(offset: 0x30, isWrite: true, data: $0) }  // UARTCR: ignored
        #expect(sink.bytes == [0x41])
        buffer.withUnsafeMutableBytes { uart.access(offset: 0x18, isWrite: false, data: $0) }
        #expect(buffer == [0x90, 0, 0, 0])
        buffer.withUnsafeMutableBytes { uart.access(offset: 0xfe0, isWrite: false, data: $0) }
        #expect(buffer == [0x11, 0, 0, 0])
        buffer.withUnsafeMutableBytes { uart.access(offset: 0x24, isWrite: false, data: $0) }
        #expect(buffer == [0, 0, 0, 0])
    }
}

/// What KVM_SET_GUEST_DEBUG gets for each state of gdb's breakpoints (KVM_GUESTDBG_* of the uapi headers:
/// ENABLE 0x1, SINGLESTEP 0x2, USE_SW_BP 0x10000, USE_HW 0x20000).
struct ARM64GuestDebugTests {
    @Test func nothingInsertedLeavesGuestDebugOff() {
        let d = ARM64Architecture.guestDebug(
            step: false, softwareBreakpoints: false, hardwareBreakpoints: [nil, nil], watchpoints: [nil])
        #expect(d.control.rawValue == 0)
        #expect(d.words.isEmpty)
    }

    @Test func eachFeatureAddsItsFlag() {
        typealias A = ARM64Architecture
        #expect(
            A.guestDebug(step: true, softwareBreakpoints: false, hardwareBreakpoints: [], watchpoints: []).control
                .rawValue == 0x3)
        #expect(
            A.guestDebug(step: false, softwareBreakpoints: true, hardwareBreakpoints: [], watchpoints: []).control
                .rawValue == 0x10001)
        let hw = A.guestDebug(
            step: true, softwareBreakpoints: true, hardwareBreakpoints: [0x4000_0000], watchpoints: [])
        #expect(hw.control.rawValue == 0x30003)
        #expect(hw.words.count == 64 && hw.words[0] == 0x1e7 && hw.words[16] == 0x4000_0000)
        let wp = A.guestDebug(
            step: false, softwareBreakpoints: false, hardwareBreakpoints: [nil],
            watchpoints: [nil, (0x1f7, 0x4000_2000)])
        #expect(wp.control.rawValue == 0x20001)
        #expect(wp.words[33] == 0x1f7 && wp.words[49] == 0x4000_2000)
    }
}

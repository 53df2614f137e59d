import ARM64VMM
import GDBStub
import KVM
import Testing

@testable import Machine

/// The arm64 machine's pure jobs, on any host: which slots a kind takes, the guest-debug words of a table whose
/// watchpoint spans doublewords, what a debug exit means for the slots, what a system event ends with. The rest
/// runs on real arm64 KVM only: the rig's sessions (scripts/rig-arm64.sh).
struct ARM64MachineArchitectureTests {
    let arch = ARM64MachineArchitecture(hardwareBreakpoints: 6, hardwareWatchpoints: 4)

    @Test func breakpointsAndWatchpointsHaveTheirOwnSlots() {
        #expect(arch.debugSlotCount == 10)
        #expect(arch.slotRange(for: .hardware) == 0..<6)
        #expect(arch.slotRange(for: .software) == 0..<6)
        #expect(arch.slotRange(for: .writeWatchpoint) == 6..<10)
        #expect(arch.slotRange(for: .readWatchpoint) == 6..<10)
        // KVM never offers more than KVM_ARM_MAX_DBG_REGS of either.
        let big = ARM64MachineArchitecture(hardwareBreakpoints: 40, hardwareWatchpoints: -1)
        #expect(big.slotRange(for: .hardware) == 0..<16)
        #expect(big.slotRange(for: .accessWatchpoint).isEmpty)
    }

    @Test func aWatchpointAcrossADoublewordTakesTwoSlotsAndTwoRegisterPairs() throws {
        #expect(try arch.watchpointSlotCount(.writeWatchpoint, address: 0x4000_1004, length: 8) == 2)
        #expect(try arch.watchpointSlotCount(.readWatchpoint, address: 0x4000_1000, length: 8) == 1)
        #expect(try arch.watchpointSlotCount(.writeWatchpoint, address: 0x4000_1000, length: 64) == 1)  // MASK
        #expect(throws: TargetError.self) { try arch.watchpointSlotCount(.writeWatchpoint, address: 0, length: 0x20_0001) }

        var table = BreakpointTable(slots: arch.debugSlotCount)
        table.addSlot(0, .init(address: 0x4000_2000, kind: .hardware, length: 1))
        table.addSlot(6, .init(address: 0x4000_1004, kind: .writeWatchpoint, length: 8, piece: 0))
        table.addSlot(7, .init(address: 0x4000_1004, kind: .writeWatchpoint, length: 8, piece: 1))
        let words = arch.guestDebugWords(table.slots)
        #expect(words.count == 64)
        #expect(words[0] == ARM64Architecture.breakpointControl)  // dbg_bcr[0]
        #expect(words[16] == 0x4000_2000)  // dbg_bvr[0]
        // dbg_wcr[0]: bytes 4-7 of the doubleword at 0x40001000 (BAS 0xf0), store (LSC 10), EL1+EL0, enabled;
        // dbg_wcr[1]: bytes 0-3 of the next one.
        #expect(words[32] == 1 | 0b11 << 1 | 0b10 << 3 | 0xf0 << 5)
        #expect(words[48] == 0x4000_1000)
        #expect(words[33] == 1 | 0b11 << 1 | 0b10 << 3 | 0x0f << 5)
        #expect(words[49] == 0x4000_1008)
        #expect(words[34] == 0 && words[50] == 0)

        // Removing the request frees both pieces.
        let removed = table.removeSlot(kind: .writeWatchpoint, address: 0x4000_1004, length: 8)
        #expect(removed)
        #expect(table.slots[6] == nil && table.slots[7] == nil)
    }

    @Test func aDebugExitNamesTheSlotOrTheEvent() {
        var slots = [BreakpointTable.Slot?](repeating: nil, count: arch.debugSlotCount)
        slots[6] = .init(address: 0x4000_1000, kind: .writeWatchpoint, length: 8)
        slots[7] = .init(address: 0x4000_1000, kind: .readWatchpoint, length: 8)
        func exit(ec: UInt64, iss: UInt64 = 0, far: UInt64 = 0) -> DebugExit {
            DebugExit(exception: UInt32(ec), pc: 0, dr6: ec << 26 | 1 << 25 | iss, address: far)
        }
        #expect(arch.debugEvent(exit(ec: 0x3c), slots: slots) == .breakpointInstruction(pc: nil))
        #expect(arch.debugEvent(exit(ec: 0x32), slots: slots) == .step)
        #expect(arch.debugEvent(exit(ec: 0x30), slots: slots) == .hardwareBreakpoint)
        // A store (WnR, ISS bit 6) is the watch's, a load the rwatch's, though both cover the bytes.
        #expect(arch.debugEvent(exit(ec: 0x34, iss: 1 << 6, far: 0x4000_1004), slots: slots) == .slot(6))
        #expect(arch.debugEvent(exit(ec: 0x34, far: 0x4000_1004), slots: slots) == .slot(7))
        if case .unknown = arch.debugEvent(exit(ec: 0x34, far: 0x4000_1004), slots: Array(repeating: nil, count: 10)) {
        } else {
            Issue.record("a watchpoint exit with no watchpoint set is not ours")
        }
        if case .unknown = arch.debugEvent(exit(ec: 0x15), slots: slots) {
        } else {
            Issue.record("an exception class KVM does not report")
        }
    }

    @Test func psciSystemEventsEndTheRun() {
        #expect(arch.systemEvent(ARM64Platform.SystemEvent.shutdown)?.status == 0)
        #expect(arch.systemEvent(ARM64Platform.SystemEvent.shutdown)?.note == nil)
        #expect(arch.systemEvent(ARM64Platform.SystemEvent.reset)?.status == 1)
        #expect(arch.systemEvent(ARM64Platform.SystemEvent.crash)?.status == 2)
        #expect(arch.systemEvent(99) == nil)
    }

    @Test func theArm64BoardAndItsRules() {
        #expect(arch.ramBase == 0x4000_0000)
        #expect(arch.breakpointInstruction == [0x00, 0x00, 0x20, 0xd4])
        #expect(arch.haltInstruction == nil)
        #expect(arch.watchpointsStopBeforeAccess && !arch.pageHolesAreSafe)
        #expect(arch.secondaryStartup == "PSCI CPU_ON")
        let uart = arch.mmioDevices(MachineConfiguration())
        var flags = [UInt8](repeating: 0, count: 4)
        let served = flags.withUnsafeMutableBytes { uart?.access(0x0900_0018, isWrite: false, data: $0) }
        #expect(served == true)
        #expect(flags[0] == 0x90)  // UARTFR: TXFE and RXFE
        let elsewhere = flags.withUnsafeMutableBytes { uart?.access(0x0a00_0000, isWrite: false, data: $0) }
        #expect(elsewhere == false)
    }
}

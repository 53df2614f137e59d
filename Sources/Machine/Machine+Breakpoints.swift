import GDBStub
import KVM

/// `Z`/`z`: breakpoints and watchpoints as the strategies place them (SoftwareBreakpoints.swift for Z0, the
/// architecture's debug-register slots for Z1–Z4, single steps where data breakpoints never fire).
extension Machine {
    /// Read watchpoints too: page protection serves what the debug registers cannot (Machine+PageWatchpoints.swift).
    package var supportedBreakpointKinds: Set<BreakpointKind> {
        [.software, .hardware, .writeWatchpoint, .readWatchpoint, .accessWatchpoint]
    }

    package func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        switch kind {
        case .software:
            if breakpoints.software[address] != nil { return }
            try strategy.placement.insert(at: address, in: self)
        case .hardware:
            let width = UInt64(architecture.breakpointInstruction.count)
            guard address % width == 0 else {
                throw .invalidArgument("\(architecture.name) instructions are \(width)-byte aligned")
            }
            if breakpoints.slots.contains(.init(address: address, kind: .hardware, length: 1)) { return }
            guard let slot = breakpoints.freeSlot(in: architecture.slotRange(for: .hardware)) else {
                throw .noSpace("all \(slotCountWord(for: .hardware)) are in use")
            }
            breakpoints.addSlot(slot, .init(address: address, kind: .hardware, length: 1))
        case .writeWatchpoint, .readWatchpoint, .accessWatchpoint:
            try insertWatchpoint(kind, at: address, length: length)  // Machine+PageWatchpoints.swift chooses the strategy
        }
    }

    /// A slot as the architecture names it: "DR2"; "watchpoint register 1" (arm64).
    func slotName(_ i: Int) -> String {
        guard let arm64 = architecture as? ARM64MachineArchitecture else { return "DR\(i)" }
        return arm64.breakpointRange.contains(i)
            ? "breakpoint register \(i)" : "watchpoint register \(i - arm64.watchpointRange.lowerBound)"
    }

    /// "four debug registers" on x86; "6 breakpoint registers (KVM_CAP_GUEST_DEBUG_HW_BPS)" on arm64.
    func slotCountWord(for kind: BreakpointKind) -> String {
        let n = architecture.slotRange(for: kind).count
        if n == architecture.debugSlotCount { return n == 4 ? "four debug registers" : "\(n) debug registers" }
        return kind == .hardware || kind == .software
            ? "\(n) breakpoint registers (KVM_CAP_GUEST_DEBUG_HW_BPS)"
            : "\(n) watchpoint registers (KVM_CAP_GUEST_DEBUG_HW_WPS)"
    }

    /// Write `trap` over the guest's code at guest-virtual `address` (vCPU 0's address space), keeping what was
    /// there: a software breakpoint of either strategy.
    func patch(_ address: UInt64, with trap: [UInt8]) throws(TargetError) {
        let ctx = try context(1)
        guard address % UInt64(trap.count) == 0 else {
            throw .invalidArgument("\(architecture.name) instructions are \(trap.count)-byte aligned")
        }
        guard let pa = translate(ctx, address), (pa & 0xfff) + UInt64(trap.count) <= 0x1000,
            let original = memory.read(pa, count: trap.count)
        else { throw .badAddress(address) }
        if breakpoints.patch(atPhysical: pa) != nil {  // the same bytes through another mapping
            breakpoints.addAlias(virtual: address, physical: pa)
            return
        }
        memory.write(pa, trap)
        memory.synchronizeInstructions(pa, count: trap.count)
        breakpoints.addPatch(virtual: address, physical: pa, original: original, trap: trap)
    }

    /// The trap of `patch` is still in guest memory (the guest has not written over it).
    func trapIntact(_ patch: BreakpointTable.Patch) -> Bool {
        memory.read(patch.physical, count: patch.trap.count) == patch.trap
    }

    /// Watchpoints served by single-stepping have no hardware slot to run out of; each one is read after every
    /// step, so they are bounded all the same.
    static let steppedWatchCapacity = 16

    /// lldb's `qWatchpointSupportInfo`: page protection bounds watchpoints only by the kernel's memory slots
    /// (each watched page splits RAM's slot: at most two more slots a page, two pages a watchpoint), plus the
    /// debug registers where data breakpoints fire.
    package var watchpointCapacity: Int? {
        (watchpointStrategy == .debugRegisters ? architecture.slotRange(for: .writeWatchpoint).count : 0)
            + Int(pageWatchSlotLimit - 1) / 4
    }

    package func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        switch kind {
        case .software:
            guard let (_, patch) = breakpoints.removeSoftware(virtual: address) else { return }
            // Put the original back only over our trap: if the guest has written there since (code it copied
            // or generated), its bytes are the ones that count, and the saved bytes are stale.
            if let patch, trapIntact(patch) {
                memory.write(patch.physical, patch.original)
                memory.synchronizeInstructions(patch.physical, count: patch.original.count)
            }
        case .writeWatchpoint, .readWatchpoint, .accessWatchpoint:
            try removeWatchpoint(kind, at: address, length: length)
        case .hardware:
            _ = breakpoints.removeSlot(kind: kind, address: address, length: 1)
        }
    }
}

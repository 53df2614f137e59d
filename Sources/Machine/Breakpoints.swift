import GDBStub

/// How `Z0` is served on this host, chosen once at start-up by `SoftwareBreakpointProbe`.
package enum SoftwareBreakpointStrategy: String, Sendable {
    /// int3 (0xCC) in guest memory with KVM_GUESTDBG_USE_SW_BP: the kernel turns the #BP into KVM_EXIT_DEBUG —
    /// what real KVM does, and QEMU relies on — or, where CPL0 code is emulated (kvm_pvm), KVM_RUN stops on the
    /// int3 with an emulation failure (Machine+EmulatorGaps.swift). Either way the exit reaches kvmstub.
    case int3
    /// For hosts that let the guest take its own #BP (and real-mode images where the emulator runs int3 through
    /// the IVT): a free debug-register slot first (an execute breakpoint, USE_HW_BP); beyond four, HLT (0xF4) in
    /// guest memory, which exits to userspace for CPL0 code without an in-kernel interrupt controller. kvmstub
    /// reports the HLT exit at address+1 as the breakpoint and rewinds rip.
    case hardwareThenHalt = "hw-then-hlt"
}

/// Breakpoints and watchpoints as they are placed in the machine: trap instructions patched into guest memory (with
/// the originals, so reads show them) and the architecture's debug-register slots (x86: DR0–DR3, encoded by
/// `X86Architecture.guestDebugWords`).
struct BreakpointTable {
    enum Placement: Equatable {
        case memory(physical: UInt64)
        case slot(Int)
    }

    /// A trap instruction written over the guest's bytes (x86: one byte; arm64: four).
    struct Patch {
        let virtual: UInt64
        let physical: UInt64
        var original: [UInt8]
        let trap: [UInt8]
    }

    struct Slot: Equatable {
        let address: UInt64
        let kind: BreakpointKind
        let length: Int
        /// Which of the slots one request takes this is (arm64: a watchpoint across doublewords takes one per
        /// doubleword); 0 where a request takes one.
        var piece = 0
    }

    /// Software breakpoints by guest-virtual address.
    private(set) var software: [UInt64: Placement] = [:]
    /// Patched bytes by guest-physical address.
    private(set) var patches: [UInt64: Patch] = [:]
    private(set) var slots: [Slot?]
    /// Write watchpoints served by single-stepping (`WatchpointStrategy.singleStep`): address → length.
    private(set) var steppedWatches: [UInt64: Int] = [:]

    /// The longest trap patched: how far back a byte's patch may start.
    private(set) var longestTrap = 1

    init(slots: Int) { self.slots = Array(repeating: nil, count: slots) }

    var isEmpty: Bool { software.isEmpty && slots.allSatisfy { $0 == nil } && steppedWatches.isEmpty }

    mutating func addSteppedWatch(address: UInt64, length: Int) { steppedWatches[address] = length }
    mutating func removeSteppedWatch(address: UInt64) -> Bool { steppedWatches.removeValue(forKey: address) != nil }
    var usesSlots: Bool { slots.contains { $0 != nil } }
    /// Some patch holds `trap` (the architecture's breakpoint instruction: KVM_GUESTDBG_USE_SW_BP is needed).
    func usesPatches(of trap: [UInt8]) -> Bool { patches.values.contains { $0.trap == trap } }

    /// The first free slot of `range` (the architecture's for a kind: MachineArchitecture.slotRange).
    func freeSlot(in range: Range<Int>) -> Int? { range.first { slots[$0] == nil } }
    func freeSlots(in range: Range<Int>) -> [Int] { range.filter { slots[$0] == nil } }

    mutating func addPatch(virtual: UInt64, physical: UInt64, original: [UInt8], trap: [UInt8]) {
        patches[physical] = Patch(virtual: virtual, physical: physical, original: original, trap: trap)
        longestTrap = max(longestTrap, trap.count)
        software[virtual] = .memory(physical: physical)
    }

    /// A second virtual address for bytes already patched: the saved original is the first one's.
    mutating func addAlias(virtual: UInt64, physical: UInt64) { software[virtual] = .memory(physical: physical) }

    mutating func addSoftwareSlot(_ index: Int, virtual: UInt64) {
        slots[index] = Slot(address: virtual, kind: .software, length: 1)
        software[virtual] = .slot(index)
    }

    mutating func addSlot(_ index: Int, _ slot: Slot) { slots[index] = slot }

    /// Forget a software breakpoint; returns where it was.
    mutating func removeSoftware(virtual: UInt64) -> (Placement, Patch?)? {
        guard let placement = software.removeValue(forKey: virtual) else { return nil }
        switch placement {
        case .memory(let physical):
            // Another virtual address (an alias of the same page) still uses the patch: keep it in memory.
            if software.values.contains(.memory(physical: physical)) { return (placement, nil) }
            return (placement, patches.removeValue(forKey: physical))
        case .slot(let i):
            slots[i] = nil
            return (placement, nil)
        }
    }

    /// Free the slots of one request (every piece).
    mutating func removeSlot(kind: BreakpointKind, address: UInt64, length: Int) -> Bool {
        let taken = slots.indices.filter {
            slots[$0]?.kind == kind && slots[$0]?.address == address && slots[$0]?.length == length
        }
        for i in taken { slots[i] = nil }
        return !taken.isEmpty
    }

    /// A guest write landed on patched bytes: keep the trap in memory, remember the new original.
    mutating func updateOriginal(_ patch: Patch, offset: Int, to byte: UInt8) {
        patches[patch.physical]?.original[offset] = byte
    }

    /// The patch that starts at `physical`.
    func patch(atPhysical physical: UInt64) -> Patch? { patches[physical] }

    /// The patch whose bytes include `physical`, and the byte's offset in it.
    func patch(covering physical: UInt64) -> (patch: Patch, offset: Int)? {
        for offset in 0..<longestTrap where UInt64(offset) <= physical {
            if let p = patches[physical - UInt64(offset)], offset < p.trap.count { return (p, offset) }
        }
        return nil
    }
}

import GDBStub

/// How `Z0` is served on this host, chosen once at start-up by `SoftwareBreakpointProbe`.
public enum SoftwareBreakpointStrategy: String, Sendable {
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

/// Breakpoints and watchpoints as they are placed in the machine: bytes patched into guest memory (with the
/// originals, so reads show them) and the four x86 debug-register slots (DR0–DR3, DR7).
struct BreakpointTable {
    enum Placement: Equatable {
        case memory(physical: UInt64)
        case slot(Int)
    }

    struct Patch {
        let virtual: UInt64
        let physical: UInt64
        var original: UInt8
        let trap: UInt8
    }

    struct Slot: Equatable {
        let address: UInt64
        let kind: BreakpointKind
        let length: Int
    }

    let strategy: SoftwareBreakpointStrategy
    /// Software breakpoints by guest-virtual address.
    private(set) var software: [UInt64: Placement] = [:]
    /// Patched bytes by guest-physical address.
    private(set) var patches: [UInt64: Patch] = [:]
    private(set) var slots: [Slot?] = [nil, nil, nil, nil]
    /// Write watchpoints served by single-stepping (`WatchpointStrategy.singleStep`): address → length.
    private(set) var steppedWatches: [UInt64: Int] = [:]

    init(strategy: SoftwareBreakpointStrategy) { self.strategy = strategy }

    var isEmpty: Bool { software.isEmpty && slots.allSatisfy { $0 == nil } && steppedWatches.isEmpty }

    mutating func addSteppedWatch(address: UInt64, length: Int) { steppedWatches[address] = length }
    mutating func removeSteppedWatch(address: UInt64) -> Bool { steppedWatches.removeValue(forKey: address) != nil }
    var usesSlots: Bool { slots.contains { $0 != nil } }
    var usesInt3: Bool { patches.values.contains { $0.trap == 0xCC } }

    mutating func freeSlot() -> Int? { slots.firstIndex { $0 == nil } }

    mutating func addPatch(virtual: UInt64, physical: UInt64, original: UInt8, trap: UInt8) {
        patches[physical] = Patch(virtual: virtual, physical: physical, original: original, trap: trap)
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

    mutating func removeSlot(kind: BreakpointKind, address: UInt64, length: Int) -> Bool {
        guard let i = slots.firstIndex(where: { $0 == Slot(address: address, kind: kind, length: length) }) else { return false }
        slots[i] = nil
        return true
    }

    /// A guest write landed on patched bytes: keep the trap in memory, remember the new original.
    mutating func updateOriginal(physical: UInt64, to byte: UInt8) { patches[physical]?.original = byte }

    func patch(atPhysical physical: UInt64) -> Patch? { patches[physical] }

    /// DR0–DR3 and DR7 for KVM_SET_GUEST_DEBUG (the `debugreg` array: 0–3, 4–5 unused, 6, 7).
    /// DR7: global-enable bits, RW (00 execute, 01 write, 11 read/write) and LEN (00 1, 01 2, 11 4, 10 8),
    /// plus bits 9–10 (GE, and bit 10 which reads as 1), as QEMU sets them.
    var debugRegisters: [UInt64] {
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
}

import Glibc
import KVM

extension Machine {
    /// Copy an ELF image into guest RAM and point vCPU 0 at its entry (x86: in long mode; arm64: EL1h, the MMU
    /// off), the others at `ap_start`, or leave them for the guest to start.
    package func load(_ image: ELFImage, name: String) throws {
        let ramEnd = memory.base + UInt64(memory.size)
        for s in image.segments where s.memorySize > 0 {  // an empty PT_LOAD (no data, no bss) loads nothing
            guard memory.contains(s.physicalAddress, count: s.memorySize) else {
                throw LoadError(
                    "\(name): segment at 0x\(String(s.physicalAddress, radix: 16)) (+\(s.memorySize) bytes) lies outside guest RAM (\(memory.size >> 20) MiB at 0x\(hex(memory.base))-0x\(hex(ramEnd - 1)); --memory sizes it)"
                )
            }
            // In RAM, and not over the boot structures below reservedLowMemory (x86; arm64 reserves none).
            guard s.physicalAddress >= architecture.reservedLowMemory else {
                throw LoadError(
                    "\(name): segment at 0x\(String(s.physicalAddress, radix: 16)) overlaps the boot page tables below 0x\(hex(architecture.reservedLowMemory))"
                )
            }
            memory.write(s.physicalAddress, image.bytes[s.fileOffset..<s.fileOffset + s.fileSize])
            if s.memorySize > s.fileSize,
                let p = memory.pointer(s.physicalAddress + UInt64(s.fileSize), count: s.memorySize - s.fileSize)
            {
                memset(p, 0, s.memorySize - s.fileSize)
            }
            memory.synchronizeInstructions(s.physicalAddress, count: s.memorySize)
            if s.executable && !architecture.pageHolesAreSafe {
                // Code pages never become holes here: a fetch from one would be an abort KVM gives the guest.
                let pages = SlotLayout.pages(s.physicalAddress, length: s.memorySize)
                pageWatches.state.withLock { $0.codePages.formUnion(pages) }
            }
        }
        guard memory.contains(image.entry, count: 1) else {
            throw LoadError("\(name): the entry point 0x\(hex(image.entry)) lies outside guest RAM")
        }
        let stackTop = ramEnd & ~0xf
        guard UInt64(contexts.count) * 0x10000 + architecture.reservedLowMemory < stackTop else {
            throw LoadError("\(contexts.count) vCPUs need \(contexts.count * 64) KiB of stack: more than the guest RAM")
        }
        let apEntry = image.symbols[Self.secondaryEntrySymbol]
        let guestStarts = architecture.secondariesWaitForGuest(configuration)
        if contexts.count > 1 && apEntry == nil && !guestStarts {
            throw LoadError(
                "\(name) has no `\(Self.secondaryEntrySymbol)` symbol: with --cpus \(contexts.count) the secondary vCPUs need an entry point (or --irqchip, for a guest that starts them itself with INIT/SIPI)"
            )
        }
        for (i, ctx) in contexts.enumerated() {
            guard i == 0 || apEntry != nil else {
                // No `ap_start`: the vCPU is left as KVM made it until the guest starts it — x86 with an in-kernel
                // LAPIC: UNINITIALIZED until INIT and a SIPI, as firmware and kernels do; arm64: powered off
                // until PSCI CPU_ON, which the kernel's PSCI serves.
                continue
            }
            // Secondary vCPUs start at `ap_start` with their index in the first argument register (rdi, x0) and
            // their own 64 KiB stack.
            try architecture.enter(
                ctx, entry: i == 0 ? image.entry : apEntry!, stack: stackTop - UInt64(i) * 0x10000, argument: UInt64(i))
            // Held for the guest's start-up (INIT/SIPI, CPU_ON) otherwise; ours start at `ap_start` instead.
            if i > 0 && guestStarts { try ctx.vcpu.makeRunnable() }
        }
        if contexts.count > 1 && apEntry == nil {
            let which = contexts.count == 2 ? "vCPU 1 waits" : "vCPUs 1-\(contexts.count - 1) wait"
            report("\(name) has no `\(Self.secondaryEntrySymbol)`: \(which) for the guest's \(architecture.secondaryStartup)")
        }
    }

    /// The ELF symbol where secondary vCPUs start when the guest does not start them itself (INIT/SIPI, with
    /// --irqchip).
    package static let secondaryEntrySymbol = "ap_start"

    /// Copy raw code into guest RAM at `address` and start every vCPU there in long mode (tests, probes); with
    /// `secondariesWaitForStartup` (an in-kernel LAPIC), vCPU 0 only: the others wait for INIT/SIPI.
    package func loadFlat(_ code: [UInt8], at address: UInt64, secondariesWaitForStartup: Bool = false) throws {
        guard address >= architecture.reservedLowMemory, memory.write(address, code) else {
            throw LoadError("flat image at 0x\(String(address, radix: 16)) does not fit in guest RAM")
        }
        for (i, ctx) in contexts.enumerated() where i == 0 || !secondariesWaitForStartup {
            try architecture.enter(
                ctx, entry: address, stack: ((memory.base + UInt64(memory.size)) & ~0xf) - UInt64(i) * 0x10000,
                argument: UInt64(i))
        }
    }
}

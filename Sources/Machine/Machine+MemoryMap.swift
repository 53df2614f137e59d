import GDBStub
import KVM

/// What gdb's memory map (`qXfer:memory-map:read`) says. gdb applies the map to the addresses it uses, which are
/// guest-VIRTUAL, and refuses every access outside it without asking: a map is right only where the guest's
/// virtual address space is known for the whole session.
package enum GuestMemoryMap: Sendable, Equatable {
    /// No map: gdb tries every address and the page walk answers (E14 for an unmapped page). For guests that
    /// build their own page tables (a real-mode image climbing to long mode, lesson 2, maps 0xffff800000000000).
    case none
    /// The memory slots, as RAM: right for the ELF loader's guests, whose page tables identity-map the first
    /// 4 GiB, so a virtual address is the physical one; the rest (above RAM, the TSS pages) is a hole.
    case guestRAM
    /// A Linux kernel: the two canonical halves of the x86-64 address space (user space and the paging-off boot
    /// below, the kernel above), 48 or 57 bits wide. Linux's own regions cannot be listed: with KASLR the
    /// direct map, vmalloc and vmemmap bases move (CONFIG_RANDOMIZE_MEMORY), 5-level paging moves them again,
    /// and what is mapped changes as the kernel boots. So the holes are the non-canonical addresses, which no
    /// x86-64 CPU can reach: a garbage pointer fails in gdb without a round trip.
    case linuxKernel(virtualAddressBits: Int)

    /// `linuxKernel` for the guest this host gives: 57 bits where the CPU has LA57 (5-level paging), else 48.
    #if KVMSTUB_X86
        package static var linuxKernelForThisHost: GuestMemoryMap {
            .linuxKernel(virtualAddressBits: HostCPU.hasLA57 ? 57 : 48)
        }
    #endif
}

extension Machine {
    package var memoryMap: [MemoryRegion] {
        switch configuration.memoryMap {
        case .none:
            return []
        case .guestRAM:
            return [MemoryRegion(start: 0, length: UInt64(memory.size))]  // one slot at guest-physical 0
        case .linuxKernel(let bits):
            let half: UInt64 = 1 << UInt64(bits - 1)
            return [MemoryRegion(start: 0, length: half), MemoryRegion(start: 0 &- half, length: half)]
        }
    }
}

extension Machine {
    /// lldb's `qMemoryRegionInfo`: what the vCPU's page tables allow around `address`. nil with paging off (every
    /// guest-physical address is what it is, and the memory map says which are RAM).
    package func memoryProtection(at address: UInt64, thread: Int) -> MemoryProtection? {
        #if KVMSTUB_X86
            guard let ctx = try? context(thread), let walk = x86PageWalk(ctx), walk.pagingEnabled else { return nil }
            return walk.protectionRun(at: address)
        #else
            return nil  // arm64: the stage-1 walk's permissions are not decoded (lldb then assumes rwx)
        #endif
    }
}

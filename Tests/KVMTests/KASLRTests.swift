import GDBStub
import KVM
import Testing

@testable import Machine

/// The KASLR slide from the guest's page tables (Machine+KASLR.swift): hand-built tables that map a "kernel" at
/// a shifted address in the kernel text mapping, as a bzImage's decompressor would have placed it.
@Suite struct KASLRTests {
    let memory: GuestMemory
    let P: UInt64 = 1, W: UInt64 = 2, PS: UInt64 = 0x80
    let longMode: UInt64 = 1 << 10 | 1 << 8, pae: UInt64 = 1 << 5

    init() throws { memory = try GuestMemory(size: 8 << 20) }

    /// PML4 0x1000: PML4E[511] → PDPT 0x2000; PDPTE[510] (0xffffffff80000000) → PD 0x3000.
    func kernelMapping() {
        memory.writeUInt64(0x1000 + 511 * 8, 0x2000 | P | W)
        memory.writeUInt64(0x2000 + 510 * 8, 0x3000 | P | W)
    }

    func walk(cr0: UInt64 = 1 << 31 | 1) -> X86PageWalk {
        X86PageWalk(cr0: cr0, cr3: 0x1000, cr4: pae, efer: longMode, memory: memory)
    }

    @Test func firstMapped2MiBIsTheText() {
        kernelMapping()
        // PD[22] = 0xffffffff82c00000 → physical 4 MiB, PD[23] the next 2 MiB; PD[300] something else above.
        memory.writeUInt64(0x3000 + 22 * 8, 0x40_0000 | P | W | PS)
        memory.writeUInt64(0x3000 + 23 * 8, 0x60_0000 | P | W | PS)
        memory.writeUInt64(0x3000 + 300 * 8, 0x20_0000 | P | W | PS)
        let base = LinuxKASLR.textBase(walk())
        #expect(base?.virtual == 0xffff_ffff_82c0_0000)
        #expect(base?.physical == 0x40_0000)
    }

    @Test func textMappedWith4KiBPages() {
        kernelMapping()
        memory.writeUInt64(0x3000 + 9 * 8, 0x4000 | P | W)  // PD[9] → a page table; its first PTE present
        memory.writeUInt64(0x4000, 0x7000 | P | W)
        #expect(LinuxKASLR.textBase(walk())?.virtual == 0xffff_ffff_8120_0000)
    }

    @Test func nothingMappedOrPagingOffIsUnknown() {
        kernelMapping()
        #expect(LinuxKASLR.textBase(walk()) == nil)
        memory.writeUInt64(0x3000 + 8 * 8, 0x7000_0000 | P | W | PS)  // outside RAM: not the kernel
        #expect(LinuxKASLR.textBase(walk()) == nil)
        memory.writeUInt64(0x3000 + 8 * 8, 0x20_0000 | P | W | PS)
        #expect(LinuxKASLR.textBase(walk())?.virtual == 0xffff_ffff_8100_0000)
        #expect(LinuxKASLR.textBase(walk(cr0: 1)) == nil)
    }
}

/// The same through a running machine: `monitor kaslr` and the `qOffsets` answer, before and after the guest's
/// tables map a kernel 28 MiB above its link address.
@Suite(.enabled(if: kvmAvailable, "needs /dev/kvm"))
struct KASLRMachineTests {
    @Test func monitorKASLRAndTextSegment() throws {
        let m = try makeMachine(nopsThenLoop)
        #expect(m.monitor("kaslr")?.hasPrefix("not a Linux kernel") == true)
        #expect(m.textSegment() == nil)
        m.linuxTextLinkAddress = 0xffff_ffff_8100_0000  // what loadLinux sets for Debian's vmlinux
        #expect(m.monitor("kaslr")?.hasPrefix("the kernel has not mapped itself yet") == true)
        #expect(m.textSegment() == nil)

        // Into the guest's own PML4 (X86Boot's, at cr3): 0xffffffff82c00000 → guest-physical 2 MiB.
        let cr3 = u64(try m.readRegister(regnum("cr3"), thread: 1))
        m.memory.writeUInt64(cr3 + 511 * 8, 0x30_0000 | 3)
        m.memory.writeUInt64(0x30_0000 + 510 * 8, 0x30_1000 | 3)
        m.memory.writeUInt64(0x30_1000 + 22 * 8, 0x20_0000 | 0x83)
        let report = try #require(m.monitor("kaslr"))
        #expect(
            report.contains(
                "kernel text at 0xffffffff82c00000 (guest-physical 0x200000), linked at 0xffffffff81000000: KASLR slide 0x1c00000"
            ), "\(report)")
        #expect(report.contains("gdb: symbol-file vmlinux -o 0x1c00000"), "\(report)")
        #expect(m.textSegment() == TextSegment(address: 0xffff_ffff_82c0_0000, linkAddress: 0xffff_ffff_8100_0000))
        // And gdb reads the kernel's bytes there: the walk is the same one memory reads use.
        #expect(
            try m.readMemory(at: 0xffff_ffff_82c0_0000, count: 2, thread: 1)
                == (m.memory.read(0x20_0000, count: 2) ?? []))
    }
}

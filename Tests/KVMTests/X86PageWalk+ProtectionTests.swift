import GDBStub
import KVM
import Testing

@testable import Machine

/// What lldb's `qMemoryRegionInfo` is told from the guest's own page tables (X86PageWalk+Protection.swift).
@Suite struct X86PageWalkProtectionTests {
    let memory: GuestMemory
    let P: UInt64 = 1, W: UInt64 = 2, PS: UInt64 = 0x80, XD: UInt64 = 1 << 63
    let longMode: UInt64 = 1 << 10 | 1 << 8, nxe: UInt64 = 1 << 11, pae: UInt64 = 1 << 5

    init() throws { memory = try GuestMemory(size: 8 << 20) }

    /// PML4 0x1000 → PDPT 0x2000 → PD 0x3000: PD[0] → PT 0x4000 (PTE[0] r-x, PTE[1] rw- XD, PTE[2] r--, PTE[3]
    /// r-- too), PD[1] a 2 MiB rwx page, PD[2] a 2 MiB rwx page, the rest of the PD empty; PML4[511] → PDPT
    /// 0x5000, all empty.
    func kernelLikeTables() {
        memory.writeUInt64(0x1000, 0x2000 | P | W)
        memory.writeUInt64(0x1000 + 511 * 8, 0x5000 | P | W)
        memory.writeUInt64(0x2000, 0x3000 | P | W)
        memory.writeUInt64(0x3000, 0x4000 | P | W)
        memory.writeUInt64(0x4000, 0x10_0000 | P)
        memory.writeUInt64(0x4000 + 8, 0x10_1000 | P | W | XD)
        memory.writeUInt64(0x4000 + 16, 0x10_2000 | P | XD)
        memory.writeUInt64(0x4000 + 24, 0x10_3000 | P | XD)
        memory.writeUInt64(0x3000 + 8, 0x20_0000 | P | W | PS)
        memory.writeUInt64(0x3000 + 16, 0x40_0000 | P | W | PS)
    }

    func walk(efer: UInt64) -> X86PageWalk {
        X86PageWalk(cr0: 1 << 31 | 1, cr3: 0x1000, cr4: pae, efer: efer, memory: memory)
    }

    @Test func permissionsFromEveryLevel() {
        kernelLikeTables()
        let w = walk(efer: longMode | nxe)
        #expect(w.protection(at: 0x0abc) == MemoryProtection(start: 0, last: 0xfff, permissions: [.read, .execute]))
        #expect(
            w.protection(at: 0x1000) == MemoryProtection(start: 0x1000, last: 0x1fff, permissions: [.read, .write]))
        #expect(w.protection(at: 0x2000).permissions == [.read])
        #expect(w.protection(at: 0x20_0000) == MemoryProtection(start: 0x20_0000, last: 0x3f_ffff, permissions: .all))
        // Without EFER.NXE bit 63 is no XD bit: everything present executes.
        #expect(walk(efer: longMode).protection(at: 0x2000).permissions == [.read, .execute])
    }

    /// Unmapped: the whole reach of the entry that is not present, so a search for free space takes few steps.
    @Test func unmappedRunsSpanTheMissingEntry() {
        kernelLikeTables()
        let w = walk(efer: longMode | nxe)
        #expect(w.protection(at: 0x4000) == MemoryProtection(start: 0x4000, last: 0x4fff, permissions: nil), "PTE[4]")
        #expect(
            w.protection(at: 0x60_0000) == MemoryProtection(start: 0x60_0000, last: 0x7f_ffff, permissions: nil),
            "PDE[3]")
        #expect(
            w.protection(at: 0x4000_0000) == MemoryProtection(start: 0x4000_0000, last: 0x7fff_ffff, permissions: nil),
            "PDPTE[1]")
        #expect(
            w.protection(at: 0x80_0000_0000)
                == MemoryProtection(start: 0x80_0000_0000, last: 0xff_ffff_ffff, permissions: nil), "PML4E[1]")
        #expect(
            w.protection(at: 0xffff_ffff_8100_0000)
                == MemoryProtection(start: 0xffff_ffff_8000_0000, last: 0xffff_ffff_bfff_ffff, permissions: nil),
            "PDPTE[510] of PML4E[511]")
        // The non-canonical hole, which no CPU reaches.
        #expect(
            w.protection(at: 0x1234_0000_0000_0000)
                == MemoryProtection(start: 1 << 47, last: 0xffff_7fff_ffff_ffff, permissions: nil))
    }

    @Test func runsMergeNeighboursThatAllowTheSame() {
        kernelLikeTables()
        let w = walk(efer: longMode | nxe)
        #expect(
            w.protectionRun(at: 0x2000) == MemoryProtection(start: 0x2000, last: 0x3fff, permissions: [.read]),
            "PTE[2] and PTE[3]")
        #expect(
            w.protectionRun(at: 0x20_0000) == MemoryProtection(start: 0x20_0000, last: 0x5f_ffff, permissions: .all),
            "two 2 MiB pages")
        #expect(
            w.protectionRun(at: 0x4000) == MemoryProtection(start: 0x4000, last: 0x1f_ffff, permissions: nil),
            "PTE[4] … PTE[511]")
        // PD[3] … PD[511], PDPT[1] … [511], PML4[1] … [255], the non-canonical hole, PML4[256] … [510], and
        // PML4[511]'s empty PDPT: nothing is mapped from 6 MiB to the top.
        #expect(
            w.protectionRun(at: 0x60_0000) == MemoryProtection(start: 0x60_0000, last: UInt64.max, permissions: nil))
        #expect(w.protectionRun(at: 0x4000, limit: 3).last == 0x7fff, "bounded")
    }

    @Test func legacyModes() {
        // 32-bit paging: PD at 0x1000, PDE[0] → PT 0x2000 with PTE[1] read-only; PDE[1] a 4 MiB page (PSE).
        memory.writeUInt64(0x1000, 0x2000 | P | W)
        memory.writeUInt64(0x1004, 0x40_0000 | P | W | PS)
        memory.writeUInt64(0x2000 + 4, 0x5000 | P)
        let w = X86PageWalk(cr0: 1 << 31 | 1, cr3: 0x1000, cr4: 1 << 4, efer: 0, memory: memory)
        #expect(
            w.protection(at: 0x1234) == MemoryProtection(start: 0x1000, last: 0x1fff, permissions: [.read, .execute]))
        #expect(w.protection(at: 0x3000) == MemoryProtection(start: 0x3000, last: 0x3fff, permissions: nil))
        #expect(
            w.protection(at: 0x40_1234) == MemoryProtection(start: 0x40_0000, last: 0x7f_ffff, permissions: .all),
            "4 MiB page")
        #expect(
            w.protection(at: 0x1_0000_0000)
                == MemoryProtection(start: 0x1_0000_0000, last: UInt64.max, permissions: nil))
    }
}

import KVM
import Testing

@testable import Machine

/// The page walker over page tables built by hand in guest memory: every paging mode gdb may meet.
@Suite struct X86PageWalkTests {
    let memory: GuestMemory
    let P: UInt64 = 1, W: UInt64 = 2, PS: UInt64 = 0x80

    init() throws { memory = try GuestMemory(size: 8 << 20) }

    func walk(cr0: UInt64 = 1 << 31 | 1, cr3: UInt64, cr4: UInt64, efer: UInt64) -> X86PageWalk {
        X86PageWalk(cr0: cr0, cr3: cr3, cr4: cr4, efer: efer, memory: memory)
    }

    @Test func pagingOffIsIdentity() {
        let w = walk(cr0: 1, cr3: 0, cr4: 0, efer: 0)
        #expect(w.translate(0x1234_5678)?.physical == 0x1234_5678)
    }

    @Test func fourLevelWith4KiB2MiBAnd1GiBPages() {
        let lm: UInt64 = 1 << 10 | 1 << 8, pae: UInt64 = 1 << 5
        // PML4 at 0x1000; PML4E[0] → PDPT 0x2000; PDPTE[0] → PD 0x3000; PDE[1] → PT 0x4000; PTE[3] → 0x7000.
        memory.writeUInt64(0x1000, 0x2000 | P | W)
        memory.writeUInt64(0x2000, 0x3000 | P | W)
        memory.writeUInt64(0x3000 + 8, 0x4000 | P | W)
        memory.writeUInt64(0x4000 + 3 * 8, 0x7000 | P | W)
        memory.writeUInt64(0x3000 + 2 * 8, 0x60_0000 | P | W | PS)  // 2 MiB page at VA 4 MiB → PA 6 MiB
        memory.writeUInt64(0x2000 + 8, 0x4000_0000 | P | W | PS)  // 1 GiB page at VA 1 GiB → PA 1 GiB
        let w = walk(cr3: 0x1000, cr4: pae, efer: lm)
        var steps: [X86PageWalk.Step] = []
        let r = withUnsafeMutablePointer(to: &steps) { w.translate(0x20_3abc, steps: $0) }
        #expect(r?.physical == 0x7abc && r?.pageSize == 4096)
        #expect(steps.map(\.level) == ["PML4E", "PDPTE", "PDE", "PTE"])
        #expect(w.translate(0x40_0123)?.physical == 0x60_0123)
        #expect(w.translate(0x40_0123)?.pageSize == 2 << 20)
        #expect(w.translate(0x4000_0042)?.physical == 0x4000_0042)
        #expect(w.translate(0x20_4000) == nil)  // PTE[4] not present
        #expect(w.translate(0x0000_8000_0000_0000) == nil)  // not canonical
        #expect(w.translate(0xffff_8000_0000_0000) == nil)  // canonical, PML4E[256] not present
    }

    @Test func fiveLevelPaging() {
        let lm: UInt64 = 1 << 10 | 1 << 8, pae: UInt64 = 1 << 5, la57: UInt64 = 1 << 12
        // PML5 0x1000 → PML4 0x2000 → PDPT 0x3000 → PD 0x4000 (2 MiB page → PA 2 MiB); VA bit 48 selects PML5E[1].
        memory.writeUInt64(0x1000 + 8, 0x2000 | P | W)
        memory.writeUInt64(0x2000, 0x3000 | P | W)
        memory.writeUInt64(0x3000, 0x4000 | P | W)
        memory.writeUInt64(0x4000, 0x20_0000 | P | W | PS)
        let w = walk(cr3: 0x1000, cr4: pae | la57, efer: lm)
        var steps: [X86PageWalk.Step] = []
        let r = withUnsafeMutablePointer(to: &steps) { w.translate(0x0001_0000_0000_0777, steps: $0) }
        #expect(r?.physical == 0x20_0777)
        #expect(steps.map(\.level) == ["PML5E", "PML4E", "PDPTE", "PDE"])
        #expect(w.translate(0x0100_0000_0000_0000) == nil)  // above 57 bits: not canonical
    }

    @Test func paeWithout64BitMode() {
        // CR3 → 4 PDPTEs at 0x1000; PDPTE[1] → PD 0x2000; PDE[0] 2 MiB → 0x40_0000; PDE[1] → PT 0x3000.
        memory.writeUInt64(0x1000 + 8, 0x2000 | P)
        memory.writeUInt64(0x2000, 0x40_0000 | P | W | PS)
        memory.writeUInt64(0x2000 + 8, 0x3000 | P | W)
        memory.writeUInt64(0x3000 + 5 * 8, 0x9000 | P | W)
        let w = walk(cr3: 0x1000, cr4: 1 << 5, efer: 0)
        #expect(w.translate(0x4000_1234)?.physical == 0x40_1234)
        #expect(w.translate(0x4020_5678)?.physical == 0x9678)
        #expect(w.translate(0x0000_1000) == nil)  // PDPTE[0] not present
    }

    @Test func thirtyTwoBitPagingWith4KiBAnd4MiBPages() {
        // PD at 0x1000 (4-byte entries); PDE[0] → PT 0x2000, PTE[2] → 0x5000; PDE[1] a 4 MiB page at 0x40_0000 (PSE).
        memory.write(0x1000, [0x03, 0x20, 0, 0])  // 0x2003
        memory.write(0x2000 + 2 * 4, [0x03, 0x50, 0, 0])  // 0x5003
        memory.write(0x1000 + 4, [0x83, 0, 0x40, 0])  // 0x400083
        let w = walk(cr3: 0x1000, cr4: 1 << 4, efer: 0)
        #expect(w.translate(0x2abc)?.physical == 0x5abc)
        #expect(w.translate(0x40_0010)?.physical == 0x40_0010)
        #expect(w.translate(0x40_0010)?.pageSize == 4 << 20)
        #expect(w.translate(0x80_0000) == nil)
    }

    @Test func tablesOutsideRAMAreUnmapped() {
        memory.writeUInt64(0x1000, 0x7000_0000 | P | W)  // PDPT beyond the 8 MiB of RAM
        let w = walk(cr3: 0x1000, cr4: 1 << 5, efer: 1 << 10)
        #expect(w.translate(0x1000) == nil)
    }
}

import GDBStub
import KVM
@testable import Machine
import Testing

/// The slot arithmetic of page-protection watchpoints: RAM split around holes, read-only runs, nothing else.
struct SlotLayoutTests {
    typealias R = SlotLayout.Region
    let mib: UInt64 = 1 << 20

    @Test func noProtectedPageIsTheSingleStartUpSlot() {
        #expect(SlotLayout.regions(base: 0, size: mib, protected: [:]) == [R(start: 0, size: mib, readOnly: false)])
    }

    @Test func aHoleSplitsRAMInTwo() {
        #expect(
            SlotLayout.regions(base: 0, size: mib, protected: [0x20000: .hole]) == [
                R(start: 0, size: 0x20000, readOnly: false), R(start: 0x21000, size: mib - 0x21000, readOnly: false),
            ])
    }

    @Test func holesAtEitherEndLeaveOneRegion() {
        #expect(
            SlotLayout.regions(base: 0, size: mib, protected: [0: .hole, mib - 0x1000: .hole]) == [
                R(start: 0x1000, size: mib - 0x2000, readOnly: false)
            ])
    }

    @Test func aReadOnlyPageIsASlotOfItsOwnAndAdjacentOnesMerge() {
        #expect(
            SlotLayout.regions(base: 0, size: mib, protected: [0x5000: .readOnly, 0x6000: .readOnly]) == [
                R(start: 0, size: 0x5000, readOnly: false), R(start: 0x5000, size: 0x2000, readOnly: true),
                R(start: 0x7000, size: mib - 0x7000, readOnly: false),
            ])
    }

    @Test func aHoleBetweenReadOnlyPagesAndAdjacentHoles() {
        let protected: [UInt64: PageProtection] = [0x5000: .readOnly, 0x6000: .hole, 0x7000: .hole, 0x8000: .readOnly]
        #expect(
            SlotLayout.regions(base: 0, size: mib, protected: protected) == [
                R(start: 0, size: 0x5000, readOnly: false), R(start: 0x5000, size: 0x1000, readOnly: true),
                R(start: 0x8000, size: 0x1000, readOnly: true), R(start: 0x9000, size: mib - 0x9000, readOnly: false),
            ])
    }

    @Test func pagesOutsideRAMOrUnalignedAreIgnored() {
        let protected: [UInt64: PageProtection] = [mib: .hole, 0x1234: .hole, 0x100000000: .readOnly]
        #expect(SlotLayout.regions(base: 0, size: mib, protected: protected) == [R(start: 0, size: mib, readOnly: false)])
        // With RAM at a base, a page below it is outside too.
        #expect(
            SlotLayout.regions(base: 0x10000, size: 0x4000, protected: [0: .hole, 0x11000: .hole]) == [
                R(start: 0x10000, size: 0x1000, readOnly: false), R(start: 0x12000, size: 0x2000, readOnly: false),
            ])
    }

    @Test func theRegionsAlwaysCoverRAMMinusTheHoles() {
        // Every page of RAM is in exactly one region unless it is a hole; a read-only page is in a read-only one.
        var protected: [UInt64: PageProtection] = [:]
        for i in stride(from: 0, to: 64, by: 3) { protected[UInt64(i) << 12] = i % 2 == 0 ? .hole : .readOnly }
        let regions = SlotLayout.regions(base: 0, size: 64 << 12, protected: protected)
        for page in stride(from: UInt64(0), to: 64 << 12, by: 0x1000) {
            let holders = regions.filter { $0.start <= page && page < $0.end }
            switch protected[page] {
            case .hole?: #expect(holders.isEmpty)
            case .readOnly?: #expect(holders.count == 1 && holders[0].readOnly)
            case nil: #expect(holders.count == 1 && !holders[0].readOnly)
            }
        }
        #expect(zip(regions, regions.dropFirst()).allSatisfy { $0.end <= $1.start })
    }

    @Test func pagesOfARange() {
        #expect(SlotLayout.pages(0x20ffc, length: 8) == [0x20000, 0x21000])
        #expect(SlotLayout.pages(0x20000, length: 0x1000) == [0x20000])
        #expect(SlotLayout.pages(0x20fff, length: 1) == [0x20000])
        #expect(SlotLayout.pages(0x20000, length: 0).isEmpty)
    }
}

/// Which pages become holes or read-only, and which access hits which watchpoint (pure).
struct PageWatchStateTests {
    typealias Piece = PageWatchState.Piece
    let write = WatchKey(kind: .writeWatchpoint, address: 0x20000, length: 8)
    let read = WatchKey(kind: .readWatchpoint, address: 0x20010, length: 4)

    @Test func writeOnlyPagesAreReadOnlyWhenTheKernelOffersItAndAnyReadMakesAHole() {
        let w: [WatchKey: [Piece]] = [write: [Piece(virtual: 0x20000, physical: 0x20000, length: 8)]]
        #expect(PageWatchState.protection(w, readOnlySlots: true) == [0x20000: .readOnly])
        #expect(PageWatchState.protection(w, readOnlySlots: false) == [0x20000: .hole])
        var both = w
        both[read] = [Piece(virtual: 0x20010, physical: 0x20010, length: 4)]
        #expect(PageWatchState.protection(both, readOnlySlots: true) == [0x20000: .hole])
        // A page the guest executes from is never a hole.
        #expect(PageWatchState.protection(both, readOnlySlots: true, codePages: [0x20000]) == [0x20000: .readOnly])
        #expect(PageWatchState.protection(both, readOnlySlots: false, codePages: [0x20000]).isEmpty)
    }

    @Test func hitsMatchKindAndOverlap() {
        let w: [WatchKey: [Piece]] = [
            write: [Piece(virtual: 0xffff_8000_0002_0000, physical: 0x20000, length: 8)],
            read: [Piece(virtual: 0xffff_8000_0002_0010, physical: 0x20010, length: 4)],
        ]
        #expect(PageWatchState.hit(w, physical: 0x20008, count: 8, isWrite: true) == nil)  // the neighbour
        let h = PageWatchState.hit(w, physical: 0x20004, count: 8, isWrite: true)
        #expect(h?.0 == .writeWatchpoint && h?.1 == 0xffff_8000_0002_0004)  // the virtual address touched
        #expect(PageWatchState.hit(w, physical: 0x20000, count: 8, isWrite: false) == nil)  // a read of a write watch
        let r = PageWatchState.hit(w, physical: 0x2000c, count: 8, isWrite: false)
        #expect(r?.0 == .readWatchpoint && r?.1 == 0xffff_8000_0002_0010)
        #expect(PageWatchState.hit(w, physical: 0x20010, count: 4, isWrite: true) == nil)
    }
}

/// Page-protection watchpoints on real /dev/kvm, whatever the host's debug registers do.
@Suite(.enabled(if: kvmAvailable, "needs /dev/kvm"))
struct PageWatchpointTests {
    // mov rax, [0x20000] (48 8B 04 25 00 00 02 00); inc rbx; jmp back to the load
    let loadLoop: [UInt8] = [0x48, 0x8B, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0x48, 0xFF, 0xC3, 0xEB, 0xF3]

    func pageMachine(_ code: [UInt8]) throws -> Machine {
        let m = try makeMachine(code)
        _ = m.monitor("watch-strategy page")
        return m
    }

    func slotsRestored(_ m: Machine) -> Bool {
        m.pageWatches.state.withLock { $0.pages.isEmpty && $0.slotIDs == [m.pageWatches.ramSlot] }
    }

    @Test func aReadWatchpointStopsAfterTheLoadWithTheValue() throws {
        let m = try pageMachine(loadLoop)
        m.memory.writeUInt64(0x20000, 0x1122_3344_5566_7788)
        try m.insertBreakpoint(.readWatchpoint, at: 0x20000, length: 8)
        #expect(m.monitor("breakpoints")?.contains("rwatch 0x20000 len 8: page protection, phys page 0x20000") == true)
        let stop = try run(m, .continue)
        #expect(stop.reason == .watchpoint(.readWatchpoint, address: 0x20000))
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10008)  // trap-like: after the load
        #expect(u64(try m.readRegister(regnum("rax"), thread: 1)) == 0x1122_3344_5566_7788)
        // gdb's writes land in the bytes the guest reads next.
        try m.writeMemory(at: 0x20000, bytes: bytes64(0xabcd), thread: 1)
        #expect(try run(m, .continue).reason == .watchpoint(.readWatchpoint, address: 0x20000))
        #expect(u64(try m.readRegister(regnum("rax"), thread: 1)) == 0xabcd)
        #expect(u64(try m.readRegister(regnum("rbx"), thread: 1)) == 1)  // one loop between the two loads
        try m.removeBreakpoint(.readWatchpoint, at: 0x20000, length: 8)
        #expect(slotsRestored(m))
    }

    @Test func anAccessWatchpointAcrossAPageBoundarySeesTheWrite() throws {
        // mov [0x20ffc], rax (48 89 04 25 FC 0F 02 00); inc rax; jmp back
        let m = try pageMachine([0x48, 0x89, 0x04, 0x25, 0xFC, 0x0F, 0x02, 0x00, 0x48, 0xFF, 0xC0, 0xEB, 0xF3])
        try m.writeRegister(regnum("rax"), value: bytes64(0x0102_0304_0506_0708), thread: 1)
        try m.insertBreakpoint(.accessWatchpoint, at: 0x20ffc, length: 8)
        #expect(m.pageWatches.state.withLock { Set($0.pages.keys) } == [0x20000, 0x21000])
        let stop = try run(m, .continue)
        guard case .watchpoint(.accessWatchpoint, let address) = stop.reason else {
            Issue.record("stopped with \(stop.reason)")
            return
        }
        #expect((0x20ffc..<0x21004).contains(address))
        #expect(u64(try m.readMemory(at: 0x20ffc, count: 8, thread: 1)) == 0x0102_0304_0506_0708)  // all 8 bytes
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10008)
        try m.removeBreakpoint(.accessWatchpoint, at: 0x20ffc, length: 8)
        #expect(slotsRestored(m))
    }

    @Test func theExecutingPageIsNeverAHole() throws {
        let m = try pageMachine(loadLoop)
        #expect(throws: TargetError.self) { try m.insertBreakpoint(.readWatchpoint, at: 0x10800, length: 8) }
        try m.insertBreakpoint(.accessWatchpoint, at: 0x10800, length: 8)
        #expect(m.monitor("breakpoints")?.contains("writes only: vCPU 0 executes from it") == true)
        #expect(m.pageWatches.state.withLock { $0.pages } == [0x10000: .readOnly])
        try m.removeBreakpoint(.accessWatchpoint, at: 0x10800, length: 8)
        #expect(slotsRestored(m))
    }

    @Test func aFetchFromAWatchedPageGivesItBackAndTheGuestRunsOn() throws {
        // At 0x10000: mov rbx, 0x11000; jmp rbx. At 0x11000: mov rax, [0x11800]; hlt.
        let m = try pageMachine([0x48, 0xC7, 0xC3, 0x00, 0x10, 0x01, 0x00, 0xFF, 0xE3])
        m.memory.write(0x11000, [0x48, 0x8B, 0x04, 0x25, 0x00, 0x18, 0x01, 0x00, 0xF4])
        m.memory.writeUInt64(0x11800, 0x55)
        try m.insertBreakpoint(.readWatchpoint, at: 0x11800, length: 8)
        let stop = try run(m, .continue)
        if case .watchpoint = stop.reason { Issue.record("a read watchpoint on an executed page cannot stop") }
        #expect(u64(try m.readRegister(regnum("rax"), thread: 1)) == 0x55)  // the code ran, from RAM again
        #expect(m.monitor("breakpoints")?.contains("NOT SERVED: vCPU 0 executed from its page") == true)
        try m.removeBreakpoint(.readWatchpoint, at: 0x11800, length: 8)
        #expect(slotsRestored(m))
    }

    @Test func aWriteWatchpointOnAReadOnlyPageLetsReadsRunAndStopsOnTheWrite() throws {
        // mov rax, [0x20008]; mov [0x20000], rax; hlt
        let m = try pageMachine([
            0x48, 0x8B, 0x04, 0x25, 0x08, 0x00, 0x02, 0x00, 0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0xF4,
        ])
        m.memory.writeUInt64(0x20008, 9)
        try m.insertBreakpoint(.writeWatchpoint, at: 0x20000, length: 8)
        #expect(try run(m, .continue).reason == .watchpoint(.writeWatchpoint, address: 0x20000))
        #expect(m.memory.readUInt64(0x20000) == 9)  // the new value is in memory
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10010)
        try m.removeBreakpoint(.writeWatchpoint, at: 0x20000, length: 8)
        #expect(slotsRestored(m))
    }
}

extension PageWatchpointTests {
    @Test func aStepOntoAWatchedAccessReportsTheWatchpointAfterIt() throws {
        let m = try pageMachine(loadLoop)
        try m.insertBreakpoint(.readWatchpoint, at: 0x20000, length: 8)
        #expect(try run(m, .step).reason == .watchpoint(.readWatchpoint, address: 0x20000))
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x10008)
        #expect(try run(m, .step).reason == .stepped)  // inc rbx: no access
        #expect(u64(try m.readRegister(regnum("rip"), thread: 1)) == 0x1000b)
    }
}

extension PageWatchpointTests {
    /// Under --kernel, a page KVM itself writes (here kvmclock's, as MSR_KVM_SYSTEM_TIME_NEW names it) is never
    /// protected: page protection refuses it, and auto falls back (single steps where data breakpoints never
    /// fire, a debug register where they do).
    @Test func aPageKVMWritesForTheGuestIsNotProtected() throws {
        let m = try makeMachine(loadLoop, linuxPlatform: true)
        try m.contexts[0].vcpu.setMSRs([0x4b56_4d01], values: [0x3_0001])
        #expect(m.kernelWrittenPages()[0x30000] == "KVM writes kvmclock there for vCPU 0")
        _ = m.monitor("watch-strategy page")
        #expect(throws: TargetError.self) { try m.insertBreakpoint(.writeWatchpoint, at: 0x30100, length: 8) }
        #expect(m.pageWatches.state.withLock { $0.pages.isEmpty })
        _ = m.monitor("watch-strategy auto")
        try m.insertBreakpoint(.writeWatchpoint, at: 0x30100, length: 8)
        let report = m.monitor("breakpoints") ?? ""
        #expect(report.contains("watch 0x30100 len 8: single-stepped") || report.contains("watch 0x30100 len 8: DR0"))
        #expect(m.pageWatches.state.withLock { $0.pages.isEmpty })
    }
}

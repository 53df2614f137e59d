import GDBStub
import KVM
import Synchronization

/// Which strategy serves new watchpoints (`monitor watch-strategy`).
package enum WatchRequest: String, Sendable, CaseIterable {
    /// Debug registers where data breakpoints fire and one is free (not for `rwatch`); otherwise page protection;
    /// where a page cannot be protected, single-stepping (`watch` only).
    case auto
    /// Page protection only (refused where the page cannot be protected).
    case page
    /// Debug registers only (four, no `rwatch`; where data breakpoints never fire they never hit).
    case debugRegisters = "debug-registers"
    /// Single-stepping and comparing values (`watch` only).
    case singleStep = "single-step"
}

/// How one inserted watchpoint is served.
enum WatchService: Equatable, Sendable {
    case debugRegister
    case singleStep
    case page
    /// Page protection of a page the guest executes from: read-only, so only writes are seen (an access
    /// watchpoint there stops on writes).
    case pageWritesOnly(String)
    /// Page protection had to stop (the guest executes from the page) and nothing else can serve this kind here.
    case unserved(String)
}

struct WatchKey: Hashable, Sendable {
    let kind: BreakpointKind
    let address: UInt64
    let length: Int
}

/// Page-protection watchpoints (issue 15): the guest-physical pages under a watched range are taken out of the
/// guest's memory slots (KVM_MEM_READONLY when only writes are watched there and the kernel offers it), so every
/// guest access to them leaves KVM_RUN as KVM_EXIT_MMIO. kvmstub serves it from its own mapping — which is the
/// guest's RAM, so `m`/`M`/`X` and the guest always see the same bytes — and stops when the access touches a
/// watched range, after completing the instruction (KVM_RUN with `immediate_exit` set finishes a pending MMIO
/// without running further: api.rst, "immediate_exit"). The range is translated once, at insert: the
/// physical pages stay watched if the guest later remaps the virtual address.
final class PageWatchState: @unchecked Sendable {
    struct Piece: Sendable {
        let virtual: UInt64
        let physical: UInt64
        let length: Int
    }

    struct State {
        var request: WatchRequest = .auto
        var served: [WatchKey: WatchService] = [:]
        /// Watchpoints served by page protection, and the physical pieces of their ranges.
        var watches: [WatchKey: [Piece]] = [:]
        /// What the slots apply now.
        var pages: [UInt64: PageProtection] = [:]
        /// Pages a vCPU executes from: never holes (KVM cannot fetch instructions from MMIO), read-only at most.
        var codePages: Set<UInt64> = []
        /// The slot ids RAM's regions use now (the first is the start-up RAM slot), and freed ones to reuse.
        var slotIDs: [UInt32] = []
        var spareSlotIDs: [UInt32] = []
        /// Write watchpoints that fell back to single-stepping during a run (the page executes code): the vCPU
        /// that found it takes them into its own run at once; every vCPU has them from the next resume.
        var runtimeStepped: [(address: UInt64, length: Int)] = []
        var pendingUpgrade: Set<Int> = []
        /// Exits served, and of those the ones that stopped.
        var exitsServed = 0
        var hits = 0
    }

    let state = Mutex(State())
    let ramSlot: UInt32
    let readOnlySlots: Bool

    init(ramSlot: UInt32, readOnlySlots: Bool, request: WatchRequest) {
        self.ramSlot = ramSlot
        self.readOnlySlots = readOnlySlots
        state.withLock {
            $0.slotIDs = [ramSlot]
            $0.request = request
        }
    }

    /// What each page needs: a hole when any read or access watchpoint covers it, read-only when only write
    /// watchpoints do (and the kernel offers read-only slots).
    static func protection(_ watches: [WatchKey: [Piece]], readOnlySlots: Bool, codePages: Set<UInt64> = [])
        -> [UInt64: PageProtection]
    {
        var out: [UInt64: PageProtection] = [:]
        for (key, pieces) in watches {
            for piece in pieces {
                for page in SlotLayout.pages(piece.physical, length: piece.length) {
                    if codePages.contains(page) {
                        if readOnlySlots { out[page] = .readOnly }
                        continue
                    }
                    let wanted: PageProtection = key.kind == .writeWatchpoint && readOnlySlots ? .readOnly : .hole
                    out[page] = out[page] == .hole ? .hole : wanted
                }
            }
        }
        return out
    }

    /// The first watched range an access of `count` bytes at `physical` touches, with the guest-virtual address
    /// it touched (what the stop reply names).
    static func hit(_ watches: [WatchKey: [Piece]], physical: UInt64, count: Int, isWrite: Bool) -> (BreakpointKind, UInt64)? {
        let end = physical + UInt64(count)
        for (key, pieces) in watches.sorted(by: { $0.key.address < $1.key.address }) {
            switch key.kind {
            case .writeWatchpoint where !isWrite: continue
            case .readWatchpoint where isWrite: continue
            case .writeWatchpoint, .readWatchpoint, .accessWatchpoint: break
            default: continue
            }
            for piece in pieces where physical < piece.physical + UInt64(piece.length) && piece.physical < end {
                return (key.kind, piece.virtual + (physical > piece.physical ? physical - piece.physical : 0))
            }
        }
        return nil
    }
}

/// What an MMIO exit on a protected page came to.
enum PageAccessOutcome {
    /// Served: the guest runs on.
    case served
    /// Served, and it touched a watched range: stop once the instruction has completed.
    case hit(BreakpointKind, address: UInt64)
}

extension Machine {
    /// Page-protection watchpoints cover at most this many bytes each (each page is an exit per access).
    static let pageWatchMaxLength = 1 << 20

    // MARK: Insert and remove (session thread, every vCPU stopped)

    func insertWatchpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        let key = WatchKey(kind: kind, address: address, length: length)
        if pageWatches.state.withLock({ $0.served[key] }) != nil { return }
        let request = pageWatches.state.withLock { $0.request }
        let registerFits =
            kind != .readWatchpoint && [1, 2, 4, 8].contains(length) && address % UInt64(max(length, 1)) == 0
            && breakpoints.freeSlot() != nil
        let service: WatchService
        switch request {
        case .debugRegisters:
            guard kind != .readWatchpoint else { throw .unsupported }
            try insertRegisterWatch(kind, at: address, length: length)
            service = .debugRegister
        case .singleStep:
            guard kind == .writeWatchpoint else { throw .unsupported }
            try insertSteppedWatch(at: address, length: length)
            service = .singleStep
        case .page:
            service = try insertPageWatch(key)
        case .auto:
            if watchpointStrategy == .debugRegisters && registerFits {
                try insertRegisterWatch(kind, at: address, length: length)
                service = .debugRegister
            } else {
                do {
                    service = try insertPageWatch(key)
                } catch {
                    // The page cannot be protected (code runs there, the kernel writes it): what is left.
                    if kind == .writeWatchpoint && watchpointStrategy == .singleStep {
                        try insertSteppedWatch(at: address, length: length)
                        service = .singleStep
                    } else if watchpointStrategy == .debugRegisters && registerFits {
                        try insertRegisterWatch(kind, at: address, length: length)
                        service = .debugRegister
                    } else {
                        throw error
                    }
                }
            }
        }
        pageWatches.state.withLock { $0.served[key] = service }
    }

    func removeWatchpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        let key = WatchKey(kind: kind, address: address, length: length)
        guard let service = pageWatches.state.withLock({ $0.served.removeValue(forKey: key) }) else {
            return  // never inserted
        }
        switch service {
        case .debugRegister: _ = breakpoints.removeSlot(kind: kind, address: address, length: length)
        case .singleStep:
            _ = breakpoints.removeSteppedWatch(address: address)
            pageWatches.state.withLock { s in s.runtimeStepped.removeAll { $0.address == address } }
        case .unserved: break
        case .page, .pageWritesOnly:
            let result: Result<Void, KVMError> = pageWatches.state.withLock { s in
                s.watches[key] = nil
                return Result { () throws(KVMError) in try applyProtection(&s) }
            }
            if case .failure(let error) = result { throw .failed("\(error)") }
        }
    }

    private func insertRegisterWatch(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        guard [1, 2, 4, 8].contains(length), address % UInt64(length) == 0 else {
            throw .invalidArgument("a debug-register watchpoint covers 1, 2, 4 or 8 aligned bytes")
        }
        guard let slot = breakpoints.freeSlot() else { throw .noSpace("all four debug registers are in use") }
        breakpoints.addSlot(slot, .init(address: address, kind: kind, length: length))
    }

    private func insertSteppedWatch(at address: UInt64, length: Int) throws(TargetError) {
        guard [1, 2, 4, 8].contains(length), address % UInt64(length) == 0 else {
            throw .invalidArgument("a single-stepped watchpoint covers 1, 2, 4 or 8 aligned bytes")
        }
        guard breakpoints.steppedWatches.count < Self.steppedWatchCapacity || breakpoints.steppedWatches[address] != nil
        else {
            throw .noSpace("\(Self.steppedWatchCapacity) watchpoints are set: each one is read after every step")
        }
        breakpoints.addSteppedWatch(address: address, length: length)
    }

    /// Translate the range page by page (through vCPU 0's page tables), check each page can be protected, and
    /// apply the new slot layout. A page a vCPU executes from can only be made read-only: a read watchpoint
    /// there is refused, an access watchpoint sees writes only.
    private func insertPageWatch(_ key: WatchKey) throws(TargetError) -> WatchService {
        guard key.length >= 1 && key.length <= Self.pageWatchMaxLength else {
            throw .invalidArgument("a page-protection watchpoint covers 1 to \(Self.pageWatchMaxLength) bytes")
        }
        let ctx = try context(1)
        var pieces: [PageWatchState.Piece] = []
        var offset = 0
        while offset < key.length {
            let (va, overflow) = key.address.addingReportingOverflow(UInt64(offset))
            guard !overflow, let pa = translate(ctx, va) else { throw .badAddress(va) }
            let chunk = min(key.length - offset, Int(0x1000 - (va & 0xfff)))
            guard memory.contains(pa, count: chunk) else { throw .badAddress(va) }
            pieces.append(.init(virtual: va, physical: pa, length: chunk))
            offset += chunk
        }
        let pages = Set(pieces.flatMap { SlotLayout.pages($0.physical, length: $0.length) })
        for (page, why) in kernelWrittenPages() where pages.contains(page) {
            throw .noSpace("page 0x\(hex(page)) cannot be protected: \(why)")
        }
        let executing = executingPages()
        let result: Result<WatchService, TargetError> = pageWatches.state.withLock { s in
            let code = pages.intersection(s.codePages.union(executing.keys))
            var service = WatchService.page
            if let page = code.first {
                let why = executing[page] ?? "a vCPU executed from it"
                guard key.kind != .readWatchpoint, pageWatches.readOnlySlots else {
                    return .failure(.noSpace("page 0x\(hex(page)) cannot be a hole: \(why)"))
                }
                if key.kind == .accessWatchpoint { service = .pageWritesOnly(why) }
            }
            s.codePages.formUnion(code)
            s.watches[key] = pieces
            do throws(KVMError) {
                try applyProtection(&s)
            } catch {
                s.watches[key] = nil
                return .failure(.failed("\(error)"))
            }
            return .success(service)
        }
        return try result.get()
    }

    /// The page each vCPU executes from now (KVM cannot fetch instructions from MMIO).
    func executingPages() -> [UInt64: String] {
        var out: [UInt64: String] = [:]
        for ctx in contexts {
            if let rip = try? pc(ctx), let pa = translate(ctx, rip) {
                out[pa & ~0xfff] = "vCPU \(ctx.vcpu.index) executes from it"
            }
        }
        return out
    }

    /// The pages KVM itself writes for the guest — kvmclock, steal time, PV EOI, async page faults: the MSRs that
    /// name them, under --kernel — and that it would no longer find (a hole) or could not write (read-only).
    func kernelWrittenPages() -> [UInt64: String] {
        var out: [UInt64: String] = [:]
        guard configuration.linuxPlatform else { return out }
        for ctx in contexts {
            // MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_STEAL_TIME, MSR_KVM_PV_EOI_EN, MSR_KVM_ASYNC_PF_EN (low bits: flags)
            let msrs: [(UInt32, UInt64, String)] = [
                (0x4b56_4d01, ~0x1, "kvmclock"), (0x4b56_4d03, ~0x3f, "steal time"), (0x4b56_4d04, ~0x3, "PV EOI"),
                (0x4b56_4d02, ~0x3f, "async page faults"),
            ]
            for (msr, mask, name) in msrs {
                guard let value = (try? ctx.vcpu.getMSRs([msr]))?.first, value & 1 != 0 else { continue }
                out[value & mask & ~0xfff] = "KVM writes \(name) there for vCPU \(ctx.vcpu.index)"
            }
        }
        return out
    }

    /// (state locked) Make the slots match the watched pages: every RAM slot deleted, the new regions created.
    /// Nothing changes when the pages protected are the same. On a failure the RAM is mapped whole again.
    func applyProtection(_ s: inout PageWatchState.State) throws(KVMError) {
        let wanted = PageWatchState.protection(s.watches, readOnlySlots: pageWatches.readOnlySlots, codePages: s.codePages)
        guard wanted != s.pages else { return }
        let regions = SlotLayout.regions(base: memory.base, size: UInt64(memory.size), protected: wanted)
        do {
            try remap(&s, regions)
            s.pages = wanted
        } catch {
            try? remap(&s, [SlotLayout.Region(start: memory.base, size: UInt64(memory.size), readOnly: false)])
            s.pages = [:]
            throw error
        }
    }

    private func remap(_ s: inout PageWatchState.State, _ regions: [SlotLayout.Region]) throws(KVMError) {
        for id in s.slotIDs {
            try vm.setSlot(id, flags: 0, guestPhysical: 0, size: 0, host: memory.host)
        }
        s.spareSlotIDs += s.slotIDs.dropFirst()
        s.slotIDs = [pageWatches.ramSlot]
        for (i, region) in regions.enumerated() {
            let id: UInt32
            if i == 0 {
                id = pageWatches.ramSlot
            } else {
                id = s.spareSlotIDs.popLast() ?? vm.newSlotID()
                s.slotIDs.append(id)
            }
            try vm.setSlot(
                id, flags: region.readOnly ? VirtualMachine.readOnlySlotFlag : 0, guestPhysical: region.start,
                size: region.size, host: memory.host + Int(region.start - memory.base))
        }
    }

    // MARK: Exits (any vCPU thread)

    /// An MMIO exit: nil when the address is on no protected page (not ours). Otherwise the access is served
    /// from guest RAM — a write stored, a read's bytes put where KVM gives them to the instruction.
    func servePageAccess(address: UInt64, isWrite: Bool, data: UnsafeMutableRawBufferPointer) -> PageAccessOutcome? {
        pageWatches.state.withLock { s in
            guard !s.pages.isEmpty, s.pages[address & ~0xfff] != nil,
                let p = memory.pointer(address, count: data.count)
            else { return nil }
            if isWrite {
                p.copyMemory(from: data.baseAddress!, byteCount: data.count)
            } else {
                data.copyMemory(from: UnsafeRawBufferPointer(start: p, count: data.count))
            }
            s.exitsServed += 1
            guard let (kind, va) = PageWatchState.hit(s.watches, physical: address, count: data.count, isWrite: isWrite)
            else { return .served }
            s.hits += 1
            return .hit(kind, address: va)
        }
    }

    /// A watched access: finish its instruction (KVM_RUN with immediate_exit completes the pending MMIO — and any
    /// further MMIO the same instruction makes, served here — and returns EINTR before the next instruction),
    /// then the stop, trap-like as x86 debug registers report it.
    func completeWatchedAccess(_ ctx: VCPUContext, _ kind: BreakpointKind, address: UInt64) throws -> RunOutcome {
        ctx.vcpu.setImmediateExit(true)
        defer { ctx.vcpu.setImmediateExit(stopRequested.load(ordering: .acquiring)) }
        for _ in 0..<64 {
            try ctx.registers.flushBeforeRun()
            let exit = try ctx.vcpu.run()
            ctx.registers.invalidateAfterRun()
            ctx.translations.removeAll(keepingCapacity: true)
            switch exit {
            case .interrupted, .debug:
                // EINTR: completed. A debug exit: completed, and a single step (gdb's stepi) ended with it.
                ctx.lastExit = "MMIO (watched page: \(kind) hit)"
                return .stop(.watchpoint(kind, address: address))
            case .mmio(let a, let w, let d):
                if servePageAccess(address: a, isWrite: w, data: d) == nil, let done = try handle(exit, ctx) {
                    return done
                }
            default:
                if let done = try handle(exit, ctx) { return done }
            }
        }
        return .stop(.watchpoint(kind, address: address))
    }

    /// An emulation failure: if the vCPU failed to fetch an instruction from a protected page (a hole), the page
    /// becomes read-only RAM (write watchpoints there go on; access watchpoints see writes only; read watchpoints
    /// are left unserved, and `monitor breakpoints` says so) and the instruction runs again. Without read-only
    /// slots the page is RAM again: `watch` falls back to single-stepping. False when it was not that.
    func pageFetchFailed(_ ctx: VCPUContext) throws -> Bool {
        guard let rip = try? pc(ctx) else { return false }
        let pages = Set([rip, rip &+ 15].compactMap { translate(ctx, $0).map { $0 & ~0xfff } })
        let why = "vCPU \(ctx.vcpu.index) executed from its page at rip 0x\(hex(rip))"
        let released: Bool = try pageWatches.state.withLock { s throws(KVMError) -> Bool in
            let holes = pages.filter { s.pages[$0] == .hole }
            guard !holes.isEmpty else { return false }
            s.codePages.formUnion(holes)
            let keys = s.watches.filter { _, pieces in
                pieces.contains { SlotLayout.pages($0.physical, length: $0.length).contains(where: holes.contains) }
            }.map(\.key)
            for key in keys {
                if pageWatches.readOnlySlots && key.kind != .readWatchpoint {
                    if key.kind == .accessWatchpoint { s.served[key] = .pageWritesOnly(why) }
                    continue
                }
                s.watches[key] = nil
                if key.kind == .writeWatchpoint && [1, 2, 4, 8].contains(key.length) && key.address % UInt64(key.length) == 0 {
                    s.served[key] = .singleStep
                    s.runtimeStepped.append((key.address, key.length))
                    for c in contexts { s.pendingUpgrade.insert(c.vcpu.index) }
                } else {
                    s.served[key] = .unserved(why)
                }
            }
            try applyProtection(&s)
            return true
        }
        guard released else { return false }
        // Upstream KVM queues #UD with an emulation failure at CPL0 (handle_emulation_failure) whatever the
        // start-up probe found int3 to do: the instruction is to run again, not fault.
        var events = try ctx.vcpu.getEvents()
        if events.exception.nr == 6, events.exception.pending != 0 || events.exception.injected != 0 {
            events.exception.pending = 0
            events.exception.injected = 0
            events.flags = 0
            try ctx.vcpu.setEvents(events)
        }
        report("vCPU \(ctx.vcpu.index): executed from a watched page at rip 0x\(hex(rip)): the page is readable RAM again")
        ctx.lastExit = "INTERNAL_ERROR (instruction fetch from a watched page: page restored)"
        return true
    }

    /// Write watchpoints that fell back to single-stepping during this vCPU's run, to add to it now (once).
    func takeStepFallback(_ ctx: VCPUContext) -> [(address: UInt64, length: Int)]? {
        pageWatches.state.withLock { s in
            guard s.pendingUpgrade.remove(ctx.vcpu.index) != nil else { return nil }
            return s.runtimeStepped
        }
    }

    /// Single-stepped watchpoints that fell back during a run: every resume steps for them too.
    var fallbackSteppedWatches: [(address: UInt64, length: Int)] {
        pageWatches.state.withLock { s in
            for c in contexts { s.pendingUpgrade.remove(c.vcpu.index) }
            return s.runtimeStepped
        }
    }

    // MARK: Monitor

    func watchStrategyCommand(_ words: [String]) -> String {
        guard words.count <= 2 else { return watchStrategyUsage }
        if words.count == 2 {
            guard let request = WatchRequest(rawValue: words[1]) else { return watchStrategyUsage }
            pageWatches.state.withLock { $0.request = request }
        }
        let request = pageWatches.state.withLock { $0.request }
        let host = watchpointStrategy == .debugRegisters ? "data breakpoints fire here" : "data breakpoints never fire here"
        return "new watchpoints: \(request.rawValue) (\(host))\n"
    }

    private var watchStrategyUsage: String {
        "usage: monitor watch-strategy [\(WatchRequest.allCases.map(\.rawValue).joined(separator: "|"))]\n"
    }

    /// `monitor breakpoints`' watchpoint lines: each watchpoint and what serves it.
    func watchpointReport() -> String {
        let s = pageWatches.state.withLock { $0 }
        var out = "watchpoints: \(s.request.rawValue)"
        switch (s.request, watchpointStrategy) {
        case (.auto, .debugRegisters): out += " (debug registers while one is free, then page protection; rwatch: page protection)"
        case (.auto, .singleStep): out += " (page protection; single steps for a watch on a page that cannot be protected)"
        default: break
        }
        out += watchpointStrategy == .singleStep ? "; data breakpoints never fire on this host\n" : "\n"
        let rank: [BreakpointKind: Int] = [.writeWatchpoint: 0, .readWatchpoint: 1, .accessWatchpoint: 2]
        for (key, service) in s.served.sorted(by: { ($0.key.address, rank[$0.key.kind] ?? 3) < ($1.key.address, rank[$1.key.kind] ?? 3) }) {
            let name = [.writeWatchpoint: "watch", .readWatchpoint: "rwatch", .accessWatchpoint: "awatch"][key.kind] ?? "?"
            out += "  \(name) 0x\(hex(key.address)) len \(key.length): "
            switch service {
            case .debugRegister:
                let i = breakpoints.slots.firstIndex { $0 == .init(address: key.address, kind: key.kind, length: key.length) }
                out += "DR\(i.map(String.init) ?? "?")\n"
            case .singleStep: out += "single-stepped\n"
            case .unserved(let why): out += "NOT SERVED: \(why)\n"
            case .page, .pageWritesOnly:
                let pages = (s.watches[key] ?? []).flatMap { SlotLayout.pages($0.physical, length: $0.length) }
                let described = Set(pages).sorted().map { "0x\(hex($0))\(s.pages[$0] == .readOnly ? " ro" : "")" }
                out += "page protection, phys page \(described.joined(separator: ", "))"
                if case .pageWritesOnly(let why) = service { out += " (writes only: \(why))" }
                out += "\n"
            }
        }
        if !s.pages.isEmpty {
            out += "  slots: \(s.slotIDs.count) for RAM around \(s.pages.count) protected page(s); \(s.exitsServed) MMIO exits served, \(s.hits) hit\n"
        }
        return out
    }
}

extension Machine {
    /// `KVM_CAP_NR_MEMSLOTS`: how many slots this VM may have.
    var pageWatchSlotLimit: Int32 { max(vm.system.checkExtension(10), 1) }

    /// A write watchpoint fell back to single-stepping in the middle of this run: from the next instruction this
    /// vCPU single-steps and compares its bytes, as a run started with it would.
    func stepFromNowOn(
        _ ctx: VCPUContext, _ command: inout RunCommand, _ watched: inout [[UInt8]?],
        _ fallback: [(address: UInt64, length: Int)]
    ) throws {
        for w in fallback where !command.steppedWatches.contains(where: { $0.address == w.address }) {
            command.steppedWatches.append(w)
            watched.append(readWatched(ctx, w))
        }
        var debug = ctx.appliedDebug ?? GuestDebugState(control: [], arch: [])
        debug.control.formUnion([.enable, .singleStep])
        if blockIRQWhileStepping && capabilities.blockIRQ { debug.control.insert(.blockIRQ) }
        try ctx.vcpu.setGuestDebug(debug.control, arch: debug.arch)
        ctx.appliedDebug = debug
    }
}

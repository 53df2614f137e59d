import GDBStub
import KVM
import Synchronization

extension Machine {
    // MARK: Exits (any vCPU thread)

    /// An MMIO exit: nil when the address is on no protected page (not ours). Otherwise the access is served
    /// from guest RAM — a write stored, a read's bytes put where KVM gives them to the instruction — except a
    /// watched one when `deferHit` (arm64: the stop comes before the access; `makeDeferredAccess` makes it).
    func servePageAccess(
        address: UInt64, isWrite: Bool, data: UnsafeMutableRawBufferPointer, deferHit: Bool = false
    ) -> PageAccessOutcome? {
        pageWatches.state.withLock { s in
            guard !s.pages.isEmpty, s.pages[address & ~0xfff] != nil, memory.contains(address, count: data.count)
            else { return nil }
            s.exitsServed += 1
            let hit = PageWatchState.hit(s.watches, physical: address, count: data.count, isWrite: isWrite)
            if hit == nil || !deferHit { makeAccess(address: address, isWrite: isWrite, data: data) }
            guard let (kind, va) = hit else { return .served }
            s.hits += 1
            return .hit(kind, address: va)
        }
    }

    /// Between guest RAM and the kvm_run MMIO buffer: a write stored, a read's bytes given to the instruction.
    private func makeAccess(address: UInt64, isWrite: Bool, data: UnsafeMutableRawBufferPointer) {
        guard let p = memory.pointer(address, count: data.count) else { return }
        if isWrite {
            p.copyMemory(from: data.baseAddress!, byteCount: data.count)
        } else {
            data.copyMemory(from: UnsafeRawBufferPointer(start: p, count: data.count))
        }
    }

    /// Before a register write: the deferred access made and its instruction completed now (KVM_RUN with
    /// immediate_exit finishes the pending MMIO and returns EINTR before the next instruction), the registers
    /// fetched afresh after.
    func completeDeferredAccess(_ ctx: VCPUContext) throws(KVMError) {
        guard ctx.deferredPageAccess != nil else { return }
        makeDeferredAccess(ctx)
        ctx.vcpu.setImmediateExit(true)
        defer { ctx.vcpu.setImmediateExit(false) }
        try ctx.registers.flushBeforeRun()
        _ = try ctx.vcpu.run()
        ctx.registers.invalidateAll()
        ctx.translations.removeAll(keepingCapacity: true)
    }

    /// Before a run: the access a watchpoint stopped in front of (arm64), made now; the KVM_RUN that follows
    /// completes its instruction (pc moves past it, a step ends right after it).
    func makeDeferredAccess(_ ctx: VCPUContext) {
        guard let d = ctx.deferredPageAccess else { return }
        ctx.deferredPageAccess = nil
        makeAccess(address: d.address, isWrite: d.isWrite, data: d.data)
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
        #if KVMSTUB_X86
            var events = try ctx.vcpu.getEvents()
            if events.exception.nr == 6, events.exception.pending != 0 || events.exception.injected != 0 {
                events.exception.pending = 0
                events.exception.injected = 0
                events.flags = 0
                try ctx.vcpu.setEvents(events)
            }
        #endif
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
            if request == .singleStep && !architecture.pageHolesAreSafe {
                return "single-step watchpoints are x86's (where data breakpoints never fire): not on \(architecture.name)\n"
            }
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
        case (.auto, .debugRegisters) where !architecture.pageHolesAreSafe:
            out += " (watchpoint registers while enough are free, then page protection for watch)"
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
                out += "\(i.map(slotName) ?? "?")\n"
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
    var pageWatchSlotLimit: Int32 { max(vm.checkExtension(10), 1) }

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

import GDBStub
import Glibc
import KVM
import Registers

extension Machine {
    package var threadIDs: [Int] { contexts.indices.map { $0 + 1 } }

    package var stopNotificationFD: Int32 { notifier.fd }

    /// The session prints a `.failed` error's message on stderr with its reply (one line, not two).
    private func targetError(_ error: KVMError) -> TargetError { .failed("\(error)") }

    // MARK: Registers

    package func readRegister(_ regnum: Int, thread: Int) throws(TargetError) -> [UInt8]? {
        let ctx = try context(thread)
        guard registerTable[regnum] != nil else { throw .invalidArgument("no register \(regnum)") }
        do { return try ctx.registers.read(regnum) } catch { throw targetError(error) }
    }

    package func writeRegister(_ regnum: Int, value: [UInt8], thread: Int) throws(TargetError) {
        let ctx = try context(thread)
        guard let reg = registerTable[regnum] else { throw .invalidArgument("no register \(regnum)") }
        guard value.count == reg.byteSize else { throw .invalidArgument("\(reg.name) is \(reg.byteSize) bytes") }
        try architecture.checkWrite(reg, value) { try? ctx.registers.read(regnum) }
        // A watched access the vCPU stopped in front of (arm64) is completed first: KVM would complete it at the
        // next KVM_RUN, after this write, and move a pc gdb just set past its first instruction.
        do { try completeDeferredAccess(ctx) } catch { throw targetError(error) }
        let written: Bool
        do { written = try ctx.registers.write(regnum, value) } catch { throw targetError(error) }
        guard written else { throw .invalidArgument("\(reg.name) cannot be written: the kernel does not serve it") }
        // An MSR (x86; arm64: any register) goes to the kernel at once, not with the next KVM_RUN: the kernel
        // refuses some values (some MSRs, e.g. MSR_KVM_ASYNC_PF_INT, EINVAL; an arm64 pstate of EL2), and a
        // refusal must be this write's `E`, not a lost resume.
        if architecture.flushesWriteAtOnce(reg.syncGroup) {
            do { try ctx.registers.flush(reg.syncGroup) } catch { throw targetError(error) }
        }
        if architecture.translationGroups.contains(reg.syncGroup) {
            ctx.translations.removeAll()  // cr0/cr3/cr4 or EFER change the walk
        }
    }

    // MARK: Memory

    package func readMemory(at address: UInt64, count: Int, thread: Int) throws(TargetError) -> [UInt8] {
        let ctx = try context(thread)
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var va = address
        var remaining = count
        while remaining > 0 {
            guard let pa = translate(ctx, va) else { break }
            let chunk = min(remaining, Int(0x1000 - (va & 0xfff)))
            guard let p = memory.pointer(pa, count: chunk) else { break }
            let start = out.count
            out.append(contentsOf: UnsafeRawBufferPointer(start: p, count: chunk))
            if !breakpoints.patches.isEmpty {
                for i in 0..<chunk {
                    // Only while the trap is still there: a guest that copied code over it shows what it wrote.
                    if let (patch, offset) = breakpoints.patch(covering: pa + UInt64(i)), trapIntact(patch) {
                        out[start + i] = patch.original[offset]
                    }
                }
            }
            remaining -= chunk
            let (next, overflow) = va.addingReportingOverflow(UInt64(chunk))
            if overflow { break }
            va = next
        }
        if out.isEmpty && count > 0 { throw .badAddress(address) }
        return out
    }

    package func writeMemory(at address: UInt64, bytes: [UInt8], thread: Int) throws(TargetError) {
        let ctx = try context(thread)
        // Translate every page first: a write is all or nothing.
        var pieces: [(physical: UInt64, range: Range<Int>)] = []
        var offset = 0
        while offset < bytes.count {
            let (va, overflow) = address.addingReportingOverflow(UInt64(offset))
            guard !overflow, let pa = translate(ctx, va) else { throw .badAddress(address &+ UInt64(offset)) }
            let chunk = min(bytes.count - offset, Int(0x1000 - (va & 0xfff)))
            guard memory.contains(pa, count: chunk) else { throw .badAddress(va) }
            pieces.append((pa, offset..<offset + chunk))
            offset += chunk
        }
        for c in contexts { c.translations.removeAll() }  // the write may have changed page tables
        for (pa, range) in pieces {
            for (i, b) in bytes[range].enumerated() {
                let p = pa + UInt64(i)
                if let (patch, offset) = breakpoints.patch(covering: p), trapIntact(patch) {
                    breakpoints.updateOriginal(patch, offset: offset, to: b)  // the trap stays in memory
                } else {
                    memory.write(p, CollectionOfOne(b))
                }
            }
        }
    }

    // MARK: Run control

    /// The KVM_SET_GUEST_DEBUG state the next run would get: (control flags, the arch words).
    func debugStateForTests(step: Bool) -> (control: UInt32, debugRegisters: [UInt64]) {
        let s = debugState(step: step)
        return (s.control.rawValue, s.arch)
    }

    func debugState(step: Bool) -> GuestDebugState {
        var control: GuestDebugControl = []
        var regs: [UInt64] = []
        if step || !breakpoints.isEmpty { control.insert(.enable) }
        if step {
            control.insert(.singleStep)
            if blockIRQWhileStepping && capabilities.blockIRQ { control.insert(.blockIRQ) }
        }
        if breakpoints.usesSlots {
            control.insert(.useHardwareBreakpoints)
            regs = architecture.guestDebugWords(breakpoints.slots)
        }
        if breakpoints.usesPatches(of: architecture.breakpointInstruction) { control.insert(.useSoftwareBreakpoints) }
        return GuestDebugState(control: control, arch: regs)
    }

    package func resume(_ actions: [Int: ResumeAction], otherThreads: ResumeAction?) throws(TargetError) -> ResumeResult
    {
        for t in actions.keys { _ = try context(t) }
        let watches = breakpoints.steppedWatches.map { (address: $0.key, length: $0.value) } + fallbackSteppedWatches
        var commands: [(VCPUContext, RunCommand)] = []
        for (i, ctx) in contexts.enumerated() {
            guard let action = actions[i + 1] ?? otherThreads else { continue }
            let command = RunCommand(
                action: action, debug: debugState(step: action.steps || !watches.isEmpty), steppedWatches: watches)
            if case .rangeStep = action {
                ctx.rangeSteps.resumes += 1
                ctx.rangeSteps.lastSteps = 0
            }
            commands.append((ctx, command))
        }
        control.withLock { $0.soleRunner = commands.count == 1 ? commands[0].0.threadID : nil }
        // A single step of the only vCPU that moves runs right here, on the thread that answers the packet:
        // handing it to the vCPU thread and the stop back would cost two cross-CPU wake-ups (about 45 µs each
        // on this nested host) around a step of about 7 µs. KVM allows KVM_RUN from another thread (the vCPU's
        // pid is updated; measured here: no extra cost).
        // A continue of the only vCPU that moves runs here too while a session watches gdb's socket: a Ctrl-C
        // (or gdb leaving) ends its KVM_RUN through a signal routed from the socket, so no thread needs waking.
        pauseClock.resuming(commands.map { $0.0.vcpu }, available: capabilities.kvmclockControl)
        if commands.count == 1, !stepOnVCPUThreads, let stop = runInline(commands[0].0, commands[0].1) {
            pauseClock.allStopped(contexts.indices)
            return .stopped(stop)
        }
        control.withLock { s in
            s.pendingStop = nil
            s.timeline.start(commanded: commands.map { $0.0.vcpu.index })
            for (ctx, command) in commands {
                s.vcpus[ctx.vcpu.index].command = command
                s.runningCount += 1
                control.wakeVCPU(ctx.vcpu.index)
            }
        }
        return .running
    }

    package func takeStop() -> StopEvent? {
        notifier.drain()
        let stop: StopEvent? = control.withLock { s in
            guard let stop = s.pendingStop else { return nil }
            s.timeline.finish(taken: ResumeTimeline.now())
            s.pendingStop = nil
            s.lastStop = stop
            return stop
        }
        if stop != nil { pauseClock.allStopped(contexts.indices) }
        return stop
    }

    package func interrupt() {
        control.withLock { s in
            guard s.runningCount > 0 else { return }
            if s.timeline.recording && s.timeline.interrupted == 0 { s.timeline.interrupted = ResumeTimeline.now() }
            kickAllFromSession(&s)
        }
    }

    package func attach() -> StopEvent {
        control.lock()
        control.state.debuggerAttached = true
        control.state.timeline.reset()
        if control.state.runningCount > 0 { kickAllFromSession(&control.state) }
        while control.state.runningCount > 0 { control.wait() }
        if let stop = control.state.pendingStop {
            control.state.lastStop = stop
            control.state.pendingStop = nil
        }
        let stop = control.state.lastStop
        control.unlock()
        notifier.drain()
        pauseClock.allStopped(contexts.indices)
        for ctx in contexts {
            ctx.statsBase = ctx.vcpu.counter.snapshot()
            ctx.rangeSteps = RangeStepCount()
        }
        return stop
    }

    package func detach() {
        interruptFD = nil  // from here the guest runs on its own threads, not the session's
        let lastStop = control.withLock { s in
            s.debuggerAttached = false
            return s.lastStop
        }
        if guestExitStatus != nil { return }
        if case .fault = lastStop.reason { return }  // it would fault again at once: stay stopped
        _ = try? resume([:], otherThreads: .continue)
    }

    /// lldb's `D1`: nothing runs until the next debugger attaches (and its `attach()` finds every vCPU stopped, the
    /// last stop still the one `?` reports).
    package var canDetachStayingStopped: Bool { true }

    package func detachStayingStopped() {
        interruptFD = nil
        control.withLock { $0.debuggerAttached = false }
    }

    package func kill() {
        interruptFD = nil
        control.withLock { $0.debuggerAttached = false }
        stopAll()
    }

    package func watchForInterrupts(on fd: Int32?) { interruptFD = fd }

    /// `vCont;r` runs here (Machine+RangeStep.swift).
    package var supportsRangeStepping: Bool { true }

    package func threadExtraInfo(_ thread: Int) -> String? {
        guard let ctx = try? context(thread) else { return nil }
        let v = control.withLock { $0.vcpus[ctx.vcpu.index] }
        let waiting = v.running ? nil : mpState(ctx).flatMap { $0.waitsForStartup ? $0 : nil }
        return "vCPU \(ctx.vcpu.index), \(v.running ? "running" : v.halted ? "halted" : "stopped")"
            + (waiting.map { ", \($0.meaning)" } ?? "") + ", last exit \(v.lastExit)"
    }

    /// A stopped vCPU's KVM_MP_STATE, on x86 with an in-kernel LAPIC (without one every vCPU is RUNNABLE and
    /// nothing is asked), on arm64 always; nil while its thread runs it (the ioctl would wait for KVM_RUN to return) or when KVM refuses.
    func mpState(_ ctx: VCPUContext) -> MPState? {
        guard architecture.hasMPState(configuration), !control.withLock({ $0.vcpus[ctx.vcpu.index].running }) else {
            return nil
        }
        // KVM_GET_MP_STATE first takes an INIT or SIPI waiting in the vCPU's LAPIC (kvm_apic_accept_events): a
        // vCPU held stopped while another sent them is reset, or moved to the SIPI's start, here and not in a
        // KVM_RUN. What was cached of its registers is then stale: gdb's writes go in first, the cache goes after.
        guard architecture.mpStateMovesRegisters else { return try? ctx.vcpu.mpState() }
        try? ctx.registers.flushNow()
        let state = try? ctx.vcpu.mpState()
        ctx.registers.invalidateAll()
        return state
    }
}

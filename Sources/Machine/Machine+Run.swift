import GDBStub
import Glibc
import KVM

/// One run of a vCPU: flush, KVM_RUN, decode, until something gdb must hear about. On the vCPU's own thread, or
/// inline on the session's (`runInline`).
extension Machine {
    func execute(_ ctx: VCPUContext, _ command: RunCommand) -> RunOutcome {
        var command = command
        do {
            // KVM keeps a step's TF across a register write (KVM_SET_REGS, or kvm_run's sync regs) only while rip
            // equals the rip it sampled at the last KVM_SET_GUEST_DEBUG (singlestep_rip in __kvm_set_rflags):
            // a step after gdb wrote rip, rflags or any register of their block would run the guest away. So the
            // block goes in first and the debug state is set again; a step with nothing written stays one KVM_RUN.
            let stepAfterWrite = command.debug.control.contains(.singleStep) && ctx.registers.dirty.contains(.x86Regs)
            if ctx.appliedDebug != command.debug || stepAfterWrite {
                if stepAfterWrite { try ctx.registers.flushNow() }
                try ctx.vcpu.setGuestDebug(command.debug.control, arch: command.debug.arch)
                ctx.appliedDebug = command.debug
            }
            var watched = command.steppedWatches.map { readWatched(ctx, $0) }
            while true {
                makeDeferredAccess(ctx)  // Machine+PageWatchExits.swift
                try ctx.registers.flushBeforeRun()
                let exit = try ctx.vcpu.run()
                ctx.registers.invalidateAfterRun()
                ctx.translations.removeAll(keepingCapacity: true)
                if case .interrupted = exit {
                    ctx.interruptedRuns += 1
                    if stopRequested.load(ordering: .acquiring) {
                        ctx.lastExit = "interrupted (all-stop)"
                        return .kicked
                    }
                    if let fd = command.interruptFD {
                        if Self.interruptPending(fd) {
                            ctx.lastExit = "interrupted (Ctrl-C)"
                            return .kicked
                        }
                        KickSignal.takePending()  // input that is not a Ctrl-C (a late ack): run on
                    }
                    continue
                }
                ctx.finishedInstruction = false
                var handled = try handle(exit, ctx)
                if handled == nil, let fallback = takeStepFallback(ctx) {  // a watched page ran code (Machine+PageWatchExits.swift)
                    try stepFromNowOn(ctx, &command, &watched, fallback)
                }
                if handled == nil, ctx.finishedInstruction, command.action.steps { handled = .stop(.stepped) }
                guard let outcome = handled else { continue }
                if case .stop(.stepped) = outcome, !command.steppedWatches.isEmpty {
                    for (i, w) in command.steppedWatches.enumerated() {
                        let now = readWatched(ctx, w)
                        if now != watched[i] { return .stop(.watchpoint(.writeWatchpoint, address: w.address)) }
                        watched[i] = now
                    }
                    if command.action == .continue { continue }
                }
                if case .stop(.stepped) = outcome, case .rangeStep(let range) = command.action {
                    if let end = try rangeStepEnds(ctx, range, interruptFD: command.interruptFD) { return end }
                    continue
                }
                return outcome
            }
        } catch {
            // The rip this run was to start from, as the register file has it (gdb's writes included), taken
            // before the cache is dropped: the kernel may have refused what was flushed.
            let rip = GuestFault.RIP { try pc(ctx) }
            ctx.registers.invalidateAll()
            if let e = error as? KVMError, e.errno == ENOSYS, !pageWatches.state.withLock({ $0.pages.isEmpty }) {
                // arm64's io_mem_abort: an access to a page out of the memory slots whose syndrome KVM cannot
                // decode (no ISV: a load/store pair, one with writeback). The instruction has not run.
                return .stop(
                    .fault(
                        signal: 5,
                        description:
                            "vCPU \(ctx.vcpu.index) made an access KVM cannot decode (no ISV: a load/store pair or one with writeback) to a page watched by page protection, at pc 0x\(hex((try? pc(ctx)) ?? 0)); delete that watchpoint (or use the watchpoint registers) to run on"
                    ))
            }
            return .stop(.fault(signal: 4, description: GuestFault.failed(error, rip: rip)))
        }
    }

    /// Run one command on the calling thread (the session's) and return the stop, built by `settle` like any
    /// other (the vCPU's own thread stays parked meanwhile).
    /// nil when a continue cannot be made interruptible here (no session socket, or routing its input as a
    /// signal failed): the caller hands it to the vCPU thread instead.
    func runInline(_ ctx: VCPUContext, _ command: RunCommand) -> StopEvent? {
        var command = command
        var routed = false
        if case .rangeStep = command.action {
            // Its runs are single steps: the socket is peeked between them (Machine+RangeStep.swift).
            command.interruptFD = interruptFD
        } else if command.action == .continue {
            // Input on gdb's socket raises the kick signal in this thread. It is blocked here and unblocked only
            // inside KVM_RUN (KVM_SET_SIGNAL_MASK), so one that arrives before the ioctl ends it at once instead
            // of being lost.
            guard let fd = interruptFD else { return nil }
            KickSignal.blockInThisThread()
            guard KickSignal.routeInput(from: fd) else {
                KickSignal.unblockInThisThread()
                return nil
            }
            command.interruptFD = fd
            routed = true
        }
        defer {
            if routed, let fd = command.interruptFD {
                KickSignal.stopRoutingInput(from: fd)
                KickSignal.unblockInThisThread()  // a pending kick meets the no-op handler
            }
        }
        ctx.vcpu.setImmediateExit(false)
        control.withLock { s in
            s.vcpus[ctx.vcpu.index].halted = false
            s.runningCount += 1
        }
        let outcome: RunOutcome
        if let fd = command.interruptFD, Self.interruptPending(fd) {
            outcome = .kicked
        } else {
            outcome = execute(ctx, command)
        }
        return control.withLock { s in
            let stop =
                settle(ctx, outcome, action: command.action, &s)
                ?? StopEvent(thread: ctx.threadID, reason: .interrupted)  // not reached: nothing else runs
            s.lastStop = stop
            return stop
        }
    }

    /// True when gdb's socket holds a Ctrl-C (0x03) or has closed: a continue run inline must end. Anything
    /// else (a late ack) stays unread for the session.
    static func interruptPending(_ fd: Int32) -> Bool {
        var peek = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &peek, peek.count, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n == 0 { return true }
        if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR }
        return peek[0..<n].contains(0x03)
    }

    /// The bytes under a single-stepped watchpoint (nil while unmapped: a mapping that appears is a change).
    func readWatched(_ ctx: VCPUContext, _ w: (address: UInt64, length: Int)) -> [UInt8]? {
        guard let pa = translate(ctx, w.address) else { return nil }
        return memory.read(pa, count: w.length)
    }
}

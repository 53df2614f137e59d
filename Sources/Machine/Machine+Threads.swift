import GDBStub
import Glibc
import KVM

/// The vCPU threads, the all-stop, and `settle`: the one place a stop is built, whichever thread ran the vCPU.
extension Machine {
    /// Start the vCPU threads. With `running`, the guest runs at once; otherwise it waits for a debugger.
    package func start(running: Bool) {
        for ctx in contexts {
            let box = Unmanaged.passRetained(ThreadBox(machine: self, context: ctx)).toOpaque()
            var tid = pthread_t()
            pthread_create(
                &tid, nil,
                { arg in
                    let box = Unmanaged<ThreadBox>.fromOpaque(arg!).takeRetainedValue()
                    box.machine.vcpuThread(box.context)
                    return nil
                }, box)
            ctx.thread = tid
        }
        if running { _ = try? resume([:], otherThreads: .continue) }
    }

    private final class ThreadBox {
        let machine: Machine
        let context: VCPUContext
        init(machine: Machine, context: VCPUContext) {
            self.machine = machine
            self.context = context
        }
    }

    private func vcpuThread(_ ctx: VCPUContext) {
        KickSignal.unblockInThisThread()  // the creating thread may block it (a test runner's pool does)
        let i = ctx.vcpu.index
        control.lock()
        while true {
            while control.state.vcpus[i].command == nil && !control.state.shuttingDown { control.waitForCommand(i) }
            if control.state.shuttingDown { break }
            let command = control.state.vcpus[i].command!
            control.state.vcpus[i].command = nil
            if control.state.timeline.recording { control.state.timeline.vcpus[i].picked = ResumeTimeline.now() }
            control.state.vcpus[i].running = true
            control.state.vcpus[i].halted = false
            // A kick that came before this run started must still stop it.
            ctx.vcpu.setImmediateExit(stopRequested.load(ordering: .relaxed))
            control.unlock()
            let outcome = execute(ctx, command)
            let returned = ResumeTimeline.now()
            control.lock()
            control.state.vcpus[i].running = false
            if control.state.timeline.recording { control.state.timeline.vcpus[i].returned = returned }
            if let stop = settle(ctx, outcome, action: command.action, &control.state) {
                deliver(stop, &control.state)
                control.broadcast()  // for stopAll and attach, which wait for every vCPU to stop
            }
        }
        control.unlock()
    }

    /// (lock held) A vCPU's run ended, on its own thread or inline on the session's. Records how; a stop starts
    /// the all-stop; once no vCPU runs any more, returns the stop to report — the first vCPU's reason, or an
    /// interrupt. Every stop is built here.
    func settle(_ ctx: VCPUContext, _ outcome: RunOutcome, action: ResumeAction, _ s: inout RunState) -> StopEvent? {
        let i = ctx.vcpu.index
        s.runningCount -= 1
        s.vcpus[i].lastExit = ctx.lastExit
        if s.timeline.recording { s.timeline.vcpus[i].settled = ResumeTimeline.now() }
        switch outcome {
        case .stop(let reason):
            if case .fault(_, let description) = reason { report("vCPU \(i): \(description)") }
            if s.firstStop == nil {
                s.firstStop = StopEvent(thread: ctx.threadID, reason: reason)
                if s.timeline.recording { s.timeline.firstStop = ResumeTimeline.now() }
                kickAll(&s)
            }
        case .halted(let rip):
            s.vcpus[i].halted = true
            if action.steps && !s.allHalted {
                // A step onto HLT is a step: the others may yet wake this one.
                if s.firstStop == nil {
                    s.firstStop = StopEvent(thread: ctx.threadID, reason: .stepped)
                    if s.timeline.recording { s.timeline.firstStop = ResumeTimeline.now() }
                    kickAll(&s)
                }
            } else if s.runningCount == 0 && s.firstStop == nil && !stopRequested.load(ordering: .relaxed) {
                let what = s.allHalted && contexts.count > 1 ? "halted, and so are all other vCPUs" : "halted"
                report("vCPU \(i): \(what) at rip 0x\(hex(rip))")
                s.firstStop = StopEvent(
                    thread: ctx.threadID,
                    reason: .fault(
                        signal: 17,
                        description: "\(what) at rip 0x\(hex(rip)) with nothing to wake it (no interrupt controller)"))
            }
        case .kicked:
            break
        }
        return stopIfAllSettled(&s)
    }

    /// (lock held) The stop to report once no vCPU runs any more (nil while one does): the first vCPU's reason,
    /// or an interrupt.
    func stopIfAllSettled(_ s: inout RunState) -> StopEvent? {
        guard s.runningCount == 0 else { return nil }
        let stop = s.firstStop ?? StopEvent(thread: s.soleRunner ?? s.lastStop.thread, reason: .interrupted)
        s.firstStop = nil
        s.soleRunner = nil
        stopRequested.store(false, ordering: .releasing)
        if case .exited(let status) = stop.reason { guestExitStatus = status }
        return stop
    }

    /// (lock held) A stop the vCPU threads reached: the session hears of it through the notifier, or, with no
    /// debugger attached, `unattendedStop` does.
    func deliver(_ stop: StopEvent, _ s: inout RunState) {
        if s.timeline.recording { s.timeline.delivered = ResumeTimeline.now() }
        if s.debuggerAttached {
            s.pendingStop = stop
            notifier.signal()
        } else {
            s.lastStop = stop
            unattendedStop?(stop)
        }
    }

    /// (lock held) All-stop: make every vCPU running on its thread leave KVM_RUN. A command its thread has not
    /// picked up yet is taken back instead: that vCPU has not run, so it is stopped as it is, and its thread is
    /// spared a KVM_SET_GUEST_DEBUG and a KVM_RUN that would return at once — and the stop no longer waits for
    /// the scheduler to give it a CPU (with more vCPU threads than host CPUs, often the longest wait of all).
    func kickAll(_ s: inout RunState) {
        stopRequested.store(true, ordering: .releasing)
        for (i, ctx) in contexts.enumerated() {
            if s.vcpus[i].command != nil {
                s.vcpus[i].command = nil
                s.runningCount -= 1
                s.timeline.vcpus[i].withdrawn = true
            } else if s.vcpus[i].running {
                ctx.vcpu.kick(ctx.thread)
            }
        }
    }

    /// (lock held) `kickAll` from the session's side (Ctrl-C, attach, kill): when no vCPU thread had started,
    /// nothing is left to report the stop, so it is delivered here.
    func kickAllFromSession(_ s: inout RunState) {
        kickAll(&s)
        if let stop = stopIfAllSettled(&s) {
            deliver(stop, &s)
            control.broadcast()
        }
    }

    /// Stop every vCPU and wait until they are stopped.
    func stopAll() {
        control.lock()
        if control.state.runningCount > 0 { kickAllFromSession(&control.state) }
        while control.state.runningCount > 0 { control.wait() }
        control.unlock()
    }
}

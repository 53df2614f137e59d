import RSP
import Registers

/// `c`, `s`, `C`, `S`, `vCont` (with `r`, range stepping): resuming, and the stop replies that end a run.
///
/// Signals (`C`, `S`, `vCont;C`/`S`) are accepted and ignored: a vCPU has no pending-signal state to deliver them
/// to, and gdb only passes one on when the user asks for it (`signal SIGINT`), after a stop we reported ourselves.
extension Session {
    /// `c [addr]`: every vCPU runs, or only the `Hc` thread if gdb picked one (its way of saying "the others stay
    /// stopped" without vCont).
    func continuePacket(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        try setPCIfGiven(body)
        return try resumeLegacy(.continue)
    }

    /// `s [addr]`: one vCPU steps (the `Hc` thread, else the `Hg` one); the others stay stopped.
    func stepPacket(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        try setPCIfGiven(body)
        return try resumeLegacy(.step)
    }

    /// `C sig[;addr]`.
    func continueWithSignal(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        try setPCIfGiven(try signalAndRest(body))
        return try resumeLegacy(.continue)
    }

    /// `S sig[;addr]`.
    func stepWithSignal(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        try setPCIfGiven(try signalAndRest(body))
        return try resumeLegacy(.step)
    }

    /// `vCont;action[:tid];…` (`body` is what follows `vCont`). Per the spec the leftmost action that applies to a
    /// thread wins, so an action without a thread id (or `-1`) covers only the threads no earlier action named,
    /// and a thread named after it is already covered.
    func vCont(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        guard body.first == UInt8(ascii: ";") else { throw .malformed }
        var actions: [Int: ResumeAction] = [:]
        var others: ResumeAction?
        for field in body.dropFirst().split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false) {
            guard let letter = field.first else { throw .malformed }
            var rest = field.dropFirst()
            let action: ResumeAction
            switch letter {
            case UInt8(ascii: "c"): action = .continue
            case UInt8(ascii: "s"): action = .step
            case UInt8(ascii: "C"), UInt8(ascii: "S"):
                action = letter == UInt8(ascii: "C") ? .continue : .step
                let signalEnd = rest.firstIndex(of: UInt8(ascii: ":")) ?? rest.endIndex
                _ = try hexNumber(rest[rest.startIndex..<signalEnd])
                rest = rest[signalEnd...]
            case UInt8(ascii: "r"):
                // `rSTART,END`: a target without range stepping never offered it, and a single step is a valid
                // (degenerate) answer, so gdb is not refused should it send one anyway.
                let rangeEnd = rest.firstIndex(of: UInt8(ascii: ":")) ?? rest.endIndex
                guard let (start, end) = rest[rest.startIndex..<rangeEnd].split(at: UInt8(ascii: ",")) else {
                    throw .malformed
                }
                let low = try hexNumber(start)
                let high = try hexNumber(end)
                guard low <= high else { throw .malformed }
                action = target.supportsRangeStepping ? .rangeStep(low..<high) : .step
                rest = rest[rangeEnd...]
            default:
                // `t` (non-stop) is not in our `vCont?` reply.
                throw .malformed
            }
            var thread = -1
            if !rest.isEmpty {
                guard rest.first == UInt8(ascii: ":") else { throw .malformed }
                thread = try threadIDField(rest.dropFirst())
                if thread == 0 { thread = generalThread }
                guard thread == -1 || knownThread(thread) else { throw .malformed }
            }
            if others != nil { continue }
            if thread == -1 {
                others = action
            } else if actions[thread] == nil {
                actions[thread] = action
            }
        }
        return try resume(actions, others: others)
    }

    // MARK: -

    private func resumeLegacy(_ action: ResumeAction) throws(RequestError) -> Outcome {
        switch action {
        case .continue:
            if let thread = continueThread { return try resume([thread: .continue], others: nil) }
            return try resume([:], others: .continue)
        case .step, .rangeStep:
            return try resume([continueThread ?? generalThread: action], others: nil)
        }
    }

    /// The signal of `C`/`S`, checked and dropped; returns what follows it (`;addr` or nothing) as a `c`/`s` body.
    private func signalAndRest(_ body: ArraySlice<UInt8>) throws(RequestError) -> ArraySlice<UInt8> {
        guard let (signal, address) = body.split(at: UInt8(ascii: ";")) else {
            _ = try hexNumber(body)
            return body[body.endIndex...]
        }
        _ = try hexNumber(signal)
        guard !address.isEmpty else { throw .malformed }
        return address
    }

    /// The optional address of `c`/`s`: the pc of the thread about to run.
    private func setPCIfGiven(_ body: ArraySlice<UInt8>) throws(RequestError) {
        guard !body.isEmpty else { return }
        let address = try hexNumber(body)
        guard let pc = registerTable[registerTable.pcRegnum] else { throw .unsupported }
        var value: [UInt8] = []
        value.reserveCapacity(pc.byteSize)
        for i in 0..<pc.byteSize {
            value.append(i < 8 ? UInt8(truncatingIfNeeded: address >> UInt64(i * 8)) : 0)
        }
        do {
            try target.writeRegister(pc.regnum, value: value, thread: continueThread ?? generalThread)
        } catch {
            throw targetFailure(error)
        }
    }

    private func resume(_ actions: [Int: ResumeAction], others: ResumeAction?) throws(RequestError) -> Outcome {
        if targetGone != nil {
            // Nothing is left to run: say so again rather than ask a dead target.
            prepareStopReply(lastStop)
            return .reply
        }
        interruptAnsweredUnread = false  // by now read: gdb sent it before it had our stop reply
        if interruptOwed {
            // A Ctrl-C gdb sent while the guest was stopped: this resume ends at once, the guest untouched.
            interruptOwed = false
            let stepping = actions.keys.sorted().first
            prepareStopReply(StopEvent(thread: stepping ?? (knownThread(lastStop.thread) ? lastStop.thread : generalThread), reason: .interrupted))
            return .reply
        }
        // The target may run this resume to its stop on this very thread (a lone vCPU's step or continue):
        // what is already owed to gdb — the `+` for this packet above all — goes out first, or in ack mode gdb
        // would wait for it, time out and send the packet again.
        if let writeEarly, !output.isEmpty {
            let delivered = writeEarly(output)
            output.removeAll(keepingCapacity: true)
            guard delivered else {
                // Nobody to report a stop to: leave the guest as it is for the loop's clean-up.
                earlyWriteFailed = true
                return .none
            }
        }
        let result: ResumeResult
        do {
            result = try target.resume(actions, otherThreads: others)
        } catch {
            throw targetFailure(error)
        }
        switch result {
        case .stopped(let event):
            // Ended on gdb's 0x03 seen, not read: the session reads it later.
            if event.reason == .interrupted { interruptAnsweredUnread = true }
            prepareStopReply(event)
            return .reply
        case .running:
            isRunning = true
            interruptForwarded = false
            return .none
        }
    }

    // MARK: - Stop replies

    /// Records `event` and puts its stop reply in `reply`; a fault's description goes out first as console output.
    func prepareStopReply(_ event: StopEvent) {
        noteStop(event)
        if case .fault(_, let description) = event.reason, !description.isEmpty {
            var message: [UInt8] = [UInt8(ascii: "O")]
            Hex.encode(Array("kvmstub: \(description)\n".utf8), into: &message)
            emitNotification(message)
        }
        reply.removeAll(keepingCapacity: true)
        appendStopReply(event)
    }

    /// `T<sig>thread:<tid>;<regnum>:<value>;…[swbreak:;|hwbreak:;|watch:addr;]`, `Wnn` or `Xnn`.
    func appendStopReply(_ event: StopEvent) {
        let signal: UInt8
        switch event.reason {
        case .exited(let status):
            reply.append(UInt8(ascii: "W"))
            appendHex(UInt64(status), to: &reply, minimumDigits: 2)
            return
        case .terminated(let signal):
            reply.append(UInt8(ascii: "X"))
            appendHex(UInt64(signal), to: &reply, minimumDigits: 2)
            return
        case .interrupted: signal = 2  // SIGINT
        case .fault(let faultSignal, _): signal = faultSignal
        case .stepped, .softwareBreakpoint, .hardwareBreakpoint, .watchpoint: signal = 5  // SIGTRAP
        }
        reply.append(UInt8(ascii: "T"))
        appendHex(UInt64(signal), to: &reply, minimumDigits: 2)
        appendASCII("thread:")
        appendHex(UInt64(truncatingIfNeeded: event.thread), to: &reply)
        reply.append(UInt8(ascii: ";"))
        if knownThread(event.thread) { appendExpeditedRegisters(of: event.thread) }
        appendThreadsInStopReply()
        switch event.reason {
        case .softwareBreakpoint where gdbReportsSoftwareBreaks:
            appendASCII("swbreak:;")
        case .hardwareBreakpoint where gdbReportsHardwareBreaks:
            appendASCII("hwbreak:;")
        case .watchpoint(let kind, let address):
            switch kind {
            case .writeWatchpoint: appendASCII("watch:")
            case .readWatchpoint: appendASCII("rwatch:")
            case .accessWatchpoint: appendASCII("awatch:")
            case .software, .hardware:
                // Not a watchpoint after all: report it as the breakpoint it is.
                if kind == .software ? gdbReportsSoftwareBreaks : gdbReportsHardwareBreaks {
                    appendASCII(kind == .software ? "swbreak:;" : "hwbreak:;")
                }
                return
            }
            appendHex(address, to: &reply)
            reply.append(UInt8(ascii: ";"))
        default:
            break
        }
    }

    /// The registers gdb needs at every stop, so it need not ask for them; an unreadable one is left out (gdb then
    /// fetches it with `g` and sees `xx`).
    func appendExpeditedRegisters(of thread: Int) {
        for regnum in registerTable.expedited {
            guard let register = registerTable[regnum],
                let value = try? target.readRegister(regnum, thread: thread),
                value.count >= register.byteSize
            else { continue }
            appendHex(UInt64(regnum), to: &reply, minimumDigits: 2)
            reply.append(UInt8(ascii: ":"))
            Hex.encode(value.prefix(register.byteSize), into: &reply)
            reply.append(UInt8(ascii: ";"))
        }
    }
}

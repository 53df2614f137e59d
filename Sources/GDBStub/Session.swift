import RSP
import Registers

/// How a session ended.
public enum SessionEnd: Sendable, Equatable {
    /// gdb sent `D`, or the connection went away: the session's breakpoints are removed and the guest runs on.
    case detached
    /// gdb sent `k` (or `vKill`): the target was told to end, and so should the program.
    case killed
    /// The guest ended the run through the exit port (`Wnn` was sent) and gdb then left: nothing is left to debug.
    case exited(status: UInt8)
    /// The guest is gone for good (`Xnn` was sent) and gdb then left.
    case terminated(signal: UInt8)
}

/// One gdb connection's protocol state, without I/O: feed it gdb's bytes with `receive`, tell it about stops with
/// `stopped`, and write whatever both return. `serve(fd:)` (Connection.swift) is the loop that does that over a
/// socket.
///
/// The packet families live in `Session+….swift`; this file has the state, the dispatch and the reply plumbing.
public final class Session {
    let target: any DebugTarget
    let registerTable: RegisterTable
    var channel: RSPChannel

    /// Waiting for a stop after `c`, `s` or `vCont`: gdb sends nothing but Ctrl-C until the stop reply.
    public internal(set) var isRunning = false
    /// Set by `D`, `k` and the loss of the connection; the session takes no more packets once it is set.
    public internal(set) var end: SessionEnd?

    /// Where diagnostics go (a target's `.failed` message, dropped packets). stderr unless a caller wants them.
    public var diagnostics: (String) -> Void = { standardError($0) }

    /// `target.attach()` is called when gdb first sends something, not in `init`: a connection that never says a
    /// word changes nothing about the guest, and the Session can be built before the guest is ready.
    var attached = false
    /// The stop `?` reports: the one `attach()` gave, then the last one reported.
    var lastStop = StopEvent(thread: 1, reason: .interrupted)
    /// Ctrl-C is forwarded once per run: a user pressing it repeatedly must not queue several stops.
    var interruptForwarded = false
    /// A Ctrl-C (0x03) that no stop has answered yet, owed at the next resume: that resume stops at once with
    /// SIGINT instead of running, as gdbserver does (it turns a 0x03 into a SIGINT queued for the stopped
    /// process). gdb sends 0x03 whenever it takes the guest for running, and it does so in the stops it handles
    /// by itself — a breakpoint whose condition is false, a hardware breakpoint at a pc where it knows none (a
    /// real-mode `hbreak` while `cs` is not 0) — between our stop reply and its next resume. Dropping that 0x03
    /// (and a forwarded one that lost the race to another stop) left a Ctrl-C in such a loop ignored for ever.
    var interruptOwed = false
    /// A run on the session's thread ended `.interrupted` on a 0x03 the target saw in the socket without reading
    /// it: that Ctrl-C is answered, and is not owed again when the session reads it.
    var interruptAnsweredUnread = false
    /// Set when a `W`/`X` stop was sent: the guest is gone, so detaching touches nothing.
    var targetGone: SessionEnd?

    /// The `Hg` thread: registers and memory are read as this vCPU sees them. Always a real thread id.
    var generalThread: Int
    /// The `Hc` thread for the old `c`/`s` packets; nil for `Hc-1`/`Hc0` (gdb's "all"/"any").
    var continueThread: Int?

    /// What gdb offered in `qSupported`; only then do stop replies carry `swbreak:;` / `hwbreak:;`.
    var gdbReportsSoftwareBreaks = false
    var gdbReportsHardwareBreaks = false

    /// `QStartNoAckMode` was answered: acks stop once that `OK` is framed.
    var noAckModeAfterReply = false

    /// What an lldb client asked for (thread suffixes, thread lists in stop replies, error strings), and whether
    /// the client is lldb at all (Session+LLDB.swift).
    var lldb = LLDBClientState()

    /// Breakpoints the session inserted, so `D` (or a lost connection) can remove them all and a repeated `Z`
    /// does not insert twice.
    var insertedBreakpoints: Set<InsertedBreakpoint> = []

    /// Annex name → document, built once: gdb reads target.xml in many small chunks.
    let targetDescription: [String: [UInt8]]
    /// The memory-map XML, built once from `target.memoryMap`; nil when the target gives no map.
    let memoryMapDocument: [UInt8]?

    /// The reply being built; reused from packet to packet so a `g` or `m` allocates nothing here.
    var reply: [UInt8] = []
    /// What `receive`/`stopped` return; reused likewise.
    var output: [UInt8] = []
    /// Set while `serve` runs: writes bytes to gdb at once (see `resume`); false when they could not all go (gdb
    /// vanished or stalled). nil for the sans-I/O use.
    var writeEarly: (([UInt8]) -> Bool)?
    /// An early write failed: the resume it preceded was not made, and no further packet is handled; the
    /// connection loop then ends the session as for a vanished gdb.
    var earlyWriteFailed = false

    /// How long `serve` lets gdb leave a reply unread or a packet half sent before it drops the connection, as
    /// if gdb had vanished (`D`'s clean-up: breakpoints removed, the guest runs on, the next gdb can attach). An
    /// idle gdb between packets is never dropped.
    public var stallTimeout = Session.defaultStallTimeout

    struct InsertedBreakpoint: Hashable {
        let kind: BreakpointKind
        let address: UInt64
        let length: Int
    }

    public init(target: some DebugTarget, maxPacketSize: Int = 16384) {
        self.target = target
        self.registerTable = target.registerTable
        // Room for the shortest replies whatever a caller asks for: a register, a stop reply, qSupported. And for
        // the register file, which cannot be split: a `g` reply is the whole block in hex and a `G` that plus one
        // letter (18040 digits for SVE at 2048 bits, past the default), a `P` one register plus `P`, regnum and `=`.
        let largestRegister = target.registerTable.registers.map(\.byteSize).max() ?? 0
        self.channel = RSPChannel(
            maxPacketSize: max(
                maxPacketSize, 256, 2 * target.registerTable.gPacketByteCount + 1, 2 * largestRegister + 32))
        self.generalThread = target.threadIDs.first ?? 1
        self.targetDescription = target.registerTable.targetDescription().mapValues { Array($0.utf8) }
        self.memoryMapDocument = Self.memoryMapXML(target.memoryMap).map { Array($0.utf8) }
        reply.reserveCapacity(self.channel.maxPacketSize)
    }

    public var maxPacketSize: Int { channel.maxPacketSize }

    /// Feeds bytes read from gdb; returns the bytes to write back (acks, replies, resends).
    public func receive(_ bytes: [UInt8]) -> [UInt8] {
        output.removeAll(keepingCapacity: true)
        let incoming = channel.receive(bytes, output: &output)
        // Set when a resume took the Ctrl-C that follows it in this batch.
        var interruptTaken = false
        for (index, item) in incoming.enumerated() {
            guard end == nil, !earlyWriteFailed else { break }
            attachIfNeeded()
            switch item {
            case .interrupt:
                if interruptTaken {
                    interruptTaken = false
                } else if isRunning {
                    if !interruptForwarded {
                        interruptForwarded = true
                        target.interrupt()
                    }
                } else if interruptAnsweredUnread {
                    interruptAnsweredUnread = false
                } else {
                    interruptOwed = true
                }
            case .packet(let payload):
                if isRunning {
                    // All-stop gdb sends nothing while it waits for the stop reply; answering anyway would be
                    // taken for that stop reply.
                    diagnostics("kvmstub: ignored a packet received while the guest runs")
                    continue
                }
                if Self.resumes(payload), incoming[(index + 1)...].contains(where: { $0 == .interrupt }) {
                    // gdb's Ctrl-C came right behind the resume, read with it: a run on this thread watches the
                    // socket for it and would never see it. Owed, so the resume ends at once.
                    interruptOwed = true
                    interruptTaken = true
                }
                handle(payload[...])
            }
        }
        return output
    }

    /// The target stopped while running (its notification fired and `takeStop()` returned this): the stop reply
    /// to write. Empty when the session was not waiting for a stop.
    public func stopped(_ event: StopEvent) -> [UInt8] {
        output.removeAll(keepingCapacity: true)
        guard isRunning, end == nil else { return output }
        switch event.reason {
        case .interrupted, .exited, .terminated: break
        default: if interruptForwarded { interruptOwed = true }  // another stop came first: the Ctrl-C is still owed
        }
        reportStop(event)
        return output
    }

    /// `c`, `s`, `C`, `S`, `vCont;…`: the packets that may start the guest.
    static func resumes(_ payload: [UInt8]) -> Bool {
        switch payload.first {
        case UInt8(ascii: "c"), UInt8(ascii: "s"), UInt8(ascii: "C"), UInt8(ascii: "S"): return true
        case UInt8(ascii: "v"): return payload.starts(with: Array("vCont;".utf8))
        default: return false
        }
    }

    func attachIfNeeded() {
        guard !attached else { return }
        attached = true
        noteStop(target.attach())
    }

    // MARK: - Dispatch

    /// What a handler did with `reply`.
    enum Outcome {
        /// Frame `reply` as it is (hex or text).
        case reply
        /// Frame `reply` escaping `$ # } *` (qXfer data).
        case binaryReply
        /// Nothing to send: `k`, or a resume that left the guest running.
        case none
    }

    /// Why a request fails; the session always goes on.
    enum RequestError: Error {
        /// Bad hex, missing fields, trailing junk, a length that does not match: `E22`.
        case malformed
        /// `E nn` with these two decimal digits (gdb only checks that they are two hex digits).
        case code(UInt8)
        /// Unsupported: the empty reply.
        case unsupported

        init(_ error: TargetError) {
            self = error == .unsupported ? .unsupported : .code(error.errorCode)
        }
    }

    func handle(_ packet: ArraySlice<UInt8>) {
        reply.removeAll(keepingCapacity: true)
        lldb.errorText = nil
        let outcome: Outcome
        do {
            outcome = try dispatch(packet)
        } catch {
            reply.removeAll(keepingCapacity: true)
            switch error {
            case .malformed:
                appendError(22)
                appendErrorText()
            case .code(let code):
                appendError(code)
                appendErrorText()
            case .unsupported: break
            }
            outcome = .reply
        }
        switch outcome {
        case .reply: output.append(contentsOf: channel.frame(reply))
        case .binaryReply: output.append(contentsOf: channel.frame(reply, binary: true))
        case .none: break
        }
        if noAckModeAfterReply {
            noAckModeAfterReply = false
            channel.noAckMode = true
        }
    }

    private func dispatch(_ packet: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        guard let first = packet.first else { return .reply }
        let body = packet.dropFirst()
        switch first {
        case UInt8(ascii: "g"): return try readGeneralRegisters(body)
        case UInt8(ascii: "G"): return try writeGeneralRegisters(body)
        case UInt8(ascii: "p"): return try readRegister(body)
        case UInt8(ascii: "P"): return try writeRegister(body)
        case UInt8(ascii: "m"): return try readMemory(body)
        case UInt8(ascii: "M"): return try writeMemory(body)
        case UInt8(ascii: "X"): return try writeBinaryMemory(body)
        case UInt8(ascii: "x"): return try readBinaryMemory(body)
        case UInt8(ascii: "c"): return try continuePacket(body)
        case UInt8(ascii: "s"): return try stepPacket(body)
        case UInt8(ascii: "C"): return try continueWithSignal(body)
        case UInt8(ascii: "S"): return try stepWithSignal(body)
        case UInt8(ascii: "Z"): return try insertBreakpoint(body)
        case UInt8(ascii: "z"): return try removeBreakpoint(body)
        case UInt8(ascii: "H"): return try selectThread(body)
        case UInt8(ascii: "T"): return try threadAlive(body)
        case UInt8(ascii: "?"):
            appendStopReply(lastStop)
            return .reply
        case UInt8(ascii: "D"): return detachPacket(body)
        case UInt8(ascii: "k"): return killPacket()
        case UInt8(ascii: "q"), UInt8(ascii: "Q"): return try query(packet)
        case UInt8(ascii: "v"): return try vPacket(packet)
        case UInt8(ascii: "j"): return try jsonPacket(packet)
        default:
            // Unknown packets get the empty reply: that is how gdb learns a stub lacks a feature.
            return .reply
        }
    }

    // MARK: - Replies

    func appendError(_ code: UInt8) {
        reply.append(UInt8(ascii: "E"))
        reply.append(UInt8(ascii: "0") + code / 10 % 10)
        reply.append(UInt8(ascii: "0") + code % 10)
    }

    func appendASCII(_ text: StaticString) {
        text.withUTF8Buffer { reply.append(contentsOf: $0) }
    }

    /// Frames a message that is not the reply to a request (`O` console output); NAKs still resend the reply.
    func emitNotification(_ payload: [UInt8]) {
        output.append(contentsOf: channel.frameNotification(payload))
    }

    // MARK: - Stops and the end

    /// Remembers a stop without sending anything: `?` answers with it, and registers are then read from the
    /// stopping thread, as gdbserver does.
    func noteStop(_ event: StopEvent) {
        lastStop = event
        isRunning = false
        interruptForwarded = false
        switch event.reason {
        case .exited(let status): targetGone = .exited(status: status)
        case .terminated(let signal): targetGone = .terminated(signal: signal)
        default:
            if target.threadIDs.contains(event.thread) { generalThread = event.thread }
        }
    }

    /// Sends the stop reply for `event`.
    func reportStop(_ event: StopEvent) {
        prepareStopReply(event)
        output.append(contentsOf: channel.frame(reply))
    }

    /// Ends the session because gdb went away (EOF, reset) while the target is stopped: the same clean-up as `D`
    /// without a reply. The connection loop first brings a running target to a stop (`noteStopAfterLoss`).
    func connectionLost() {
        guard end == nil else { return }
        end = detachTarget()
    }

    /// A stop taken after gdb vanished: recorded, not reported (there is nobody to report it to).
    func noteStopAfterLoss(_ event: StopEvent) {
        noteStop(event)
    }

    /// Removes the session's breakpoints and lets the guest run; nothing to do when it is gone or was never
    /// attached.
    func detachTarget() -> SessionEnd {
        if let gone = targetGone { return gone }
        guard attached else { return .detached }
        removeAllBreakpoints()
        target.detach()
        return .detached
    }

    func finish(_ how: SessionEnd) {
        end = how
    }
}

import Glibc

/// The blocking loop that runs a Session over a connected socket: one `poll(2)` on gdb's socket and, while the
/// guest runs, the target's stop notification — so Ctrl-C reaches a running guest and a stop reaches gdb at
/// once, with no busy loop. The only timeout is the stall deadline (`stallTimeout`): a gdb that stops reading a
/// reply, or stops halfway through a packet, loses the connection rather than holding the guest and the listener.
extension Session {
    /// Serves gdb on `fd` until `D`, `k`, or the connection ends (EOF or reset count as a detach: our
    /// breakpoints are removed and the guest runs on; so does a stall, see `stallTimeout`). The caller owns and
    /// closes `fd`.
    public func serve(fd: Int32) -> SessionEnd {
        serve(fd: fd, refusingConnectionsOn: nil)
    }

    /// `listener`, if given, is polled too: a second gdb that connects meanwhile gets `E01` and is closed,
    /// instead of hanging in the backlog until its own timeout.
    func serve(fd: Int32, refusingConnectionsOn givenListener: Int32?) -> SessionEnd {
        // Polled until it fails for good: a listener shut down by GDBServer.stopAccepting (the guest ended
        // meanwhile) reports POLLHUP for ever, and must not turn this loop into a busy one.
        var listener = givenListener
        target.watchForInterrupts(on: fd)
        defer { target.watchForInterrupts(on: nil) }
        var connection = SocketIO(fd: fd, stallTimeout: stallTimeout)
        /// Writes everything, or says why not (a stall gets its line on stderr here) and returns false.
        func deliver(_ bytes: [UInt8]) -> Bool {
            switch connection.writeAll(bytes) {
            case .written: return true
            case .closed: return false
            case .stalled:
                diagnostics(
                    "kvmstub: gdb took no reply bytes for \(describe(stallTimeout)); dropping the connection as if it had detached"
                )
                return false
            }
        }
        writeEarly = { bytes in deliver(bytes) }
        defer { writeEarly = nil }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        // Set while gdb is partway through a packet: when its silence ends the connection. nil otherwise, which
        // keeps the clock out of the loop for a gdb whose packets come whole.
        var partialPacketDeadline: ContinuousClock.Instant?
        while end == nil {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            let stopFD = target.stopNotificationFD
            let stopIndex = isRunning && stopFD >= 0 ? fds.count : nil
            if stopIndex != nil { fds.append(pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)) }
            let listenerIndex = listener.map { _ in fds.count }
            if let listener { fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }

            let timeout = partialPacketDeadline.map { pollTimeout(until: $0) } ?? -1
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                diagnostics("kvmstub: poll: \(errnoDescription(errno)); ending the session")
                loseConnection()
                break
            }
            if let deadline = partialPacketDeadline, fds[0].revents == 0, ContinuousClock.now >= deadline {
                diagnostics(
                    "kvmstub: gdb sent part of a packet, then nothing for \(describe(stallTimeout)); dropping the connection as if it had detached"
                )
                loseConnection()
                break
            }

            // gdb first: a Ctrl-C that arrived with the stop must not be taken for a request after it.
            if fds[0].revents != 0 {
                switch connection.read(into: &buffer) {
                case .bytes(let count):
                    // In slices, each one's replies written before the next is decoded: a burst of short
                    // requests for long replies (64 KiB of `m0,ffff`, 4 681 of them) then holds at most a
                    // slice's worth of replies (128 packets' worth) instead of 4 681 × PacketSize. The channel
                    // decodes the same whatever the split (Fuzz/FuzzRSPChannel checks exactly that).
                    var start = 0
                    while start < count {
                        let sliceEnd = min(start + Self.receiveSlice, count)
                        let replies = receive(Array(buffer[start..<sliceEnd]))
                        // A failed early write (`resume`) has already ended the receiving; the rest is moot.
                        guard !earlyWriteFailed, deliver(replies) else {
                            loseConnection()
                            break
                        }
                        start = sliceEnd
                    }
                    partialPacketDeadline = channel.isMidPacket ? ContinuousClock.now + stallTimeout : nil
                case .wouldBlock:
                    break
                case .closed:
                    loseConnection()
                }
            }
            if end == nil, let stopIndex, fds[stopIndex].revents != 0, isRunning, let event = target.takeStop() {
                if !deliver(stopped(event)) { loseConnection() }
            }
            if let listenerIndex, let l = listener, fds[listenerIndex].revents != 0 {
                if !refuseConnection(on: l) { listener = nil }
            }
        }
        return end ?? .detached
    }

    /// How long gdb may leave a reply unread, or a packet unfinished, before the connection is dropped.
    public static let defaultStallTimeout = Duration.seconds(10)

    /// Bytes decoded at a time; see `serve`. gdb waits for each reply, so its reads are far shorter than this.
    static let receiveSlice = 512

    /// gdb is gone: bring a running guest to a stop first (breakpoints are removed while it is stopped, as the
    /// target expects every call but `interrupt()`), then detach as `D` would.
    private func loseConnection() {
        guard end == nil else { return }
        let stopFD = target.stopNotificationFD
        if isRunning && stopFD >= 0 {
            target.interrupt()
            while isRunning {
                var fds = [pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)]
                if poll(&fds, 1, -1) < 0 && errno != EINTR { break }
                if let event = target.takeStop() { noteStopAfterLoss(event) }
            }
        }
        connectionLost()
    }

    /// False when the listener is done for (shut down or broken): stop polling it.
    private func refuseConnection(on listener: Int32) -> Bool {
        let fd = acceptClosingOnExec(listener)
        guard fd >= 0 else { return [EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(errno) }
        // Best effort, never waiting: this gdb must not hold up the one being served.
        let refusal = Array("$E01#a6".utf8)
        _ = refusal.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        close(fd)
        diagnostics("kvmstub: refused a second gdb connection: one debugger at a time")
        return true
    }
}

/// Reads and writes on a socket (or any fd), retrying EINTR. A full socket buffer is waited out: for ever
/// without a `stallTimeout`, else until no byte has gone for that long.
struct SocketIO {
    let fd: Int32
    /// nil: a write waits as long as it takes (stderr). Set: sends do not block, and a write that makes no
    /// progress for this long gives up (`.stalled`). A healthy peer costs nothing extra: the clock and `poll` are
    /// only consulted once a send has found the buffer full.
    let stallTimeout: Duration?
    /// `send` with MSG_NOSIGNAL keeps a vanished gdb from killing us with SIGPIPE; a non-socket fd falls back to
    /// `write` (which blocks: only sockets get the stall deadline).
    private var isSocket = true

    init(fd: Int32, stallTimeout: Duration? = nil) {
        self.fd = fd
        self.stallTimeout = stallTimeout
    }

    enum ReadResult {
        case bytes(Int)
        case wouldBlock
        /// EOF, or an error that means gdb is gone (ECONNRESET, …).
        case closed
    }

    enum WriteResult {
        case written
        /// The peer is gone (EPIPE, ECONNRESET, …).
        case closed
        /// The peer took nothing for `stallTimeout`.
        case stalled
    }

    func read(into buffer: inout [UInt8]) -> ReadResult {
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 { return .bytes(n) }
            if n == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .closed
            }
        }
    }

    /// Writes every byte, or says why it could not.
    mutating func writeAll(_ bytes: [UInt8]) -> WriteResult {
        let flags = Int32(MSG_NOSIGNAL) | (stallTimeout == nil ? 0 : Int32(MSG_DONTWAIT))
        var offset = 0
        // When the current wait for buffer space ends; set at the first EAGAIN after progress.
        var deadline: ContinuousClock.Instant?
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                let start = base + offset
                let remaining = raw.count - offset
                return isSocket ? send(fd, start, remaining, flags) : write(fd, start, remaining)
            }
            if n >= 0 {
                offset += n
                deadline = nil
                continue
            }
            switch errno {
            case EINTR:
                continue
            case ENOTSOCK where isSocket:
                isSocket = false
            case EAGAIN, EWOULDBLOCK:
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                guard let stallTimeout else {
                    _ = poll(&pfd, 1, -1)
                    continue
                }
                let end = deadline ?? ContinuousClock.now + stallTimeout
                deadline = end
                if ContinuousClock.now >= end { return .stalled }
                _ = poll(&pfd, 1, pollTimeout(until: end))
            default:
                return .closed
            }
        }
        return .written
    }
}

/// Milliseconds from now to `deadline` for `poll(2)`, rounded up (so the wake-up is not early), at least 0.
func pollTimeout(until deadline: ContinuousClock.Instant) -> Int32 {
    let left = ContinuousClock.now.duration(to: deadline)
    guard left > .zero else { return 0 }
    let (seconds, attoseconds) = left.components
    let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(clamping: milliseconds)
}

/// `10 s`, `0.3 s`: a stall timeout as a person writes it.
func describe(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    let milliseconds = attoseconds / 1_000_000_000_000_000
    guard milliseconds != 0 else { return "\(seconds) s" }
    var fraction = String(milliseconds + 1000).dropFirst()  // three digits, leading zeros kept
    while fraction.last == "0" { fraction = fraction.dropLast() }
    return "\(seconds).\(fraction) s"
}

func errnoDescription(_ code: Int32) -> String {
    guard let message = strerror(code) else { return "errno \(code)" }
    return String(cString: message)
}

/// A diagnostic line on stderr, written directly: no Foundation, no buffering to lose at exit.
func standardError(_ message: String) {
    var line = Array(message.utf8)
    if line.last != UInt8(ascii: "\n") { line.append(UInt8(ascii: "\n")) }
    var stderrIO = SocketIO(fd: STDERR_FILENO)
    _ = stderrIO.writeAll(line)
}

/// `accept` with FD_CLOEXEC set (Glibc does not export `accept4`): a guest program started later must not
/// inherit gdb's socket.
func acceptClosingOnExec(_ listener: Int32) -> Int32 {
    let fd = accept(listener, nil, nil)
    if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return fd
}

/// The text of a NUL-terminated C buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

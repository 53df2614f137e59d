import Glibc

/// The blocking loop that runs a Session over a connected socket: one `poll(2)` on gdb's socket and, while the
/// guest runs, the target's stop notification — so Ctrl-C reaches a running guest and a stop reaches gdb at
/// once, with no busy loop and no timeout.
extension Session {
    /// Serves gdb on `fd` until `D`, `k`, or the connection ends (EOF or reset count as a detach: our
    /// breakpoints are removed and the guest runs on). The caller owns and closes `fd`.
    public func serve(fd: Int32) -> SessionEnd {
        serve(fd: fd, refusingConnectionsOn: nil)
    }

    /// `listener`, if given, is polled too: a second gdb that connects meanwhile gets `E01` and is closed,
    /// instead of hanging in the backlog until its own timeout.
    func serve(fd: Int32, refusingConnectionsOn listener: Int32?) -> SessionEnd {
        target.watchForInterrupts(on: fd)
        defer { target.watchForInterrupts(on: nil) }
        var connection = SocketIO(fd: fd)
        writeEarly = { bytes in _ = connection.writeAll(bytes) }
        defer { writeEarly = nil }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while end == nil {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            let stopFD = target.stopNotificationFD
            let stopIndex = isRunning && stopFD >= 0 ? fds.count : nil
            if stopIndex != nil { fds.append(pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)) }
            let listenerIndex = listener.map { _ in fds.count }
            if let listener { fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }

            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                diagnostics("kvmstub: poll: \(errnoDescription(errno)); ending the session")
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
                        guard connection.writeAll(receive(Array(buffer[start..<sliceEnd]))) else {
                            loseConnection()
                            break
                        }
                        start = sliceEnd
                    }
                case .wouldBlock:
                    break
                case .closed:
                    loseConnection()
                }
            }
            if end == nil, let stopIndex, fds[stopIndex].revents != 0, isRunning, let event = target.takeStop() {
                if !connection.writeAll(stopped(event)) { loseConnection() }
            }
            if let listenerIndex, let listener, fds[listenerIndex].revents != 0 {
                refuseConnection(on: listener)
            }
        }
        return end ?? .detached
    }

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

    private func refuseConnection(on listener: Int32) {
        let fd = acceptClosingOnExec(listener)
        guard fd >= 0 else { return }
        var refusal = SocketIO(fd: fd)
        _ = refusal.writeAll(Array("$E01#a6".utf8))
        close(fd)
        diagnostics("kvmstub: refused a second gdb connection: one debugger at a time")
    }
}

/// Reads and writes on a socket (or any fd), retrying EINTR and waiting out EAGAIN.
struct SocketIO {
    let fd: Int32
    /// `send` with MSG_NOSIGNAL keeps a vanished gdb from killing us with SIGPIPE; a non-socket fd falls back to
    /// `write`.
    private var isSocket = true

    init(fd: Int32) { self.fd = fd }

    enum ReadResult {
        case bytes(Int)
        case wouldBlock
        /// EOF, or an error that means gdb is gone (ECONNRESET, …).
        case closed
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

    /// Writes every byte; false when the peer is gone.
    mutating func writeAll(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                let start = base + offset
                let remaining = raw.count - offset
                return isSocket ? send(fd, start, remaining, Int32(MSG_NOSIGNAL)) : write(fd, start, remaining)
            }
            if n >= 0 {
                offset += n
                continue
            }
            switch errno {
            case EINTR:
                continue
            case ENOTSOCK where isSocket:
                isSocket = false
            case EAGAIN, EWOULDBLOCK:
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pfd, 1, -1)
            default:
                return false
            }
        }
        return true
    }
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

import Synchronization
import Glibc

/// Where the stub listens, in the command line's form: `HOST:PORT`, `:PORT` (127.0.0.1), `[v6-address]:PORT`, or
/// a path containing `/` for a Unix socket.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)

    public static func parse(_ text: String) throws(GDBServerError) -> ListenAddress {
        if text.contains("/") { return .unix(path: text) }
        guard let colon = text.lastIndex(of: ":") else {
            throw GDBServerError("'\(text)' is not a listen address: use HOST:PORT, :PORT or a socket path with a '/'")
        }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard let port = UInt16(portText) else {
            throw GDBServerError("'\(text)' is not a listen address: '\(portText)' is not a port number (0–65535)")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return .tcp(host: host.isEmpty ? "127.0.0.1" : host, port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): path
        }
    }
}

/// A listener failure, worded as one sentence a person can act on.
public struct GDBServerError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Accepts gdb connections, one at a time, and runs a Session for each.
public final class GDBServer {
    public let address: ListenAddress
    private var listener: Int32 = -1
    private let stopping = Atomic<Bool>(false)
    /// The listener as `stopAccepting` (another thread) may use it: under a lock, so `close` cannot close the
    /// descriptor, and a new file reuse its number, between that thread's check and its shutdown(2).
    private let listenerForShutdown = Mutex<Int32>(-1)

    /// From any thread: stop accepting gdb connections. A session in progress runs to its end (its last
    /// reply is written), then `serve` returns `.detached`. The VMM calls this when the guest ends while no
    /// gdb is attached — right after a `D`, say — so the program can exit without cutting that reply off.
    public func stopAccepting() {
        stopping.store(true, ordering: .releasing)
        listenerForShutdown.withLock { fd in
            if fd >= 0 { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }
    /// The Unix socket this server created (path, device, inode), removed again when it closes — unless
    /// something else has taken the path since.
    private var createdSocket: (path: String, device: UInt64, inode: UInt64)?
    /// The TCP port actually bound: the one asked for, or the kernel's pick for port 0.
    public private(set) var boundPort: UInt16?

    /// Each session's `stallTimeout`: how long a gdb may leave a reply unread or a packet half sent before its
    /// connection is dropped, so the guest runs on and the next gdb can attach.
    public var stallTimeout = Session.defaultStallTimeout
    /// Each session's `diagnostics` (a refused second gdb, a dropped stalled one): stderr unless a caller wants them.
    public var diagnostics: (String) -> Void = { standardError($0) }

    public init(listen address: ListenAddress) {
        self.address = address
    }

    deinit { close() }

    /// What to print for people: `127.0.0.1:1234` (with the real port), or the socket path.
    public var boundDescription: String {
        switch address {
        case .tcp(let host, let port): ListenAddress.tcp(host: host, port: boundPort ?? port).description
        case .unix(let path): path
        }
    }

    /// Creates the listening socket. A Unix socket gets mode 0600 (a debugger can read and write all guest
    /// memory); a stale socket file left by an earlier run is replaced, but nothing that is not a socket, and
    /// not a socket someone still listens on.
    public func bind() throws(GDBServerError) {
        guard listener < 0 else { return }
        switch address {
        case .tcp(let host, let port): try bindTCP(host: host, port: port)
        case .unix(let path): try bindUnix(path: path)
        }
    }

    /// Accepts connections forever, one session at a time, until a session ends the program: `k`, or the guest
    /// ended (`W`/`X`) and gdb left. A second gdb connecting during a session is refused with `E01` and a line
    /// on stderr, rather than left hanging in the backlog.
    ///
    /// - Parameter onConnect: called with the peer's address when a session starts.
    public func serve(
        target: some DebugTarget, maxPacketSize: Int = 16384, onConnect: (String) -> Void = { _ in }
    ) throws(GDBServerError) -> SessionEnd {
        try bind()
        while true {
            let fd = acceptClosingOnExec(listener)
            if fd < 0 {
                if stopping.load(ordering: .acquiring) { return .detached }
                switch errno {
                case EINTR, ECONNABORTED, EPROTO: continue
                default:
                    let reason = errnoDescription(errno)
                    throw GDBServerError("cannot accept a connection on \(boundDescription): \(reason)")
                }
            }
            if case .tcp = address {
                // A stub's replies are small and gdb waits for each: Nagle would add a delay to every one.
                var on: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            }
            onConnect(peerDescription(fd))
            let session = Session(target: target, maxPacketSize: maxPacketSize)
            session.stallTimeout = stallTimeout
            session.diagnostics = diagnostics
            let end = session.serve(fd: fd, refusingConnectionsOn: listener)
            Glibc.close(fd)
            if end != SessionEnd.detached { return end }
        }
    }

    /// Closes the listener (and removes the Unix socket it created). `deinit` does it too.
    public func close() {
        if listener >= 0 {
            listenerForShutdown.withLock { $0 = -1 }
            Glibc.close(listener)
            listener = -1
        }
        if let socket = createdSocket {
            var info = stat()
            if lstat(socket.path, &info) == 0 && UInt64(info.st_dev) == socket.device
                && UInt64(info.st_ino) == socket.inode
            {
                unlink(socket.path)
            }
            createdSocket = nil
        }
    }

    // MARK: - TCP

    private func bindTCP(host: String, port: UInt16) throws(GDBServerError) {
        let what = "cannot listen on \(ListenAddress.tcp(host: host, port: port))"
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw GDBServerError("\(what): unknown host (\(String(cString: gai_strerror(status))))")
        }
        defer { freeaddrinfo(first) }
        var lastError: Int32 = EADDRNOTAVAIL
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                lastError = errno
                continue
            }
            var on: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 && listen(fd, 1) == 0 {
                listener = fd
                listenerForShutdown.withLock { $0 = fd }
                boundPort = localPort(fd) ?? port
                return
            }
            lastError = errno
            Glibc.close(fd)
        }
        throw GDBServerError("\(what): \(errnoDescription(lastError))")
    }

    private func localPort(_ fd: Int32) -> UInt16? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        return withUnsafePointer(to: &storage) { pointer in
            switch Int32(pointer.pointee.ss_family) {
            case AF_INET:
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            case AF_INET6:
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    UInt16(bigEndian: $0.pointee.sin6_port)
                }
            default: nil
            }
        }
    }

    private func peerDescription(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
        }
        guard ok else { return "unknown peer" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafePointer(to: &storage) { pointer -> String in
            switch Int32(pointer.pointee.ss_family) {
            case AF_INET:
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin -> String in
                    var addr = sin.pointee.sin_addr
                    guard inet_ntop(AF_INET, &addr, &text, socklen_t(text.count)) != nil else { return "unknown peer" }
                    return "\(cString(text)):\(UInt16(bigEndian: sin.pointee.sin_port))"
                }
            case AF_INET6:
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 -> String in
                    var addr = sin6.pointee.sin6_addr
                    guard inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count)) != nil else { return "unknown peer" }
                    return "[\(cString(text))]:\(UInt16(bigEndian: sin6.pointee.sin6_port))"
                }
            default:
                return "unix socket \(boundDescription)"
            }
        }
    }

    // MARK: - Unix

    private func bindUnix(path: String) throws(GDBServerError) {
        let what = "cannot listen on \(path)"
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            throw GDBServerError("\(what): a Unix socket path is limited to \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + 1)

        try removeStaleSocket(path: path, address: address, length: length, what: what)

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw GDBServerError("\(what): \(errnoDescription(errno))") }
        // The socket file is created with mode 0777 & ~umask: narrowing the umask for the bind leaves no moment
        // in which another user could connect. (umask is per process; binding happens at start-up.)
        let oldMask = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
        }
        let bindError = errno
        umask(oldMask)
        guard bound == 0 else {
            Glibc.close(fd)
            throw GDBServerError("\(what): \(errnoDescription(bindError))")
        }
        var info = stat()
        if lstat(path, &info) == 0 { createdSocket = (path, UInt64(info.st_dev), UInt64(info.st_ino)) }
        _ = chmod(path, 0o600)
        guard listen(fd, 1) == 0 else {
            let listenError = errno
            Glibc.close(fd)
            throw GDBServerError("\(what): \(errnoDescription(listenError))")
        }
        listener = fd
        listenerForShutdown.withLock { $0 = fd }
    }

    /// Unlinks a socket file nobody listens on; refuses anything else in the way.
    private func removeStaleSocket(
        path: String, address: sockaddr_un, length: socklen_t, what: String
    ) throws(GDBServerError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw GDBServerError("\(what): the file exists and is not a socket")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if probe >= 0 {
            var address = address
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, length) == 0 }
            }
            Glibc.close(probe)
            if connected { throw GDBServerError("\(what): another program is listening on it") }
        }
        unlink(path)
    }
}

import Glibc

/// Where a server listens.
enum Endpoint: CustomStringConvertible {
    case tcp(port: UInt16)
    case unix(path: String)

    var description: String {
        switch self {
        case .tcp(let port): "127.0.0.1:\(port)"
        case .unix(let path): path
        }
    }

    var transport: String {
        switch self {
        case .tcp: "tcp"
        case .unix: "unix"
        }
    }
}

/// The benchmark's gdb: a raw-socket RSP client that sends prebuilt frames and reads one reply packet per
/// request, with no allocation on the measured path (the reply is a view into its receive buffer). It never
/// verifies checksums (loopback), and after `startNoAckMode()` sends no acks, as gdb does.
final class RSPClient {
    let fd: Int32
    private let capacity = 1 << 18
    private let buffer: UnsafeMutablePointer<UInt8>
    private var start = 0
    private var end = 0
    /// Ack every packet received, as gdb does with a stub that has no QStartNoAckMode (QEMU 7.2).
    private(set) var acks = true
    private let ack: [UInt8] = [UInt8(ascii: "+")]
    /// The server's PacketSize from qSupported (gdb splits memory reads by it); 0 until the handshake.
    private(set) var packetSize = 0

    /// Connects (retrying for up to `timeout` s while the server is not yet listening).
    init(_ endpoint: Endpoint, timeout: Double = 10) throws(BenchError) {
        let deadline = now() + timeout
        var fd: Int32 = -1
        var lastError: Int32 = 0
        while fd < 0 {
            fd = Self.connect(endpoint, error: &lastError)
            if fd < 0 {
                guard now() < deadline else {
                    throw BenchError("cannot connect to \(endpoint): \(errnoText(lastError))")
                }
                sleepSeconds(0.01)
            }
        }
        self.fd = fd
        buffer = .allocate(capacity: capacity)
        // A server that stops answering must not hang the benchmark.
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        buffer.deallocate()
    }

    private static func connect(_ endpoint: Endpoint, error: inout Int32) -> Int32 {
        switch endpoint {
        case .tcp(let port):
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = port.bigEndian
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            guard ok else {
                error = errno
                close(fd)
                return -1
            }
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            return fd
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
            }
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
                }
            }
            guard ok else {
                error = errno
                close(fd)
                return -1
            }
            return fd
        }
    }

    /// `$payload#cs`.
    static func frame(_ payload: String) -> [UInt8] {
        let bytes = Array(payload.utf8)
        let sum = bytes.reduce(UInt8(0)) { $0 &+ $1 }
        let digits = Array("0123456789abcdef".utf8)
        return [UInt8(ascii: "$")] + bytes + [UInt8(ascii: "#"), digits[Int(sum >> 4)], digits[Int(sum & 15)]]
    }

    @inline(__always)
    func send(_ bytes: [UInt8]) throws(BenchError) {
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                off += n
            }
            return true
        }
        guard ok else { throw BenchError("write to the server failed: \(errnoText())") }
    }

    /// The next `$…#cs` packet's payload (acks and anything else between packets are skipped). Valid until the
    /// next read.
    @inline(__always)
    func nextPacket() throws(BenchError) -> UnsafeBufferPointer<UInt8> {
        while true {
            if start < end, let dollar = find(UInt8(ascii: "$"), from: start) {
                if let hash = find(UInt8(ascii: "#"), from: dollar + 1), hash + 2 < end {
                    start = hash + 3
                    if acks { try send(ack) }
                    return UnsafeBufferPointer(start: buffer + dollar + 1, count: hash - dollar - 1)
                }
                // Incomplete: keep it from its '$'.
                if dollar > 0 {
                    memmove(buffer, buffer + dollar, end - dollar)
                    end -= dollar
                    start = 0
                }
            } else {
                start = 0
                end = 0
            }
            guard end < capacity else { throw BenchError("a reply of more than \(capacity) bytes") }
            let n = read(fd, buffer + end, capacity - end)
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { throw BenchError("no reply within the timeout") }
            guard n > 0 else { throw BenchError(n == 0 ? "the server closed the connection" : "read: \(errnoText())") }
            end += n
        }
    }

    @inline(__always)
    private func find(_ byte: UInt8, from: Int) -> Int? {
        guard from < end, let p = memchr(buffer + from, Int32(byte), end - from) else { return nil }
        return buffer.distance(to: p.assumingMemoryBound(to: UInt8.self))
    }

    /// Sends a prebuilt frame and returns the reply packet's payload (a view, valid until the next read).
    @inline(__always)
    func roundTrip(_ frame: [UInt8]) throws(BenchError) -> UnsafeBufferPointer<UInt8> {
        try send(frame)
        return try nextPacket()
    }

    /// A request for setup and checks: the reply as text, run-length decoded.
    func request(_ payload: String) throws(BenchError) -> String {
        String(decoding: Self.runLengthDecoded(try roundTrip(Self.frame(payload))), as: UTF8.self)
    }

    /// `qSupported` as gdb sends it, then `QStartNoAckMode` if the server offers it; otherwise every packet
    /// stays acked, both ways, as with gdb. Returns whether no-ack mode is on.
    @discardableResult
    func handshake() throws(BenchError) -> Bool {
        let features = try request("qSupported:multiprocess-;swbreak+;hwbreak+;vContSupported+")
        for feature in features.split(separator: ";") where feature.hasPrefix("PacketSize=") {
            packetSize = Int(feature.dropFirst("PacketSize=".count), radix: 16) ?? 0
        }
        guard features.contains("QStartNoAckMode+") else { return false }
        let ok = try request("QStartNoAckMode")
        guard ok == "OK" else { throw BenchError("QStartNoAckMode answered '\(ok)'") }
        acks = false
        return true
    }

    /// `monitor COMMAND` (qRcmd): the text it printed, from `O` packets or a hex reply.
    func monitor(_ command: String) throws(BenchError) -> String {
        let hex = command.utf8.map { b in String(b >> 4, radix: 16) + String(b & 15, radix: 16) }.joined()
        try send(Self.frame("qRcmd," + hex))
        var text: [UInt8] = []
        while true {
            let packet = Self.runLengthDecoded(try nextPacket())
            if packet == Array("OK".utf8) { break }
            if packet.isEmpty { throw BenchError("the server has no monitor commands (qRcmd unsupported)") }
            if packet.first == UInt8(ascii: "E") && packet.count == 3 { throw BenchError("qRcmd failed: \(packet)") }
            if packet.first == UInt8(ascii: "O"), packet.count > 1, let out = Self.hexDecoded(packet.dropFirst()) {
                text += out
                continue
            }
            guard let out = Self.hexDecoded(packet[...]) else { throw BenchError("qRcmd reply is not hex") }
            text += out
            break
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func runLengthDecoded(_ packet: UnsafeBufferPointer<UInt8>) -> [UInt8] { runLengthDecoded(Array(packet)) }

    /// `X*n` repeats X (n - 29) more times.
    static func runLengthDecoded(_ packet: [UInt8]) -> [UInt8] {
        guard packet.contains(UInt8(ascii: "*")) else { return packet }
        var out: [UInt8] = []
        var i = 0
        while i < packet.count {
            if packet[i] == UInt8(ascii: "*"), i + 1 < packet.count, let last = out.last {
                out += [UInt8](repeating: last, count: max(0, Int(packet[i + 1]) - 29))
                i += 2
            } else {
                out.append(packet[i])
                i += 1
            }
        }
        return out
    }

    static func hexDecoded(_ hex: ArraySlice<UInt8>) -> [UInt8]? {
        guard hex.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(hex.count / 2)
        var i = hex.startIndex
        while i < hex.endIndex {
            guard let h = nibble(hex[i]), let l = nibble(hex[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// True when the payload starts with `prefix` (ASCII).
    @inline(__always)
    func starts(with prefix: StaticString) -> Bool {
        guard count >= prefix.utf8CodeUnitCount else { return false }
        for i in 0..<prefix.utf8CodeUnitCount where self[i] != prefix.utf8Start[i] { return false }
        return true
    }

    var text: String { String(decoding: prefix(80), as: UTF8.self) }
}

import Glibc

/// The do-nothing stub: answers every `$…#cs` packet with `$T05#b9` and does nothing else. Its round trip is
/// what the socket, the wake-ups and the client cost, with no debugging at all: the floor kvmstub is held to.
/// Runs as a child process (`kvmstub-bench --responder tcp|unix:PATH`), like a real stub.
enum Responder {
    static let reply: [UInt8] = Array("$T05#b9".utf8)

    /// Listens, prints `responder listening on ADDRESS`, serves connections one after another until killed.
    static func main(_ address: String) -> Never {
        let listener: Int32
        let description: String
        if address.hasPrefix("unix:") {
            let path = String(address.dropFirst(5))
            unlink(path)
            listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
            }
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
                }
            }
            guard ok else { die("bind \(path): \(errnoText())") }
            description = path
        } else {
            listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var on: Int32 = 1
            setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener, $0, len) == 0 && getsockname(listener, $0, &len) == 0
                }
            }
            guard ok else { die("bind: \(errnoText())") }
            description = "127.0.0.1:\(UInt16(bigEndian: addr.sin_port))"
        }
        guard listen(listener, 4) == 0 else { die("listen: \(errnoText())") }
        writeOut("responder listening on \(description)\n")
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 { continue }
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            serve(fd)
            close(fd)
        }
    }

    /// Counts complete packets across reads: outside a packet it waits for `$`, inside for `#`, then two
    /// checksum digits, then it answers.
    private static func serve(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var state = 0  // 0 outside, 1 in payload, 2 and 3 checksum digits
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            var replies = 0
            for i in 0..<n {
                let b = buffer[i]
                switch state {
                case 0: if b == UInt8(ascii: "$") { state = 1 }
                case 1: if b == UInt8(ascii: "#") { state = 2 }
                case 2: state = 3
                default:
                    state = 0
                    replies += 1
                }
            }
            for _ in 0..<replies {
                let ok = reply.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count }
                if !ok { return }
            }
        }
    }

    private static func die(_ message: String) -> Never {
        let text = "kvmstub-bench responder: \(message)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        exit(1)
    }
}

import Foundation
import Glibc

/// Lets a non-Sendable object (a Session, a server, a simulated target) go to the one thread that uses it while
/// the test thread waits; the test only looks at it again after `join`.
final class Unchecked<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// A thread to run a blocking `serve` on, joined with a timeout so a hang fails the test instead of the run.
final class Background: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [done] in
            body()
            done.signal()
        }
        thread.start()
    }

    /// True if the body finished within `seconds`.
    func join(seconds: Double = 10) -> Bool {
        done.wait(timeout: .now() + seconds) == .success
    }
}

/// gdb's end of a socket, with timeouts so a missing reply fails instead of hanging.
struct GDBSocket {
    let fd: Int32

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes {
                send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { return }
            offset += n
        }
    }

    /// Reads until `count` bytes came (or the timeout, or EOF) and returns them as text.
    func read(_ count: Int, seconds: Int32 = 10) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < count {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, seconds * 1000) == 1 else { break }
            let n = Glibc.read(fd, &buffer, min(buffer.count, count - bytes.count))
            guard n > 0 else { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Sends `request` framed, and reads a reply exactly as long as `expected`.
    func exchange(_ request: String, expecting expected: String) -> String {
        write(framed(request))
        return read(expected.utf8.count)
    }

    /// True if the peer closed the connection (read returns 0) within the timeout.
    func isClosed(seconds: Int32 = 10) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, seconds * 1000) == 1 else { return false }
        var byte: UInt8 = 0
        return Glibc.read(fd, &byte, 1) == 0
    }

    func close() { _ = Glibc.close(fd) }
}

func socketPair() -> (stub: Int32, gdb: Int32) {
    var fds: [Int32] = [-1, -1]
    let result = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
    precondition(result == 0, "socketpair")
    return (fds[0], fds[1])
}

/// Connects to a TCP port on 127.0.0.1.
func connectTCP(port: UInt16) -> GDBSocket? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return nil }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let ok = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
    guard ok else {
        Glibc.close(fd)
        return nil
    }
    return GDBSocket(fd: fd)
}

/// A fresh private directory for socket files.
func temporaryDirectory() -> String {
    var template = Array("/tmp/kvmstub-test-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(path != nil, "mkdtemp")
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

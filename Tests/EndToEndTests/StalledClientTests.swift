import Foundation
import Testing

/// A client that stalls (issue 6), against the real kvmstub and a running guest: one that sends half a packet and
/// then nothing, and one that asks for megabytes of memory and reads none of it, are each dropped after
/// `--stall-timeout` with one line on stderr; their breakpoint is removed, the guest runs on, and a real gdb
/// attaches next.
@Suite(.enabled(if: kvmUsable, "needs /dev/kvm"), .enabled(if: gdbPath != nil, "needs gdb"))
struct StalledClientTests {
    init() throws {
        _ = try run("/bin/bash", ["examples/build.sh"])
    }

    @Test func stalledClientsAreDroppedTheGuestRunsOnAndGDBAttachesNext() throws {
        let symbols = try guestSymbols("examples/build/spin.elf")
        let spins = try #require(symbols["spins"])
        let spinOnce = try #require(symbols["spin_once"])
        let stub = try Stub([
            "run", "examples/build/spin.elf", "--gdb", "127.0.0.1:0", "--stall-timeout", "0.5", "--serial", "/dev/null",
        ])
        defer { stub.stop() }
        let port = try #require(stub.waitForPort(), "kvmstub never said where it listens: \(stub.stderr)")

        // Half a packet, then silence.
        let half = try #require(RawClient(port: port))
        #expect(half.request("?").hasPrefix("T"))
        half.send("$m\(hex(spins)),")
        #expect(
            stub.waitForLine("gdb sent part of a packet, then nothing for 0.5 s; dropping the connection"),
            "stderr: \(stub.stderr)")
        half.close()

        // A breakpoint the guest hits at once, then a flood of 4 KiB memory reads nobody reads.
        let flood = try #require(RawClient(port: port, receiveBuffer: 4096))
        let before = try #require(UInt64(littleEndianHex: flood.request("m\(hex(spins)),8")))
        #expect(flood.request("Z0,\(hex(spinOnce)),1") == "OK")
        let read = "$m\(hex(spinOnce)),1000#" + checksum("m\(hex(spinOnce)),1000")
        flood.send(String(repeating: read, count: 1000))  // 8 MB of replies
        #expect(
            stub.waitForLine("gdb took no reply bytes for 0.5 s; dropping the connection"), "stderr: \(stub.stderr)")

        // The guest runs on, its breakpoint gone (it would stop at once in spin_once), and gdb attaches. gdb
        // attaches again until the guest has got 1000 spins further (at most 60 s): how soon depends on this host.
        var after: UInt64 = 0
        var gdb = Run(status: -1, stdout: "", stderr: "")
        let deadline = Date().addingTimeInterval(60)
        repeat {
            gdb = try run(
                gdbPath!,
                [
                    "-batch", "-nx", "-ex", "target remote 127.0.0.1:\(port)", "-ex", "printf \"SPINS=%lu\\n\", spins",
                    "-ex", "detach", "examples/build/spin.elf",
                ], timeout: 60)
            after = try #require(
                gdb.stdout.split(separator: "\n").first { $0.hasPrefix("SPINS=") }.flatMap { UInt64($0.dropFirst(6)) },
                "\(gdb.stdout)\(gdb.stderr)")
        } while after <= before + 1000 && Date() < deadline
        flood.close()
        #expect(after > before + 1000, "spins \(before) → \(after) in 60 s: the guest did not run on")
        #expect(stub.process.isRunning, "stderr: \(stub.stderr)")
    }
}

extension Stub {
    /// Waits for a stderr line containing `text`.
    /// At most `timeout`: a bound, generous for a busy host (1000 queued 4 KiB replies take a while to back up).
    func waitForLine(_ text: String, timeout: TimeInterval = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stderr.contains(text) { return true }
            usleep(20_000)
        }
        return false
    }
}

/// A client that speaks just enough RSP to be rude: it sends what it is told and reads only when asked.
struct RawClient {
    let fd: Int32

    /// `receiveBuffer` set before connecting keeps the kernel from growing it, so unread replies back up soon.
    init?(port: Int, receiveBuffer: Int32? = nil) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        if var size = receiveBuffer {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let fd = self.fd
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            Glibc.close(fd)
            return nil
        }
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { return }
            offset += n
        }
    }

    /// Sends `payload` framed and returns the reply's payload ("" on a timeout or EOF).
    func request(_ payload: String) -> String {
        send("$\(payload)#\(checksum(payload))")
        var reply: [UInt8] = []
        var byte: UInt8 = 0
        var digitsLeft = -1
        while digitsLeft != 0 {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 10_000) == 1, Glibc.read(fd, &byte, 1) == 1 else { return "" }
            switch (byte, digitsLeft) {
            case (UInt8(ascii: "$"), -1): reply = []
            case (UInt8(ascii: "#"), -1): digitsLeft = 2
            case (_, -1): reply.append(byte)
            default: digitsLeft -= 1
            }
        }
        send("+")
        return String(decoding: reply, as: UTF8.self)
    }

    func close() { _ = Glibc.close(fd) }
}

func checksum(_ payload: String) -> String {
    let sum = payload.utf8.reduce(UInt8(0)) { $0 &+ $1 }
    return String(format: "%02x", sum)
}

func hex(_ value: UInt64) -> String { String(value, radix: 16) }

extension UInt64 {
    /// A target-endian (little) value as `m` returns it.
    init?(littleEndianHex text: String) {
        guard text.count == 16 else { return nil }
        var value: UInt64 = 0
        var index = text.startIndex
        for i in 0..<8 {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            value |= UInt64(byte) << UInt64(8 * i)
            index = next
        }
        self = value
    }
}

import Foundation
import GDBStub
import Glibc
import Testing

/// The listener: address parsing, binding, Unix socket hygiene, one session at a time.
struct GDBServerTests {
    @Test func parseListenAddresses() throws {
        #expect(try ListenAddress.parse(":1234") == .tcp(host: "127.0.0.1", port: 1234))
        #expect(try ListenAddress.parse("0.0.0.0:1") == .tcp(host: "0.0.0.0", port: 1))
        #expect(try ListenAddress.parse("localhost:0") == .tcp(host: "localhost", port: 0))
        #expect(try ListenAddress.parse("[::1]:99") == .tcp(host: "::1", port: 99))
        #expect(try ListenAddress.parse("/tmp/gdb.sock") == .unix(path: "/tmp/gdb.sock"))
        #expect(try ListenAddress.parse("./gdb.sock") == .unix(path: "./gdb.sock"))
        #expect(ListenAddress.tcp(host: "::1", port: 99).description == "[::1]:99")
        for bad in ["1234", "host:99999", "host:abc", ":", "gdb.sock", ":-1"] {
            #expect(throws: GDBServerError.self, "\(bad)") { try ListenAddress.parse(bad) }
        }
        do {
            _ = try ListenAddress.parse("1234")
        } catch {
            #expect(
                error.description == "'1234' is not a listen address: use HOST:PORT, :PORT or a socket path with a '/'")
        }
    }

    @Test func portZeroPicksAFreePort() throws {
        let server = GDBServer(listen: .tcp(host: "127.0.0.1", port: 0))
        try server.bind()
        let port = try #require(server.boundPort)
        #expect(port != 0)
        #expect(server.boundDescription == "127.0.0.1:\(port)")
    }

    @Test func portInUseIsOneClearSentence() throws {
        let first = GDBServer(listen: .tcp(host: "127.0.0.1", port: 0))
        try first.bind()
        let port = try #require(first.boundPort)
        let second = GDBServer(listen: .tcp(host: "127.0.0.1", port: port))
        #expect(throws: GDBServerError("cannot listen on 127.0.0.1:\(port): Address already in use")) {
            try second.bind()
        }
    }

    @Test func unknownHost() {
        let server = GDBServer(listen: .tcp(host: "no-such-host.invalid", port: 0))
        #expect {
            try server.bind()
        } throws: { error in
            (error as? GDBServerError)?.description.hasPrefix("cannot listen on no-such-host.invalid:0: unknown host")
                == true
        }
    }

    @Test func unixSocketIsPrivateAndRemovedOnClose() throws {
        let path = temporaryDirectory() + "/gdb.sock"
        let server = GDBServer(listen: .unix(path: path))
        try server.bind()
        var info = stat()
        #expect(lstat(path, &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(server.boundDescription == path)
        server.close()
        #expect(lstat(path, &info) != 0)
    }

    @Test func staleSocketIsReplacedButNothingElse() throws {
        let directory = temporaryDirectory()
        let path = directory + "/gdb.sock"
        // A socket file nobody listens on, as a crashed run leaves it.
        let stale = GDBServer(listen: .unix(path: path))
        try stale.bind()
        let staleCopy = directory + "/stale.sock"
        #expect(rename(path, staleCopy) == 0)
        stale.close()
        #expect(rename(staleCopy, path) == 0)
        let server = GDBServer(listen: .unix(path: path))
        try server.bind()

        // A live one is left alone.
        let rival = GDBServer(listen: .unix(path: path))
        #expect(throws: GDBServerError("cannot listen on \(path): another program is listening on it")) {
            try rival.bind()
        }
        server.close()

        // A regular file is never removed.
        let file = directory + "/notes.txt"
        let fd = open(file, O_CREAT | O_WRONLY, 0o644)
        close(fd)
        #expect(throws: GDBServerError("cannot listen on \(file): the file exists and is not a socket")) {
            try GDBServer(listen: .unix(path: file)).bind()
        }
        var info = stat()
        #expect(lstat(file, &info) == 0 && info.st_mode & S_IFMT == S_IFREG)
    }

    @Test func oneSessionAtATimeUntilKilled() throws {
        let server = GDBServer(listen: .tcp(host: "127.0.0.1", port: 0))
        let said = DiagnosticLines()
        server.diagnostics = { said.append($0) }
        try server.bind()
        let port = try #require(server.boundPort)
        let target = SimulatedTarget()
        let shared = Unchecked((server: server, target: target, end: SessionEnd?.none, peers: [String]()))
        let background = Background {
            shared.value.end = try? shared.value.server.serve(target: shared.value.target) { peer in
                shared.value.peers.append(peer)
            }
        }

        let first = try #require(connectTCP(port: port))
        #expect(first.exchange("qC", expecting: "+$QC1#c5") == "+$QC1#c5")
        // A second gdb meanwhile is told no and closed.
        let second = try #require(connectTCP(port: port))
        #expect(second.read(7) == "$E01#a6")
        #expect(second.isClosed())
        second.close()
        // The server says so after closing it: wait for the line (bounded), not for a fixed time.
        let deadline = ContinuousClock.now + .seconds(10)
        while said.lines.isEmpty && ContinuousClock.now < deadline { usleep(1000) }
        #expect(said.lines == ["kvmstub: refused a second gdb connection: one debugger at a time"])
        // The first goes on, and detaches: the server waits for the next.
        #expect(first.exchange("D", expecting: "+$OK#9a") == "+$OK#9a")
        #expect(first.isClosed())
        first.close()

        let third = try #require(connectTCP(port: port))
        #expect(third.exchange("qC", expecting: "+$QC1#c5") == "+$QC1#c5")
        third.write(framed("k"))
        #expect(third.read(1) == "+")
        #expect(background.join())
        third.close()
        #expect(shared.value.end == .killed)
        #expect(target.attachCount == 2)
        #expect(target.detachCount == 1)
        #expect(target.killCount == 1)
        #expect(shared.value.peers.count == 2)
        #expect(shared.value.peers.allSatisfy { $0.hasPrefix("127.0.0.1:") })
    }
}

/// What a server said on its diagnostics, kept for the test to check instead of going to stderr.
final class DiagnosticLines: @unchecked Sendable {
    private var kept: [String] = []
    private let lock = NSLock()
    func append(_ line: String) { lock.withLock { kept.append(line) } }
    var lines: [String] { lock.withLock { kept } }
}

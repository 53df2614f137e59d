import GDBStub
import Glibc
import RSP
import Testing

/// A gdb that stalls (issue 6): one that stops reading a long reply, or stops halfway through a packet, loses its
/// connection after `stallTimeout` — as if it had vanished: breakpoints removed, the target detached — instead of
/// holding the guest and the listener for ever. One idle between packets keeps it however long it waits.
struct ConnectionStallTests {
    static let stall = Duration.milliseconds(300)
    /// For the tests where gdb is slow but never silent that long: a gap that a busy host stretches tenfold must
    /// still be shorter than this.
    static let patientStall = Duration.seconds(1)

    /// A session on one end of a socketpair, with this thread as gdb, its diagnostics collected.
    final class Served: @unchecked Sendable {
        let target = SimulatedTarget()
        let session: Session
        let gdb: GDBSocket
        let stubFD: Int32
        var end: SessionEnd?
        var diagnostics: [String] = []
        var server: Background!

        /// `sendBuffer` shrinks the stub's socket buffer, so a few replies fill it.
        init(sendBuffer: Int32? = nil, stall: Duration = ConnectionStallTests.stall) {
            let (stubFD, gdbFD) = socketPair()
            if var size = sendBuffer {
                _ = setsockopt(stubFD, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            self.stubFD = stubFD
            gdb = GDBSocket(fd: gdbFD)
            session = Session(target: target)
            session.stallTimeout = stall
            session.diagnostics = { [unowned self] in self.diagnostics.append($0) }
            server = Background { [self] in end = session.serve(fd: stubFD) }
        }

        deinit {
            gdb.close()
            close(stubFD)
        }
    }

    /// The session ended no sooner than the deadline, as a detach: breakpoints gone, one line saying why.
    static func expectDropped(_ s: Served, since started: ContinuousClock.Instant, _ line: String) {
        #expect(s.server.join(seconds: 5), "a stalled client held the session")
        let took = ContinuousClock.now - started
        #expect(took >= Self.stall, "dropped after \(took), before the deadline")
        #expect(s.end == .detached)
        #expect(s.target.breakpoints.isEmpty)
        #expect(s.target.detachCount == 1)
        #expect(s.diagnostics == [line])
    }

    /// `m1000,800` many times over: 4 KiB of hex a reply, far more than the socket holds.
    static func memoryRequests(_ count: Int) -> String {
        String(repeating: framed("m1000,800"), count: count)
    }

    @Test func aGDBThatStopsReadingIsDroppedAfterTheTimeoutAndItsBreakpointsRemoved() throws {
        let s = Served(sendBuffer: 8192)
        #expect(s.gdb.exchange("Z0,1040,1", expecting: "+$OK#9a") == "+$OK#9a")
        let started = ContinuousClock.now
        s.gdb.write(Self.memoryRequests(100))
        // gdb reads nothing from here on.
        Self.expectDropped(s, since: started, "kvmstub: gdb took no reply bytes for 0.3 s; dropping the connection as if it had detached")
    }

    @Test func aGDBThatReadsSlowlyButSteadilyIsServedInFull() throws {
        let s = Served(sendBuffer: 8192, stall: Self.patientStall)
        let count = 24
        s.gdb.write(Self.memoryRequests(count))
        // 24 replies of 4 KiB through a 16 KiB buffer, read 4 KiB every 60 ms: longer in all than the timeout,
        // never nearly that long without progress.
        let data = (0..<0x800).map { UInt8(truncatingIfNeeded: $0) }
        // The acks for the whole burst come first (it arrives in one read), then the replies.
        let expected =
            String(repeating: "+", count: count) + String(repeating: framed(text(Hex.encode(data))), count: count)
        var received = ""
        let started = ContinuousClock.now
        while received.utf8.count < expected.utf8.count {
            usleep(60_000)
            let chunk = s.gdb.read(min(4096, expected.utf8.count - received.utf8.count), seconds: 10)
            guard !chunk.isEmpty else { break }
            received += chunk
        }
        #expect(ContinuousClock.now - started > Self.patientStall)
        let complete = received == expected
        #expect(
            complete,
            "got \(received.utf8.count) of \(expected.utf8.count) bytes, the first \(received.commonPrefix(with: expected).count) right"
        )
        #expect(s.gdb.exchange("D", expecting: "+$OK#9a") == "+$OK#9a")
        #expect(s.server.join())
        #expect(s.diagnostics.isEmpty, "\(s.diagnostics)")
    }

    @Test func aStallBeforeAResumeLeavesTheTargetAlone() throws {
        // The `+` and the replies owed before a `c` go out first (the target may run on this thread): a gdb that
        // reads none of them is dropped there, and the `c` is never made.
        let s = Served(sendBuffer: 8192)
        #expect(s.gdb.exchange("Z0,1040,1", expecting: "+$OK#9a") == "+$OK#9a")
        s.gdb.write(Self.memoryRequests(10) + framed("c"))
        #expect(s.server.join(seconds: 5), "a stalled reader held the session")
        #expect(s.target.resumeCalls.isEmpty)
        #expect(s.end == .detached)
        #expect(s.target.breakpoints.isEmpty)
        #expect(s.target.detachCount == 1)
        #expect(s.diagnostics.count == 1 && s.diagnostics[0].contains("took no reply bytes"), "\(s.diagnostics)")
    }

    @Test func halfAPacketThenSilenceIsDropped() throws {
        let s = Served()
        #expect(s.gdb.exchange("Z0,1040,1", expecting: "+$OK#9a") == "+$OK#9a")
        let started = ContinuousClock.now
        s.gdb.write("$m1000,")
        Self.expectDropped(
            s, since: started, "kvmstub: gdb sent part of a packet, then nothing for 0.3 s; dropping the connection as if it had detached")
    }

    @Test func aPacketTrickledInSlowerThanTheTimeoutInAllIsAnswered() throws {
        // The deadline counts from the last byte, not from the packet's `$`: a byte every 100 ms, 1.1 s in all.
        let s = Served(stall: Self.patientStall)
        let pieces = framed("m1000,4").map { String($0) }
        #expect(pieces.count == 11)
        let started = ContinuousClock.now
        for piece in pieces {
            s.gdb.write(piece)
            usleep(100_000)
        }
        #expect(ContinuousClock.now - started > Self.patientStall)
        #expect(s.gdb.read(1 + framed("00010203").utf8.count) == "+" + framed("00010203"))
        #expect(s.gdb.exchange("D", expecting: "+$OK#9a") == "+$OK#9a")
        #expect(s.server.join())
        #expect(s.diagnostics.isEmpty, "\(s.diagnostics)")
    }

    @Test func anIdleGDBIsNeverDropped() throws {
        let s = Served()
        #expect(s.gdb.exchange("qC", expecting: "+$QC1#c5") == "+$QC1#c5")
        usleep(1_300_000)  // more than four timeouts at the prompt
        #expect(!s.server.join(seconds: 0), "an idle gdb was dropped: \(s.diagnostics)")
        #expect(s.gdb.exchange("qC", expecting: "+$QC1#c5") == "+$QC1#c5")
        #expect(s.gdb.exchange("D", expecting: "+$OK#9a") == "+$OK#9a")
        #expect(s.server.join())
        #expect(s.diagnostics.isEmpty, "\(s.diagnostics)")
    }

    @Test func anIdleGDBWithTheGuestRunningIsNeverDropped() throws {
        // While the guest runs gdb sends nothing (but Ctrl-C) until the stop reply, for as long as that takes.
        let s = Served()
        s.target.asynchronous = true
        #expect(s.gdb.exchange("c", expecting: "+") == "+")
        usleep(1_000_000)
        #expect(!s.server.join(seconds: 0), "a gdb waiting for a stop was dropped: \(s.diagnostics)")
        s.gdb.write("\u{03}")
        let interrupted = framed("T02thread:2;06:f82f000000000000;07:f02f000000000000;10:0040000000000000;")
        #expect(s.gdb.read(interrupted.utf8.count) == interrupted)
        #expect(s.gdb.exchange("D", expecting: "+$OK#9a") == "+$OK#9a")
        #expect(s.server.join())
        #expect(s.diagnostics.isEmpty, "\(s.diagnostics)")
    }
}

/// A stalled gdb must not keep the next one out: through GDBServer, as `kvmstub run` serves.
struct GDBServerStallTests {
    @Test func afterAStalledGDBIsDroppedTheNextOneIsServed() throws {
        let server = GDBServer(listen: .tcp(host: "127.0.0.1", port: 0))
        server.stallTimeout = .milliseconds(300)
        let said = DiagnosticLines()
        server.diagnostics = { said.append($0) }
        try server.bind()
        let port = try #require(server.boundPort)
        let target = SimulatedTarget()
        let shared = Unchecked((server: server, target: target, end: SessionEnd?.none))
        let serving = Background { shared.value.end = try? shared.value.server.serve(target: shared.value.target) }

        let first = try #require(connectTCP(port: port))
        defer { first.close() }
        #expect(first.exchange("Z0,1040,1", expecting: "+$OK#9a") == "+$OK#9a")
        first.write("$m1000,")  // and nothing more
        // Dropped after 0.3 s of silence: wait for the drop itself (at most 60 s), not for a fixed time.
        let deadline = ContinuousClock.now + .seconds(60)
        while target.detachCount == 0 && ContinuousClock.now < deadline { usleep(10_000) }
        #expect(target.detachCount == 1, "the stalled gdb was not dropped within 60 s")
        #expect(said.lines.contains { $0.contains("gdb sent part of a packet") }, "\(said.lines)")

        let second = try #require(connectTCP(port: port))
        defer { second.close() }
        #expect(second.exchange("qC", expecting: "+$QC1#c5") == "+$QC1#c5", "the next gdb was not served")
        #expect(target.breakpoints.isEmpty, "the stalled gdb's breakpoint stayed")
        #expect(target.detachCount == 1)
        #expect(second.exchange("k", expecting: "+") == "+")
        #expect(serving.join())
        #expect(shared.value.end == .killed)
    }
}

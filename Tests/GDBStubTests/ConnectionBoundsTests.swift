import GDBStub
import Glibc
import RSP
import Testing

/// The connection loop under bursts and storms (issue 6): what a hostile gdb sends in one read is answered in
/// full and in order, and costs a bounded amount of memory.
struct ConnectionBoundsTests {
    /// 64 KiB of requests in one write. They are decoded a slice at a time, each slice's replies written before the
    /// next (so the stub holds a slice's replies, not 5 000): every reply still comes, in order.
    @Test func aBurstOfRequestsIsAnsweredInFullAndInOrder() throws {
        let (stubFD, gdbFD) = socketPair()
        defer { close(stubFD) }
        let shared = Unchecked((session: Session(target: SimulatedTarget()), end: SessionEnd?.none))
        let server = Background { shared.value.end = shared.value.session.serve(fd: stubFD) }
        let gdb = GDBSocket(fd: gdbFD)
        defer { gdb.close() }

        let requests = (0..<6000).map { "m\(String(0x1000 + $0 % 0x1000, radix: 16)),4" }
        let burst = requests.map(framed).joined()
        #expect(burst.utf8.count > 64 * 1024)
        let writer = Background { gdb.write(burst) }
        let replies = requests.map { request -> String in
            let address = Int(request.dropFirst().prefix { $0 != "," }, radix: 16)! - 0x1000
            return framed(text(Hex.encode((0..<4).map { UInt8(truncatingIfNeeded: address + $0) })))
        }.joined()
        // Acks come as packets are decoded, replies as they are handled: compare the replies, count the acks.
        let received = gdb.read(replies.utf8.count + requests.count)
        #expect(received.filter { $0 == "+" }.count == requests.count)
        let frames = received.filter { $0 != "+" }
        #expect(frames.count == replies.count)
        #expect(
            frames == replies, "the replies differ from the first \(frames.commonPrefix(with: replies).count) bytes")
        #expect(writer.join())
        #expect(gdb.exchange("D", expecting: "+$OK#9a") == "+$OK#9a")
        #expect(server.join())
        #expect(shared.value.end == .detached)
    }

    /// Regression: 64 KiB of `-` after a 4 KiB reply used to come back as 64 Ki copies of it (256 MiB). Now three,
    /// and the next request is answered as usual.
    @Test func aNAKStormOverTheSocketGetsThreeResends() throws {
        let (stubFD, gdbFD) = socketPair()
        defer { close(stubFD) }
        let shared = Unchecked((session: Session(target: SimulatedTarget()), end: SessionEnd?.none))
        let server = Background { shared.value.end = shared.value.session.serve(fd: stubFD) }
        let gdb = GDBSocket(fd: gdbFD)
        defer { gdb.close() }

        let data = (0..<0x800).map { UInt8(truncatingIfNeeded: $0) }
        let reply = framed(text(Hex.encode(data)))
        #expect(gdb.exchange("m1000,800", expecting: "+" + reply) == "+" + reply)
        gdb.write(String(repeating: "-", count: 65536))
        #expect(gdb.read(3 * reply.utf8.count) == reply + reply + reply)
        #expect(gdb.exchange("qC", expecting: "+$QC1#c5") == "+$QC1#c5")
        #expect(gdb.exchange("D", expecting: "+$OK#9a") == "+$OK#9a")
        #expect(server.join())
    }
}

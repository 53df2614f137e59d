import GDBStub
import RSP
import Testing

/// `m`, `M`, `X`. Memory: 0x1000..<0x3000 and 0x4000..<0x5000 mapped, a hole between, byte i of a region = i.
struct SessionMemoryTests {
    @Test func readWithin() {
        let gdb = Transcript()
        // -> $m1000,4#8e   <- +$00010203#86
        #expect(gdb.raw("$m1000,4#8e") == "+$00010203#86")
        #expect(gdb.send("m4010,2") == ackedReply("1011"))
    }

    @Test func readPartlyIntoTheHoleGivesThePrefix() {
        let gdb = Transcript()
        #expect(gdb.send("m2ffe,4") == ackedReply("feff"))
    }

    @Test func readInTheHoleIsE14() {
        let gdb = Transcript()
        #expect(gdb.raw("$m3000,4#90") == "+$E14#aa")
        #expect(gdb.send("m0,1") == ackedReply("E14"))
    }

    @Test func zeroLengthReadIsEmpty() {
        let gdb = Transcript()
        #expect(gdb.send("m1000,0") == "+$#00")
    }

    @Test func readIsClampedToThePacketSize() throws {
        let gdb = Transcript(maxPacketSize: 256)
        // 256 asked for, 281 given: the x86-64 `g` block (140 bytes) must fit a `G` (SessionBoundsTests).
        let hexDigits = gdb.session.maxPacketSize / 2 * 2
        #expect(hexDigits == 280)
        let reply = try #require(gdb.payload(of: gdb.send("m1000,1000")))
        #expect(reply.count == hexDigits)
        #expect(reply.hasPrefix("000102"))
        // A huge length that does not wrap is clamped too.
        #expect(gdb.payload(of: gdb.send("m1000,7fffffffffffffff"))?.count == hexDigits)
    }

    @Test func writeHex() {
        let gdb = Transcript()
        #expect(gdb.send("M1000,3:aabbcc") == "+$OK#9a")
        #expect(gdb.target.peek(0x1000, 4) == [0xaa, 0xbb, 0xcc, 0x03])
        #expect(gdb.send("M1000,0:") == "+$OK#9a")
    }

    @Test func writeIntoTheHoleIsAllOrNothing() {
        let gdb = Transcript()
        #expect(gdb.send("M2fff,2:aabb") == ackedReply("E14"))
        #expect(gdb.target.peek(0x2fff, 1) == [0xff])
    }

    @Test func writeBinaryWithEscapedBytes() {
        let gdb = Transcript()
        let data: [UInt8] = [0x7d, 0x23, 0x24, 0x2a, 0x03, 0x00, 0x41]
        // `}` `#` `$` `*` travel as `}` + byte ^ 0x20; 0x03 travels raw inside X data and is no Ctrl-C.
        let escaped: [UInt8] = [0x7d, 0x5d, 0x7d, 0x03, 0x7d, 0x04, 0x7d, 0x0a, 0x03, 0x00, 0x41]
        #expect(gdb.send(bytes: Array("X1000,7:".utf8) + escaped) == "+$OK#9a")
        #expect(gdb.target.peek(0x1000, 8) == data + [0x07])
        #expect(gdb.target.interruptCount == 0)
    }

    @Test func writeBinaryProbeAndLengthChecks() {
        let gdb = Transcript()
        // gdb's probe for X support.
        #expect(gdb.send("X1000,0:") == "+$OK#9a")
        #expect(gdb.send("X1000,2:a") == ackedReply("E22"))
        #expect(gdb.send("X1000,1:ab") == ackedReply("E22"))
        #expect(gdb.send(bytes: Array("X1000,1:".utf8) + [0x7d]) == ackedReply("E22"))
        #expect(gdb.send("X3000,1:a") == ackedReply("E14"))
    }
}

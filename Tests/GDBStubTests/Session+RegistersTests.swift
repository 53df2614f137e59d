import GDBStub
import RSP
import Registers
import Testing

/// `g`, `G`, `p`, `P`.
struct SessionRegistersTests {
    /// The `g` block as the simulated target holds it, `xx` for what it cannot read.
    private func expectedG(_ target: SimulatedTarget, thread: Int = 1) -> String {
        var hex = ""
        for register in target.registerTable.gRegisters {
            if let value = target.registers[thread]?[register.regnum] {
                hex += text(Hex.encode(value))
            } else {
                hex += String(repeating: "x", count: register.byteSize * 2)
            }
        }
        return hex
    }

    @Test func gHasTheWholeBlockAndXXForUnreadableRegisters() throws {
        let gdb = Transcript()
        let reply = try #require(gdb.payload(of: gdb.send("g")))
        #expect(reply.count == 2 * RegisterTable.x86_64.gPacketByteCount)
        #expect(reply.count == 280)
        #expect(reply == expectedG(gdb.target))
        let chars = Array(reply)
        // r15 (regnum 15) reads as nil: 8 bytes of xx, at byte offset 15 * 8.
        #expect(String(chars[240..<256]) == String(repeating: "x", count: 16))
        #expect(String(chars[256..<272]) == "0010000000000000")  // rip
        #expect(String(chars[232..<240]) != "xxxxxxxx")
    }

    @Test func gReadsTheHgThread() throws {
        let gdb = Transcript()
        #expect(gdb.send("Hg2") == "+$OK#9a")
        let reply = try #require(gdb.payload(of: gdb.send("g")))
        #expect(reply == expectedG(gdb.target, thread: 2))
        #expect(gdb.send("Hg0") == "+$OK#9a")
        #expect(gdb.send("Hg-1") == "+$OK#9a")
        #expect(gdb.payload(of: gdb.send("g")) == expectedG(gdb.target, thread: 2))
        #expect(gdb.send("Hg3") == ackedReply("E22"))
    }

    @Test func gRoundTrip() throws {
        let gdb = Transcript()
        var block = Array(expectedG(gdb.target))
        // New rax, and leave r15 as xx: it must not be written.
        block.replaceSubrange(0..<16, with: Array("8877665544332211"))
        #expect(gdb.send("G" + String(block)) == "+$OK#9a")
        #expect(gdb.target.registers[1]?[0] == [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
        #expect(gdb.target.registers[1]?[15] == nil)
        #expect(gdb.payload(of: gdb.send("g")) == String(block))
    }

    @Test func gWrongLengthOrBadHexIsE22AndWritesNothing() {
        let gdb = Transcript()
        let block = expectedG(gdb.target)
        #expect(gdb.send("G" + block.dropLast(2)) == ackedReply("E22"))
        #expect(gdb.send("G" + block + "00") == ackedReply("E22"))
        // A bad digit at the very end: not even rax may be written.
        let bad = "1111111111111111" + block.dropFirst(16).dropLast(1) + "z"
        #expect(gdb.send("G" + bad) == ackedReply("E22"))
        #expect(gdb.target.registers[1]?[0] != [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11])
    }

    @Test func pAndPBeyondTheGBlock() {
        let gdb = Transcript()
        // cr3 is regnum 62 (0x3e), outside the 18 registers of `g`.
        #expect(RegisterTable.x86_64.register(named: "cr3")?.regnum == 62)
        let before = text(Hex.encode(gdb.target.registers[1]![62]!))
        #expect(gdb.send("p3e") == ackedReply(before))
        #expect(gdb.send("P3e=0010200000000000") == "+$OK#9a")
        #expect(gdb.target.registers[1]?[62] == le(0x201000, 8))
        #expect(gdb.send("p3e") == ackedReply("0010200000000000"))
        // eflags is 4 bytes in gdb: P with 8 is a size mismatch.
        #expect(gdb.send("P11=0200000000000000") == ackedReply("E22"))
        #expect(gdb.send("P11=02000000") == "+$OK#9a")
        #expect(gdb.send("P3e=0010") == ackedReply("E22"))
    }

    @Test func pOutOfRangeAndUnreadable() {
        let gdb = Transcript()
        let count = RegisterTable.x86_64.registers.count
        #expect(gdb.send("p" + String(count, radix: 16)) == ackedReply("E22"))
        #expect(gdb.send("P" + String(count, radix: 16) + "=00") == ackedReply("E22"))
        #expect(gdb.send("pffffffffffffffff") == ackedReply("E22"))
        // st0 (24 = 0x18) reads as nil: 10 bytes of xx.
        #expect(gdb.send("p18") == ackedReply(String(repeating: "x", count: 20)))
        #expect(gdb.send("pf") == ackedReply(String(repeating: "x", count: 16)))
    }
}

import RSP
import Testing

/// What hostile bytes can make the channel do (issue 6, "Bounds"): nothing grows without limit.
struct RSPChannelBoundsTests {
    /// Regression: every `-` used to resend the last reply, so one 64 KiB read of NAKs after a 16 KiB `m` reply made
    /// a gigabyte of output. gdb NAKs a reply at most three times (`MAX_TRIES` in remote.c); so does the channel.
    @Test func aStormOfNAKsResendsTheReplyAtMostThreeTimes() {
        var channel = RSPChannel()
        let reply = channel.frame(Array(repeating: UInt8(ascii: "a"), count: 16384))
        var output: [UInt8] = []
        #expect(channel.receive(Array(repeating: UInt8(ascii: "-"), count: 65536), output: &output) == [])
        #expect(output.count == RSPChannel.maxResends * reply.count)
        #expect(channel.statistics.naksReceived == 65536)
        #expect(channel.statistics.resends == 3)
        // Any split counts the same: one NAK at a time after three is still nothing.
        output = []
        _ = channel.receive(ascii("-"), output: &output)
        #expect(output.isEmpty)
        // A new reply may be NAKed again.
        let next = channel.frame(ascii("OK"))
        _ = channel.receive(ascii("--+--"), output: &output)
        #expect(output == next + next + next)
    }

    /// gdb's own retry pattern, a NAK per read after each resend, is served in full.
    @Test func gdbsThreeRetriesAreEachAnswered() {
        var channel = RSPChannel()
        let reply = channel.frame(ascii("T05thread:1;"))
        for _ in 0..<3 {
            var output: [UInt8] = []
            _ = channel.receive(ascii("-"), output: &output)
            #expect(output == reply)
        }
    }

    /// A packet of any length costs at most `maxPacketSize` bytes of payload; its end still resynchronises.
    @Test func anEndlessPacketIsDroppedAndTheNextOneIsRead() {
        var channel = RSPChannel(maxPacketSize: 64)
        var output: [UInt8] = []
        var incoming = channel.receive(ascii("$"), output: &output)
        for _ in 0..<64 {
            incoming += channel.receive(Array(repeating: UInt8(ascii: "M"), count: 16384), output: &output)
        }
        incoming += channel.receive(ascii("#00$qC#b4"), output: &output)
        #expect(incoming == [.packet(ascii("qC"))])
        #expect(output == ascii("-+"))
        #expect(channel.statistics.oversizedDropped == 1)
    }

    /// Run-length expansion is bounded by its input: at most 226 copies per two bytes.
    @Test func runLengthExpansionIsBounded() throws {
        let input = ascii("0") + Array(repeating: [UInt8(ascii: "*"), 0xff], count: 1000).flatMap { $0 }
        let expanded = try #require(decodeRunLength(input))
        #expect(expanded.count == 1 + 1000 * (255 - 29))
    }
}

import Testing

import RSP

/// Sending: `$payload#cs`, binary escaping, and which frame a NAK resends.
struct RSPChannelFramingTests {
    @Test func plainReply() {
        var channel = RSPChannel()
        #expect(channel.frame(ascii("OK")) == ascii("$OK#9a"))
        #expect(channel.frame([UInt8]()) == ascii("$#00"))
    }

    /// Text replies are the session's responsibility; the channel must not alter them.
    @Test func plainReplyIsNotEscaped() {
        var channel = RSPChannel()
        #expect(channel.frame(ascii("a$b")) == ascii("$a$b#e7"))
    }

    @Test func binaryReplyEscapesAllFourSpecialBytes() {
        var channel = RSPChannel()
        let framed = channel.frame([0x24, 0x23, 0x7d, 0x2a, 0x41], binary: true)
        #expect(framed == ascii("$}") + [0x04] + ascii("}") + [0x03] + ascii("}]}") + [0x0a] + ascii("A#a3"))
    }

    /// Everything a binary reply can carry survives framing, receiving and unescaping, with a checksum gdb accepts.
    @Test func binaryRoundTripOfEveryByteValue() {
        var sender = RSPChannel()
        let data = (0...255).map { UInt8($0) }
        let framed = sender.frame(data, binary: true)
        #expect(framed.count == 1 + 256 + 4 + 3)

        // The receiver treats replies like requests; prefix with 'X' so the raw 0x03 in the data stays data.
        var receiver = RSPChannel()
        var output: [UInt8] = []
        let xFrame = sender.frame(ascii("X") + data, binary: true)
        let incoming = receiver.receive(xFrame, output: &output)
        #expect(output == ascii("+"))
        guard case .packet(let payload) = incoming.first, incoming.count == 1 else {
            Issue.record("expected one packet, got \(incoming)")
            return
        }
        #expect(unescapeBinary(payload.dropFirst()) == data)
    }

    @Test func notificationDoesNotReplaceTheRememberedReply() {
        var channel = RSPChannel()
        _ = channel.frame(ascii("OK"))
        #expect(channel.frameNotification(ascii("O48690a")) == ascii("$O48690a#bb"))
        #expect(channel.frameNotification([0x23], binary: true) == ascii("$}") + [0x03] + ascii("#80"))

        var output: [UInt8] = []
        _ = channel.receive(ascii("-"), output: &output)
        #expect(output == ascii("$OK#9a"))
    }
}

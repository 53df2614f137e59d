import Testing

import RSP

/// Receiving: framing, checksums, acks, interrupts, bounds. Streams are written as gdb would send them.
struct RSPChannelTests {
    /// Feeds `chunks` one after the other and collects everything, as a session reading a socket would.
    private func feed(_ channel: inout RSPChannel, _ chunks: [[UInt8]]) -> (incoming: [Incoming], output: [UInt8]) {
        var output: [UInt8] = []
        var incoming: [Incoming] = []
        for chunk in chunks {
            incoming += channel.receive(chunk, output: &output)
        }
        return (incoming, output)
    }

    @Test func goodPacketIsAckedAndDelivered() {
        var channel = RSPChannel()
        var output: [UInt8] = []
        let incoming = channel.receive(ascii("$g#67"), output: &output)
        #expect(incoming == [.packet(ascii("g"))])
        #expect(output == ascii("+"))
        #expect(channel.statistics.packetsReceived == 1)
    }

    @Test func emptyPacketIsDelivered() {
        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, [ascii("$#00")])
        #expect(incoming == [.packet([])])
        #expect(output == ascii("+"))
    }

    /// What a connection loop needs to tell gdb stalled mid-packet from gdb idle at its prompt: every byte from `$`
    /// to the second checksum digit is "mid-packet"; acks, Ctrl-C and noise between packets are not.
    @Test func midPacketFromTheDollarToTheLastChecksumDigit() {
        var channel = RSPChannel()
        var output: [UInt8] = []
        #expect(!channel.isMidPacket)
        _ = channel.receive(ascii("+\u{03}"), output: &output)
        #expect(!channel.isMidPacket)
        for (i, byte) in ascii("$m1000,4#8e").enumerated() {
            _ = channel.receive([byte], output: &output)
            #expect(channel.isMidPacket == (i < 10), "after byte \(i)")
        }
        // A bad checksum digit ends the frame too.
        _ = channel.receive(ascii("$g#x"), output: &output)
        #expect(!channel.isMidPacket)
    }

    @Test func defaultMaxPacketSize() {
        #expect(RSPChannel().maxPacketSize == 16384)
        #expect(RSPChannel(maxPacketSize: 512).maxPacketSize == 512)
    }

    @Test func severalPacketsInOneChunk() {
        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, [ascii("$g#67$m1000,4#8e$qC#b4")])
        #expect(incoming == [.packet(ascii("g")), .packet(ascii("m1000,4")), .packet(ascii("qC"))])
        #expect(output == ascii("+++"))
        #expect(channel.statistics.packetsReceived == 3)
    }

    /// A stream with every kind of event, cut into three chunks at every pair of positions (and fed a byte at a
    /// time): the result must never depend on where the reads happened to split it.
    @Test func splitAtEveryBytePosition() {
        let stream =
            ascii("$qSupported#37") + ascii("+") + ascii("$m10") + [0x03] + ascii("00,4#8e") + [0x03]
            + ascii("$g#00") + ascii("$qC#b4")
        let expectedIncoming: [Incoming] = [
            .packet(ascii("qSupported")), .interrupt, .packet(ascii("m1000,4")), .interrupt, .packet(ascii("qC")),
        ]
        let expectedOutput = ascii("++-+")

        for first in 0...stream.count {
            for second in first...stream.count {
                var channel = RSPChannel()
                let chunks = [Array(stream[..<first]), Array(stream[first..<second]), Array(stream[second...])]
                let (incoming, output) = feed(&channel, chunks)
                #expect(incoming == expectedIncoming, "split at \(first), \(second)")
                #expect(output == expectedOutput, "split at \(first), \(second)")
            }
        }

        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, stream.map { [$0] })
        #expect(incoming == expectedIncoming)
        #expect(output == expectedOutput)
        #expect(channel.statistics.packetsReceived == 3)
        #expect(channel.statistics.badChecksums == 1)
        #expect(channel.statistics.interrupts == 2)
    }

    @Test func badChecksumIsNakedAndDropped() {
        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, [ascii("$g#68"), ascii("$g#67")])
        #expect(incoming == [.packet(ascii("g"))])
        #expect(output == ascii("-+"))
        #expect(channel.statistics.badChecksums == 1)
        #expect(channel.statistics.packetsReceived == 1)
    }

    @Test func uppercaseChecksumDigitsAreAccepted() {
        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, [ascii("$qC#B4")])
        #expect(incoming == [.packet(ascii("qC"))])
        #expect(output == ascii("+"))
    }

    @Test func nonHexChecksumIsNaked() {
        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, [ascii("$g#6z$g#zz$c#63")])
        #expect(incoming == [.packet(ascii("c"))])
        #expect(output == ascii("--+"))
        #expect(channel.statistics.badChecksums == 2)
    }

    /// A `$` or Ctrl-C where a checksum digit should be ends the broken packet and still counts as itself.
    @Test func packetStartOrInterruptInChecksumIsNotLost() {
        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, [ascii("$g#6$c#63$s#") + [0x03]])
        #expect(incoming == [.packet(ascii("c")), .interrupt])
        #expect(output == ascii("-+-"))
        #expect(channel.statistics.badChecksums == 2)
    }

    @Test func nakResendsTheLastReplyExactly() {
        var channel = RSPChannel()
        let reply = channel.frame(ascii("OK"))
        #expect(reply == ascii("$OK#9a"))

        var output: [UInt8] = []
        #expect(channel.receive(ascii("-"), output: &output) == [])
        #expect(output == ascii("$OK#9a"))

        output = []
        _ = channel.receive(ascii("--"), output: &output)
        #expect(output == ascii("$OK#9a$OK#9a"))

        _ = channel.frame(ascii("E01"))
        output = []
        _ = channel.receive(ascii("+-"), output: &output)
        #expect(output == ascii("$E01#a6"))
        #expect(channel.statistics.naksReceived == 4)
        #expect(channel.statistics.resends == 4)
    }

    @Test func nakBeforeAnyReplySendsNothing() {
        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, [ascii("-")])
        #expect(incoming == [])
        #expect(output == [])
        #expect(channel.statistics.naksReceived == 1)
        #expect(channel.statistics.resends == 0)
    }

    /// The transcript of switching acks off: the `OK` is still acked, everything after it is not.
    @Test func noAckModeSendsNoAcksAndIgnoresNaks() {
        var channel = RSPChannel()
        var output: [UInt8] = []
        #expect(channel.receive(ascii("$QStartNoAckMode#b0"), output: &output) == [.packet(ascii("QStartNoAckMode"))])
        #expect(output == ascii("+"))
        #expect(channel.frame(ascii("OK")) == ascii("$OK#9a"))
        channel.noAckMode = true

        output = []
        let incoming = channel.receive(ascii("+$g#67-$g#00$qC#b4"), output: &output)
        #expect(incoming == [.packet(ascii("g")), .packet(ascii("qC"))])
        #expect(output == [])
        #expect(channel.statistics.naksReceived == 0)
        #expect(channel.statistics.resends == 0)
        #expect(channel.statistics.badChecksums == 1)
    }

    @Test func interruptBetweenPackets() {
        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, [[0x03], ascii("$c#63") + [0x03] + ascii("$?#3f")])
        #expect(incoming == [.interrupt, .packet(ascii("c")), .interrupt, .packet(ascii("?"))])
        #expect(output == ascii("++"))
        #expect(channel.statistics.interrupts == 2)
    }

    /// Ctrl-C in the middle of a text packet is reported first and is not part of the payload or its checksum.
    @Test func interruptInsideTextPacket() {
        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, [ascii("$m10") + [0x03] + ascii("00,4#8e")])
        #expect(incoming == [.interrupt, .packet(ascii("m1000,4"))])
        #expect(output == ascii("+"))
    }

    /// In `X` data 0x03 is a memory byte, raw or as the second half of an escaped `#`.
    @Test func interruptByteInsideXDataStaysData() {
        var channel = RSPChannel()
        let payload = ascii("X1000,3:") + [0x03, 0x7d, 0x03, 0x41]
        let (incoming, output) = feed(&channel, [ascii("$") + payload + ascii("#76")])
        #expect(incoming == [.packet(payload)])
        #expect(output == ascii("+"))
        #expect(channel.statistics.interrupts == 0)
        #expect(unescapeBinary(payload.dropFirst(8)) == [0x03, 0x23, 0x41])
    }

    @Test func interruptByteInsideFileWriteDataStaysData() {
        var channel = RSPChannel()
        let payload = ascii("vFile:pwrite:3,0:") + [0x03]
        let (incoming, output) = feed(&channel, [ascii("$") + payload + ascii("#d1")])
        #expect(incoming == [.packet(payload)])
        #expect(output == ascii("+"))
    }

    @Test func oversizedPacketIsDroppedAndTheNextOneDecoded() {
        var channel = RSPChannel(maxPacketSize: 8)
        let (incoming, output) = feed(&channel, [ascii("$0123456789#0d$01234567#9c$g#67")])
        #expect(incoming == [.packet(ascii("01234567")), .packet(ascii("g"))])
        #expect(output == ascii("-++"))
        #expect(channel.statistics.oversizedDropped == 1)
        #expect(channel.statistics.badChecksums == 0)
    }

    @Test func oversizedPacketIsDroppedSilentlyInNoAckMode() {
        var channel = RSPChannel(maxPacketSize: 4)
        channel.noAckMode = true
        let (incoming, output) = feed(&channel, [ascii("$0123456789#0d$g#67")])
        #expect(incoming == [.packet(ascii("g"))])
        #expect(output == [])
        #expect(channel.statistics.oversizedDropped == 1)
    }

    @Test func garbageBetweenPacketsIsIgnored() {
        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, [ascii("abc\r\n$g#67xyz"), ascii("#67$c#63")])
        #expect(incoming == [.packet(ascii("g")), .packet(ascii("c"))])
        #expect(output == ascii("++"))
        #expect(channel.statistics.ignoredBytes == 11)
    }

    @Test func dollarInsidePacketRestartsFraming() {
        var channel = RSPChannel()
        let (incoming, output) = feed(&channel, [ascii("$m10$g#67")])
        #expect(incoming == [.packet(ascii("g"))])
        #expect(output == ascii("+"))
        #expect(channel.statistics.abandonedPackets == 1)
    }
}

/// Sans-I/O RSP connection state: framing, checksums, acks, no-ack mode, resend on NAK.
///
/// The channel owns no socket: the caller feeds it whatever bytes arrived, writes back whatever it asks for, and
/// hands the packets to the session. That keeps every framing rule testable byte by byte, and the session free of
/// acks and checksums.
public struct RSPChannel: Sendable {
    /// The longest payload accepted, in bytes as transmitted. The session advertises it as `PacketSize` in
    /// `qSupported`; gdb counts its own framing inside that size, so a payload never legitimately exceeds it.
    public let maxPacketSize: Int

    /// Whether acks are off. The session sets it after it has framed the `OK` to `QStartNoAckMode` (gdb still acks
    /// that `OK`; the `+` that follows is ignored like any other in this mode).
    public var noAckMode = false

    /// What the channel has seen so far.
    public private(set) var statistics = Statistics()

    /// The payload of the packet being received, reused from packet to packet and never grown past
    /// `maxPacketSize`.
    private var payload: [UInt8] = []
    /// The checksum of `payload`, kept up to date so a complete packet needs no second pass.
    private var payloadSum: UInt8 = 0
    /// Set when the packet being received has outgrown `payload`; it is then read to its end and dropped.
    private var overflowed = false
    private var state = FrameState.betweenPackets
    /// The last reply framed by `frame`, written again when gdb answers it with `-`. Internal only so the framing
    /// extension can set it.
    var lastReply: [UInt8] = []
    /// How often `lastReply` has been sent again; `frame` starts it over.
    var resendsOfLastReply = 0
    /// gdb NAKs one reply at most this often (`MAX_TRIES` in gdb's remote.c) before it gives up on it. More NAKs
    /// are not gdb: without the cap a 64 KiB read of `-` would make 64 Ki copies of a reply of up to PacketSize.
    public static let maxResends = 3

    private enum FrameState {
        case betweenPackets
        case payload
        case checksumHigh
        case checksumLow(high: UInt8)
    }

    /// Packets whose payload may carry raw binary data, in which 0x03 is a data byte rather than Ctrl-C.
    ///
    /// Escaping only covers `$`, `#`, `}` and `*`, so a 0x03 in memory written with `X` travels raw (and an escaped
    /// `#` travels as `}` 0x03). Beyond `X`, the other packets the protocol defines with binary data are listed too,
    /// because the cost is the same and a file or flash write must not be cut into an interrupt either. The prefix is checked against the payload received so far, so a 0x03 before the data starts
    /// (which gdb never sends) is still an interrupt.
    private static let binaryPacketPrefixes: [[UInt8]] = ["X", "vFile:pwrite:", "vFlashWrite:", "qXfer:"].map {
        Array($0.utf8)
    }

    /// - Parameter maxPacketSize: The longest payload accepted; see ``maxPacketSize``.
    public init(maxPacketSize: Int = 16384) {
        precondition(maxPacketSize > 0, "an RSP channel must accept at least one payload byte")
        self.maxPacketSize = maxPacketSize
        payload.reserveCapacity(maxPacketSize)
    }

    /// True between a packet's `$` and its last checksum digit: gdb owes more bytes. A connection loop uses it to
    /// tell a client that stalled mid-packet from one idle at its prompt (which may stay idle for hours).
    public var isMidPacket: Bool {
        if case .betweenPackets = state { return false }
        return true
    }

    /// Feeds a chunk of bytes from gdb; a packet may be split at any byte and a chunk may hold several packets.
    ///
    /// - Parameter output: Gets whatever must be written back at once: `+` for a good packet, `-` for a bad or
    ///   oversized one (both only while acks are on), and the last framed reply again when gdb sends `-`.
    /// - Returns: The complete good packets and the interrupts, in the order they arrived.
    public mutating func receive(_ bytes: some Collection<UInt8>, output: inout [UInt8]) -> [Incoming] {
        var incoming: [Incoming] = []
        for byte in bytes {
            consume(byte, output: &output, incoming: &incoming)
        }
        return incoming
    }

    private mutating func consume(_ byte: UInt8, output: inout [UInt8], incoming: inout [Incoming]) {
        switch state {
        case .betweenPackets:
            consumeBetweenPackets(byte, output: &output, incoming: &incoming)

        case .payload:
            switch byte {
            case ASCII.packetStart:
                // An unescaped '$' cannot be payload, so the sender gave up on the packet (gdb's own reader does
                // the same); keeping the partial bytes would only corrupt the next one.
                statistics.abandonedPackets += 1
                startPacket()
            case ASCII.checksumStart:
                state = .checksumHigh
            case ASCII.interrupt where !payloadIsBinary:
                // gdb only sends Ctrl-C between packets, but a user's Ctrl-C can be interleaved with a packet by
                // whatever sits between gdb and us; it is not payload, so report it and keep the packet going.
                statistics.interrupts += 1
                incoming.append(.interrupt)
            default:
                if payload.count < maxPacketSize {
                    payload.append(byte)
                    payloadSum &+= byte
                } else {
                    overflowed = true
                }
            }

        case .checksumHigh:
            guard let high = Hex.digitValue(byte) else {
                rejectMalformedChecksum(byte, output: &output, incoming: &incoming)
                return
            }
            state = .checksumLow(high: high)

        case .checksumLow(let high):
            guard let low = Hex.digitValue(byte) else {
                rejectMalformedChecksum(byte, output: &output, incoming: &incoming)
                return
            }
            finishPacket(transmittedChecksum: high << 4 | low, output: &output, incoming: &incoming)
        }
    }

    private mutating func consumeBetweenPackets(_ byte: UInt8, output: inout [UInt8], incoming: inout [Incoming]) {
        switch byte {
        case ASCII.packetStart:
            startPacket()
        case ASCII.interrupt:
            statistics.interrupts += 1
            incoming.append(.interrupt)
        case ASCII.nak where !noAckMode:
            statistics.naksReceived += 1
            if !lastReply.isEmpty && resendsOfLastReply < Self.maxResends {
                resendsOfLastReply += 1
                statistics.resends += 1
                output.append(contentsOf: lastReply)
            }
        case ASCII.ack, ASCII.nak:
            // A '+' needs no action: the remembered reply simply stays until the next one replaces it. In no-ack
            // mode a '-' is line noise, not a request.
            break
        default:
            // Line noise, or the tail of a packet whose '$' was lost: nothing can be done with it.
            statistics.ignoredBytes += 1
        }
    }

    private mutating func startPacket() {
        payload.removeAll(keepingCapacity: true)
        payloadSum = 0
        overflowed = false
        state = .payload
    }

    private var payloadIsBinary: Bool {
        Self.binaryPacketPrefixes.contains { payload.starts(with: $0) }
    }

    private mutating func finishPacket(transmittedChecksum: UInt8, output: inout [UInt8], incoming: inout [Incoming]) {
        state = .betweenPackets
        if overflowed {
            // A NAK, not silence: gdb is waiting for an ack and would otherwise time out before noticing.
            statistics.oversizedDropped += 1
            sendAck(ASCII.nak, to: &output)
        } else if transmittedChecksum != payloadSum {
            // Dropped even in no-ack mode, where gdbserver would accept it: acting on a corrupt `M` or `G` is
            // worse than a request gdb will time out on.
            statistics.badChecksums += 1
            sendAck(ASCII.nak, to: &output)
        } else {
            statistics.packetsReceived += 1
            sendAck(ASCII.ack, to: &output)
            // A copy sized to the packet: handing out `payload` itself would share its storage, and the next packet
            // would then have to allocate a fresh `maxPacketSize` buffer while this one pinned the old one.
            incoming.append(.packet(payload.withUnsafeBufferPointer { Array($0) }))
        }
    }

    /// Ends the frame at a checksum digit that is not hex.
    ///
    /// The packet is rejected like one with a wrong checksum. A `$` or 0x03 in that position is then handled as it
    /// would be between packets, because it is far more likely the start of the next packet or a Ctrl-C after a
    /// truncated one than a corrupted digit, and swallowing it would lose that packet or interrupt as well.
    private mutating func rejectMalformedChecksum(_ byte: UInt8, output: inout [UInt8], incoming: inout [Incoming]) {
        state = .betweenPackets
        if overflowed {
            statistics.oversizedDropped += 1
        } else {
            statistics.badChecksums += 1
        }
        sendAck(ASCII.nak, to: &output)
        if byte == ASCII.packetStart || byte == ASCII.interrupt {
            consumeBetweenPackets(byte, output: &output, incoming: &incoming)
        }
    }

    private func sendAck(_ ack: UInt8, to output: inout [UInt8]) {
        if !noAckMode {
            output.append(ack)
        }
    }
}

import FuzzSupport
import RSP

/// Fuzzer (a): arbitrary bytes through `RSPChannel`, whole and in chunks.
///
/// The input is the bytes gdb sends, unchanged, so recorded gdb traffic is a corpus as it is. Its first byte also
/// picks the configuration (it is still fed like every other byte): the packet size limit, ack or no-ack mode,
/// whether a reply is waiting to be resent, and the seed of the chunk split.
///
/// Invariants:
/// - feeding the input in chunks gives exactly what feeding it at once gives: the same packets and interrupts in
///   the same order, the same bytes to write back, the same statistics;
/// - no packet exceeds `maxPacketSize`, and the statistics count what was handed out;
/// - what the channel writes back is `+`/`-` (only with acks on) and resends of the remembered reply, at most
///   `RSPChannel.maxResends` of them: output is bounded by input;
/// - a packet it hands out, framed again, decodes to itself (nothing is lost or invented by the framing);
/// - the decoders a session applies to a payload (hex, binary unescaping, run-length) never trap, and hex
///   round-trips.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRSPChannel(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let config = bytes[0]
    let sizes = [1, 2, 7, 64, 256, 16384]
    let maxPacketSize = sizes[Int(config & 0x07) % sizes.count]
    let noAck = config & 0x80 != 0
    let rememberReply = config & 0x40 != 0

    func makeChannel() -> RSPChannel {
        var channel = RSPChannel(maxPacketSize: maxPacketSize)
        channel.noAckMode = noAck
        if rememberReply { _ = channel.frame(Array("T05thread:1;".utf8)) }
        return channel
    }
    var replyFramer = RSPChannel()
    let reply = rememberReply ? replyFramer.frame(Array("T05thread:1;".utf8)) : []

    var whole = makeChannel()
    var wholeOutput: [UInt8] = []
    let wholeIncoming = whole.receive(bytes, output: &wholeOutput)

    var chunked = makeChannel()
    var chunkedOutput: [UInt8] = []
    var chunkedIncoming: [Incoming] = []
    for chunk in Chunks(bytes, seed: config) {
        chunkedIncoming += chunked.receive(chunk, output: &chunkedOutput)
    }

    invariant(wholeIncoming == chunkedIncoming, "a chunk split changed the packets")
    invariant(wholeOutput == chunkedOutput, "a chunk split changed what is written back")
    invariant(whole.statistics == chunked.statistics, "a chunk split changed the statistics")

    var packets = 0
    var interrupts = 0
    // One pair for all the packets: a channel reserves maxPacketSize bytes, and allocation is most of ASan's cost.
    var sender = RSPChannel(maxPacketSize: maxPacketSize)
    var receiver = RSPChannel(maxPacketSize: maxPacketSize)
    receiver.noAckMode = true
    for item in wholeIncoming {
        switch item {
        case .interrupt:
            interrupts += 1
        case .packet(let payload):
            packets += 1
            invariant(payload.count <= maxPacketSize, "a \(payload.count)-byte packet passed a \(maxPacketSize) limit")
            checkReframing(payload, sender: &sender, receiver: &receiver)
            exerciseDecoders(payload)
        }
    }
    invariant(
        whole.statistics.packetsReceived == packets, "packetsReceived \(whole.statistics.packetsReceived) != \(packets)"
    )
    invariant(whole.statistics.interrupts == interrupts, "interrupts \(whole.statistics.interrupts) != \(interrupts)")

    // What comes back is bounded by what went in: an ack per packet (4 bytes at least), and the remembered reply at
    // most `maxResends` times however many NAKs arrive.
    invariant(
        wholeOutput.count <= bytes.count + RSPChannel.maxResends * reply.count,
        "\(bytes.count) bytes in made \(wholeOutput.count) bytes out")

    // Acks with acks on, nothing else but resends of the remembered reply.
    var i = 0
    while i < wholeOutput.count {
        if !noAck && (wholeOutput[i] == UInt8(ascii: "+") || wholeOutput[i] == UInt8(ascii: "-")) {
            i += 1
        } else {
            invariant(
                !reply.isEmpty && wholeOutput[i...].starts(with: reply),
                "the channel wrote something it was never given")
            i += reply.count
        }
    }
    invariant(
        noAck || whole.statistics.resends * reply.count + ackCount(wholeOutput, reply) == wholeOutput.count,
        "resends do not account for the output")
    return 0
}

/// Bytes of output that are acks rather than resends.
private func ackCount(_ output: [UInt8], _ reply: [UInt8]) -> Int {
    var count = 0
    var i = 0
    while i < output.count {
        if !reply.isEmpty && output[i...].starts(with: reply) {
            i += reply.count
        } else {
            count += 1
            i += 1
        }
    }
    return count
}

/// `$payload#cs` built from a packet the channel accepted decodes to that packet again, and only to it.
private func checkReframing(_ payload: [UInt8], sender: inout RSPChannel, receiver: inout RSPChannel) {
    let framed = sender.frame(payload)
    var output: [UInt8] = []
    let again = receiver.receive(framed, output: &output)
    invariant(again == [.packet(payload)], "a packet did not survive being framed again")
    invariant(output.isEmpty, "no-ack mode wrote something")
}

/// What a session does with payload bytes: none of it may trap, and hex encoding round-trips.
private func exerciseDecoders(_ payload: [UInt8]) {
    if let decoded = Hex.decode(payload) {
        invariant(Hex.decode(Hex.encode(decoded)) == decoded, "hex does not round-trip")
    }
    _ = Hex.parseUInt64(payload)
    for field in payload.split(separator: UInt8(ascii: ","), maxSplits: 4) { _ = Hex.parseUInt64(field) }
    if let unescaped = unescapeBinary(payload) {
        invariant(unescaped.count <= payload.count, "unescaping grew the data")
    }
    if let expanded = decodeRunLength(payload) {
        // A count byte is at most 255 - 29 = 226 more copies, and it takes two input bytes (`*` and the count).
        invariant(expanded.count <= payload.count * 113 + 1, "run-length expansion is unbounded")
    }
}

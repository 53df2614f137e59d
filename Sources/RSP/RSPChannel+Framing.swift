extension RSPChannel {
    /// Frames a reply as `$payload#cs` and remembers it, so a `-` from gdb can be answered by sending it again.
    ///
    /// - Parameter binary: Escape `$`, `#`, `}` and `*` as `}` + (byte ^ 0x20), for replies that carry raw data
    ///   (`qXfer` reads, `vFile:pread`). Other replies are hex or text, in which those bytes cannot occur, and are
    ///   sent as is.
    public mutating func frame(_ payload: some Collection<UInt8>, binary: Bool = false) -> [UInt8] {
        // Reusing the buffer keeps framing allocation-free once the caller has let go of the previous reply.
        lastReply.removeAll(keepingCapacity: true)
        resendsOfLastReply = 0
        Self.appendFrame(payload, binary: binary, to: &lastReply)
        return lastReply
    }

    /// Frames console output (`O` packets) or another message sent while a reply is still outstanding, without
    /// replacing the remembered reply, with the same escaping rules as `frame`.
    ///
    /// A NAK after such a message still resends the remembered reply: the channel keeps a single reply to resend,
    /// and the one that answers gdb's request is the one gdb cannot go on without.
    public func frameNotification(_ payload: some Collection<UInt8>, binary: Bool = false) -> [UInt8] {
        var framed: [UInt8] = []
        Self.appendFrame(payload, binary: binary, to: &framed)
        return framed
    }

    /// Writes `$`, the payload (escaped if `binary`) and `#cs`, checksumming as it writes so the payload is read
    /// only once.
    private static func appendFrame(_ payload: some Collection<UInt8>, binary: Bool, to framed: inout [UInt8]) {
        framed.reserveCapacity(framed.count + payload.count + 4)
        framed.append(ASCII.packetStart)
        // A text reply (hex, the common case) is copied whole and summed over a plain buffer: iterating a generic
        // collection across the module boundary costs a witness call per byte.
        if !binary, let sum = payload.withContiguousStorageIfAvailable({ buffer -> UInt8 in
            framed.append(contentsOf: buffer)
            return buffer.reduce(0, &+)
        }) {
            framed.append(ASCII.checksumStart)
            Hex.encode(CollectionOfOne(sum), into: &framed)
            return
        }
        var sum: UInt8 = 0
        for byte in payload {
            if binary && needsEscape(byte) {
                let escaped = byte ^ ASCII.escapeXOR
                framed.append(ASCII.escape)
                framed.append(escaped)
                sum &+= ASCII.escape &+ escaped
            } else {
                framed.append(byte)
                sum &+= byte
            }
        }
        framed.append(ASCII.checksumStart)
        Hex.encode(CollectionOfOne(sum), into: &framed)
    }
}

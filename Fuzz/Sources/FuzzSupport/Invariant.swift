import RSP

/// A broken invariant: printed, then a trap, which libFuzzer reports as a crash and saves the input for.
public func invariant(
    _ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line
) {
    guard !condition else { return }
    print("INVARIANT BROKEN at \(file):\(line): \(message())")
    fatalError("invariant broken: \(message())")
}

/// What a stub may write to gdb: `+`, `-`, and `$payload#cs` frames with a right checksum.
public enum StubOutput {
    public struct Frame {
        /// As transmitted: still escaped, as the checksum and the PacketSize count it.
        public let payload: ArraySlice<UInt8>
    }

    /// Splits `bytes` into acks and frames, checking each frame: `$`, no `$` inside, `#`, two lowercase hex digits
    /// that are the checksum, and a payload of at most `maxPayload` bytes. In no-ack mode no ack may appear.
    @discardableResult
    public static func check(_ bytes: [UInt8], maxPayload: Int, acksAllowed: Bool = true) -> [Frame] {
        var frames: [Frame] = []
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                invariant(acksAllowed, "an ack or NAK in no-ack mode")
                i += 1
            case UInt8(ascii: "$"):
                guard let hash = bytes[(i + 1)...].firstIndex(of: UInt8(ascii: "#")) else {
                    invariant(false, "a frame without '#': \(String(decoding: bytes[i...].prefix(80), as: UTF8.self))")
                    return frames
                }
                let payload = bytes[(i + 1)..<hash]
                invariant(!payload.contains(UInt8(ascii: "$")), "an unescaped '$' inside a frame")
                invariant(hash + 2 < bytes.count, "a frame cut after '#'")
                let digits = bytes[(hash + 1)...(hash + 2)]
                invariant(
                    Array(digits) == Hex.encode([checksum(payload)]),
                    "checksum \(String(decoding: digits, as: UTF8.self)) is wrong")
                invariant(
                    payload.count <= maxPayload,
                    "a \(payload.count)-byte reply exceeds PacketSize \(maxPayload): \(String(decoding: payload.prefix(40), as: UTF8.self))…"
                )
                frames.append(Frame(payload: payload))
                i = hash + 3
            default:
                invariant(false, "stray byte 0x\(String(bytes[i], radix: 16)) outside any frame")
                i += 1
            }
        }
        return frames
    }
}

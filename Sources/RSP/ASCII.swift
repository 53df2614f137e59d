/// The bytes that carry meaning in RSP framing, named so the state machine reads like the protocol description
/// ("Overview" in gdb's Remote Protocol appendix) instead of as a list of magic numbers.
enum ASCII {
    static let packetStart = UInt8(ascii: "$")
    static let checksumStart = UInt8(ascii: "#")
    static let escape = UInt8(ascii: "}")
    static let runLength = UInt8(ascii: "*")
    static let ack = UInt8(ascii: "+")
    static let nak = UInt8(ascii: "-")
    /// Ctrl-C: what gdb sends, outside any packet, to stop a running target.
    static let interrupt: UInt8 = 0x03
    /// An escaped byte travels as `}` followed by the byte XOR this value.
    static let escapeXOR: UInt8 = 0x20
}

/// Cuts one fuzzer input into the chunks a socket might deliver it in.
///
/// The cut points come from a small xorshift generator seeded by `seed`, so one input always replays the same way
/// (a crash reproduces from its file alone) while different seeds give splits at every byte, single-byte chunks
/// and whole-input chunks alike.
public struct Chunks: Sequence, IteratorProtocol {
    private let bytes: [UInt8]
    private var offset = 0
    private var state: UInt64

    public init(_ bytes: [UInt8], seed: UInt8) {
        self.bytes = bytes
        // Never zero: xorshift would stay at zero.
        state = 0x9e37_79b9_7f4a_7c15 ^ UInt64(seed) &* 0x1000_0000_01b3 | 1
    }

    public mutating func next() -> ArraySlice<UInt8>? {
        guard offset < bytes.count else { return nil }
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        // Mostly short chunks (a packet split mid-frame), sometimes up to 512 bytes (several packets at once).
        let limit = state & 0x30 == 0 ? 512 : 8
        let length = Swift.min(bytes.count - offset, Int(state >> 40) % limit + 1)
        defer { offset += length }
        return bytes[offset..<offset + length]
    }
}

/// ASCII hexadecimal, the encoding of almost every number and every non-binary byte string in RSP.
///
/// Encoding is lowercase because that is what gdb and gdbserver send; decoding accepts either case because the
/// protocol does not forbid uppercase and some clients send it.
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The bytes as lowercase hex digit pairs, e.g. `[0xde, 0xad]` → `"dead"`.
    public static func encode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var ascii: [UInt8] = []
        ascii.reserveCapacity(bytes.count * 2)
        encode(bytes, into: &ascii)
        return ascii
    }

    /// Appends the hex encoding of `bytes` to `ascii`, so a reply can be assembled in one reused buffer.
    public static func encode(_ bytes: some Collection<UInt8>, into ascii: inout [UInt8]) {
        // Generic code called from another module is not specialized: iterating `some Collection` costs a
        // witness call per byte (measured: 110 ns a byte on a 4 KiB `m`). Contiguous input, which is all of it
        // in practice, takes a loop over a plain buffer instead.
        if bytes.withContiguousStorageIfAvailable({ encodeBuffer($0, into: &ascii) }) != nil { return }
        for byte in bytes {
            ascii.append(digits[Int(byte >> 4)])
            ascii.append(digits[Int(byte & 0x0f)])
        }
    }

    private static func encodeBuffer(_ buffer: UnsafeBufferPointer<UInt8>, into ascii: inout [UInt8]) {
        let start = ascii.count
        ascii.append(contentsOf: repeatElement(0, count: buffer.count * 2))
        ascii.withUnsafeMutableBufferPointer { out in
            digits.withUnsafeBufferPointer { d in
                var o = start
                for byte in buffer {
                    out[o] = d[Int(byte >> 4)]
                    out[o + 1] = d[Int(byte & 0x0f)]
                    o += 2
                }
            }
        }
    }

    /// The bytes a string of hex digit pairs stands for (`M` and `G` data, `qRcmd` commands), or nil if the
    /// length is odd or a character is not a hex digit: half a byte or a stray character means a corrupt request,
    /// which the session should answer with an error rather than act on.
    public static func decode(_ ascii: some Collection<UInt8>) -> [UInt8]? {
        guard ascii.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ascii.count / 2)
        var high: UInt8? = nil
        for character in ascii {
            guard let nibble = digitValue(character) else { return nil }
            if let pending = high {
                bytes.append(pending << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return bytes
    }

    /// A big-endian hex number such as the address and length in `m1000,4`, or nil if it is empty, contains a
    /// non-hex character, or does not fit in 64 bits.
    ///
    /// Leading zeros are accepted however many there are; only the value has to fit.
    public static func parseUInt64(_ ascii: some Collection<UInt8>) -> UInt64? {
        guard !ascii.isEmpty else { return nil }
        var value: UInt64 = 0
        for character in ascii {
            guard let nibble = digitValue(character), value >> 60 == 0 else { return nil }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    /// The value of one hex digit in either case, or nil.
    static func digitValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

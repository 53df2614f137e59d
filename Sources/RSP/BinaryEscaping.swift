/// Reverses the binary escaping of `X`, `vFile:pwrite` and `qXfer:…:write` data: `}` followed by `x` stands for
/// `x ^ 0x20`.
///
/// Returns nil if the data ends in a lone `}`: the escaped byte was lost, and writing the data anyway would put
/// wrong bytes into guest memory.
public func unescapeBinary(_ bytes: some Collection<UInt8>) -> [UInt8]? {
    var data: [UInt8] = []
    data.reserveCapacity(bytes.count)
    var escaping = false
    for byte in bytes {
        if escaping {
            data.append(byte ^ ASCII.escapeXOR)
            escaping = false
        } else if byte == ASCII.escape {
            escaping = true
        } else {
            data.append(byte)
        }
    }
    return escaping ? nil : data
}

/// Expands gdb's run-length encoding: `x*n` stands for `x` followed by `n - 29` more copies of `x` (`n` is a
/// printable character, so `"0* "` is `"0000"`).
///
/// gdb never sends run-length encoded packets to a stub and this stub never produces them; the decoder exists so
/// tests can read transcripts taken from other stubs. Like gdb's `read_frame`, it repeats the last byte produced
/// so far and rejects (nil) a `*` with nothing before it, a `*` with no count after it, and a count that repeats
/// nothing.
public func decodeRunLength(_ bytes: some Collection<UInt8>) -> [UInt8]? {
    /// `' '` (32) means three more copies, so the count is the character minus 29.
    let countBias = 29
    var decoded: [UInt8] = []
    decoded.reserveCapacity(bytes.count)
    var expectingCount = false
    for byte in bytes {
        if expectingCount {
            let repeats = Int(byte) - countBias
            guard repeats > 0, let last = decoded.last else { return nil }
            decoded.append(contentsOf: repeatElement(last, count: repeats))
            expectingCount = false
        } else if byte == ASCII.runLength {
            guard !decoded.isEmpty else { return nil }
            expectingCount = true
        } else {
            decoded.append(byte)
        }
    }
    return expectingCount ? nil : decoded
}

/// Whether `byte` must travel escaped in binary data.
///
/// `$` and `#` would end the frame, `}` would start an escape, and `*` would be taken for run-length encoding by
/// gdb's `read_frame`, which expands `*` in every reply before it looks at escapes.
func needsEscape(_ byte: UInt8) -> Bool {
    byte == ASCII.packetStart || byte == ASCII.checksumStart || byte == ASCII.escape || byte == ASCII.runLength
}

import RSP

/// `m`, `M`, `X`: guest-virtual memory as the `Hg` thread sees it.
extension Session {
    /// The most bytes one `m` reply carries: two hex digits each must fit the advertised packet size.
    var maxMemoryReadLength: UInt64 { UInt64(maxPacketSize / 2) }

    /// `m addr,length`: the readable prefix (gdb asks again from where it stopped), `E14` if the first byte is
    /// not readable.
    func readMemory(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        let (address, requested) = try addressAndLength(body)
        try checkRange(address, requested)
        // A length of zero asks for nothing, and nothing is the answer.
        guard requested > 0 else { return .reply }
        let length = Int(min(requested, maxMemoryReadLength))
        let bytes: [UInt8]
        do {
            bytes = try target.readMemory(at: address, count: length, thread: generalThread)
        } catch {
            throw targetFailure(error)
        }
        guard !bytes.isEmpty else { throw .code(14) }
        reply.reserveCapacity(length * 2)
        Hex.encode(bytes.prefix(length), into: &reply)
        return .reply
    }

    /// `x addr,length` (lldb's binary read; `x0,0` is its probe, answered `OK`): the readable prefix as raw bytes,
    /// escaped by the framing, as many as fit the packet once escaped. Raw, without gdb 16's `b` prefix: that
    /// form is only for a client told `binary-upload+`, which `qSupported` does not offer, and lldb before 20
    /// knows only this one.
    func readBinaryMemory(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        let (address, requested) = try addressAndLength(body)
        try checkRange(address, requested)
        guard requested > 0 else {
            appendASCII("OK")
            return .reply
        }
        let length = Int(min(requested, UInt64(maxPacketSize - 1)))
        let bytes: [UInt8]
        do {
            bytes = try target.readMemory(at: address, count: length, thread: generalThread)
        } catch {
            throw targetFailure(error)
        }
        guard !bytes.isEmpty else { throw .code(14) }
        var budget = maxPacketSize - 1
        for byte in bytes.prefix(length) {
            let cost =
                [UInt8(ascii: "$"), UInt8(ascii: "#"), UInt8(ascii: "}"), UInt8(ascii: "*")].contains(byte) ? 2 : 1
            guard cost <= budget else { break }
            budget -= cost
            reply.append(byte)
        }
        return .binaryReply
    }

    /// `M addr,length:XX…`.
    func writeMemory(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        guard let (range, digits) = body.split(at: UInt8(ascii: ":")) else { throw .malformed }
        let (address, length) = try addressAndLength(range)
        guard let bytes = Hex.decode(digits), UInt64(bytes.count) == length else { throw .malformed }
        return try write(bytes, at: address)
    }

    /// `X addr,length:binary`: the data is escaped (`}` + byte ^ 0x20); `X addr,0:` is gdb's probe for the packet.
    func writeBinaryMemory(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        guard let (range, escaped) = body.split(at: UInt8(ascii: ":")) else { throw .malformed }
        let (address, length) = try addressAndLength(range)
        guard let bytes = unescapeBinary(escaped), UInt64(bytes.count) == length else { throw .malformed }
        return try write(bytes, at: address)
    }

    private func write(_ bytes: [UInt8], at address: UInt64) throws(RequestError) -> Outcome {
        try checkRange(address, UInt64(bytes.count))
        if !bytes.isEmpty {
            do {
                try target.writeMemory(at: address, bytes: bytes, thread: generalThread)
            } catch {
                throw targetFailure(error)
            }
        }
        appendASCII("OK")
        return .reply
    }
}

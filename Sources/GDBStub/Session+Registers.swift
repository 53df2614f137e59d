import RSP
import Registers

/// `g`, `G`, `p`, `P`: registers of the `Hg` thread, laid out by the register table.
extension Session {
    /// `g`: registers 0 ..< gPacketCount; one the target cannot read shows as `xx` per byte, never as zeros.
    func readGeneralRegisters(_ packetBody: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        let (body, thread) = try registerThread(packetBody)
        guard body.isEmpty else { throw .malformed }
        reply.reserveCapacity(registerTable.gPacketByteCount * 2)
        for register in registerTable.gRegisters {
            try appendRegisterValue(register, thread: thread)
        }
        return .reply
    }

    /// `G XX…`: the whole `g` block; every register whose digits are all `x` is left alone.
    func writeGeneralRegisters(_ packetBody: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        let (body, thread) = try registerThread(packetBody)
        guard body.count == registerTable.gPacketByteCount * 2 else { throw .malformed }
        // Decode everything before writing anything: a bad digit at the end must not leave half the block written.
        var values: [(regnum: Int, value: [UInt8])] = []
        values.reserveCapacity(registerTable.gPacketCount)
        var start = body.startIndex
        for register in registerTable.gRegisters {
            let end = start + register.byteSize * 2
            let digits = body[start..<end]
            start = end
            if digits.allSatisfy({ $0 == UInt8(ascii: "x") }) { continue }
            guard let value = Hex.decode(digits) else { throw .malformed }
            values.append((register.regnum, value))
        }
        for (regnum, value) in values {
            do {
                try target.writeRegister(regnum, value: value, thread: thread)
            } catch {
                throw targetFailure(error)
            }
        }
        appendASCII("OK")
        return .reply
    }

    /// `p n`: any register of the table, inside the `g` block or not.
    func readRegister(_ packetBody: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        let (body, thread) = try registerThread(packetBody)
        guard let register = registerTable[try hexCount(body)] else { throw .malformed }
        try appendRegisterValue(register, thread: thread)
        return .reply
    }

    /// `P n=value`: the value must be exactly the register's size.
    func writeRegister(_ packetBody: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        let (body, thread) = try registerThread(packetBody)
        guard let (number, digits) = body.split(at: UInt8(ascii: "=")),
            let register = registerTable[try hexCount(number)],
            digits.count == register.byteSize * 2,
            let value = Hex.decode(digits)
        else { throw .malformed }
        do {
            try target.writeRegister(register.regnum, value: value, thread: thread)
        } catch {
            throw targetFailure(error)
        }
        appendASCII("OK")
        return .reply
    }

    /// Appends one register's value in hex, `xx…` when unavailable.
    func appendRegisterValue(_ register: RegisterDescriptor, thread: Int) throws(RequestError) {
        let value: [UInt8]?
        do {
            value = try target.readRegister(register.regnum, thread: thread)
        } catch {
            throw targetFailure(error)
        }
        appendValue(value, size: register.byteSize, to: &reply)
    }

    /// A value of `size` bytes in hex. A longer value is cut (the kernel's eflags is 8 bytes, gdb's 4); a shorter
    /// one cannot be trusted and shows as unavailable rather than shifting every register after it.
    func appendValue(_ value: [UInt8]?, size: Int, to buffer: inout [UInt8]) {
        if let value, value.count >= size {
            Hex.encode(value.prefix(size), into: &buffer)
        } else {
            buffer.append(contentsOf: repeatElement(UInt8(ascii: "x"), count: size * 2))
        }
    }

    /// Turns a target's error into the reply, sending a `.failed` message to the diagnostics.
    func targetFailure(_ error: TargetError) -> RequestError {
        if case .failed(let message) = error { diagnostics("kvmstub: \(message)") }
        lldb.errorText = error.message
        return RequestError(error)
    }
}

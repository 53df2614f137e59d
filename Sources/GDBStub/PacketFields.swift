import RSP

/// Field parsing straight from the received bytes: no String on the hot path (`g`, `m`, `c`, `s`, `Z`), and
/// every failure is a `RequestError.malformed` (E22) rather than a trap.
extension ArraySlice where Element == UInt8 {
    /// The bytes before and after the first `separator`, or nil if there is none.
    func split(at separator: UInt8) -> (head: ArraySlice<UInt8>, tail: ArraySlice<UInt8>)? {
        guard let index = firstIndex(of: separator) else { return nil }
        return (self[startIndex..<index], self[(index + 1)...])
    }

    func hasPrefix(_ prefix: [UInt8]) -> Bool {
        starts(with: prefix)
    }

    /// The bytes after `prefix`, or nil if they do not start with it.
    func dropping(_ prefix: [UInt8]) -> ArraySlice<UInt8>? {
        starts(with: prefix) ? dropFirst(prefix.count) : nil
    }

    func equals(_ other: [UInt8]) -> Bool {
        elementsEqual(other)
    }
}

extension Session {
    /// A hex number filling the whole field: empty, a stray character or more than 64 bits is malformed.
    func hexNumber(_ field: ArraySlice<UInt8>) throws(RequestError) -> UInt64 {
        guard let value = Hex.parseUInt64(field) else { throw .malformed }
        return value
    }

    /// A hex count that must also fit an Int (lengths, register numbers, breakpoint kinds).
    func hexCount(_ field: ArraySlice<UInt8>) throws(RequestError) -> Int {
        guard let value = Int(exactly: try hexNumber(field)) else { throw .malformed }
        return value
    }

    /// `addr,length`, both hex.
    func addressAndLength(_ field: ArraySlice<UInt8>) throws(RequestError) -> (address: UInt64, length: UInt64) {
        guard let (address, length) = field.split(at: UInt8(ascii: ",")) else { throw .malformed }
        return (try hexNumber(address), try hexNumber(length))
    }

    /// A range of `length` bytes at `address` whose last byte does not wrap past 2^64 - 1 (E14 otherwise: gdb
    /// never asks for a wrapping range, and the target must never be asked for one).
    func checkRange(_ address: UInt64, _ length: UInt64) throws(RequestError) {
        guard length > 0 else { return }
        let (_, overflow) = address.addingReportingOverflow(length - 1)
        if overflow { throw .code(14) }
    }

    /// A thread id as gdb writes it: hex, or `-1` for all threads. Not validated against the target here.
    func threadIDField(_ field: ArraySlice<UInt8>) throws(RequestError) -> Int {
        if field.equals(minusOne) { return -1 }
        guard let value = Int(exactly: try hexNumber(field)), value <= Int(Int32.max) else { throw .malformed }
        return value
    }

    /// A thread the target has.
    func knownThread(_ id: Int) -> Bool {
        target.threadIDs.contains(id)
    }
}

private let minusOne: [UInt8] = Array("-1".utf8)

/// Appends `value` in lowercase hex with no leading zeros beyond `minimumDigits`.
func appendHex(_ value: UInt64, to buffer: inout [UInt8], minimumDigits: Int = 1) {
    let significant = value == 0 ? 1 : (67 - value.leadingZeroBitCount) / 4
    var shift = max(significant, minimumDigits) * 4
    while shift > 0 {
        shift -= 4
        let nibble = shift >= 64 ? 0 : UInt8(truncatingIfNeeded: value >> UInt64(shift)) & 0x0f
        buffer.append(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
    }
}

extension Array where Element == UInt8 {
    init(ascii text: StaticString) {
        self = text.withUTF8Buffer { Array($0) }
    }
}

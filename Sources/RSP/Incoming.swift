/// What the channel hands to the session: one complete, checksum-verified packet, or a Ctrl-C.
public enum Incoming: Equatable, Sendable {
    /// The payload between `$` and `#`, exactly as transmitted.
    ///
    /// It is left escaped because only the packets that carry binary data (`X`, `vFile:pwrite`, …) are escaped,
    /// and only the session knows which part of those is data; it unescapes that part with `unescapeBinary`.
    case packet([UInt8])
    /// A raw 0x03 byte (Ctrl-C) outside any binary data: gdb asks the running target to stop.
    case interrupt
}

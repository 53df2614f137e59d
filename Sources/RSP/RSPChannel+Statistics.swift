extension RSPChannel {
    /// Counters for what the channel has seen, so a session can log why gdb and the stub disagree (a noisy link
    /// shows as bad checksums and NAKs, a too small `PacketSize` as oversized drops) without the channel logging.
    public struct Statistics: Equatable, Sendable {
        /// Complete packets with a good checksum, handed to the session.
        public internal(set) var packetsReceived = 0
        /// Packets dropped because the checksum did not match or its digits were not hex.
        public internal(set) var badChecksums = 0
        /// Packets dropped because their payload was longer than `maxPacketSize`.
        public internal(set) var oversizedDropped = 0
        /// Unfinished packets discarded because a new `$` started another one.
        public internal(set) var abandonedPackets = 0
        /// Ctrl-C bytes reported as `.interrupt`.
        public internal(set) var interrupts = 0
        /// Bytes between packets that were neither an ack, a NAK, an interrupt nor a `$`.
        public internal(set) var ignoredBytes = 0
        /// `-` bytes received from gdb while acks were on.
        public internal(set) var naksReceived = 0
        /// Replies sent again because of a NAK (fewer than `naksReceived` if a NAK came before any reply, or more
        /// than `RSPChannel.maxResends` came for one reply).
        public internal(set) var resends = 0

        public init() {}
    }
}

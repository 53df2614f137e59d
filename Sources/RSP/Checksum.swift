/// The RSP checksum: the sum of the bytes modulo 256.
///
/// It is taken over the bytes as they travel, that is after escaping, because that is what the receiver sees
/// before it knows which bytes are escapes.
public func checksum(_ bytes: some Collection<UInt8>) -> UInt8 {
    bytes.reduce(0, &+)
}

import Testing

import RSP

struct ChecksumTests {
    @Test func knownPackets() {
        #expect(checksum(ascii("g")) == 0x67)
        #expect(checksum(ascii("qSupported")) == 0x37)
        #expect(checksum(ascii("OK")) == 0x9a)
        #expect(checksum([UInt8]()) == 0)
    }

    @Test func wrapsModulo256() {
        #expect(checksum([0xff, 0x02]) == 0x01)
        #expect(checksum([UInt8](repeating: 0x80, count: 4)) == 0)
    }
}

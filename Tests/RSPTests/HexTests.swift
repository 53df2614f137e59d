import Testing

import RSP

struct HexTests {
    @Test func encodeIsLowercasePairs() {
        #expect(Hex.encode([0x00, 0x0f, 0xde, 0xad, 0xff]) == ascii("000fdeadff"))
        #expect(Hex.encode([UInt8]()) == [])
    }

    @Test func encodeIntoAppends() {
        var reply = ascii("m")
        Hex.encode([0x12, 0xab], into: &reply)
        #expect(reply == ascii("m12ab"))
    }

    @Test func decodeAcceptsEitherCase() {
        #expect(Hex.decode(ascii("000fDEadff")) == [0x00, 0x0f, 0xde, 0xad, 0xff])
        #expect(Hex.decode([UInt8]()) == [])
    }

    @Test func decodeRejectsOddLengthAndNonHex() {
        #expect(Hex.decode(ascii("abc")) == nil)
        #expect(Hex.decode(ascii("0g")) == nil)
        #expect(Hex.decode(ascii("zz")) == nil)
        #expect(Hex.decode(ascii("12 4")) == nil)
    }

    @Test func parseUInt64Values() {
        #expect(Hex.parseUInt64(ascii("1000")) == 0x1000)
        #expect(Hex.parseUInt64(ascii("0")) == 0)
        #expect(Hex.parseUInt64(ascii("DEADbeef")) == 0xdead_beef)
        #expect(Hex.parseUInt64(ascii("ffffffffffffffff")) == UInt64.max)
        #expect(Hex.parseUInt64(ascii("00000000000000000001")) == 1)
    }

    @Test func parseUInt64Rejects() {
        #expect(Hex.parseUInt64([UInt8]()) == nil)
        #expect(Hex.parseUInt64(ascii("10000000000000000")) == nil)
        #expect(Hex.parseUInt64(ascii("12x")) == nil)
        #expect(Hex.parseUInt64(ascii("-1")) == nil)
        #expect(Hex.parseUInt64(ascii(" 1")) == nil)
    }

    /// The parser takes slices, as the session hands it pieces of a packet such as the address in `m1000,4`.
    @Test func parseUInt64OfASlice() {
        let packet = ascii("m1000,4")
        let comma = packet.firstIndex(of: UInt8(ascii: ","))!
        #expect(Hex.parseUInt64(packet[1..<comma]) == 0x1000)
        #expect(Hex.parseUInt64(packet[(comma + 1)...]) == 4)
    }
}

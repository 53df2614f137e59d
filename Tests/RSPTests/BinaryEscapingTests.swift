import Testing

import RSP

struct BinaryEscapingTests {
    @Test func unescapeRestoresSpecialBytes() {
        #expect(unescapeBinary(ascii("}") + [0x03] + ascii("}") + [0x04] + ascii("}]}") + [0x0a]) == ascii("#$}*"))
        #expect(unescapeBinary(ascii("}}")) == ascii("]"))
        #expect(unescapeBinary([0x00, 0x03, 0xff]) == [0x00, 0x03, 0xff])
        #expect(unescapeBinary([UInt8]()) == [])
    }

    @Test func unescapeRejectsTrailingEscape() {
        #expect(unescapeBinary(ascii("ab}")) == nil)
        #expect(unescapeBinary(ascii("}")) == nil)
    }

    @Test func runLengthRepeatsThePreviousByte() {
        #expect(decodeRunLength(ascii("0* ")) == ascii("0000"))
        #expect(decodeRunLength(ascii("a*!b")) == ascii("aaaaab"))
        #expect(decodeRunLength(ascii("ab* c")) == ascii("abbbbc"))
        #expect(decodeRunLength(ascii("x*~")) == [UInt8](repeating: UInt8(ascii: "x"), count: 98))
        #expect(decodeRunLength(ascii("0* * ")) == ascii("0000000"))
        #expect(decodeRunLength(ascii("plain")) == ascii("plain"))
    }

    @Test func runLengthRejectsMalformedRuns() {
        #expect(decodeRunLength(ascii("*a")) == nil)
        #expect(decodeRunLength(ascii("a*")) == nil)
        #expect(decodeRunLength(ascii("a*") + [29]) == nil)
    }
}

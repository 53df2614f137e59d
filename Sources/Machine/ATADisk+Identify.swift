/// IDENTIFY DEVICE: what a driver learns of the disk before it reads it.
extension ATADisk {
    static let model = "KVMSTUB ATA PIO DISK"
    static let serial = "KVMSTUB-0001"
    static let firmware = "1.0"

    /// IDENTIFY DEVICE's 256 words (ATA8-ACS table 45), the fields a course's driver reads: the model (27–46),
    /// LBA support (49 bit 9), the LBA28 size (60–61), and a CHS geometry for the old words (1, 3, 6).
    /// Strings are ASCII, two characters a word, the first in the high byte: in memory each pair reads swapped.
    func identifyData() -> [UInt8] {
        var words = [UInt16](repeating: 0, count: 256)
        let heads = 16
        let perTrack = 63
        let cylinders = min(sectors / (heads * perTrack), 16383)
        words[0] = 0x0040  // an ATA device, not removable
        words[1] = UInt16(cylinders)
        words[3] = UInt16(heads)
        words[6] = UInt16(perTrack)
        func put(_ text: String, at word: Int, words count: Int) {
            let chars = Array(text.utf8) + [UInt8](repeating: 0x20, count: max(0, 2 * count - text.utf8.count))
            for i in 0..<count { words[word + i] = UInt16(chars[2 * i]) << 8 | UInt16(chars[2 * i + 1]) }
        }
        put(Self.serial, at: 10, words: 10)
        put(Self.firmware, at: 23, words: 4)
        put(Self.model, at: 27, words: 20)
        words[47] = 0x8000  // READ/WRITE MULTIPLE: not served (0 sectors)
        words[49] = 0x0200  // LBA supported
        words[53] = 0x0001  // words 54–58 are valid
        words[54] = UInt16(cylinders)
        words[55] = UInt16(heads)
        words[56] = UInt16(perTrack)
        let chs = cylinders * heads * perTrack
        words[57] = UInt16(truncatingIfNeeded: chs)
        words[58] = UInt16(truncatingIfNeeded: chs >> 16)
        words[60] = UInt16(truncatingIfNeeded: sectors)
        words[61] = UInt16(truncatingIfNeeded: sectors >> 16)
        words[80] = 0x0070  // ATA/ATAPI-4, -5, -6
        words[82] = 0x4000  // NOP (the word's bit 14 is "valid")
        words[83] = 0x4000  // no LBA48
        words[84] = 0x4000
        return words.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)] }
    }
}

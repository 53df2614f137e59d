/// The ELF `e_machine` values kvmstub's VMMs run.
package enum ELFMachine: UInt16, Sendable, CaseIterable {
    case x86_64 = 62  // EM_X86_64
    case aarch64 = 183  // EM_AARCH64

    package var name: String {
        switch self {
        case .x86_64: "x86-64"
        case .aarch64: "AArch64"
        }
    }
}

/// An ELF64 little-endian executable, parsed enough to load it: the entry point and the PT_LOAD segments, for
/// the x86 VMM (Machine) and the arm64 one (ARM64VMM), each asking for its own `e_machine`.
/// Every field is bounds-checked; a bad file is a `LoadError` whose description is one line for stderr.
package struct ELFImage: Sendable {
    package struct Segment: Sendable {
        package let physicalAddress: UInt64
        package let fileOffset: Int
        package let fileSize: Int
        package let memorySize: Int
        /// PF_X: the segment holds code (its pages are fetched from).
        package var executable = false
    }

    package let entry: UInt64
    package let segments: [Segment]
    package let bytes: [UInt8]
    /// Symbols from .symtab (name → value), for entries such as the secondary-vCPU entry point.
    package let symbols: [String: UInt64]

    package init(bytes: [UInt8], name: String = "image", machine: ELFMachine = .x86_64) throws(LoadError) {
        func u16(_ o: Int) -> UInt16? {
            o >= 0 && o + 2 <= bytes.count ? UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 : nil
        }
        func u32(_ o: Int) -> UInt32? {
            guard o >= 0, o + 4 <= bytes.count else { return nil }
            return (0..<4).reduce(0) { $0 | UInt32(bytes[o + $1]) << (8 * $1) }
        }
        func u64(_ o: Int) -> UInt64? {
            guard o >= 0, o + 8 <= bytes.count else { return nil }
            return (0..<8).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * $1) }
        }
        guard bytes.count >= 64, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else {
            throw LoadError("\(name) is not an ELF file")
        }
        guard bytes[4] == 2, bytes[5] == 1 else { throw LoadError("\(name) is not a 64-bit little-endian ELF file") }
        guard let m = u16(18), m == machine.rawValue else {
            let other = u16(18).flatMap(ELFMachine.init(rawValue:)).map { ": it is an \($0.name) executable" } ?? ""
            throw LoadError("\(name) is not an \(machine.name) ELF file (e_machine \(u16(18) ?? 0))\(other)")
        }
        guard u16(16) == 2 else {
            throw LoadError("\(name) is not an ELF executable (e_type \(u16(16) ?? 0); want ET_EXEC)")
        }
        guard let entry = u64(24), let phoff = u64(32), let phentsize = u16(54), let phnum = u16(56),
            phentsize >= 56, phoff < UInt64(bytes.count)
        else { throw LoadError("\(name) has a malformed ELF header") }
        var segments: [Segment] = []
        for i in 0..<Int(phnum) {
            let o = Int(phoff) + i * Int(phentsize)
            guard let type = u32(o), let flags = u32(o + 4), let offset = u64(o + 8), let paddr = u64(o + 24), let filesz = u64(o + 32),
                let memsz = u64(o + 40)
            else { throw LoadError("\(name): program header \(i) lies outside the file") }
            guard type == 1 else { continue }  // PT_LOAD
            guard filesz <= memsz, offset <= UInt64(bytes.count), filesz <= UInt64(bytes.count) - offset,
                memsz < 1 << 40
            else { throw LoadError("\(name): PT_LOAD segment \(i) is malformed (offset/size outside the file)") }
            segments.append(
                Segment(
                    physicalAddress: paddr, fileOffset: Int(offset), fileSize: Int(filesz), memorySize: Int(memsz),
                    executable: flags & 1 != 0))
        }
        guard !segments.isEmpty else { throw LoadError("\(name) has no PT_LOAD segment") }
        self.entry = entry
        self.segments = segments
        self.bytes = bytes
        self.symbols = Self.readSymbols(bytes, u16: u16, u32: u32, u64: u64)
    }

    private static func readSymbols(
        _ bytes: [UInt8], u16: (Int) -> UInt16?, u32: (Int) -> UInt32?, u64: (Int) -> UInt64?
    ) -> [String: UInt64] {
        guard let shoff = u64(40), let shentsize = u16(58), let shnum = u16(60), shentsize >= 64, shoff > 0 else {
            return [:]
        }
        var result: [String: UInt64] = [:]
        for i in 0..<Int(shnum) {
            let o = Int(shoff) + i * Int(shentsize)
            guard o >= 0, let type = u32(o + 4), type == 2,  // SHT_SYMTAB
                let offset = u64(o + 24), let size = u64(o + 32), let link = u32(o + 40)
            else { continue }
            let so = Int(shoff) + Int(link) * Int(shentsize)
            guard let strOffset = u64(so + 24), let strSize = u64(so + 32) else { continue }
            var s = Int(offset)
            while s + 24 <= Int(offset + size), s + 24 <= bytes.count {
                if let nameIndex = u32(s), let value = u64(s + 8), nameIndex > 0, UInt64(nameIndex) < strSize {
                    var e = Int(strOffset) + Int(nameIndex)
                    let start = e
                    while e < bytes.count, bytes[e] != 0 { e += 1 }
                    if start < bytes.count { result[String(decoding: bytes[start..<e], as: UTF8.self)] = value }
                }
                s += 24
            }
        }
        return result
    }
}

/// A problem with what the user asked to load: one line on stderr, exit status 1.
package struct LoadError: Error, CustomStringConvertible, Sendable {
    package let description: String
    package init(_ description: String) { self.description = description }
}

import GuestImage
import Testing

/// The loader's choice by e_machine: an AArch64 image for the arm64 VMM, anything else one line of refusal.
struct ELFImageTests {
    /// A minimal ELF64 executable: one PT_LOAD of `code` at `address`, entry there.
    static func image(machine: UInt16, address: UInt64 = 0x4000_0000, code: [UInt8] = [0x1f, 0x20, 0x03, 0xd5])
        -> [UInt8]
    {
        var b = [UInt8](repeating: 0, count: 64 + 56)
        func put(_ v: UInt64, _ at: Int, _ n: Int) {
            for i in 0..<n { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
        }
        b[0...3] = [0x7f, 0x45, 0x4c, 0x46]
        b[4] = 2
        b[5] = 1
        b[6] = 1
        put(2, 16, 2)  // ET_EXEC
        put(UInt64(machine), 18, 2)
        put(address, 24, 8)  // e_entry
        put(64, 32, 8)  // e_phoff
        put(56, 54, 2)
        put(1, 56, 2)
        put(1, 64, 4)  // PT_LOAD
        put(120, 64 + 8, 8)  // p_offset
        put(address, 64 + 16, 8)
        put(address, 64 + 24, 8)
        put(UInt64(code.count), 64 + 32, 8)
        put(UInt64(code.count) + 16, 64 + 40, 8)
        return b + code
    }

    @Test func anAArch64ExecutableLoads() throws {
        let elf = try ELFImage(bytes: Self.image(machine: 183), name: "hello", machine: .aarch64)
        #expect(elf.entry == 0x4000_0000)
        #expect(elf.segments.count == 1)
        #expect(elf.segments[0].physicalAddress == 0x4000_0000)
        #expect(elf.segments[0].fileSize == 4 && elf.segments[0].memorySize == 20)
    }

    @Test func theWrongArchitectureIsOneLineThatNamesIt() {
        do {
            _ = try ELFImage(bytes: Self.image(machine: 62), name: "x86.elf", machine: .aarch64)
            Issue.record("an x86-64 image was accepted as AArch64")
        } catch {
            #expect(
                error.description == "x86.elf is not an AArch64 ELF file (e_machine 62): it is an x86-64 executable")
        }
        do {
            _ = try ELFImage(bytes: Self.image(machine: 183), name: "a.elf")
            Issue.record("an AArch64 image was accepted as x86-64")
        } catch {
            #expect(error.description == "a.elf is not an x86-64 ELF file (e_machine 183): it is an AArch64 executable")
        }
        do {
            _ = try ELFImage(bytes: Self.image(machine: 21), name: "ppc.elf", machine: .aarch64)
            Issue.record("a ppc64 image was accepted")
        } catch {
            #expect(error.description == "ppc.elf is not an AArch64 ELF file (e_machine 21)")
        }
    }

    @Test func aTruncatedFileIsRefused() {
        #expect(throws: LoadError.self) {
            try ELFImage(bytes: Array(Self.image(machine: 183).prefix(100)), name: "cut", machine: .aarch64)
        }
        #expect(throws: LoadError.self) { try ELFImage(bytes: [0x7f, 0x45], name: "tiny", machine: .aarch64) }
    }
}

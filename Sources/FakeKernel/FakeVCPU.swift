import Glibc
import KVM
import Registers

// The FakeKernel module is a FAKE KERNEL FOR TESTS. There is no arm64 or ppc64 KVM on the x86 machines this
// project runs on, so this module stands in for one: in-memory vCPUs behind the same ioctl surface the real
// arm64 and ppc64 backends use (`ARM64VCPUDevice`, `PPC64VCPUDevice`), following the kernel's rules for it, and a
// `DebugTarget` over them so the real gdb session can serve one. Nothing here runs guest code: a "run" moves the
// program counter, nothing more. Never mistake what it says for what hardware would.

/// What a fake vCPU's "KVM_RUN" ended with.
package enum FakeExit: Sendable, Equatable {
    /// A single step: pc moved on by one instruction (4 bytes).
    case stepped
    /// The vCPU reached a trap instruction (BRK #0, or `trap` on POWER) at `address`: pc is there, as KVM leaves
    /// it on KVM_EXIT_DEBUG with KVM_GUESTDBG_USE_SW_BP.
    case trap(address: UInt64)
    /// No trap lies ahead: the vCPU would run on until interrupted.
    case running
}

/// A fake vCPU the fake target can run. FAKE: for tests only.
package protocol FakeVCPU: OneRegDevice {
    /// `arm64` or `ppc64`.
    var architectureName: String { get }
    /// The trap instruction the debugger plants, as a 32-bit word (stored little-endian).
    var trapInstruction: UInt32 { get }
    /// The fake's KVM_RUN: a step moves pc on by 4; a continue moves it to the first trap word in `memory` at or
    /// after pc (the instructions between stand for code that ran), or reports `.running` if there is none.
    func run(singleStep: Bool, memory: FakeRAM) throws(KVMError) -> FakeExit
}

/// KVM_GET_ONE_REG / KVM_SET_ONE_REG as both fakes serve them: counted, then `access` applies the kernel's rules
/// for the ID (ENOENT, EINVAL for a wrong size) and reads or writes the fake's register store. FAKE: for tests only.
protocol FakeOneRegStore: AnyObject {
    var counter: IoctlCounter { get }
    func access(_ id: OneRegID, bufferSize: Int, write: [UInt8]?, operation: String) throws(KVMError) -> [UInt8]
}

extension FakeOneRegStore {
    func fakeGetOneReg(_ id: UInt64, into value: UnsafeMutableRawBufferPointer) throws(KVMError) {
        counter.record(.getOneReg)
        let bytes = try access(OneRegID(rawValue: id), bufferSize: value.count, write: nil, operation: "KVM_GET_ONE_REG")
        for (i, b) in bytes.enumerated() { value[i] = b }
    }

    func fakeSetOneReg(_ id: UInt64, from value: UnsafeRawBufferPointer) throws(KVMError) {
        counter.record(.setOneReg)
        _ = try access(OneRegID(rawValue: id), bufferSize: value.count, write: Array(value), operation: "KVM_SET_ONE_REG")
    }
}

/// The fake target's guest memory: one flat range of bytes, guest-virtual = guest-physical. FAKE: for tests only.
package final class FakeRAM {
    package let base: UInt64
    package private(set) var bytes: [UInt8]

    /// `size` bytes at `base`, filled with `fill` (a no-op instruction) little-endian.
    package init(base: UInt64, size: Int, fill: UInt32) {
        precondition(size % 4 == 0)
        self.base = base
        bytes = []
        bytes.reserveCapacity(size)
        for _ in 0..<size / 4 { bytes.append(contentsOf: littleEndianBytes(fill)) }
    }

    package var end: UInt64 { base + UInt64(bytes.count) }

    package func contains(_ address: UInt64, count: Int) -> Bool {
        address >= base && address <= end && UInt64(count) <= end - address
    }

    /// The readable prefix of the range.
    package func read(_ address: UInt64, count: Int) -> [UInt8] {
        guard address >= base, address < end else { return [] }
        let start = Int(address - base)
        return Array(bytes[start..<min(bytes.count, start + count)])
    }

    /// All or nothing; false when any byte lies outside.
    @discardableResult
    package func write(_ address: UInt64, _ data: [UInt8]) -> Bool {
        guard contains(address, count: data.count) else { return false }
        let start = Int(address - base)
        bytes.replaceSubrange(start..<start + data.count, with: data)
        return true
    }

    package func word(at address: UInt64) -> UInt32? {
        guard contains(address, count: 4) else { return nil }
        let b = read(address, count: 4)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    /// The first trap word at or after `pc` (4-aligned steps), if any.
    func firstTrap(from pc: UInt64, instruction: UInt32) -> UInt64? {
        var a = pc
        while let w = word(at: a) {
            if w == instruction { return a }
            a += 4
        }
        return nil
    }
}

func littleEndianBytes(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
func littleEndianBytes(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
func loadU64(_ b: some Collection<UInt8>) -> UInt64 {
    b.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
}

/// The errors a fake ioctl ends in, worded as the real VCPU words them.
func fakeError(_ operation: String, _ id: UInt64? = nil, _ errno: Int32) -> KVMError {
    var op = operation
    if let id {
        let hex = String(id, radix: 16)
        op += " 0x" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }
    return KVMError(operation: op, vcpu: 0, errno: errno)
}

import CKVM
import Glibc

/// Guest RAM: one anonymous host mapping registered as a memory slot at guest-physical `base`.
/// Every access is bounds-checked; an address outside it is an error, never a host fault.
package final class GuestMemory: @unchecked Sendable {
    package let base: UInt64
    package let size: Int
    package let host: UnsafeMutableRawPointer

    package init(base: UInt64 = 0, size: Int) throws(KVMError) {
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
            p != MAP_FAILED
        else { throw KVMError(operation: "mmap of \(size) bytes of guest RAM", errno: errno) }
        self.base = base
        self.size = size
        self.host = p
    }

    deinit { munmap(host, size) }

    /// True when `[address, address + count)` lies inside guest RAM (with no overflow).
    package func contains(_ address: UInt64, count: Int = 1) -> Bool {
        guard address >= base, count >= 0 else { return false }
        let offset = address - base
        return offset <= UInt64(size) && UInt64(count) <= UInt64(size) - offset
    }

    /// A host pointer for a guest-physical range, or nil when any of it is outside RAM.
    package func pointer(_ address: UInt64, count: Int) -> UnsafeMutableRawPointer? {
        contains(address, count: count) ? host + Int(address - base) : nil
    }

    package func read(_ address: UInt64, count: Int) -> [UInt8]? {
        guard let p = pointer(address, count: count) else { return nil }
        return [UInt8](UnsafeRawBufferPointer(start: p, count: count))
    }

    package func readUInt64(_ address: UInt64) -> UInt64? {
        guard let p = pointer(address, count: 8) else { return nil }
        return p.loadUnaligned(as: UInt64.self)
    }

    @discardableResult
    package func write(_ address: UInt64, _ bytes: some Collection<UInt8>) -> Bool {
        guard let p = pointer(address, count: bytes.count) else { return false }
        var i = 0
        for b in bytes {
            p.storeBytes(of: b, toByteOffset: i, as: UInt8.self)
            i += 1
        }
        return true
    }

    @discardableResult
    package func writeUInt64(_ address: UInt64, _ value: UInt64) -> Bool {
        guard let p = pointer(address, count: 8) else { return false }
        p.storeBytes(of: value, as: UInt64.self)
        return true
    }

    /// After writing instructions into `[address, address + count)`: make a vCPU fetch them, not what its
    /// instruction cache holds (arm64; nothing to do on x86).
    package func synchronizeInstructions(_ address: UInt64, count: Int) {
        guard let p = pointer(address, count: count) else { return }
        ckvm_sync_instruction_cache(p, p + count)
    }
}

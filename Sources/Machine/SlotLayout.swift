/// How a guest-physical page holding a page-protection watchpoint is taken from the guest (Machine+PageWatchpoints.swift).
enum PageProtection: Equatable, Sendable {
    /// Out of every memory slot: each access, read or write, leaves KVM_RUN as KVM_EXIT_MMIO.
    case hole
    /// In a KVM_MEM_READONLY slot: reads run at full speed, writes exit as KVM_EXIT_MMIO.
    case readOnly
}

/// The memory slots that back guest RAM `[base, base + size)` when some of its pages are protected: RAM split
/// around each hole, read-only runs in slots of their own. Pure arithmetic, so it is unit-tested on its own.
enum SlotLayout {
    static let pageSize: UInt64 = 0x1000

    struct Region: Equatable, CustomStringConvertible, Sendable {
        let start: UInt64
        let size: UInt64
        let readOnly: Bool

        var end: UInt64 { start + size }
        var description: String {
            "[0x\(String(start, radix: 16)), 0x\(String(end, radix: 16)))\(readOnly ? " ro" : "")"
        }
    }

    /// Ascending, non-overlapping regions covering RAM minus the holes; adjacent regions of the same kind are one
    /// region (so no protected page at all is the single slot RAM had at start-up). Pages outside RAM, and
    /// addresses that are not page-aligned, are ignored (the caller protects only whole RAM pages).
    static func regions(base: UInt64, size: UInt64, protected: [UInt64: PageProtection]) -> [Region] {
        let end = base + size
        var out: [Region] = []
        func append(_ start: UInt64, _ end: UInt64, readOnly: Bool) {
            guard end > start else { return }
            if let last = out.last, last.end == start, last.readOnly == readOnly {
                out[out.count - 1] = Region(start: last.start, size: end - last.start, readOnly: readOnly)
            } else {
                out.append(Region(start: start, size: end - start, readOnly: readOnly))
            }
        }
        var cursor = base
        for (page, protection) in protected.sorted(by: { $0.key < $1.key }) {
            guard page % pageSize == 0, page >= base, page < end, page + pageSize <= end else { continue }
            append(cursor, page, readOnly: false)
            if protection == .readOnly { append(page, page + pageSize, readOnly: true) }
            cursor = page + pageSize
        }
        append(cursor, end, readOnly: false)
        return out
    }

    /// The guest-physical pages `[physical, physical + length)` touches.
    static func pages(_ physical: UInt64, length: Int) -> [UInt64] {
        guard length > 0 else { return [] }
        let first = physical & ~(pageSize - 1)
        let last = (physical + UInt64(length) - 1) & ~(pageSize - 1)
        return Array(stride(from: first, through: last, by: Int(pageSize)))
    }
}

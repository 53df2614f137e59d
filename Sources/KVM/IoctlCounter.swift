import Synchronization

/// Counts ioctls by request name, so `monitor sync-stats` and the benchmark can show what each packet cost.
/// Read from the session thread while a vCPU thread counts: a lock, held for an increment.
public final class IoctlCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    public init() {}

    public func record(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }

    public func snapshot() -> [String: Int] { counts.withLock { $0 } }

    public func reset() { counts.withLock { $0.removeAll() } }

    public var total: Int { counts.withLock { $0.values.reduce(0, +) } }

    public subscript(name: String) -> Int { counts.withLock { $0[name] ?? 0 } }

    /// Counts since a snapshot: what one request cost.
    public func since(_ before: [String: Int]) -> [String: Int] {
        var d: [String: Int] = [:]
        for (k, v) in snapshot() where v != before[k] ?? 0 { d[k] = v - (before[k] ?? 0) }
        return d
    }
}

import Glibc

/// One figure under measurement: an operation and what to do around each timed run of it. The runner
/// interleaves probes (round 1 of every probe, then round 2, …) so that a background load that comes and goes
/// touches every figure of a ratio alike, instead of whichever happened to run during it.
final class Probe {
    var figure: Figure
    /// Runs with this placement of the client thread (the servers were started with it).
    let placement: Placement?
    /// The server whose /proc CPU time and context switches are charged per operation.
    let server: ChildProcess?
    /// A kvmstub connection to ask `monitor sync-stats` around each run.
    let statsClient: RSPClient?
    /// Before each run (untimed): put the vCPU or the VM in the state the operation needs.
    let before: (() throws(BenchError) -> Void)?
    let op: () throws(BenchError) -> Void
    /// After each run (untimed): check that the operations did what they claimed.
    let after: (() throws(BenchError) -> Void)?
    /// Untimed operations before each run; nil: the budget's.
    let warmUpOps: Int?

    private(set) var ops = 0
    private var usage = ProcessUsage()
    /// CPU time of the measuring thread (in-process probes, no server), nanoseconds.
    private var threadCPU: UInt64 = 0
    private var ioctlOrder: [String] = []
    private var ioctls: [String: Int] = [:]

    init(
        _ figure: Figure, server: ChildProcess? = nil, statsClient: RSPClient? = nil, warmUpOps: Int? = nil,
        before: (() throws(BenchError) -> Void)? = nil, after: (() throws(BenchError) -> Void)? = nil,
        op: @escaping () throws(BenchError) -> Void
    ) {
        self.figure = figure
        self.placement = figure.placement
        self.server = server
        self.statsClient = statsClient
        self.before = before
        self.op = op
        self.after = after
        self.warmUpOps = warmUpOps
    }

    /// A figure that cannot be measured, for the table.
    static func failed(_ figure: Figure, _ reason: String) -> Probe {
        let p = Probe(figure, op: {})
        p.figure.notMeasured = reason
        return p
    }

    var isFailed: Bool { figure.notMeasured != nil }

    static func threadCPUTime() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// One timed run: warm-up, then operations until the budget's time or count; counts charged to the timed
    /// operations only.
    func runOnce(_ budget: Budget, allCPUs: [Int]) {
        guard !isFailed else { return }
        if placement == .pinned, let first = allCPUs.first {
            CPUAffinity.set([first])
        } else {
            CPUAffinity.set(allCPUs)
        }
        defer { CPUAffinity.set(allCPUs) }
        do {
            try before?()
            for _ in 0..<(warmUpOps ?? budget.warmUpOps) { try op() }
            if let c = statsClient { _ = try c.monitor("sync-stats reset") }
            let u0 = server?.usage()
            let c0 = server == nil ? Self.threadCPUTime() : 0
            let start = now()
            let deadline = start + budget.seconds
            var n = 0
            repeat {
                try op()
                n += 1
            } while n < budget.maxOps && now() < deadline
            let elapsed = now() - start
            let u1 = server?.usage()
            if server == nil { threadCPU += Self.threadCPUTime() - c0 }
            figure.samples.append(Double(n) / elapsed)
            ops += n
            if let u0, let u1 { usage = usage + (u1 - u0) }
            if let c = statsClient {
                for (name, count) in parseSyncStats(try c.monitor("sync-stats")) {
                    if ioctls[name] == nil { ioctlOrder.append(name) }
                    ioctls[name, default: 0] += count
                }
            }
            try after?()
        } catch {
            figure.notMeasured = "\(error)"
        }
    }

    /// The figure with its per-operation server costs.
    func finished() -> Figure {
        var f = figure
        guard !isFailed, ops > 0 else { return f }
        if server != nil {
            f.attach(usage: usage, ops: ops)
        } else {
            f.threadCPUPerOp = Double(threadCPU) / 1e3 / Double(ops)
        }
        if statsClient != nil { f.ioctlsPerOp = ioctlOrder.map { ($0, Double(ioctls[$0]!) / Double(ops)) } }
        return f
    }
}

/// The `  NAME COUNT` lines of `monitor sync-stats`, summed over vCPUs, in the order first seen.
func parseSyncStats(_ text: String) -> [(name: String, count: Int)] {
    var order: [String] = []
    var counts: [String: Int] = [:]
    for line in text.split(separator: "\n") where line.hasPrefix("  ") {
        let words = line.split(separator: " ")
        guard words.count == 2, let n = Int(words[1]) else { continue }
        let name = String(words[0])
        if counts[name] == nil { order.append(name) }
        counts[name, default: 0] += n
    }
    return order.map { ($0, counts[$0]!) }
}

extension Bench {
    /// Runs `probes` round-robin, `budget.runs` rounds, then adds their figures to the report in order.
    func runInterleaved(_ probes: [Probe], progress: String) {
        for round in 0..<budget.runs {
            if budget.runs > 1 { writeOut("kvmstub-bench: \(progress): round \(round + 1) of \(budget.runs)\n", fd: 2) }
            for p in probes { p.runOnce(budget, allCPUs: allCPUs) }
        }
        for p in probes { report.add(p.finished()) }
    }
}

import Glibc

/// How much each measurement may take.
struct Budget {
    /// Timed runs per figure; the table shows their median and min–max.
    var runs: Int
    /// Each run stops after this many seconds…
    var seconds: Double
    /// …or this many operations, whichever comes first.
    var maxOps: Int
    /// How long the stopped guest is watched for its CPU cost.
    var idleSeconds: Double
    /// `--smoke`: every section runs, but nothing that takes seconds an operation (10 000 round trips).
    var smoke = false

    static let full = Budget(runs: 5, seconds: 0.25, maxOps: 200_000, idleSeconds: 10)
    static let quick = Budget(runs: 3, seconds: 0.05, maxOps: 50_000, idleSeconds: 2)
    static let smoke = Budget(runs: 1, seconds: 0.002, maxOps: 5, idleSeconds: 0.1, smoke: true)

    /// A few untimed operations first: caches, page faults, the first KVM_SET_GUEST_DEBUG.
    var warmUpOps: Int { max(1, min(maxOps / 20, 50)) }
}

/// The parts of the report, in the order the issue lists them.
enum Section: String, CaseIterable {
    case rawKVM = "a. raw KVM floor (in this process, 1 vCPU, the loop guest, no RSP)"
    case responder = "b. do-nothing responder floor (same client, loopback)"
    case kvmstub = "c. kvmstub over RSP (child process `kvmstub run`, raw-socket client)"
    case qemu = "d. QEMU gdbstub over RSP (same client, same loop in long mode)"
    case idle = "e. idle cost (guest stopped at a breakpoint, gdb connected)"
    case scale = "f. scale (all-stop with N vCPUs)"
    case lines = "g. next over an N-instruction line, as gdb sends it (kvmstub with and without vCont;r, QEMU)"
    case watch = "h. watchpoints: page protection, single steps, debug registers (a loop on a watched page)"
}

/// One measured (or not measured) figure.
struct Figure {
    enum Kind {
        /// Operations per second; the table adds µs per operation.
        case rate(unit: String)
        /// A duration in µs.
        case latency
        /// Some other amount (CPU ms over an interval).
        case amount(unit: String)
    }

    let key: String
    let section: Section
    let label: String
    let placement: Placement?
    let kind: Kind
    var samples: [Double] = []
    var ioctlsPerOp: [(name: String, count: Double)]?
    /// The server's CPU time per operation (µs), and its context switches per operation.
    var serverCPUPerOp: Double?
    /// In-process figures (raw KVM): the measuring thread's own CPU time per operation (µs), which a busy machine
    /// inflates far less than the wall time.
    var threadCPUPerOp: Double?
    var serverSwitchesPerOp: Double?
    var serverVoluntarySwitchesPerOp: Double?
    var note: String?
    var notMeasured: String?

    init(_ key: String, _ section: Section, _ label: String, placement: Placement? = nil, kind: Kind) {
        self.key = key
        self.section = section
        self.label = label
        self.placement = placement
        self.kind = kind
    }

    var median: Double? {
        guard !samples.isEmpty else { return nil }
        let s = samples.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// For a rate: µs per operation at the median.
    var microsPerOp: Double? {
        guard case .rate = kind, let m = median, m > 0 else { return nil }
        return 1e6 / m
    }

    var unit: String {
        switch kind {
        case .rate(let unit): unit
        case .latency: "µs"
        case .amount(let unit): unit
        }
    }

    /// Per-operation server costs from a /proc delta.
    mutating func attach(usage: ProcessUsage, ops: Int) {
        guard ops > 0 else { return }
        serverCPUPerOp = Double(usage.cpuNanoseconds) / 1e3 / Double(ops)
        serverSwitchesPerOp = Double(usage.voluntarySwitches + usage.involuntarySwitches) / Double(ops)
        serverVoluntarySwitchesPerOp = Double(usage.voluntarySwitches) / Double(ops)
    }
}

// MARK: - Formatting (no Foundation: a fixed number of decimals, thin grouping of thousands)

func fmt(_ v: Double, _ decimals: Int = 0) -> String {
    guard v.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let r = (abs(v) * scale).rounded()
    let whole = UInt64(r / scale)
    var frac = UInt64(r - Double(whole) * scale)
    if Double(frac) >= scale { frac = 0 }
    var digits = String(whole)
    if whole >= 10_000 {
        var grouped = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { grouped.append(" ") }
            grouped.append(c)
        }
        digits = String(grouped.reversed())
    }
    var s = (v < 0 && r != 0 ? "-" : "") + digits
    if decimals > 0 {
        let f = String(frac)
        s += "." + String(repeating: "0", count: decimals - f.count) + f
    }
    return s
}

/// Three significant figures or so: what a per-operation cost deserves.
func fmtSmart(_ v: Double) -> String {
    let a = abs(v)
    return a >= 100 ? fmt(v, 0) : a >= 10 ? fmt(v, 1) : a >= 1 ? fmt(v, 2) : fmt(v, 3)
}

func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let n = s.count
    guard n < width else { return s }
    let fill = String(repeating: " ", count: width - n)
    return right ? fill + s : s + fill
}

/// JSON number: finite, plain decimal.
func jsonNumber(_ v: Double) -> String {
    guard v.isFinite else { return "null" }
    let a = abs(v)
    let d = a >= 1000 ? 1 : a >= 1 ? 3 : 6
    return fmt(v, d).replacingSpaces
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default:
            if u.value < 0x20 {
                out += "\\u00" + (u.value < 16 ? "0" : "") + String(u.value, radix: 16)
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

extension String {
    var replacingSpaces: String { String(filter { $0 != " " }) }
}

// MARK: - The report

/// Collects figures, prints each section as it completes, then the ratios and one JSON line per figure.
final class Report {
    private(set) var figures: [Figure] = []
    private var printedSections: Set<String> = []

    func add(_ figure: Figure) {
        figures.append(figure)
        printRow(figure)
    }

    func figure(_ key: String, _ placement: Placement? = nil) -> Figure? {
        figures.first { $0.key == key && $0.placement == placement && $0.notMeasured == nil && $0.median != nil }
    }

    func startSection(_ section: Section) {
        guard printedSections.insert(section.rawValue).inserted else { return }
        out("")
        out("== \(section.rawValue) ==")
        out(
            "  " + pad("figure", 48) + pad("placement", 10) + pad("median", 16, right: true) + "  "
                + pad("min–max", 25) + pad("µs/op", 9, right: true))
    }

    private func printRow(_ f: Figure) {
        startSection(f.section)
        let placement = f.placement?.rawValue ?? "-"
        guard f.notMeasured == nil, let median = f.median else {
            out("  " + pad(f.label, 48) + pad(placement, 10) + "not measured: " + (f.notMeasured ?? "no samples"))
            return
        }
        let lo = f.samples.min()!, hi = f.samples.max()!
        let value: String
        let range: String
        switch f.kind {
        case .rate:
            value = fmt(median) + " " + f.unit
            range = "[" + fmt(lo) + " – " + fmt(hi) + "]"
        case .latency, .amount:
            value = fmtSmart(median) + " " + f.unit
            range = "[" + fmtSmart(lo) + " – " + fmtSmart(hi) + "]"
        }
        let perOp = f.microsPerOp.map { fmtSmart($0) } ?? ""
        out(
            "  " + pad(f.label, 48) + pad(placement, 10) + pad(value, 16, right: true) + "  " + pad(range, 25)
                + pad(perOp, 9, right: true))
        var details: [String] = []
        if let io = f.ioctlsPerOp {
            details.append(
                "ioctls/op: "
                    + (io.isEmpty ? "none" : io.map { "\($0.name) \(fmt($0.count, 2))" }.joined(separator: ", ")))
        }
        if let cpu = f.serverCPUPerOp, let sw = f.serverSwitchesPerOp, let vol = f.serverVoluntarySwitchesPerOp {
            details.append(
                "server: \(fmtSmart(cpu)) µs CPU/op, \(fmt(sw, 2)) context switches/op (\(fmt(vol, 2)) voluntary)")
        }
        if let cpu = f.threadCPUPerOp { details.append("this thread: \(fmtSmart(cpu)) µs CPU/op") }
        if let note = f.note { details.append(note) }
        for d in details { out("      " + d) }
    }

    /// Straight to fd 1, unbuffered: a killed run still shows every line it finished.
    func out(_ line: String) { writeOut(line + "\n") }

    func jsonLines() -> [String] {
        figures.map { f in
            var fields: [String] = ["\"figure\":\(jsonString(f.key))", "\"label\":\(jsonString(f.label))"]
            fields.append("\"placement\":" + (f.placement.map { jsonString($0.rawValue) } ?? "null"))
            fields.append("\"unit\":\(jsonString(f.unit))")
            if let reason = f.notMeasured ?? (f.median == nil ? "no samples" : nil) {
                fields.append("\"not_measured\":\(jsonString(reason))")
                return "{" + fields.joined(separator: ",") + "}"
            }
            fields.append("\"median\":\(jsonNumber(f.median!))")
            fields.append("\"min\":\(jsonNumber(f.samples.min()!))")
            fields.append("\"max\":\(jsonNumber(f.samples.max()!))")
            fields.append("\"runs\":\(f.samples.count)")
            if let us = f.microsPerOp { fields.append("\"us_per_op\":\(jsonNumber(us))") }
            if let io = f.ioctlsPerOp {
                fields.append(
                    "\"ioctls_per_op\":{"
                        + io.map { "\(jsonString($0.name)):\(jsonNumber($0.count))" }.joined(separator: ",") + "}")
            }
            if let cpu = f.serverCPUPerOp { fields.append("\"server_cpu_us_per_op\":\(jsonNumber(cpu))") }
            if let cpu = f.threadCPUPerOp { fields.append("\"thread_cpu_us_per_op\":\(jsonNumber(cpu))") }
            if let sw = f.serverSwitchesPerOp { fields.append("\"server_context_switches_per_op\":\(jsonNumber(sw))") }
            if let note = f.note { fields.append("\"note\":\(jsonString(note))") }
            return "{" + fields.joined(separator: ",") + "}"
        }
    }
}

func writeOut(_ text: String, fd: Int32 = 1) {
    var bytes = Array(text.utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return }
        off += n
    }
}

/// The comparisons issue 5 sets targets for, computed from figures of this run and the same placement.
struct Ratio {
    let key: String
    let label: String
    let target: String
    /// True when the value meets the target.
    let meets: (Double) -> Bool
    var values: [Placement?: Double] = [:]
    var missing: [Placement?: String] = [:]
}

extension Bench {
    func ratios() -> [Ratio] {
        var out: [Ratio] = []
        func rate(_ key: String, _ p: Placement?) -> Double? { report.figure(key, p)?.median }
        let rawStep = rate("raw_kvm.step", nil)
        let rawHit = rate("raw_kvm.hw_hit", nil)

        func add(
            _ key: String, _ label: String, _ target: String, _ meets: @escaping (Double) -> Bool,
            placements: [Placement?] = Placement.allCases,
            _ value: (Placement?) -> (Double?, String)
        ) {
            var r = Ratio(key: key, label: label, target: target, meets: meets)
            for p in placements {
                let (v, why) = value(p)
                if let v, v.isFinite { r.values[p] = v } else { r.missing[p] = why }
            }
            out.append(r)
        }
        func ratio(_ a: Double?, _ b: Double?, _ why: String) -> (Double?, String) {
            guard let a, let b, b > 0 else { return (nil, why) }
            return (a / b, "")
        }
        /// floor rate = 1 / (k responder round trips + one raw KVM operation).
        func floor(_ p: Placement?, transport: String = "tcp", trips: Double, raw: Double?) -> Double? {
            guard let resp = rate("responder.rtt_\(transport)", p), let raw, resp > 0, raw > 0 else { return nil }
            return 1 / (trips / resp + 1 / raw)
        }

        add("step_vs_qemu", "kvmstub s rate / QEMU s rate", "≥ 3", { $0 >= 3 }) { p in
            ratio(rate("kvmstub.step", p), rate("qemu.step", p), "QEMU not measured")
        }
        add("step_vs_floor", "kvmstub s rate / floor (resp. RTT + raw step)", "≥ 0.6", { $0 >= 0.6 }) { p in
            ratio(rate("kvmstub.step", p), floor(p, trips: 1, raw: rawStep), "floor not measured")
        }
        add("step_unix_vs_floor", "kvmstub s rate / floor, unix socket", "≥ 0.6", { $0 >= 0.6 }) { p in
            ratio(
                rate("kvmstub.step_unix", p), floor(p, transport: "unix", trips: 1, raw: rawStep), "floor not measured")
        }
        add("z0_vs_qemu", "kvmstub Z0 hits / QEMU Z0 hits", "≥ 3", { $0 >= 3 }) { p in
            ratio(rate("kvmstub.z0_hit", p), rate("qemu.z0_hit", p), "QEMU Z0 not measured")
        }
        add("z1_vs_qemu", "kvmstub Z1 hits / QEMU Z1 hits", "≥ 3", { $0 >= 3 }) { p in
            ratio(rate("kvmstub.z1_hit", p), rate("qemu.z1_hit", p), "QEMU not measured")
        }
        add("z0_vs_floor", "kvmstub Z0 hits / floor (3 RTT + raw hit)", "≥ 0.6", { $0 >= 0.6 }) { p in
            ratio(rate("kvmstub.z0_hit", p), floor(p, trips: 3, raw: rawHit), "floor not measured")
        }
        add("z1_vs_floor", "kvmstub Z1 hits / floor (3 RTT + raw hit)", "≥ 0.6", { $0 >= 0.6 }) { p in
            ratio(rate("kvmstub.z1_hit", p), floor(p, trips: 3, raw: rawHit), "floor not measured")
        }
        add("g_rtt_vs_responder", "g RTT / responder RTT", "≤ 1.5", { $0 <= 1.5 }) { p in
            ratio(rate("responder.rtt_tcp", p), rate("kvmstub.g", p), "not measured")
        }
        add("m4k_rtt_vs_responder", "m 4 KiB RTT / responder RTT", "≤ 1.5", { $0 <= 1.5 }) { p in
            ratio(rate("responder.rtt_tcp", p), rate("kvmstub.m4k", p), "not measured")
        }
        add("ioctls_per_step", "kvmstub ioctls per `s` (all request types)", "= 1", { $0 < 1.05 }) { p in
            guard let io = report.figure("kvmstub.step", p)?.ioctlsPerOp else { return (nil, "not measured") }
            return (io.reduce(0) { $0 + $1.count }, "")
        }
        add("ioctls_per_z1_hit", "kvmstub ioctls per Z1 hit (all request types)", "(report)", { _ in true }) { p in
            guard let io = report.figure("kvmstub.z1_hit", p)?.ioctlsPerOp else { return (nil, "not measured") }
            return (io.reduce(0) { $0 + $1.count }, "")
        }
        add("idle_cpu_ms_per_10s", "kvmstub idle CPU, ms per 10 s", "< 10", { $0 < 10 }, placements: [nil]) { _ in
            guard let f = report.figure("idle.kvmstub_cpu"), let ms = f.median else { return (nil, "not measured") }
            return (ms * 10 / budget.idleSeconds, "")
        }
        // g. next over an N-instruction line: against N raw steps plus the round trips it takes (2: vCont;r and
        // gdb's m sp,40), against the same next without r, and against QEMU (which has no r).
        for n in LineGuest.lengths {
            add(
                "next_r_\(n)_vs_floor", "next, \(fmt(Double(n))) insns, r: time / (N raw + 2 RTT)", "≤ 1.2",
                { $0 <= 1.2 }
            ) { p in
                guard let resp = rate("responder.rtt_tcp", p), let raw = rawStep, resp > 0, raw > 0 else {
                    return (nil, "floor not measured")
                }
                return ratio(1 / (2 / resp + Double(n) / raw), rate("kvmstub.next_r_\(n)", p), "not measured")
            }
            // The same in CPU time, which a busy machine inflates far less: kvmstub's CPU per next against N raw
            // steps' CPU (this process's thread) and the responder's CPU for 2 round trips.
            add(
                "next_r_\(n)_cpu_vs_floor", "next, \(fmt(Double(n))) insns, r: CPU / (N raw + 2 RTT)", "≤ 1.2",
                { $0 <= 1.2 }
            ) { p in
                guard let raw = report.figure("raw_kvm.step")?.threadCPUPerOp,
                    let resp = report.figure("responder.rtt_tcp", p)?.serverCPUPerOp,
                    let next = report.figure("kvmstub.next_r_\(n)", p)?.serverCPUPerOp
                else { return (nil, "CPU times not measured") }
                return (next / (Double(n) * raw + 2 * resp), "")
            }
            let line = "next, \(fmt(Double(n))) insns"
            add("next_r_\(n)_vs_next_s", "\(line): vCont;r / N × vCont;s", "(report)", { _ in true }) { p in
                ratio(rate("kvmstub.next_r_\(n)", p), rate("kvmstub.next_s_\(n)", p), "not measured")
            }
            add("next_r_\(n)_vs_qemu", "\(line): kvmstub vCont;r / QEMU", "(report)", { _ in true }) { p in
                ratio(rate("kvmstub.next_r_\(n)", p), rate("qemu.next_s_\(n)", p), "QEMU not measured")
            }
        }
        // Growth (reported, no target): all-stop cost with more vCPUs, g with a bigger register file.
        add(
            "stop_latency_8_vs_1", "Ctrl-C stop latency, 8 vCPUs / 1 vCPU", "(report)", { _ in true }, placements: [nil]
        ) { _ in
            ratio(
                report.figure("scale.interrupt_latency_8", .unpinned)?.median,
                report.figure("scale.interrupt_latency_1", .unpinned)?.median, "not measured")
        }
        add("z1_hit_time_8_vs_1", "Z1 hit time, 8 vCPUs / 1 vCPU", "(report)", { _ in true }, placements: [nil]) { _ in
            ratio(rate("scale.z1_hit_1", .unpinned), rate("scale.z1_hit_8", .unpinned), "not measured")
        }
        add(
            "g_sve2048_vs_no_sve", "g RTT, arm64 SVE 2048 / no SVE (fake kernel)", "(report)", { _ in true },
            placements: [nil]
        ) { _ in
            ratio(rate("scale.g_arm64", .unpinned), rate("scale.g_arm64_sve2048", .unpinned), "not measured")
        }
        return out
    }

    func printRatios() {
        let rs = ratios()
        report.out("")
        report.out("== ratios (issue 5 targets; every input from this run, same placement) ==")
        func floorLine(_ p: Placement) -> String {
            let resp = report.figure("responder.rtt_tcp", p)?.microsPerOp
            let raw = report.figure("raw_kvm.step")?.microsPerOp
            let hit = report.figure("raw_kvm.hw_hit")?.microsPerOp
            guard let resp, let raw else { return "  floor, \(p.rawValue): not measured" }
            var s =
                "  floor, \(p.rawValue): s = 1/(\(fmtSmart(resp)) µs RTT + \(fmtSmart(raw)) µs raw step) = \(fmt(1e6 / (resp + raw))) steps/s"
            if let hit {
                s += "; hit = 1/(3 × RTT + \(fmtSmart(hit)) µs raw hit) = \(fmt(1e6 / (3 * resp + hit))) hits/s"
            }
            return s
        }
        for p in Placement.allCases { report.out(floorLine(p)) }
        report.out("  " + pad("ratio", 50) + pad("pinned", 16) + pad("unpinned", 16) + "target")
        for r in rs {
            func cell(_ p: Placement?) -> String {
                if let v = r.values[p] {
                    return fmtSmart(v) + (r.target == "(report)" ? "" : r.meets(v) ? " ok" : " MISSED")
                }
                if r.missing[p] != nil { return "n/a" }
                return ""
            }
            let line: String
            if r.values[nil] != nil || r.missing[nil] != nil {
                line = "  " + pad(r.label, 50) + pad(cell(nil), 32) + r.target
            } else {
                line = "  " + pad(r.label, 50) + pad(cell(.pinned), 16) + pad(cell(.unpinned), 16) + r.target
            }
            report.out(line)
        }
    }

    func ratioJSONLines() -> [String] {
        ratios().flatMap { r -> [String] in
            let keys: [Placement?] = r.values[nil] != nil || r.missing[nil] != nil ? [nil] : Placement.allCases
            return keys.map { p in
                var fields = ["\"ratio\":\(jsonString(r.key))", "\"label\":\(jsonString(r.label))"]
                fields.append("\"placement\":" + (p.map { jsonString($0.rawValue) } ?? "null"))
                fields.append("\"target\":\(jsonString(r.target))")
                if let v = r.values[p] {
                    fields.append("\"value\":\(jsonNumber(v))")
                    if r.target != "(report)" { fields.append("\"met\":\(r.meets(v))") }
                } else {
                    fields.append("\"not_measured\":\(jsonString(r.missing[p] ?? "not measured"))")
                }
                return "{" + fields.joined(separator: ",") + "}"
            }
        }
    }
}

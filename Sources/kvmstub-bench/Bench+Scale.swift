import Glibc

extension Bench {
    /// f. All-stop with N vCPUs: how long from Ctrl-C to the stop reply while every vCPU runs, and breakpoint
    /// hits per second while the others must be kicked out at each hit. Needs `kvmstub run --cpus N`.
    func measureScale() {
        report.startSection(.scale)
        let counts = [1, 2, 4, 8]
        let hasCPUs = kvmstubHasCPUsOption()
        for n in counts {
            var latency = Figure(
                "scale.interrupt_latency_\(n)", .scale, "Ctrl-C to stop reply, \(n) vCPU\(n > 1 ? "s" : "")",
                placement: .unpinned,
                kind: .latency)
            var hits = Figure(
                "scale.z1_hit_\(n)", .scale, "Z1 hits (Z1 + c + z1), \(n) vCPU\(n > 1 ? "s" : "")",
                placement: .unpinned,
                kind: .rate(unit: "hits/s"))
            guard hasCPUs else {
                latency.notMeasured = "--cpus not available yet (`kvmstub run --help` has no --cpus)"
                hits.notMeasured = latency.notMeasured
                report.add(latency)
                report.add(hits)
                continue
            }
            do {
                let (child, endpoint) = try startKVMStub("tcp", extra: ["--cpus", "\(n)"], tag: "cpus\(n)")
                defer { child.stop() }
                let c = try connect(name: "kvmstub", child: child, endpoint: endpoint, syncStats: true)
                let cont = RSPClient.frame("c")
                var samples: [Double] = []
                let rounds = max(3, min(budget.maxOps, budget.runs * 6))
                for _ in 0..<rounds {
                    try c.client.send(cont)
                    sleepSeconds(0.002)  // every vCPU is in KVM_RUN by now
                    let t0 = now()
                    try c.client.send([0x03])
                    let r = try c.client.nextPacket()
                    guard r.starts(with: "T") else { throw BenchError("Ctrl-C answered '\(r.text)'") }
                    samples.append((now() - t0) * 1e6)
                }
                latency.samples = samples
                latency.note = "c, 2 ms for every vCPU to be in KVM_RUN, then 0x03; \(rounds) rounds"
                latency.note! += Self.resumeTimelineSummary(c.client, keep: ["Ctrl-C → every vCPU stopped"])
                _ = try? c.client.monitor("resume-timeline reset")
                let p = probe(.z1Hit, on: c, key: hits.key, section: .scale, placement: .unpinned, label: hits.label)
                for _ in 0..<budget.runs { p.runOnce(budget, allCPUs: allCPUs) }
                hits = p.finished()
                if n > 1 {
                    hits.note =
                        (hits.note.map { $0 + "; " } ?? "")
                        + Self.resumeTimelineSummary(
                            c.client, keep: ["hand-off", "first stop → every vCPU stopped", "every vCPU stopped →"]
                        ).dropFirst(2)
                }
            } catch {
                latency.notMeasured = "\(error)"
                if hits.samples.isEmpty { hits.notMeasured = "\(error)" }
            }
            report.add(latency)
            report.add(hits)
        }
        measureSVE()
    }

    /// The averages `monitor resume-timeline` gives for the lines named (kvmstub's own account of where a
    /// stop's time went), as "; line; line"; empty when the server has no such command.
    static func resumeTimelineSummary(_ client: RSPClient, keep: [String]) -> String {
        guard let text = try? client.monitor("resume-timeline") else { return "" }
        let lines = text.split(separator: "\n").map { $0.trimmingSpaces }.filter { line in
            keep.contains { line.hasPrefix($0) }
        }
        return lines.map { "; resume-timeline: " + $0 }.joined()
    }

    /// `g` as the register file grows: arm64 without SVE, then SVE at 128, 512 and 2048 bits (the g packet of
    /// the last is 9 020 bytes). This host has no arm64 KVM, so it is kvmstub's fake arm64 kernel (in-memory
    /// ONE_REG): the figures are the stub's encoding and register-file costs, not a real kernel's.
    private func measureSVE() {
        let lengths: [Int?] = [nil, 128, 512, 2048]
        let help = (try? runKVMStub(["fake-target", "--help"], tag: "fake-help")) ?? ""
        for vl in lengths {
            let key = "scale.g_arm64" + (vl.map { "_sve\($0)" } ?? "")
            let label = "g, fake arm64 kernel, " + (vl.map { "SVE \($0) bits" } ?? "no SVE")
            var f = Figure(key, .scale, label, placement: .unpinned, kind: .rate(unit: "RTT/s"))
            guard help.contains("--sve-vl") else {
                f.notMeasured = "no `kvmstub fake-target` here (and no arm64 KVM): nothing serves an SVE register file"
                report.add(f)
                continue
            }
            do {
                let args =
                    ["fake-target", "--arch", "arm64"] + (vl.map { ["--sve-vl", "\($0)"] } ?? []) + [
                        "--gdb", "127.0.0.1:0",
                    ]
                let (child, endpoint) = try startKVMStub(args, tag: "fake-arm64-\(vl ?? 0)")
                defer { child.stop() }
                let client = try RSPClient(endpoint)
                let noAck = try client.handshake()
                _ = try client.request("?")
                let c = StubConnection(
                    name: "kvmstub fake-target", child: child, client: client, syncStats: false, noAck: noAck)
                let p = probe(.g, on: c, key: key, section: .scale, placement: .unpinned, label: label)
                for _ in 0..<budget.runs { p.runOnce(budget, allCPUs: allCPUs) }
                f = p.finished()
            } catch {
                f.notMeasured = "\(error)"
            }
            report.add(f)
        }
    }
}

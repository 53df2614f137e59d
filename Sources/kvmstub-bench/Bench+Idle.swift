import Glibc

extension Bench {
    /// e. A guest stopped at a breakpoint with gdb connected should cost nothing: kvmstub blocks in poll(2) and
    /// its vCPU thread on a condition variable. QEMU, when present, is watched over the same interval.
    func measureIdle() {
        report.startSection(.idle)
        let seconds = budget.idleSeconds
        var servers: [(key: String, label: String, connection: StubConnection)] = []
        var failures: [(String, String, String)] = []
        do {
            let (child, endpoint) = try startKVMStub("tcp", tag: "idle")
            let c = try connect(name: "kvmstub", child: child, endpoint: endpoint, syncStats: true)
            try stopAtBreakpoint(c)
            servers.append(("idle.kvmstub_cpu", "kvmstub CPU while stopped", c))
        } catch {
            failures.append(("idle.kvmstub_cpu", "kvmstub CPU while stopped", "\(error)"))
        }
        do {
            let (child, endpoint) = try startQEMU(tag: "idle")
            let c = try connect(name: "QEMU", child: child, endpoint: endpoint, syncStats: false)
            try stopAtBreakpoint(c)
            servers.append(("idle.qemu_cpu", "QEMU CPU while stopped", c))
        } catch {
            failures.append(("idle.qemu_cpu", "QEMU CPU while stopped", "\(error)"))
        }
        let before = servers.map { $0.connection.child.usage() }
        sleepSeconds(seconds)
        let after = servers.map { $0.connection.child.usage() }
        for (i, s) in servers.enumerated() {
            var f = Figure(s.key, .idle, s.label + " (\(fmtSmart(seconds)) s)", kind: .amount(unit: "ms CPU"))
            if let b = before[i], let a = after[i] {
                let d = a - b
                f.samples = [Double(d.cpuNanoseconds) / 1e6]
                f.note =
                    "\(d.voluntarySwitches + d.involuntarySwitches) context switches (wake-ups) in \(fmtSmart(seconds)) s, utime+stime \(d.ticks) ticks; = \(fmtSmart(Double(d.cpuNanoseconds) / 1e6 * 10 / seconds)) ms per 10 s"
            } else {
                f.notMeasured = "cannot read /proc/\(s.connection.child.pid)"
            }
            report.add(f)
            s.connection.child.stop()
        }
        for (key, label, reason) in failures {
            var f = Figure(key, .idle, label, kind: .amount(unit: "ms CPU"))
            f.notMeasured = reason
            report.add(f)
        }
    }

    /// Z1 at site A and continue: the guest is stopped at a breakpoint, which stays inserted.
    private func stopAtBreakpoint(_ c: StubConnection) throws(BenchError) {
        guard try c.client.request("Z1,100000,1") == "OK" else { throw BenchError("\(c.name): Z1 failed") }
        let stop = try c.client.request("c")
        guard stop.hasPrefix("T05") else { throw BenchError("\(c.name): continue stopped with '\(stop)'") }
    }
}

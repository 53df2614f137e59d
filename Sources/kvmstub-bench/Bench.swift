import Glibc

/// One benchmark run: its budget, its report, where the programs and scratch files are.
final class Bench {
    let budget: Budget
    let report = Report()
    let kvmstubPath: String
    let qemuPath: String?
    let qemuAbsentReason: String
    /// A scratch directory for the guest images, sockets and server logs; removed at the end.
    let scratch: String
    let loopELF: String
    /// The CPUs the benchmark may use at start; `pinned` uses the first.
    let allCPUs: [Int]
    /// From `kvmstub info`: how Z0 is served on this host (int3, or hw-then-hlt where USE_SW_BP is ignored).
    private(set) var z0Strategy = "unknown"
    /// KVM turns a guest int3 into KVM_EXIT_DEBUG here (real KVM). Where it does not, QEMU's int3 breakpoints
    /// cannot work: the guest takes the #BP, or (kvm_pvm) KVM_RUN fails with an emulation error that stops QEMU.
    private(set) var int3Intercepted = false
    /// Servers the interleaved probes talk to; stopped when the probes are done.
    var servers: [ChildProcess] = []

    init(budget: Budget, kvmstubPath: String, qemuPath: String?, qemuAbsentReason: String) throws(BenchError) {
        self.budget = budget
        self.kvmstubPath = kvmstubPath
        self.qemuPath = qemuPath
        self.qemuAbsentReason = qemuAbsentReason
        var template = Array("/tmp/kvmstub-bench-XXXXXX".utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError("cannot create a scratch directory in /tmp: \(errnoText())")
        }
        scratch = String(cString: dir)
        loopELF = scratch + "/loop.elf"
        try writeFile(loopELF, LoopGuest.elf())
        allCPUs = CPUAffinity.current()
    }

    func stopServers() {
        for s in servers { s.stop() }
        servers = []
    }

    /// Sections a–d and g, interleaved: every figure's runs are spread over the whole measurement, so a load that
    /// comes and goes touches all of them alike and the ratios stay fair.
    func measureInterleaved(_ sections: String) {
        var probes: [Probe] = []
        if sections.contains("a") { probes += rawKVMProbes() }
        if sections.contains("b") { probes += responderProbes() }
        if sections.contains("c") { probes += kvmstubProbes() }
        if sections.contains("d") && qemuPath != nil { probes += qemuProbes() }
        if sections.contains("g") { probes += lineProbes(qemu: qemuPath != nil) }
        runInterleaved(probes, progress: "sections a-d, g")
        stopServers()
        if sections.contains("d") && qemuPath == nil {
            report.startSection(.qemu)
            report.out("  QEMU: not measured (\(qemuAbsentReason))")
        }
    }

    func removeScratch() {
        if let dir = opendir(scratch) {
            while let e = readdir(dir) {
                let name = withUnsafeBytes(of: e.pointee.d_name) {
                    String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { unlink(scratch + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(scratch)
    }

    /// Runs `body` with this thread (the client) and every process it spawns placed as asked.
    func placed<T, E: Error>(_ placement: Placement, _ body: () throws(E) -> T) throws(E) -> T {
        if placement == .pinned, let first = allCPUs.first { CPUAffinity.set([first]) }
        defer { CPUAffinity.set(allCPUs) }
        return try body()
    }

    var pinnedCPU: Int { allCPUs.first ?? 0 }

    // MARK: Servers

    /// `kvmstub run loop.elf --wait --gdb ADDRESS`, ready for a client.
    func startKVMStub(_ transport: String, extra: [String] = [], tag: String) throws(BenchError) -> (
        ChildProcess, Endpoint
    ) {
        let listen = transport == "unix" ? "\(scratch)/kvmstub-\(tag).sock" : "127.0.0.1:0"
        return try startKVMStub(
            ["run", loopELF, "--wait", "--gdb", listen, "--memory", "16M", "--serial", "/dev/null"] + extra, tag: tag)
    }

    /// `kvmstub ARGS` (which must include `--gdb`), once it says where it waits for gdb.
    func startKVMStub(_ args: [String], tag: String) throws(BenchError) -> (ChildProcess, Endpoint) {
        let child = try ChildProcess([kvmstubPath] + args, name: "kvmstub", logPath: "\(scratch)/kvmstub-\(tag).log")
        let line = try child.waitForLine(containing: "waiting for gdb on ")
        let address = line.after("waiting for gdb on ")
        if address.contains("/") { return (child, .unix(path: address)) }
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw BenchError("cannot read the port from kvmstub's line '\(line)'")
        }
        return (child, .tcp(port: port))
    }

    /// The do-nothing responder (this executable, `--responder`), ready for a client.
    func startResponder(_ transport: String, tag: String) throws(BenchError) -> (ChildProcess, Endpoint) {
        let address = transport == "unix" ? "unix:\(scratch)/responder-\(tag).sock" : "tcp"
        let child = try ChildProcess(
            [ownExecutable(), "--responder", address], name: "responder", logPath: "\(scratch)/responder-\(tag).log")
        let line = try child.waitForLine(containing: "responder listening on ")
        let where_ = line.after("listening on ")
        if transport == "unix" { return (child, .unix(path: where_)) }
        guard let colon = where_.lastIndex(of: ":"), let port = UInt16(where_[where_.index(after: colon)...]) else {
            throw BenchError("cannot read the responder's port from '\(line)'")
        }
        return (child, .tcp(port: port))
    }

    /// `qemu-system-x86_64 -enable-kvm -S -gdb tcp:…` on the long-mode firmware, ready for a client.
    func startQEMU(tag: String) throws(BenchError) -> (ChildProcess, Endpoint) {
        guard let qemuPath else { throw BenchError(qemuAbsentReason) }
        let rom = scratch + "/qemu-loop.rom"
        if access(rom, R_OK) != 0 { try writeFile(rom, LoopGuest.qemuFirmware()) }
        let port = try freeTCPPort()
        let child = try ChildProcess(
            [
                qemuPath, "-enable-kvm", "-machine", "pc", "-m", "16", "-display", "none", "-nodefaults",
                "-no-user-config", "-S", "-gdb", "tcp:127.0.0.1:\(port)", "-bios", rom,
            ], name: "QEMU", logPath: "\(scratch)/qemu-\(tag).log")
        return (child, .tcp(port: port))
    }

    /// Runs `kvmstub ARGS` to its end and returns what it printed.
    func runKVMStub(_ args: [String], tag: String) throws(BenchError) -> String {
        let child = try ChildProcess([kvmstubPath] + args, name: "kvmstub", logPath: "\(scratch)/\(tag).log")
        let deadline = now() + 20
        while child.isAlive && now() < deadline { sleepSeconds(0.005) }
        child.stop()
        return child.log
    }

    func probeHost() {
        if let info = try? runKVMStub(["info"], tag: "info"),
            let line = info.split(separator: "\n").first(where: { $0.hasPrefix("software breakpoints:") })
        {
            let value = line.dropFirst("software breakpoints:".count).trimmingSpaces
            z0Strategy = String(value.prefix { $0 != ":" })
            int3Intercepted = value.contains("the kernel intercepts #BP")
        }
    }

    /// Whether `kvmstub run` takes `--cpus N` yet.
    func kvmstubHasCPUsOption() -> Bool {
        (try? runKVMStub(["run", "--help"], tag: "run-help"))?.contains("--cpus") ?? false
    }
}

extension String {
    /// What follows the first occurrence of `marker` (the whole string if it does not occur).
    func after(_ marker: String) -> String {
        let m = Array(marker.utf8), u = Array(utf8)
        guard m.count <= u.count else { return self }
        for i in 0...(u.count - m.count) where Array(u[i..<i + m.count]) == m {
            return String(decoding: u[(i + m.count)...], as: UTF8.self)
        }
        return self
    }
}

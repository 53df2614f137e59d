import Glibc

// kvmstub-bench: the benchmark of issue 5. Measures, in one run on this machine, raw KVM single-stepping, a
// do-nothing RSP responder, kvmstub over RSP (a child `kvmstub run`), QEMU's gdbstub on the same loop, the idle
// cost of a stopped guest and (once `--cpus` exists) all-stop with N vCPUs; prints one table per section, the
// ratios the issue sets targets for, and one JSON line per figure. Speed is reported here, never asserted.

let usage = """
    usage: kvmstub-bench [--quick | --smoke] [--kvmstub PATH] [--qemu PATH | --no-qemu] [--only SECTIONS]

      --quick          ~20 s: 3 short runs per figure, 2 s of idle watching
      --smoke          a few operations per figure (< 5 s): checks that every section runs, measures nothing
      --kvmstub PATH   the kvmstub to measure (default: the one beside this executable)
      --qemu PATH      the QEMU to compare with (default: qemu-system-x86_64 on PATH)
      --no-qemu        skip QEMU
      --only LETTERS   run only these sections, e.g. --only ac (a raw KVM, b responder, c kvmstub, d QEMU,
                       e idle, f scale, g next over N-instruction lines, h watchpoints)
      --write-guests DIR  write the guests (loop.elf for kvmstub, qemu-loop.rom for qemu -bios) and exit:
                       for profiling one server by hand (perf, strace) with the same loop

    Default: 5 runs per figure (each ≤ 0.25 s or 200 000 operations), 10 s of idle watching; about a minute.
    Build it release: scripts/bench.sh.

    """

func failAndExit(_ message: String) -> Never {
    let text = "kvmstub-bench: \(message)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

func mainEntry() {
    // Start from a clean signal mask, as kvmstub does: one inherited from a test runner must not leak on.
    var emptySet = sigset_t()
    sigemptyset(&emptySet)
    sigprocmask(SIG_SETMASK, &emptySet, nil)
    var args = Array(CommandLine.arguments.dropFirst())
    if args.first == "--responder", args.count == 2 { Responder.main(args[1]) }
    signal(SIGPIPE, SIG_IGN)

    var budget = Budget.full
    var mode = "full"
    var kvmstub: String?
    var qemu: String?
    var noQEMU = false
    var only = "abcdefgh"
    while !args.isEmpty {
        let a = args.removeFirst()
        func value() -> String {
            guard !args.isEmpty else { failAndExit("\(a) needs a value (see --help)") }
            return args.removeFirst()
        }
        switch a {
        case "--help", "-h":
            writeOut(usage)
            exit(0)
        case "--quick":
            budget = .quick
            mode = "quick"
        case "--smoke":
            budget = .smoke
            mode = "smoke"
        case "--kvmstub": kvmstub = value()
        case "--qemu": qemu = value()
        case "--no-qemu": noQEMU = true
        case "--only": only = value().lowercased()
        case "--write-guests":
            let dir = value()
            do {
                try writeFile(dir + "/loop.elf", LoopGuest.elf())
                try writeFile(dir + "/qemu-loop.rom", LoopGuest.qemuFirmware())
            } catch { failAndExit("\(error)") }
            exit(0)
        default: failAndExit("unknown option \(a) (see --help)")
        }
    }
    let exe = ownExecutable()
    let kvmstubPath = kvmstub ?? String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/kvmstub"
    guard access(kvmstubPath, X_OK) == 0 else {
        failAndExit(
            "no kvmstub at \(kvmstubPath): build it (swift build -c release --product kvmstub) or pass --kvmstub PATH")
    }
    var qemuAbsent = ""
    var qemuPath: String?
    if noQEMU {
        qemuAbsent = "--no-qemu was given"
    } else if let q = qemu ?? findOnPath("qemu-system-x86_64") {
        qemuPath = q
    } else {
        qemuAbsent = "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
    }

    let bench: Bench
    do {
        bench = try Bench(budget: budget, kvmstubPath: kvmstubPath, qemuPath: qemuPath, qemuAbsentReason: qemuAbsent)
    } catch { failAndExit("\(error)") }
    defer { bench.removeScratch() }
    let started = now()
    bench.probeHost()
    printHeader(bench, mode: mode)

    bench.measureInterleaved(only)
    if only.contains("e") { bench.measureIdle() }
    if only.contains("f") { bench.measureScale() }
    if only.contains("h") { bench.measureWatch() }
    bench.printRatios()
    bench.report.out("")
    bench.report.out("== JSON (one line per figure, then per ratio) ==")
    for line in bench.report.jsonLines() + bench.ratioJSONLines() { bench.report.out(line) }
    bench.report.out("")
    bench.report.out("total time: \(fmt(now() - started, 1)) s")
}

func printHeader(_ bench: Bench, mode: String) {
    var t = time(nil)
    var tmv = tm()
    gmtime_r(&t, &tmv)
    var buf = [CChar](repeating: 0, count: 64)
    strftime(&buf, buf.count, "%Y-%m-%d %H:%M UTC", &tmv)
    let date = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    var u = utsname()
    uname(&u)
    func field<T>(_ v: T) -> String {
        withUnsafeBytes(of: v) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
    let cpu =
        readTextFile("/proc/cpuinfo")?.split(separator: "\n").first { $0.hasPrefix("model name") }
        .map { String($0.split(separator: ":", maxSplits: 1).last!.trimmingSpaces) } ?? "unknown CPU"
    let nested = (readTextFile("/proc/cpuinfo") ?? "").contains(" hypervisor") ? ", in a VM (nested KVM)" : ""
    let r = bench.report
    r.out("kvmstub-bench, \(date)")
    r.out(
        "host: \(cpu), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPUs\(nested); \(field(u.sysname)) \(field(u.release))")
    r.out("kvmstub: \(bench.kvmstubPath); Z0 served by: \(bench.z0Strategy)")
    if let q = bench.qemuPath {
        let version = (try? bench.runQEMUVersion(q)) ?? "version unknown"
        r.out("QEMU: \(q) (\(version))")
    } else {
        r.out("QEMU: not measured (\(bench.qemuAbsentReason))")
    }
    let b = bench.budget
    r.out(
        "mode: \(mode): \(b.runs) timed run\(b.runs > 1 ? "s" : "") per figure after \(b.warmUpOps) warm-up ops, each ≤ \(fmtSmart(b.seconds)) s or \(b.maxOps) ops; median [min – max]"
    )
    r.out(
        "placement: pinned = client and server (all its threads) on CPU \(bench.pinnedCPU); unpinned = CPUs \(bench.allCPUs.map(String.init).joined(separator: ","))"
    )
    r.out("server lines: CPU time and context switches of the server process per operation, from /proc")
    let load = (readTextFile("/proc/loadavg") ?? "").split(separator: " ").first.flatMap { Double($0) }
    if let load {
        let busy = load > 0.5 ? " — the machine is busy: every figure is slower and noisier than on an idle one" : ""
        r.out("load average (1 min) at start: \(fmt(load, 2))\(busy)")
    }
    r.out("sections a-d and g run interleaved (round 1 of every figure, then round 2, …), so background load is shared alike")
}

extension Bench {
    func runQEMUVersion(_ q: String) throws(BenchError) -> String {
        let child = try ChildProcess([q, "--version"], name: "QEMU", logPath: scratch + "/qemu-version.log")
        let deadline = now() + 5
        while child.isAlive && now() < deadline { sleepSeconds(0.005) }
        child.stop()
        return String(child.log.split(separator: "\n").first ?? "").replacingOccurrencesOfPrefix("QEMU emulator ")
    }
}

extension String {
    func replacingOccurrencesOfPrefix(_ p: String) -> String { hasPrefix(p) ? String(dropFirst(p.count)) : self }
}

mainEntry()

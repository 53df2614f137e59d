import Glibc

/// The guest of section h: a loop that stores to and loads from one data page, counting iterations in rax.
///
///     0x100000  48 89 04 25 08 10 10 00   mov [0x101008], rax    (a neighbour of the watched word)
///     0x100008  48 8b 1c 25 10 10 10 00   mov rbx, [0x101010]    (another neighbour)
///     0x100010  48 ff c0                  inc rax
///     0x100013  eb eb                     jmp 0x100000
///     0x100020  48 ff c0                  inc rax                (the loop away from it:
///     0x100023  48 ff c3                  inc rbx                 no access to the data page)
///     0x100026  eb f8                     jmp 0x100020
///
/// The watched word is 0x101000, which the loop never touches: every exit a watchpoint causes is the cost of an
/// unwatched access to a watched page, and no watchpoint ever stops the loop.
enum WatchLoopGuest {
    static let entry: UInt64 = 0x10_0000
    static let watched: UInt64 = 0x10_1000
    static let code: [UInt8] = [
        0x48, 0x89, 0x04, 0x25, 0x08, 0x10, 0x10, 0x00, 0x48, 0x8B, 0x1C, 0x25, 0x10, 0x10, 0x10, 0x00,
        0x48, 0xFF, 0xC0, 0xEB, 0xEB, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0x48, 0xFF, 0xC0, 0x48, 0xFF, 0xC3, 0xEB, 0xF8,
    ]
    static let awayLoop: UInt64 = 0x10_0020

    /// A minimal ELF64 executable: one PT_LOAD at 0x100000 of two pages (the code, then the zeroed data page).
    static func elf() -> [UInt8] {
        let codeOffset = 0x1000
        var out = [UInt8](repeating: 0, count: codeOffset + code.count)
        func put16(_ v: UInt16, _ at: Int) { for i in 0..<2 { out[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
        func put32(_ v: UInt32, _ at: Int) { for i in 0..<4 { out[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
        func put64(_ v: UInt64, _ at: Int) { for i in 0..<8 { out[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
        out.replaceSubrange(0..<8, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0])
        put16(2, 16)  // ET_EXEC
        put16(62, 18)  // EM_X86_64
        put32(1, 20)
        put64(entry, 24)
        put64(64, 32)  // e_phoff
        put16(64, 52)
        put16(56, 54)
        put16(1, 56)  // e_phnum
        put16(64, 58)
        let ph = 64
        put32(1, ph)  // PT_LOAD
        put32(7, ph + 4)  // R W X
        put64(UInt64(codeOffset), ph + 8)
        put64(entry, ph + 16)
        put64(entry, ph + 24)
        put64(UInt64(code.count), ph + 32)
        put64(0x2000, ph + 40)  // p_memsz: the code page and the data page
        put64(0x1000, ph + 48)
        out.replaceSubrange(codeOffset..<codeOffset + code.count, with: code)
        return out
    }
}

extension Bench {
    /// h. Page-protection watchpoints (Machine/Machine+PageWatchpoints.swift): the loop above, with no watchpoint, with one
    /// served by page protection (watch: a read-only page, the store exits; rwatch: a hole, the store and the
    /// load exit), by single steps, and by a debug register where data breakpoints fire. Iterations a second,
    /// counted by the guest in rax over a timed `c` ended by Ctrl-C; the exit round trip follows from the
    /// difference.
    func measureWatch() {
        report.startSection(.watch)
        let onPage = WatchLoopGuest.entry, away = WatchLoopGuest.awayLoop
        let configurations: [(key: String, label: String, loop: UInt64, setup: [String])] = [
            ("watch.loop_none", "store+load loop on the page, no watchpoint", onPage, []),
            ("watch.loop_page_z2", "  watch there, page protection (ro: 1 exit/it.)", onPage, ["page", "Z2"]),
            ("watch.loop_page_z3", "  rwatch there, page protection (hole: 2 exits/it.)", onPage, ["page", "Z3"]),
            ("watch.loop_step_z2", "  watch there, single steps (4 steps/it.)", onPage, ["single-step", "Z2"]),
            ("watch.loop_dr_z2", "  watch there, debug register", onPage, ["debug-registers", "Z2"]),
            ("watch.away_none", "inc/inc/jmp loop off the page, no watchpoint", away, []),
            ("watch.away_page_z2", "  watch on the page, page protection", away, ["page", "Z2"]),
            ("watch.away_step_z2", "  watch on the page, single steps", away, ["single-step", "Z2"]),
        ]
        var figures = configurations.map {
            Figure($0.key, .watch, $0.label, placement: .unpinned, kind: .rate(unit: "iterations/s"))
        }
        do {
            let guest = scratch + "/watch-loop.elf"
            try writeFile(guest, WatchLoopGuest.elf())
            let (child, endpoint) = try startKVMStub(
                ["run", guest, "--wait", "--gdb", "127.0.0.1:0", "--memory", "16M", "--serial", "/dev/null"], tag: "watch")
            defer { child.stop() }
            let client = try RSPClient(endpoint)
            _ = try client.handshake()
            _ = try client.request("?")
            let host = try client.monitor("breakpoints")
            let registersFire = !host.contains("data breakpoints never fire")
            for (i, configuration) in configurations.enumerated() {
                if configuration.setup.first == "debug-registers" && !registersFire {
                    figures[i].notMeasured = "data breakpoints never fire on this host"
                    continue
                }
                var inserted: String?
                if let strategy = configuration.setup.first, let z = configuration.setup.last {
                    _ = try client.monitor("watch-strategy \(strategy)")
                    let packet = "\(z),\(String(WatchLoopGuest.watched, radix: 16)),8"
                    let reply = try client.request(packet)
                    guard reply == "OK" else { throw BenchError("\(packet) answered '\(reply)'") }
                    inserted = packet
                }
                let loop = configuration.loop
                _ = try loopRate(client, loop, seconds: min(budget.seconds, 0.02))  // warm-up: the first exits, faults
                for _ in 0..<budget.runs { figures[i].samples.append(try loopRate(client, loop, seconds: budget.seconds)) }
                if let inserted {
                    let reply = try client.request("z" + inserted.dropFirst())
                    guard reply == "OK" else { throw BenchError("z\(inserted.dropFirst()) answered '\(reply)'") }
                }
            }
            _ = try client.monitor("watch-strategy auto")
        } catch {
            for i in figures.indices where figures[i].samples.isEmpty && figures[i].notMeasured == nil {
                figures[i].notMeasured = "\(error)"
            }
        }
        var exit = Figure("watch.exit_round_trip", .watch, "an unwatched access to a watched page (one MMIO exit, served)", kind: .latency)
        if let none = figures[0].median, let z2 = figures[1].median, let z3 = figures[2].median, none > 0, z2 > 0, z3 > 0 {
            exit.samples = [(1 / z2 - 1 / none) * 1e6, (1 / z3 - 1 / none) * 1e6 / 2]
            exit.note = "from the medians: (1/watch - 1/none), and (1/rwatch - 1/none) / 2"
        } else {
            exit.notMeasured = "needs the loop without and with page protection"
        }
        for (page, step) in [(1, 3), (6, 7)] {
            if let p = figures[page].median, let s = figures[step].median, s > 0 {
                figures[step].note = "page protection runs this loop \(fmtSmart(p / s))x as fast"
            }
        }
        for f in figures { report.add(f) }
        report.add(exit)
    }

    /// rip := the loop, rax := 0, `c` for `seconds`, Ctrl-C, rax: the loop's iterations a second.
    private func loopRate(_ client: RSPClient, _ loop: UInt64, seconds: Double) throws(BenchError) -> Double {
        let rip = (0..<8).map { String(format2((loop >> (8 * UInt64($0))) & 0xff)) }.joined()
        guard try client.request("P10=" + rip) == "OK" else { throw BenchError("P10 (rip) refused") }
        guard try client.request("P0=0000000000000000") == "OK" else { throw BenchError("P0 (rax) refused") }
        let t0 = now()
        try client.send(RSPClient.frame("c"))
        sleepSeconds(seconds)
        try client.send([0x03])
        let stop = Array(RSPClient.runLengthDecoded(try client.nextPacket()))
        let elapsed = now() - t0
        guard stop.first == UInt8(ascii: "T") else { throw BenchError("Ctrl-C answered '\(String(decoding: stop, as: UTF8.self))'") }
        let rax = try client.request("p0")
        guard let bytes = RSPClient.hexDecoded(Array(rax.utf8)[...]), bytes.count == 8 else {
            throw BenchError("p0 answered '\(rax)'")
        }
        let count = bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(count) / elapsed
    }
}

private func format2(_ v: UInt64) -> String { (v < 16 ? "0" : "") + String(v, radix: 16) }

import Glibc

/// What the client does in a loop against a stub. Every operation checks its reply, so a figure can never be
/// the speed of a stub that answers errors.
enum RSPOperation: CaseIterable {
    case step
    case stepThenG
    case z0Hit
    case z1Hit
    case g
    case m4k

    var key: String {
        switch self {
        case .step: "step"
        case .stepThenG: "step_g"
        case .z0Hit: "z0_hit"
        case .z1Hit: "z1_hit"
        case .g: "g"
        case .m4k: "m4k"
        }
    }

    var label: String {
        switch self {
        case .step: "s (single-step)"
        case .stepThenG: "s then g (a stepi that reads all registers)"
        case .z0Hit: "Z0 hit: Z0 + c + z0, alternating sites"
        case .z1Hit: "Z1 hit: Z1 + c + z1, alternating sites"
        case .g: "g round trip (guest stopped)"
        case .m4k: "m 4 KiB round trip (as gdb splits it)"
        }
    }

    var unit: String {
        switch self {
        case .step, .stepThenG: "steps/s"
        case .z0Hit, .z1Hit: "hits/s"
        case .g, .m4k: "RTT/s"
        }
    }
}

/// A server with a connected client that has done the handshake gdb does.
struct StubConnection {
    let name: String
    let child: ChildProcess
    let client: RSPClient
    /// kvmstub: `monitor sync-stats` gives ioctls by request type.
    let syncStats: Bool
    /// QStartNoAckMode was accepted; otherwise the client acks every reply (and the server every request).
    let noAck: Bool
}

private func hex(_ v: UInt64) -> String { String(v, radix: 16) }

extension Bench {
    // MARK: b. the floor

    func responderProbes() -> [Probe] {
        var probes: [Probe] = []
        for placement in Placement.allCases {
            for transport in ["tcp", "unix"] {
                let f = Figure(
                    "responder.rtt_\(transport)", .responder, "do-nothing round trip, \(transport)",
                    placement: placement,
                    kind: .rate(unit: "RTT/s"))
                do {
                    let (child, endpoint) = try placed(placement) { () throws(BenchError) in
                        try startResponder(transport, tag: "\(placement)-\(transport)")
                    }
                    servers.append(child)
                    let client = try RSPClient(endpoint)
                    let frame = RSPClient.frame("s")
                    probes.append(
                        Probe(f, server: child) { () throws(BenchError) in
                            guard try client.roundTrip(frame).starts(with: "T05") else { throw BenchError("bad reply") }
                        })
                } catch {
                    probes.append(.failed(f, "\(error)"))
                }
            }
        }
        return probes
    }

    // MARK: c. kvmstub

    func kvmstubProbes() -> [Probe] {
        var probes: [Probe] = []
        for placement in Placement.allCases {
            do {
                let (child, endpoint) = try placed(placement) { () throws(BenchError) in
                    try startKVMStub("tcp", tag: "\(placement)")
                }
                servers.append(child)
                let connection = try connect(name: "kvmstub", child: child, endpoint: endpoint, syncStats: true)
                for op in RSPOperation.allCases {
                    probes.append(
                        probe(op, on: connection, key: "kvmstub.\(op.key)", section: .kvmstub, placement: placement))
                }
            } catch {
                for op in RSPOperation.allCases {
                    probes.append(
                        .failed(
                            Figure(
                                "kvmstub.\(op.key)", .kvmstub, op.label, placement: placement,
                                kind: .rate(unit: op.unit)), "\(error)"))
                }
            }
            // The same step loop over a Unix socket.
            let label = "s (single-step), unix socket"
            do {
                let (child, endpoint) = try placed(placement) { () throws(BenchError) in
                    try startKVMStub("unix", tag: "\(placement)-unix")
                }
                servers.append(child)
                let connection = try connect(name: "kvmstub", child: child, endpoint: endpoint, syncStats: true)
                probes.append(
                    probe(
                        .step, on: connection, key: "kvmstub.step_unix", section: .kvmstub, placement: placement,
                        label: label))
            } catch {
                probes.append(
                    .failed(
                        Figure(
                            "kvmstub.step_unix", .kvmstub, label, placement: placement, kind: .rate(unit: "steps/s")),
                        "\(error)"))
            }
        }
        return probes
    }

    // MARK: d. QEMU

    func qemuProbes() -> [Probe] {
        var probes: [Probe] = []
        for placement in Placement.allCases {
            do {
                let (child, endpoint) = try placed(placement) { () throws(BenchError) in
                    try startQEMU(tag: "\(placement)")
                }
                servers.append(child)
                let connection = try connect(name: "QEMU", child: child, endpoint: endpoint, syncStats: false)
                for op in RSPOperation.allCases {
                    if op == .z0Hit && !int3Intercepted {
                        probes.append(
                            .failed(
                                Figure(
                                    "qemu.\(op.key)", .qemu, op.label, placement: placement, kind: .rate(unit: op.unit)),
                                "QEMU serves Z0 with int3 + USE_SW_BP, which needs KVM to intercept #BP; here it does not (kvmstub info: \(z0Strategy), caught otherwise), and QEMU's guest would take the #BP itself or stop on KVM's emulation failure"
                            ))
                        continue
                    }
                    probes.append(
                        probe(op, on: connection, key: "qemu.\(op.key)", section: .qemu, placement: placement))
                }
            } catch {
                for op in RSPOperation.allCases {
                    probes.append(
                        .failed(
                            Figure("qemu.\(op.key)", .qemu, op.label, placement: placement, kind: .rate(unit: op.unit)),
                            "\(error)"))
                }
            }
        }
        return probes
    }

    // MARK: The client's side

    /// Connects, does gdb's handshake, and brings the vCPU into the loop, stopped at site B (after a Z1 there).
    func connect(name: String, child: ChildProcess, endpoint: Endpoint, syncStats: Bool) throws(BenchError)
        -> StubConnection
    {
        let client = try RSPClient(endpoint)
        let noAck = try client.handshake()
        _ = try client.request("?")
        // From the entry (kvmstub) or the reset vector (QEMU's firmware) to the loop: run to A, then to B.
        for site in [LoopGuest.siteA, LoopGuest.siteB] {
            try expect(client.request("Z1,\(hex(site)),1"), "OK", "Z1 at 0x\(hex(site))")
            let stop = try client.request("c")
            guard stop.hasPrefix("T05") else {
                throw BenchError("\(name): continue to 0x\(hex(site)) stopped with '\(stop)'")
            }
            try expect(client.request("z1,\(hex(site)),1"), "OK", "z1 at 0x\(hex(site))")
        }
        let pc = try readPC(client)
        guard pc == LoopGuest.siteB else {
            throw BenchError("\(name): after the hardware breakpoint at 0x100003 the pc is 0x\(hex(pc))")
        }
        return StubConnection(name: name, child: child, client: client, syncStats: syncStats, noAck: noAck)
    }

    private func expect(_ reply: String, _ wanted: String, _ what: String) throws(BenchError) {
        guard reply == wanted else { throw BenchError("\(what) answered '\(reply.prefix(60))'") }
    }

    /// rip from a `g` reply: gdb's x86-64 layout (64bit-core.xml) puts it after the sixteen 64-bit GPRs, at
    /// byte 128. (`p` would be shorter, but QEMU answers it only after the client has read target.xml.)
    func readPC(_ client: RSPClient) throws(BenchError) -> UInt64 {
        let reply = Array(try client.request("g").utf8)
        guard reply.count >= 272, let bytes = RSPClient.hexDecoded(reply[256..<272]) else {
            throw BenchError("g answered '\(String(decoding: reply.prefix(40), as: UTF8.self))'")
        }
        return bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
    }

    /// One figure: `op` in a loop on the connection, charged with the server's ioctls (kvmstub), CPU time and
    /// context switches per operation.
    func probe(
        _ op: RSPOperation, on c: StubConnection, key: String, section: Section, placement: Placement,
        label: String? = nil
    ) -> Probe {
        var f = Figure(key, section, label ?? op.label, placement: placement, kind: .rate(unit: op.unit))
        let client = c.client
        var notes: [String] = []
        if !c.noAck { notes.append("no QStartNoAckMode: every packet is acked with '+' both ways, as gdb does") }
        let stats = c.syncStats ? client : nil
        let step = RSPClient.frame("s")
        let g = RSPClient.frame("g")
        let probe: Probe
        switch op {
        case .step:
            probe = Probe(f, server: c.child, statsClient: stats) { () throws(BenchError) in
                let r = try client.roundTrip(step)
                guard r.starts(with: "T05") else { throw BenchError("s answered '\(r.text)'") }
            }
        case .stepThenG:
            probe = Probe(f, server: c.child, statsClient: stats) { () throws(BenchError) in
                let r = try client.roundTrip(step)
                guard r.starts(with: "T05") else { throw BenchError("s answered '\(r.text)'") }
                let regs = try client.roundTrip(g)
                guard regs.count > 3 else { throw BenchError("g answered '\(regs.text)'") }
            }
        case .z0Hit, .z1Hit:
            // Each hit runs the vCPU from one site to the other (no step-over needed), with the breakpoint inserted
            // just before and removed just after, as gdb does by default (breakpoint always-inserted off).
            let type = op == .z0Hit ? "0" : "1"
            let sites = [LoopGuest.siteA, LoopGuest.siteB]
            let next = Box(0)
            let insert = sites.map { RSPClient.frame("Z\(type),\(hex($0)),1") }
            let remove = sites.map { RSPClient.frame("z\(type),\(hex($0)),1") }
            let cont = RSPClient.frame("c")
            notes.insert("3 round trips per hit (Z, c, z); the c runs 1-2 guest instructions", at: 0)
            if op == .z0Hit && c.syncStats { notes.insert("kvmstub serves Z0 here with \(z0Strategy)", at: 1) }
            probe = Probe(
                f, server: c.child, statsClient: stats,
                before: { () throws(BenchError) in
                    next.value = try self.readPC(client) == LoopGuest.siteA ? 1 : 0
                },
                after: { () throws(BenchError) in
                    let last = sites[next.value ^ 1]
                    let pc = try self.readPC(client)
                    guard pc == last else {
                        throw BenchError("the last hit should have stopped at 0x\(hex(last)), the pc is 0x\(hex(pc))")
                    }
                }
            ) { () throws(BenchError) in
                var r = try client.roundTrip(insert[next.value])
                guard r.starts(with: "OK") else { throw BenchError("Z\(type) answered '\(r.text)'") }
                r = try client.roundTrip(cont)
                guard r.starts(with: "T05") else { throw BenchError("c answered '\(r.text)'") }
                r = try client.roundTrip(remove[next.value])
                guard r.starts(with: "OK") else { throw BenchError("z\(type) answered '\(r.text)'") }
                next.value ^= 1
            }
        case .g:
            if let size = try? client.request("g").count { notes.insert("g reply: \(size) hex digits", at: 0) }
            probe = Probe(f, server: c.child, statsClient: stats) { () throws(BenchError) in
                let r = try client.roundTrip(g)
                guard r.count > 3 else { throw BenchError("g answered '\(r.text)'") }
            }
        case .m4k:
            // 4 KiB in as few `m` packets as the server's PacketSize allows, as gdb would split it.
            let chunk = min(4096, max(256, (client.packetSize > 0 ? client.packetSize : 4096) / 2))
            let frames = stride(from: 0, to: 4096, by: chunk).map {
                RSPClient.frame("m\(hex(LoopGuest.entry + UInt64($0))),\(hex(UInt64(chunk)))")
            }
            if frames.count > 1 {
                notes.insert(
                    "\(frames.count) packets of m…,\(hex(UInt64(chunk))) (PacketSize=\(hex(UInt64(client.packetSize))))",
                    at: 0)
            }
            probe = Probe(f, server: c.child, statsClient: stats) { () throws(BenchError) in
                for m in frames {
                    let r = try client.roundTrip(m)
                    guard r.count == 2 * chunk || RSPClient.runLengthDecoded(r).count == 2 * chunk else {
                        throw BenchError("m of \(chunk) bytes answered \(r.count) hex digits: '\(r.text)'")
                    }
                }
            }
        }
        if !notes.isEmpty {
            f.note = notes.joined(separator: "; ")
            probe.figure.note = f.note
        }
        return probe
    }
}

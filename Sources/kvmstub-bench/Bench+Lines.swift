import Glibc

/// The guest code of section g: for each line length N, two source "lines" of exactly N instructions that jump
/// to each other, so every `next` starts at one line's first instruction and ends at the other's. The client
/// writes them into guest RAM with `M` (both stubs take it) once connected to the loop guest.
///
///     base - 1       nop                          (`s base-1` lands on line 1)
///     base           inc rax  × (N - 1); jmp line2          line 1
///     base + 512 KiB inc rbx  × (N - 1); jmp line1          line 2
enum LineGuest {
    static let lengths = [10, 100, 10_000]

    static func line1(_ n: Int) -> UInt64 { 0x20_0000 + UInt64(lengths.firstIndex(of: n)!) * 0x10_0000 }
    static func line2(_ n: Int) -> UInt64 { line1(n) + 0x8_0000 }
    /// Bytes of one line: 3 per inc, 5 for the jmp.
    static func size(_ n: Int) -> UInt64 { UInt64(3 * (n - 1) + 5) }

    static func code(_ n: Int, at start: UInt64, jumpingTo target: UInt64, inc modrm: UInt8) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(size(n)))
        for _ in 0..<(n - 1) { out += [0x48, 0xFF, modrm] }
        let rel = Int64(bitPattern: target) - Int64(bitPattern: start + UInt64(out.count) + 5)
        out.append(0xE9)
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: rel >> Int64(8 * i))) }
        return out
    }
}

/// How a `next` reaches the stub.
enum NextShape {
    /// `vCont;rSTART,END:1;c` (gdb's default when the stub lists `r`), then `m sp,40`.
    case rangeStep
    /// N × `vCont;s:1;c` (what gdb sends without `r`: QEMU, or `set range-stepping off`), then `m sp,40`.
    case singleSteps

    var key: String { self == .rangeStep ? "next_r" : "next_s" }

    func label(_ stub: String, _ n: Int) -> String {
        "\(stub): next, \(fmt(Double(n)))-insn line, " + (self == .rangeStep ? "vCont;r" : "N × vCont;s")
    }

    func packets(_ n: Int) -> Int { self == .rangeStep ? 2 : n + 1 }
}

private func hex(_ v: UInt64) -> String { String(v, radix: 16) }

extension Bench {
    /// g. `next` over an N-instruction line as gdb sends it (the packets of `set debug remote 1` with gdb 13):
    /// kvmstub with range stepping, kvmstub and QEMU without. One server per stub and placement, its own.
    func lineProbes(qemu: Bool) -> [Probe] {
        var probes: [Probe] = []
        let stubs: [(name: String, shapes: [NextShape])] =
            [("kvmstub", [.rangeStep, .singleSteps])] + (qemu ? [("qemu", [.singleSteps])] : [])
        for placement in Placement.allCases {
            for stub in stubs {
                var connection: StubConnection?
                var failure = ""
                do {
                    let (child, endpoint) = try placed(placement) { () throws(BenchError) in
                        stub.name == "qemu"
                            ? try startQEMU(tag: "lines-\(placement)")
                            : try startKVMStub("tcp", tag: "lines-\(placement)")
                    }
                    servers.append(child)
                    let c = try connect(
                        name: stub.name == "qemu" ? "QEMU" : "kvmstub", child: child, endpoint: endpoint,
                        syncStats: stub.name == "kvmstub")
                    try writeLines(c.client)
                    connection = c
                } catch {
                    failure = "\(error)"
                }
                for n in LineGuest.lengths {
                    for shape in stub.shapes {
                        let f = Figure(
                            "\(stub.name).\(shape.key)_\(n)", .lines,
                            shape.label(stub.name == "qemu" ? "QEMU" : "kvmstub", n), placement: placement,
                            kind: .rate(unit: "nexts/s"))
                        guard let connection else {
                            probes.append(.failed(f, failure))
                            continue
                        }
                        if budget.smoke && shape.packets(n) > 1000 {
                            probes.append(.failed(f, "not run with --smoke: \(shape.packets(n)) round trips a next"))
                            continue
                        }
                        probes.append(nextProbe(f, n, shape, on: connection))
                    }
                }
            }
        }
        return probes
    }

    /// Every line pair into guest RAM, with `M` packets as large as the stub's PacketSize allows.
    private func writeLines(_ client: RSPClient) throws(BenchError) {
        let chunk = min(4096, max(256, ((client.packetSize > 0 ? client.packetSize : 4096) - 64) / 2))
        for n in LineGuest.lengths {
            let one = LineGuest.line1(n), two = LineGuest.line2(n)
            for (address, bytes) in [
                (one - 1, [0x90] + LineGuest.code(n, at: one, jumpingTo: two, inc: 0xC0)),
                (two, LineGuest.code(n, at: two, jumpingTo: one, inc: 0xC3)),
            ] {
                for offset in stride(from: 0, to: bytes.count, by: chunk) {
                    let piece = bytes[offset..<min(bytes.count, offset + chunk)]
                    let digits = piece.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined()
                    let reply = try client.request(
                        "M\(hex(address + UInt64(offset))),\(hex(UInt64(piece.count))):\(digits)")
                    guard reply == "OK" else {
                        throw BenchError("M at 0x\(hex(address)) answered '\(reply.prefix(40))'")
                    }
                }
            }
        }
    }

    /// rsp from a `g` reply (gdb's x86-64 layout: the 8th 64-bit register).
    private func readSP(_ client: RSPClient) throws(BenchError) -> UInt64 {
        let reply = Array(try client.request("g").utf8)
        guard reply.count >= 64, let bytes = RSPClient.hexDecoded(reply[48..<64]) else {
            throw BenchError("g answered '\(String(decoding: reply.prefix(40), as: UTF8.self))'")
        }
        return bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
    }

    private func nextProbe(_ figure: Figure, _ n: Int, _ shape: NextShape, on c: StubConnection) -> Probe {
        var f = figure
        let client = c.client
        let starts = [LineGuest.line1(n), LineGuest.line2(n)]
        let ranges = starts.map {
            RSPClient.frame("vCont;r\(hex($0)),\(hex($0 + LineGuest.size(n))):1;c")
        }
        let step = RSPClient.frame("vCont;s:1;c")
        let line = Box(0)
        let readStack = Box(RSPClient.frame("m0,40"))
        var notes = [
            "\(shape.packets(n)) requests per next: "
                + (shape == .rangeStep ? "vCont;r…:1;c, then m sp,40" : "\(n) × vCont;s:1;c, then m sp,40")
        ]
        if !c.noAck { notes.append("no QStartNoAckMode: every packet acked with '+' both ways, as gdb does") }
        f.note = notes.joined(separator: "; ")
        // Warm-up in instructions rather than operations: a line of thousands warms up by itself.
        let warmUp = min(budget.warmUpOps, budget.warmUpOps * 10 / n)
        return Probe(
            f, server: c.child, statsClient: c.syncStats ? client : nil, warmUpOps: warmUp,
            before: { () throws(BenchError) in
                // Onto line 1 from the nop before it (`s ADDR`, which both stubs take), and gdb's stack read.
                let r = try client.request("s\(hex(starts[0] - 1))")
                guard r.hasPrefix("T05") else { throw BenchError("s to line 1 answered '\(r)'") }
                let pc = try self.readPC(client)
                guard pc == starts[0] else { throw BenchError("s to line 1 of \(n) left pc at 0x\(hex(pc))") }
                line.value = 0
                readStack.value = RSPClient.frame("m\(hex(try self.readSP(client))),40")
            },
            after: { () throws(BenchError) in
                let pc = try self.readPC(client)
                guard pc == starts[line.value] else {
                    throw BenchError(
                        "after the nexts pc is 0x\(hex(pc)), not line \(line.value + 1) at 0x\(hex(starts[line.value]))"
                    )
                }
            }
        ) { () throws(BenchError) in
            switch shape {
            case .rangeStep:
                let r = try client.roundTrip(ranges[line.value])
                guard r.starts(with: "T05") else { throw BenchError("vCont;r answered '\(r.text)'") }
            case .singleSteps:
                for _ in 0..<n {
                    let r = try client.roundTrip(step)
                    guard r.starts(with: "T05") else { throw BenchError("vCont;s answered '\(r.text)'") }
                }
            }
            let m = try client.roundTrip(readStack.value)
            guard m.count == 128 || RSPClient.runLengthDecoded(m).count == 128 else {
                throw BenchError("m sp,40 answered '\(m.text)'")
            }
            line.value ^= 1
        }
    }
}

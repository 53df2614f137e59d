import GDBStub
import RSP
import Registers
import Testing

/// Every length, address, register number, thread id and offset gdb sends is checked before it reaches the
/// target, and no reply is longer than the PacketSize the session advertised (issue 6, "Bounds").
///
/// The target here records the memory calls it gets, so a test can say not only what gdb is told but that a range
/// that wraps past 2^64 never reached the target at all.
struct SessionBoundsTests {
    // MARK: m, M, X

    @Test func hugeReadLengthsAreClampedOrRefused() {
        let target = RecordingTarget()
        let session = Session(target: target, maxPacketSize: 256)
        // Clamped to what fits in one reply: 140 bytes, 280 hex digits (the PacketSize is 281, not the 256 asked
        // for: the `g` block must fit).
        #expect(session.maxPacketSize == 281)
        #expect(reply(session, "m1000,7fffffffffffffff")?.count == 280)
        #expect(target.reads.last?.count == 140)
        // The last byte would be past 2^64 - 1: refused before the target hears of it.
        let before = target.reads.count
        #expect(reply(session, "m1000,ffffffffffffffff") == "E14")
        #expect(reply(session, "mffffffffffffffff,2") == "E14")
        #expect(reply(session, "mfffffffffffffff0,11") == "E14")
        #expect(target.reads.count == before)
        // A range ending exactly at 2^64 - 1 is legal; here it is not mapped.
        #expect(reply(session, "mfffffffffffffff0,10") == "E14")
        #expect(target.reads.last?.address == 0xffff_ffff_ffff_fff0)
        // More than 64 bits, or not a number: malformed.
        #expect(reply(session, "m1000,10000000000000000") == "E22")
        #expect(reply(session, "m10000000000000000,1") == "E22")
        #expect(reply(session, "m1000,-1") == "E22")
        #expect(reply(session, "m,4") == "E22")
        #expect(reply(session, "m1000") == "E22")
        // Leading zeros are not a length: they are accepted however many there are.
        #expect(reply(session, "m" + String(repeating: "0", count: 40) + "1000,2") == "0001")
    }

    @Test func writeLengthsMustMatchAndNotWrap() {
        let target = RecordingTarget()
        let session = Session(target: target)
        #expect(reply(session, "M1000,ffffffffffffffff:00") == "E22")
        #expect(reply(session, "M1000,2:00") == "E22")
        #expect(reply(session, "M1000,1:000") == "E22")
        #expect(reply(session, "Mffffffffffffffff,2:0000") == "E14")
        #expect(reply(session, "X1000,ffffffffffffffff:a") == "E22")
        #expect(reply(session, "Xffffffffffffffff,2:ab") == "E14")
        #expect(reply(session, "X10000000000000000,1:a") == "E22")
        #expect(target.writes.isEmpty)
        // One byte at the very last address does not wrap: it reaches the target (which has nothing there).
        #expect(reply(session, "Mffffffffffffffff,1:00") == "E14")
        #expect(target.writes.map(\.address) == [0xffff_ffff_ffff_ffff])
        // Zero bytes anywhere, even at the top, write nothing and succeed (gdb's X probe).
        #expect(reply(session, "Xffffffffffffffff,0:") == "OK")
        #expect(target.writes.count == 1)
    }

    // MARK: Registers

    @Test func registerNumbersOutOfRange() {
        let gdb = Transcript()
        let count = RegisterTable.x86_64.registers.count
        for number in [
            String(count, radix: 16), "7fffffffffffffff", "8000000000000000", "ffffffffffffffff",
            "10000000000000000", "-1", "", "g",
        ] {
            #expect(gdb.send("p" + number) == ackedReply("E22"), "p\(number)")
            #expect(gdb.send("P" + number + "=00") == ackedReply("E22"), "P\(number)")
        }
        #expect(gdb.send("P0") == ackedReply("E22"))
        #expect(gdb.send("P0=") == ackedReply("E22"))
        // The last register of the table is still served.
        #expect(gdb.payload(of: gdb.send("p" + String(count - 1, radix: 16)))?.hasPrefix("E") == false)
    }

    // MARK: Threads

    @Test func threadIDsZeroMinusOneHugeAndNegative() {
        let gdb = Transcript()
        // 0 is "any" and -1 "all": accepted for Hg/Hc, the registers stay with the thread gdb looks at.
        #expect(gdb.send("Hg0") == "+$OK#9a")
        #expect(gdb.send("Hg-1") == "+$OK#9a")
        #expect(gdb.send("Hc-1") == "+$OK#9a")
        #expect(gdb.send("qC") == ackedReply("QC1"))
        for id in [
            "-2", "-0", "--1", "3", "7fffffff", "80000000", "ffffffff", "ffffffffffffffff", "10000000000000000",
            "p1.1", "",
        ] {
            #expect(gdb.send("Hg" + id) == ackedReply("E22"), "Hg\(id)")
            #expect(gdb.send("Hc" + id) == ackedReply("E22"), "Hc\(id)")
            #expect(gdb.send("T" + id) == ackedReply("E22"), "T\(id)")
            #expect(gdb.send("qThreadExtraInfo," + id) == ackedReply("E22"), "qThreadExtraInfo,\(id)")
            #expect(gdb.send("vCont;s:" + id) == ackedReply("E22"), "vCont;s:\(id)")
        }
        for id in ["0", "-1"] {
            #expect(gdb.send("T" + id) == ackedReply("E22"), "T\(id) is no thread")
            #expect(gdb.send("qThreadExtraInfo," + id) == ackedReply("E22"))
        }
        #expect(gdb.send("qC") == ackedReply("QC1"))
        #expect(gdb.target.resumeCalls.isEmpty)
    }

    // MARK: qXfer

    @Test func qXferOffsetsPastTheEndAndHuge() {
        let gdb = Transcript()
        let document = RegisterTable.x86_64.targetDescription()["target.xml"]!.utf8.count
        let end = String(document, radix: 16)
        #expect(gdb.send("qXfer:features:read:target.xml:\(end),100") == ackedReply("l"))
        #expect(gdb.send("qXfer:features:read:target.xml:\(String(document + 1, radix: 16)),100") == ackedReply("l"))
        #expect(gdb.send("qXfer:features:read:target.xml:7fffffffffffffff,ffffffffffffffff") == ackedReply("l"))
        #expect(gdb.send("qXfer:features:read:target.xml:ffffffffffffffff,ffffffffffffffff") == ackedReply("l"))
        #expect(gdb.send("qXfer:features:read:target.xml:10000000000000000,1") == ackedReply("E22"))
        #expect(gdb.send("qXfer:features:read:target.xml:0,10000000000000000") == ackedReply("E22"))
        #expect(gdb.send("qXfer:features:read:target.xml:0") == ackedReply("E22"))
        #expect(gdb.send("qXfer:features:read:target.xml:") == ackedReply("E22"))
        // The last byte, with a huge length: exactly one byte, and `l`.
        let last = gdb.send("qXfer:features:read:target.xml:\(String(document - 1, radix: 16)),ffffffffffffffff")
        let lastByte = RegisterTable.x86_64.targetDescription()["target.xml"]!.utf8.last!
        #expect(gdb.payload(of: last) == "l" + String(decoding: [lastByte], as: UTF8.self))
    }

    // MARK: PacketSize

    @Test(arguments: [256, 4096, 16384])
    func aPacketOfExactlyPacketSizeIsTakenAndOneMoreIsNAKed(requested: Int) {
        let gdb = Transcript(maxPacketSize: requested)
        let size = gdb.session.maxPacketSize
        // `m` + zeros + `1000,2`: leading zeros pad the address to any length.
        func padded(_ length: Int) -> String { "m" + String(repeating: "0", count: length - 7) + "1000,2" }
        #expect(padded(size).utf8.count == size)
        #expect(gdb.send(padded(size)) == ackedReply("0001"))
        // One over: NAKed (gdb resends, then gives up), no reply, the session goes on.
        #expect(gdb.send(padded(size + 1)) == "-")
        #expect(gdb.send(padded(100_000)) == "-")
        #expect(gdb.session.receive(Array("-".utf8)) == Array(framed("0001").utf8))
        #expect(gdb.send("m1000,1") == ackedReply("00"))
    }

    @Test func repliesNeverExceedPacketSize() throws {
        for size in [1, 256, 300, 4096, 16384] {
            let target = SimulatedTarget()
            target.monitorOutput = String(repeating: "0123456789abcdef", count: 3000)
            let gdb = Transcript(target: target, maxPacketSize: size)
            let limit = gdb.session.maxPacketSize
            let supported = try #require(gdb.payload(of: gdb.send("qSupported:swbreak+;hwbreak+")))
            #expect(supported.hasPrefix("PacketSize=" + String(limit, radix: 16) + ";"))
            for request in [
                "g", "m1000,ffffffff", "m0,7fffffffffffffff", "qXfer:features:read:target.xml:0,ffffffffffff",
                "qXfer:features:read:64bit-avx512.xml:0,fffff", "qRcmd," + hexText("long"), "qRcmd," + hexText("help"),
                "qfThreadInfo", "p18", "?", "vCont?",
            ] {
                for frame in frames(Array(gdb.send(request).utf8)) {
                    #expect(frame.count <= limit, "\(request) at PacketSize \(size): \(frame.count) bytes")
                }
            }
        }
    }

    /// Regression (found by Fuzz/FuzzSession, input Fuzz/corpus/regressions/session-g-reply-sve2048-over-packetsize):
    /// with SVE at 2048 bits the `g` block is 9020 bytes, 18040 hex digits, past the default PacketSize of 16384.
    /// The reply cannot be split, so the session now advertises (and accepts) a PacketSize the block fits in.
    @Test func theWholeRegisterBlockFitsThePacketSize() throws {
        let table = RegisterTable.arm64(sveVectorLength: 2048)
        #expect(table.gPacketByteCount == 9020)
        let gdb = Transcript(target: SimulatedTarget(registerTable: table))
        #expect(gdb.session.maxPacketSize >= 2 * 9020 + 1)
        let g = try #require(gdb.payload(of: gdb.send("g")))
        #expect(g.count == 18040)
        #expect(g.count <= gdb.session.maxPacketSize)
        // And a `G` of the same block (plus its letter) is taken, not NAKed as oversized.
        let block = String(repeating: "x", count: 16) + String(repeating: "11", count: 9020 - 8)
        #expect(gdb.send("G" + block) == "+$OK#9a")
        #expect(gdb.session.maxPacketSize >= 2 * (table.registers.map(\.byteSize).max() ?? 0) + 32)
    }

    // MARK: Breakpoints and signals

    @Test func breakpointAndSignalFieldsOutOfRange() {
        let gdb = Transcript()
        #expect(gdb.send("Z0,1000,ffffffffffffffff") == ackedReply("E22"))
        #expect(gdb.send("Z0,1000,10000000000000000") == ackedReply("E22"))
        #expect(gdb.send("Z0,10000000000000000,1") == ackedReply("E22"))
        #expect(gdb.send("Z5,1000,1") == ackedReply("E22"))
        #expect(gdb.send("Zffffffffffffffff,1000,1") == ackedReply("E22"))
        #expect(gdb.send("Z0,1000,1,") == ackedReply("E22"))
        #expect(gdb.send("z0,1000") == ackedReply("E22"))
        #expect(gdb.target.insertCalls.isEmpty)
        #expect(gdb.send("C10000000000000000") == ackedReply("E22"))
        #expect(gdb.send("S05;10000000000000000") == ackedReply("E22"))
        #expect(gdb.send("vCont;C10000000000000000") == ackedReply("E22"))
        #expect(gdb.send("c10000000000000000") == ackedReply("E22"))
        #expect(gdb.target.resumeCalls.isEmpty)
    }

    @Test func monitorCommandsOfAnyBytes() {
        let gdb = Transcript(maxPacketSize: 256)
        // Not UTF-8, a NUL, an odd digit count: an answer, never a trap.
        #expect(gdb.payload(of: gdb.send("qRcmd,ff00fe")) != nil)
        #expect(gdb.send("qRcmd,abc") == ackedReply("E22"))
        #expect(gdb.send("qRcmd,zz") == ackedReply("E22"))
        let long = gdb.send("qRcmd," + String(repeating: "41", count: 120))
        for frame in frames(Array(long.utf8)) { #expect(frame.count <= gdb.session.maxPacketSize) }
    }
}

/// The session's reply to one request, unframed; nil if the output is not exactly `+` and one frame.
private func reply(_ session: Session, _ payload: String) -> String? {
    let out = session.receive(frame(Array(payload.utf8)))
    guard out.first == UInt8(ascii: "+") else { return nil }
    return packetPayload(Array(out.dropFirst()))
}

/// The payloads of every `$…#cs` frame in `bytes` (acks skipped).
private func frames(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    var result: [ArraySlice<UInt8>] = []
    var i = 0
    while i < bytes.count {
        guard bytes[i] == UInt8(ascii: "$"), let hash = bytes[i...].firstIndex(of: UInt8(ascii: "#")) else {
            i += 1
            continue
        }
        result.append(bytes[(i + 1)..<hash])
        i = hash + 3
    }
    return result
}

/// A SimulatedTarget that also records the memory calls it gets.
private final class RecordingTarget: DebugTarget {
    let inner = SimulatedTarget()
    var reads: [(address: UInt64, count: Int)] = []
    var writes: [(address: UInt64, count: Int)] = []

    var registerTable: RegisterTable { inner.registerTable }
    var threadIDs: [Int] { inner.threadIDs }
    func readRegister(_ regnum: Int, thread: Int) throws(TargetError) -> [UInt8]? {
        try inner.readRegister(regnum, thread: thread)
    }
    func writeRegister(_ regnum: Int, value: [UInt8], thread: Int) throws(TargetError) {
        try inner.writeRegister(regnum, value: value, thread: thread)
    }
    func readMemory(at address: UInt64, count: Int, thread: Int) throws(TargetError) -> [UInt8] {
        reads.append((address, count))
        return try inner.readMemory(at: address, count: count, thread: thread)
    }
    func writeMemory(at address: UInt64, bytes: [UInt8], thread: Int) throws(TargetError) {
        writes.append((address, bytes.count))
        try inner.writeMemory(at: address, bytes: bytes, thread: thread)
    }
    var supportedBreakpointKinds: Set<BreakpointKind> { inner.supportedBreakpointKinds }
    func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        try inner.insertBreakpoint(kind, at: address, length: length)
    }
    func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        try inner.removeBreakpoint(kind, at: address, length: length)
    }
    func resume(_ actions: [Int: ResumeAction], otherThreads: ResumeAction?) throws(TargetError) -> ResumeResult {
        try inner.resume(actions, otherThreads: otherThreads)
    }
    var stopNotificationFD: Int32 { inner.stopNotificationFD }
    func takeStop() -> StopEvent? { inner.takeStop() }
    func interrupt() { inner.interrupt() }
    func attach() -> StopEvent { inner.attach() }
    func detach() { inner.detach() }
    func kill() { inner.kill() }
    func monitor(_ command: String) -> String? { inner.monitor(command) }
    var monitorHelp: [String] { inner.monitorHelp }
    func threadExtraInfo(_ thread: Int) -> String? { inner.threadExtraInfo(thread) }
}

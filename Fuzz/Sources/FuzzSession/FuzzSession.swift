import FuzzSupport
import GDBStub
import RSP
import Registers

/// Fuzzer (b): the whole session. gdb's bytes, in chunks, through `Session.receive` (the RSP decoder, dispatch and
/// every packet family) to an in-memory `DebugTarget`, with stops delivered between chunks while the target runs.
///
/// The input is the bytes gdb sends, unchanged (recorded gdb traffic is a corpus as it is); its first byte also
/// picks the register table (x86-64, arm64 without SVE and with SVE at 512 and 2048 bits, ppc64), the vCPU
/// count, the packet size and the chunk split.
///
/// Invariants: `receive` and `stopped` never trap; everything written is acks and well-formed frames with a right
/// checksum, none longer than the advertised PacketSize (`StubOutput.check`); the target is only called with
/// bounded lengths, non-wrapping ranges, real registers and threads, and while stopped (`FuzzTarget`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSession(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let config = bytes[0]
    let tableIndex = Int(config >> 4) % Tables.all.count
    let table = Tables.all[tableIndex]
    let packetSizes = [1, 256, 300, 4096, 16384]
    let requestedPacketSize = packetSizes[Int(config & 0x07) % packetSizes.count]

    let target = FuzzTarget(
        registerTable: table, registerValues: Tables.registerValues[tableIndex], threads: config & 0x08 == 0 ? 1 : 3)
    let session = Session(target: target, maxPacketSize: requestedPacketSize)
    session.diagnostics = { _ in }
    target.maxPacketSize = session.maxPacketSize

    var stops = 0
    for chunk in Chunks(bytes, seed: config) {
        // Acks stop after the OK to QStartNoAckMode is framed, so a chunk may hold both kinds: only the frames
        // are checked here, and the channel fuzzer checks the acks.
        StubOutput.check(session.receive(Array(chunk)), maxPayload: session.maxPacketSize)
        if session.isRunning {
            // The guest stops: a breakpoint, a fault, an exit, or a thread the target does not have.
            stops += 1
            let reasons: [StopReason] = [
                .softwareBreakpoint, .hardwareBreakpoint, .stepped, .interrupted,
                .watchpoint(.writeWatchpoint, address: 0x1000), .watchpoint(.accessWatchpoint, address: .max),
                .fault(signal: 11, description: "triple fault (KVM_EXIT_SHUTDOWN) at rip 0x1000"),
                .fault(signal: 17, description: ""), .exited(status: 42), .terminated(signal: 9),
            ]
            let reason = reasons[(stops + Int(chunk.first ?? 0)) % reasons.count]
            let thread = [1, 2, 3, 0, -1, Int.max][Int(chunk.last ?? 0) % 6]
            target.deliverStop()
            StubOutput.check(
                session.stopped(StopEvent(thread: thread, reason: reason)), maxPayload: session.maxPacketSize)
        }
    }
    return 0
}

/// Built once: target.xml generation is far slower than a fuzz iteration.
enum Tables {
    static let all: [RegisterTable] = [
        // Recorded traffic starts with `$` or `+` (0x24, 0x2b: index 2), so it replays against x86-64 as recorded.
        .arm64(sveVectorLength: 512), .arm64(sveVectorLength: nil), .x86_64, .arm64(sveVectorLength: 2048), .ppc64,
    ]
    static let registerValues = all.map(FuzzTarget.initialRegisters(of:))
}

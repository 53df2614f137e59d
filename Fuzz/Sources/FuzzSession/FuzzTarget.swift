import FuzzSupport
import GDBStub
import Registers

/// A minimal in-memory `DebugTarget` for the session fuzzer (the test suite's SimulatedTarget, cut down, with no
/// dependency on a test target): a few vCPUs, registers, memory with holes and a page at the very top of the
/// address space, breakpoint bookkeeping, and runs that either stop at once or leave the fuzzer to deliver the stop.
///
/// It also checks the session's side of the contract: every length and address it is handed was bounded first,
/// no call but `interrupt()` comes while it runs, and breakpoints are removed only after they were inserted.
final class FuzzTarget: DebugTarget {
    let registerTable: RegisterTable
    let threadIDs: [Int]
    /// The advertised PacketSize: no read may ask for more than fits in one reply, no write carry more than one
    /// packet held.
    var maxPacketSize = 0

    /// 4 KiB pages that exist: two low ones with a hole between, and the last page below 2^64.
    private var pages: [UInt64: [UInt8]] = [:]
    private var registers: [Int: [Int: [UInt8]]] = [:]
    private var breakpoints: Set<Key> = []
    private struct Key: Hashable {
        let kind: BreakpointKind
        let address: UInt64
        let length: Int
    }

    private(set) var running = false
    private(set) var attached = false
    /// Alternates the outcome of `continue`: a breakpoint stop at once, or a run the fuzzer ends.
    private var resumes = 0

    /// - Parameter registerValues: `initialRegisters(of:)` for `registerTable`, computed once per table.
    init(registerTable: RegisterTable, registerValues: [Int: [UInt8]], threads: Int) {
        self.registerTable = registerTable
        threadIDs = Array(1...threads)
        for page: UInt64 in [0x1000, 0x3000, 0xffff_ffff_ffff_f000] { pages[page] = Self.pageTemplate }
        for thread in threadIDs { registers[thread] = registerValues }
    }

    private static let pageTemplate: [UInt8] = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }

    /// Every register's value, except every third one, which is unavailable (the reply shows `xx`).
    static func initialRegisters(of table: RegisterTable) -> [Int: [UInt8]] {
        var values: [Int: [UInt8]] = [:]
        for register in table.registers where register.regnum % 3 != 2 {
            values[register.regnum] = (0..<register.byteSize).map { UInt8(truncatingIfNeeded: register.regnum &+ $0) }
        }
        return values
    }

    private func expectStopped(_ call: String) {
        invariant(!running, "\(call) called while the target runs")
    }

    private func expectThread(_ thread: Int, _ call: String) {
        invariant(threadIDs.contains(thread), "\(call) for thread \(thread), which the target does not have")
    }

    func readRegister(_ regnum: Int, thread: Int) throws(TargetError) -> [UInt8]? {
        expectStopped("readRegister")
        expectThread(thread, "readRegister")
        invariant(registerTable[regnum] != nil, "readRegister(\(regnum)): no such register")
        // Some registers outside the `g` block fail as a kernel refusal would (inside it, `g` would never succeed).
        if regnum >= registerTable.gPacketCount && regnum % 7 == 6 {
            throw .failed("register \(regnum) cannot be read")
        }
        return registers[thread]?[regnum]
    }

    func writeRegister(_ regnum: Int, value: [UInt8], thread: Int) throws(TargetError) {
        expectStopped("writeRegister")
        expectThread(thread, "writeRegister")
        guard let register = registerTable[regnum] else {
            invariant(false, "writeRegister(\(regnum)): no such register")
            return
        }
        invariant(value.count == register.byteSize, "writeRegister(\(regnum)) with \(value.count) bytes")
        registers[thread]?[regnum] = value
    }

    func readMemory(at address: UInt64, count: Int, thread: Int) throws(TargetError) -> [UInt8] {
        expectStopped("readMemory")
        expectThread(thread, "readMemory")
        invariant(count > 0 && count <= maxPacketSize / 2, "readMemory of \(count) bytes")
        invariant(address.addingReportingOverflow(UInt64(count - 1)).overflow == false, "readMemory wraps")
        var bytes: [UInt8] = []
        var a = address
        while bytes.count < count, let page = pages[a & ~0xfff] {
            bytes.append(page[Int(a & 0xfff)])
            if a == .max { break }
            a += 1
        }
        if bytes.isEmpty { throw .badAddress(address) }
        return bytes
    }

    func writeMemory(at address: UInt64, bytes: [UInt8], thread: Int) throws(TargetError) {
        expectStopped("writeMemory")
        expectThread(thread, "writeMemory")
        invariant(!bytes.isEmpty && bytes.count <= maxPacketSize, "writeMemory of \(bytes.count) bytes")
        invariant(address.addingReportingOverflow(UInt64(bytes.count - 1)).overflow == false, "writeMemory wraps")
        for i in bytes.indices where pages[(address + UInt64(i)) & ~0xfff] == nil {
            throw .badAddress(address + UInt64(i))
        }
        for (i, byte) in bytes.enumerated() {
            let a = address + UInt64(i)
            pages[a & ~0xfff]![Int(a & 0xfff)] = byte
        }
    }

    let supportedBreakpointKinds: Set<BreakpointKind> = [.software, .hardware, .writeWatchpoint, .accessWatchpoint]
    /// Offered, so the session's `vCont;r` parsing reaches the target (as a range step, which ends like a step).
    let supportsRangeStepping = true

    func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        expectStopped("insertBreakpoint")
        invariant(supportedBreakpointKinds.contains(kind), "insertBreakpoint of a kind never offered")
        let key = Key(kind: kind, address: address, length: length)
        invariant(!breakpoints.contains(key), "the same breakpoint inserted twice")
        if kind != .software && breakpoints.filter({ $0.kind != .software }).count >= 4 {
            throw .noSpace("all four debug registers are in use")
        }
        if address & 0xf == 0xf { throw .badAddress(address) }
        breakpoints.insert(key)
    }

    func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        expectStopped("removeBreakpoint")
        let key = Key(kind: kind, address: address, length: length)
        invariant(breakpoints.remove(key) != nil, "removeBreakpoint of one that was never inserted")
    }

    func resume(_ actions: [Int: ResumeAction], otherThreads: ResumeAction?) throws(TargetError) -> ResumeResult {
        expectStopped("resume")
        for thread in actions.keys { expectThread(thread, "resume") }
        resumes += 1
        if resumes % 11 == 0 { throw .failed("KVM_RUN failed") }
        if let stepping = actions.first(where: { $0.value.steps })?.key {
            return .stopped(StopEvent(thread: stepping, reason: .stepped))
        }
        if actions.isEmpty && otherThreads == nil {
            return .stopped(StopEvent(thread: threadIDs[0], reason: .interrupted))
        }
        if resumes % 2 == 0 {
            return .stopped(StopEvent(thread: actions.keys.min() ?? threadIDs[0], reason: .softwareBreakpoint))
        }
        running = true
        return .running
    }

    /// The fuzzer delivers the stop of a run (there is no notification fd to poll).
    func deliverStop() { running = false }

    var stopNotificationFD: Int32 { -1 }
    func takeStop() -> StopEvent? { nil }
    func interrupt() {}

    func attach() -> StopEvent {
        invariant(!attached, "attach called twice")
        attached = true
        return StopEvent(thread: threadIDs[0], reason: .interrupted)
    }

    func detach() {
        expectStopped("detach")
        invariant(breakpoints.isEmpty, "detach with \(breakpoints.count) breakpoints still inserted")
        attached = false
    }

    func kill() { expectStopped("kill") }

    // lldb's extensions (Session+LLDB.swift): a page table that maps exactly the pages that exist.
    func memoryProtection(at address: UInt64, thread: Int) -> MemoryProtection? {
        expectStopped("memoryProtection")
        expectThread(thread, "memoryProtection")
        let page = address & ~0xfff
        return MemoryProtection(start: page, last: page | 0xfff, permissions: pages[page] == nil ? nil : .all)
    }

    var watchpointCapacity: Int? { 4 }
    var canDetachStayingStopped: Bool { true }

    func detachStayingStopped() {
        expectStopped("detachStayingStopped")
        invariant(breakpoints.isEmpty, "detachStayingStopped with \(breakpoints.count) breakpoints still inserted")
        attached = false
    }

    func textSegment() -> TextSegment? { TextSegment(address: 0xffff_ffff_9c00_0000, linkAddress: 0xffff_ffff_8100_0000) }

    func monitor(_ command: String) -> String? {
        switch command {
        case "sync-stats": "regs: 1 fetch\n"
        // Longer than any packet: the session must split it into `O` packets.
        case "long": String(repeating: "0123456789abcdef", count: 2048)
        default: nil
        }
    }

    var monitorHelp: [String] { ["sync-stats        ioctls per request type", "long              a long answer"] }

    func threadExtraInfo(_ thread: Int) -> String? {
        expectThread(thread, "threadExtraInfo")
        return "vCPU \(thread - 1)"
    }
}

import GDBStub
import Glibc
import Registers

/// A `DebugTarget` in memory, over the x86-64 table: two vCPUs, registers with a fixed pattern (some unreadable),
/// memory with a hole, breakpoint bookkeeping, and a "CPU" whose step adds 1 to rip, whose range step
/// (`vCont;r`) steps so while rip stays in the range and meets no breakpoint, and whose continue runs to the next
/// inserted breakpoint. Every call the session makes is recorded.
///
/// `@unchecked Sendable` only so the socket test can hand it to the thread running the session; the session
/// still makes every call from that one thread.
final class SimulatedTarget: DebugTarget, @unchecked Sendable {
    let registerTable: RegisterTable
    var threadIDs = [1, 2]

    /// Mapped guest memory: 0x1000..<0x3000 and 0x4000..<0x5000, with the hole 0x3000..<0x4000 between.
    static let regions: [Range<UInt64>] = [0x1000..<0x3000, 0x4000..<0x5000]
    var memory: [UInt64: [UInt8]] = [:]  // region start → bytes

    /// thread → regnum → value. A register missing from the map reads as nil (the reply shows `xx`).
    var registers: [Int: [Int: [UInt8]]] = [:]
    /// Registers that read as nil on every thread: r15 (15) and st0 (24).
    static let unreadable: Set<Int> = [15, 24]

    var supportedBreakpointKinds: Set<BreakpointKind> = [.software, .hardware, .writeWatchpoint]
    var supportsRangeStepping = false
    /// When true, a range step runs until interrupted (a loop that never leaves its line): `.running`.
    var rangeStepsNeverEnd = false
    struct Breakpoint: Hashable {
        let kind: BreakpointKind
        let address: UInt64
        let length: Int
    }
    var breakpoints: Set<Breakpoint> = []
    var insertCalls: [Breakpoint] = []
    var removeCalls: [Breakpoint] = []

    /// When true, `continue` returns `.running` and the stop comes through the pipe.
    var asynchronous = false
    /// When set, a continue with no breakpoint ahead ends the guest with this status instead of running forever.
    var exitStatusWithoutBreakpoints: UInt8?
    var resumeCalls: [(actions: [Int: ResumeAction], others: ResumeAction?)] = []
    private var pendingStop: StopEvent?
    private var running = false
    private let pipeFDs: (read: Int32, write: Int32)

    var attachCount = 0
    var detachCount = 0
    var killCount = 0
    var interruptCount = 0
    var attachStop = StopEvent(thread: 1, reason: .interrupted)
    var monitorCommands: [String] = []
    var monitorOutput = ""
    /// What the target offers as gdb's memory map (read by the Session when it is built).
    var memoryMap: [MemoryRegion] = []
    /// Where the text segment is and was linked, for `qOffsets`; nil: not known.
    var textSegmentPlacement: TextSegment?
    func textSegment() -> TextSegment? { textSegmentPlacement }

    /// A fake page table for `qMemoryRegionInfo` (nil: "no page walk", the map alone answers): 0x1000..<0x2000
    /// r-x, 0x2000..<0x3000 and 0x4000..<0x5000 rw-, everything else unmapped, in 4 KiB pages.
    var pageTable: [UInt64: MemoryPermissions]? = [
        0x1000: [.read, .execute], 0x2000: [.read, .write], 0x4000: [.read, .write],
    ]
    var protectionQueries: [(address: UInt64, thread: Int)] = []
    func memoryProtection(at address: UInt64, thread: Int) -> MemoryProtection? {
        protectionQueries.append((address, thread))
        guard let pageTable else { return nil }
        let page = address & ~0xfff
        if let permissions = pageTable[page] {
            var last = page + 0xfff
            while pageTable[last + 1] == permissions { last += 0x1000 }
            return MemoryProtection(start: page, last: last, permissions: permissions)
        }
        // Unmapped up to the next mapped page, or to the top of the address space, as a page walk's run would be.
        let next = pageTable.keys.filter { $0 > page }.min()
        return MemoryProtection(start: page, last: next.map { $0 - 1 } ?? UInt64.max, permissions: nil)
    }

    var watchpointCapacity: Int? = 4
    var canDetachStayingStopped = true
    var stayStoppedDetachCount = 0
    func detachStayingStopped() { stayStoppedDetachCount += 1 }

    init(registerTable: RegisterTable = .x86_64) {
        self.registerTable = registerTable
        var fds: [Int32] = [-1, -1]
        let ok = pipe(&fds) == 0
        precondition(ok, "pipe")
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        pipeFDs = (fds[0], fds[1])
        for region in Self.regions {
            memory[region.lowerBound] = (0..<Int(region.count)).map { UInt8(truncatingIfNeeded: $0) }
        }
        for thread in threadIDs {
            var values: [Int: [UInt8]] = [:]
            for register in registerTable.registers where !Self.unreadable.contains(register.regnum) {
                values[register.regnum] = (0..<register.byteSize).map {
                    UInt8(truncatingIfNeeded: thread << 6 | register.regnum + $0)
                }
            }
            values[6] = le(0x2ff8, 8)  // rbp
            values[7] = le(0x2ff0, 8)  // rsp
            values[16] = le(thread == 1 ? 0x1000 : 0x4000, 8)  // rip
            registers[thread] = values
        }
    }

    deinit {
        close(pipeFDs.read)
        close(pipeFDs.write)
    }

    func pc(_ thread: Int) -> UInt64 {
        registers[thread]?[16].map { bytes in bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) } } ?? 0
    }

    func setPC(_ thread: Int, _ value: UInt64) { registers[thread]?[16] = le(value, 8) }

    // MARK: Registers

    func readRegister(_ regnum: Int, thread: Int) throws(TargetError) -> [UInt8]? {
        guard registerTable[regnum] != nil, let values = registers[thread] else {
            throw .invalidArgument("register \(regnum) of thread \(thread)")
        }
        return values[regnum]
    }

    func writeRegister(_ regnum: Int, value: [UInt8], thread: Int) throws(TargetError) {
        guard let register = registerTable[regnum], registers[thread] != nil, value.count == register.byteSize else {
            throw .invalidArgument("register \(regnum) of thread \(thread)")
        }
        registers[thread]?[regnum] = value
    }

    // MARK: Memory

    func readMemory(at address: UInt64, count: Int, thread: Int) throws(TargetError) -> [UInt8] {
        var bytes: [UInt8] = []
        var a = address
        while bytes.count < count, let region = Self.regions.first(where: { $0.contains(a) }),
            let data = memory[region.lowerBound]
        {
            bytes.append(data[Int(a - region.lowerBound)])
            if a == UInt64.max { break }
            a += 1
        }
        return bytes
    }

    func writeMemory(at address: UInt64, bytes: [UInt8], thread: Int) throws(TargetError) {
        for i in bytes.indices {
            let a = address &+ UInt64(i)
            guard Self.regions.contains(where: { $0.contains(a) }) else { throw .badAddress(a) }
        }
        for (i, byte) in bytes.enumerated() {
            let a = address + UInt64(i)
            let region = Self.regions.first { $0.contains(a) }!
            memory[region.lowerBound]![Int(a - region.lowerBound)] = byte
        }
    }

    func peek(_ address: UInt64, _ count: Int) -> [UInt8] {
        (try? readMemory(at: address, count: count, thread: 1)) ?? []
    }

    // MARK: Breakpoints

    func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        guard supportedBreakpointKinds.contains(kind) else { throw .unsupported }
        guard length == 1 || kind != .software else { throw .invalidArgument("kind \(length)") }
        let breakpoint = Breakpoint(kind: kind, address: address, length: length)
        insertCalls.append(breakpoint)
        breakpoints.insert(breakpoint)
    }

    func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        let breakpoint = Breakpoint(kind: kind, address: address, length: length)
        removeCalls.append(breakpoint)
        guard breakpoints.remove(breakpoint) != nil else { throw .invalidArgument("no breakpoint") }
    }

    // MARK: Running

    /// The stop the next resume returns at once (then cleared): as a run on the session's thread ends.
    var nextStop: StopEvent?

    func resume(_ actions: [Int: ResumeAction], otherThreads: ResumeAction?) throws(TargetError) -> ResumeResult {
        resumeCalls.append((actions, otherThreads))
        if let stop = nextStop {
            nextStop = nil
            return .stopped(stop)
        }
        if let (thread, action) = actions.sorted(by: { $0.key < $1.key }).first(where: { $0.value.steps })
            ?? otherThreads.flatMap({ $0.steps ? (1, $0) : nil })
        {
            if case .rangeStep = action, rangeStepsNeverEnd {
                running = true
                return .running
            }
            setPC(thread, pc(thread) + 1)
            if case .rangeStep(let range) = action {
                while range.contains(pc(thread)) && !codeBreakpoint(at: pc(thread)) { setPC(thread, pc(thread) + 1) }
            }
            return .stopped(StopEvent(thread: thread, reason: .stepped))
        }
        let thread = actions.keys.sorted().first ?? 1
        let next = breakpoints.filter { ($0.kind == .software || $0.kind == .hardware) && $0.address > pc(thread) }
            .min { $0.address < $1.address }
        running = true
        guard let next else {
            // Runs until interrupted, or ends through the "exit port".
            if let status = exitStatusWithoutBreakpoints {
                notify(StopEvent(thread: thread, reason: .exited(status: status)))
            }
            return .running
        }
        setPC(thread, next.address)
        let event = StopEvent(
            thread: thread, reason: next.kind == .software ? .softwareBreakpoint : .hardwareBreakpoint)
        if !asynchronous {
            running = false
            return .stopped(event)
        }
        notify(event)
        return .running
    }

    func codeBreakpoint(at address: UInt64) -> Bool {
        breakpoints.contains { ($0.kind == .software || $0.kind == .hardware) && $0.address == address }
    }

    /// Stops a running target from outside (a guest fault, the exit port) as the machine's vCPU thread would.
    func notify(_ event: StopEvent) {
        pendingStop = event
        var byte: UInt8 = 1
        _ = write(pipeFDs.write, &byte, 1)
    }

    var stopNotificationFD: Int32 { pipeFDs.read }

    func takeStop() -> StopEvent? {
        var byte: UInt8 = 0
        while read(pipeFDs.read, &byte, 1) > 0 {}
        defer { pendingStop = nil }
        if pendingStop != nil { running = false }
        return pendingStop
    }

    func interrupt() {
        interruptCount += 1
        if running && pendingStop == nil { notify(StopEvent(thread: 2, reason: .interrupted)) }
    }

    func attach() -> StopEvent {
        attachCount += 1
        return attachStop
    }

    func detach() { detachCount += 1 }
    func kill() { killCount += 1 }

    // MARK: Monitor and threads

    func monitor(_ command: String) -> String? {
        monitorCommands.append(command)
        switch command {
        case "sync-stats": return "regs: 1 fetch\n"
        case "long": return monitorOutput
        default: return nil
        }
    }

    var monitorHelp: [String] { ["sync-stats        ioctls per request type"] }

    func threadExtraInfo(_ thread: Int) -> String? { "vCPU \(thread - 1)" }
}

/// `value` as `count` little-endian bytes.
func le(_ value: UInt64, _ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
}

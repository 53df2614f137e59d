import Registers

/// Why the target stopped, as the session turns it into a stop reply.
public enum StopReason: Sendable, Equatable {
    /// A single step finished: `T05`.
    case stepped
    /// A software breakpoint the session inserted was hit: `T05…swbreak:;` (when gdb negotiated swbreak+).
    case softwareBreakpoint
    /// A hardware breakpoint was hit: `T05…hwbreak:;`.
    case hardwareBreakpoint
    /// A watchpoint triggered: `T05…watch:ADDR;` (or rwatch/awatch).
    case watchpoint(BreakpointKind, address: UInt64)
    /// Stopped on request (Ctrl-C, or gdb attaching to a running guest): `T02`.
    case interrupted
    /// Stopped by a fault the guest cannot go on from (triple fault, internal error, HLT with interrupts off):
    /// `T` with this signal, in gdb's own numbering (GDB_SIGNAL_SEGV 11, ILL 4, BUS 10, STOP 17); gdb can still read state.
    case fault(signal: UInt8, description: String)
    /// The guest ended the run through the exit port: `Wnn`.
    case exited(status: UInt8)
    /// The guest is gone for good: `Xnn`.
    case terminated(signal: UInt8)
}

/// A stop of one vCPU (gdb thread id = vCPU index + 1); in all-stop mode every other vCPU is stopped too.
public struct StopEvent: Sendable, Equatable {
    public let thread: Int
    public let reason: StopReason

    public init(thread: Int, reason: StopReason) {
        self.thread = thread
        self.reason = reason
    }
}

public enum ResumeAction: Sendable, Equatable {
    case `continue`
    case step
    /// `vCont;r START,END`: step once, then keep stepping while pc stays in `range` (START inclusive, END
    /// exclusive), and report one stop: `.stepped` when pc leaves the range or lands on a breakpoint gdb
    /// inserted (gdb then reports that breakpoint, as after a plain step), or whatever else would have stopped
    /// a single step (a watchpoint, a fault, Ctrl-C). An empty range (START == END) is exactly one step.
    case rangeStep(Range<UInt64>)

    /// Whether the vCPU runs one instruction at a time (a step, or the steps of a range).
    public var steps: Bool {
        switch self {
        case .continue: false
        case .step, .rangeStep: true
        }
    }
}

public enum ResumeResult: Sendable, Equatable {
    /// The target finished at once (a step run on the caller's thread): report this stop now.
    case stopped(StopEvent)
    /// The vCPUs run; a stop arrives through `stopNotificationFD` and `takeStop()`.
    case running
}

/// `Z`/`z` types 0–4.
public enum BreakpointKind: Int, Sendable, Hashable, CaseIterable {
    case software = 0
    case hardware = 1
    case writeWatchpoint = 2
    case readWatchpoint = 3
    case accessWatchpoint = 4
}

/// A failure the session reports as `E nn` and goes on from.
public enum TargetError: Error, Sendable, Equatable {
    /// The address is not mapped, or not backed by guest memory: `E14` (EFAULT).
    case badAddress(UInt64)
    /// A register number, thread or argument the target does not have: `E22` (EINVAL).
    case invalidArgument(String)
    /// The target cannot do this at all (e.g. a watchpoint kind the hardware lacks): the empty reply.
    case unsupported
    /// No resource left (all debug-register slots used): `E28` (ENOSPC).
    case noSpace(String)
    /// The kernel refused: `E05` (EIO), and the message goes to stderr.
    case failed(String)

    /// What went wrong, in words: lldb shows it beside the `E nn` once it enabled error strings.
    public var message: String? {
        switch self {
        case .badAddress(let address): "cannot access memory at 0x\(String(address, radix: 16))"
        case .invalidArgument(let text), .noSpace(let text), .failed(let text): text
        case .unsupported: nil
        }
    }

    /// The two hex digits of the `E` reply.
    public var errorCode: UInt8 {
        switch self {
        case .badAddress: 14
        case .invalidArgument: 22
        case .unsupported: 0
        case .noSpace: 28
        case .failed: 5
        }
    }
}

/// One region of gdb's memory map (`qXfer:memory-map:read`, gdb's "Memory Map Format"): addresses gdb uses, which
/// are guest-virtual. gdb refuses, without a packet, any access outside the regions a map lists.
public struct MemoryRegion: Sendable, Equatable {
    public enum Kind: String, Sendable { case ram, rom }
    public let start: UInt64
    /// Bytes; a region may end exactly at 2^64 (start + length wraps to 0, which gdb reads as the top).
    public let length: UInt64
    public let kind: Kind

    public init(start: UInt64, length: UInt64, kind: Kind = .ram) {
        self.start = start
        self.length = length
        self.kind = kind
    }
}

/// What the protocol session needs from a machine. The `Machine` module implements it over KVM; the tests
/// implement it in memory. All calls come from the session's thread while the target is stopped, except
/// `interrupt()`, which the session calls while it runs.
public protocol DebugTarget: AnyObject {
    var registerTable: RegisterTable { get }
    /// gdb thread ids, one per vCPU: vCPU index + 1.
    var threadIDs: [Int] { get }

    /// The value of one register as gdb sees it (`registerTable[regnum].byteSize` bytes, little-endian),
    /// or nil when it cannot be had (the reply shows `xx`, never zeros).
    func readRegister(_ regnum: Int, thread: Int) throws(TargetError) -> [UInt8]?
    func writeRegister(_ regnum: Int, value: [UInt8], thread: Int) throws(TargetError)

    /// Reads guest-virtual memory as the vCPU `thread` sees it: the readable prefix of the range
    /// (empty when the first byte is unmapped). Inserted software breakpoints read as the original bytes.
    func readMemory(at address: UInt64, count: Int, thread: Int) throws(TargetError) -> [UInt8]
    /// Writes guest-virtual memory; all or nothing.
    func writeMemory(at address: UInt64, bytes: [UInt8], thread: Int) throws(TargetError)

    /// The target runs `.rangeStep` itself (`vCont?` lists `r`, and gdb's `next` and `step` then cost one round
    /// trip a line). A target without it is never sent one: the session makes any `vCont;r` a single step.
    var supportsRangeStepping: Bool { get }

    /// The `Z` kinds this target implements; `qSupported` (hwbreak+, swbreak+) follows from it.
    var supportedBreakpointKinds: Set<BreakpointKind> { get }
    func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError)
    func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError)

    /// Resume: `actions[thread]` for the threads named, `otherThreads` for the rest (nil: they stay stopped).
    func resume(_ actions: [Int: ResumeAction], otherThreads: ResumeAction?) throws(TargetError) -> ResumeResult
    /// Becomes readable (poll(2)) when a stop is ready; `takeStop()` drains it.
    var stopNotificationFD: Int32 { get }
    /// The pending stop, if the notification fired. Non-blocking.
    func takeStop() -> StopEvent?
    /// Ctrl-C while running: stop every vCPU; the stop arrives through the notification.
    func interrupt()

    /// A debugger connects: stop the guest if it runs (QEMU's behaviour when gdb attaches to a running
    /// guest) and say why it is stopped — the answer to `?`.
    func attach() -> StopEvent
    /// gdb detached (or vanished): the session already removed its breakpoints; let the guest run.
    func detach()
    /// `k`: end the guest and the program.
    func kill()

    /// Monitor commands the target adds (`sync-stats`, …): nil when the command is not the target's.
    func monitor(_ command: String) -> String?
    /// Lines for `monitor help`, one per command the target adds.
    var monitorHelp: [String] { get }
    /// `qThreadExtraInfo`: what `info threads` shows beside a thread.
    func threadExtraInfo(_ thread: Int) -> String?

    /// gdb's memory map, fixed for the target's life; empty when the target cannot say which addresses are
    /// memory (gdb then tries every access). `qSupported` offers `qXfer:memory-map:read+` only with a map.
    var memoryMap: [MemoryRegion] { get }
    /// Where the symbol file's first loadable segment (a kernel's text) is now, and where it was linked, once the
    /// target knows it: `qOffsets` answers with it (a kernel's KASLR slide; see `Session.offsets` for how gdb and
    /// lldb read the answer differently). nil: not known (yet), the empty reply.
    func textSegment() -> TextSegment?

    /// The page tables' view of `address` as the vCPU `thread` sees it (lldb's `qMemoryRegionInfo`): the run of
    /// addresses around it with one protection, or the unmapped run it lies in. nil when the target cannot say
    /// (paging off, no page walk): the session then answers from `memoryMap` alone, `rwx` inside it.
    func memoryProtection(at address: UInt64, thread: Int) -> MemoryProtection?

    /// How many watchpoints (`Z2`/`Z4`) can be inserted at once, for lldb's `qWatchpointSupportInfo`; nil when the
    /// target has none (the empty reply).
    var watchpointCapacity: Int? { get }

    /// True when the target can honour lldb's `D1`: detach but leave the guest stopped for the next debugger.
    /// `qSupportsDetachAndStayStopped:` is answered `OK` only then.
    var canDetachStayingStopped: Bool { get }
    /// `D1`: the session already removed its breakpoints; keep every vCPU stopped, and let the next debugger's
    /// `attach()` find it so.
    func detachStayingStopped()

    /// The connection to gdb while a session serves it (nil when it ends). A target that runs a `resume` to
    /// its stop on the caller's thread must end that run when input arrives on this descriptor (a Ctrl-C, or
    /// gdb going away); it only looks, never reads.
    func watchForInterrupts(on fd: Int32?)
}

extension DebugTarget {
    public var supportsRangeStepping: Bool { false }
    public func watchForInterrupts(on fd: Int32?) {}
    public var memoryMap: [MemoryRegion] { [] }
    public func textSegment() -> TextSegment? { nil }
    public func memoryProtection(at address: UInt64, thread: Int) -> MemoryProtection? { nil }
    public var watchpointCapacity: Int? { nil }
    public var canDetachStayingStopped: Bool { false }
    public func detachStayingStopped() { detach() }
}

/// Where a symbol file's first loadable segment was linked and where it is now (`qOffsets`).
public struct TextSegment: Sendable, Equatable {
    public let address: UInt64
    public let linkAddress: UInt64

    public init(address: UInt64, linkAddress: UInt64) {
        self.address = address
        self.linkAddress = linkAddress
    }

    /// How far the segment moved (a KASLR slide); wraps for a segment moved down.
    public var slide: UInt64 { address &- linkAddress }
}

/// What a mapped page allows: lldb's `permissions:rwx`.
public struct MemoryPermissions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = MemoryPermissions(rawValue: 1)
    public static let write = MemoryPermissions(rawValue: 2)
    public static let execute = MemoryPermissions(rawValue: 4)
    public static let all: MemoryPermissions = [.read, .write, .execute]
}

/// A run of guest-virtual addresses with one protection, from the target's page tables.
public struct MemoryProtection: Sendable, Equatable {
    public let start: UInt64
    /// The run's last address (inclusive, so a run may end at 2^64 - 1 without wrapping).
    public let last: UInt64
    /// nil: nothing is mapped there.
    public let permissions: MemoryPermissions?

    public init(start: UInt64, last: UInt64, permissions: MemoryPermissions?) {
        self.start = start
        self.last = last
        self.permissions = permissions
    }
}

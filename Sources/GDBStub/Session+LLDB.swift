import RSP
import Registers

/// What an lldb client negotiated. gdb never sends the packets that set these, so a gdb session is unchanged.
struct LLDBClientState {
    /// The client is lldb: it sent `QThreadSuffixSupported`, `QListThreadsInStopReply` or `qHostInfo`, which gdb
    /// never does. `qOffsets` depends on it (see `Session.offsets`).
    var isLLDB = false
    /// `QThreadSuffixSupported` was answered: `g`, `G`, `p`, `P` may end in `;thread:TID;`.
    var threadSuffix = false
    /// `QListThreadsInStopReply` was answered: `T` replies carry `threads:…;thread-pcs:…;`.
    var threadsInStopReply = false
    /// `QEnableErrorStrings` was answered: `E nn` replies may carry `;HEX(message)`.
    var errorStrings = false
    /// The message for the `E nn` reply being built, when the target said more than a number.
    var errorText: String?
}

/// lldb's extensions (lldb/docs/resources/lldbgdbremote.md): host and process info, memory regions, thread
/// suffixes, thread lists and per-thread stop info, detach-and-stay-stopped, binary memory reads, error strings.
/// Every answer is derived from the target: a target without page tables, watchpoints or a way to stay stopped
/// gets the empty reply for that packet, as for any packet it does not serve.
extension Session {
    /// The lldb `q`/`Q` packets; nil for a packet that is not one of them.
    func lldbQuery(_ packet: ArraySlice<UInt8>) throws(RequestError) -> Outcome? {
        if packet.equals(LLDBName.qHostInfo) {
            lldb.isLLDB = true
            return hostInfo(process: false)
        }
        if packet.equals(LLDBName.qProcessInfo) { return hostInfo(process: true) }
        if let rest = packet.dropping(LLDBName.qMemoryRegionInfo) { return try memoryRegionInfo(rest) }
        if packet.equals(LLDBName.qWatchpointSupportInfo) || packet.equals(LLDBName.qWatchpointSupportInfoColon) {
            guard let capacity = target.watchpointCapacity else { return .reply }
            appendASCII("num:")
            appendDecimal(capacity)
            reply.append(UInt8(ascii: ";"))
            return .reply
        }
        if packet.equals(LLDBName.threadSuffixSupported) {
            lldb.isLLDB = true
            lldb.threadSuffix = true
            appendASCII("OK")
            return .reply
        }
        if packet.equals(LLDBName.listThreadsInStopReply) {
            lldb.isLLDB = true
            lldb.threadsInStopReply = true
            appendASCII("OK")
            return .reply
        }
        if packet.equals(LLDBName.enableErrorStrings) {
            lldb.errorStrings = true
            appendASCII("OK")
            return .reply
        }
        if packet.equals(LLDBName.supportsDetachAndStayStopped) {
            if target.canDetachStayingStopped { appendASCII("OK") }
            return .reply
        }
        if let rest = packet.dropping(LLDBName.qThreadStopInfo) {
            let thread = try threadIDField(rest)
            guard knownThread(thread) else { throw .malformed }
            appendThreadStopInfo(thread)
            return .reply
        }
        return nil
    }

    /// `j` packets: `jThreadsInfo`; the others (jGetLoadedDynamicLibrariesInfos, …) get the empty reply.
    func jsonPacket(_ packet: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        guard packet.equals(LLDBName.jThreadsInfo) else { return .reply }
        appendThreadsInfoJSON()
        return .binaryReply
    }

    // MARK: - Host, process, memory regions

    /// `qHostInfo` / `qProcessInfo`: the triple, pointer size and byte order, from the register table's
    /// architecture. No OS type: a bare guest (or a kernel) is not a process of any OS, and with `ostype:linux`
    /// lldb would look for a Linux dynamic loader and process state that do not exist. The triple is hex, as
    /// lldb reads it in both packets.
    private func hostInfo(process: Bool) -> Outcome {
        guard let arch = LLDBArchitecture(gdbArchitecture: registerTable.architecture) else { return .reply }
        if process { appendASCII("pid:1;parent-pid:1;") }
        appendASCII("triple:")
        Hex.encode(Array(arch.triple.utf8), into: &reply)
        appendASCII(";ptrsize:")
        appendDecimal(arch.pointerSize)
        appendASCII(";endian:little;")
        return .reply
    }

    /// `qMemoryRegionInfo:ADDR`: `start:…;size:…;permissions:…;`, consistent with the memory map gdb reads.
    /// Inside a region of the map: the run the page tables give (real permissions), clipped to the region, or
    /// the whole region as `rwx` (`rx` for ROM) when the target has no page walk. Outside every region: the gap,
    /// from the end of the region before to the start of the next, with no `permissions` (nothing is
    /// accessible there), up to 2^64 - 1 for the last gap (lldb's own server does that: a size that reaches
    /// 2^64 would wrap, and lldb's search for free space would start again at 0). Without a map the page tables
    /// answer alone, and without those the empty reply says the target cannot tell.
    private func memoryRegionInfo(_ field: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        let address = try hexNumber(field)
        guard let region = memoryRegion(containing: address) else { return .reply }
        appendASCII("start:")
        appendHex(region.start, to: &reply)
        appendASCII(";size:")
        appendHex(region.last - region.start &+ 1, to: &reply)
        reply.append(UInt8(ascii: ";"))
        if let permissions = region.permissions {
            appendASCII("permissions:")
            if permissions.contains(.read) { reply.append(UInt8(ascii: "r")) }
            if permissions.contains(.write) { reply.append(UInt8(ascii: "w")) }
            if permissions.contains(.execute) { reply.append(UInt8(ascii: "x")) }
            reply.append(UInt8(ascii: ";"))
        }
        return .reply
    }

    /// The region `qMemoryRegionInfo` reports for `address`; see there.
    func memoryRegion(containing address: UInt64) -> MemoryProtection? {
        let protection = target.memoryProtection(at: address, thread: generalThread)
        let map = target.memoryMap.filter { $0.length > 0 || $0.start > 0 }
        guard !map.isEmpty else { return protection }
        // Inclusive last addresses: a region that ends at 2^64 has start + length == 0.
        let spans = map.map { (start: $0.start, last: $0.start &+ $0.length &- 1, kind: $0.kind) }
        if let span = spans.first(where: { $0.start <= address && address <= $0.last }) {
            guard let protection else {
                return MemoryProtection(
                    start: span.start, last: span.last, permissions: span.kind == .rom ? [.read, .execute] : .all)
            }
            return MemoryProtection(
                start: max(protection.start, span.start), last: min(protection.last, span.last),
                permissions: protection.permissions)
        }
        let start = spans.filter { $0.last < address }.map { $0.last + 1 }.max() ?? 0
        let next = spans.filter { $0.start > address }.map(\.start).min()
        return MemoryProtection(start: start, last: next.map { $0 - 1 } ?? UInt64.max - 1, permissions: nil)
    }

    // MARK: - Threads

    /// `g`/`G`/`p`/`P` bodies may end in `;thread:TID;` once lldb enabled thread suffixes: the body without it,
    /// and the thread to use (else the `Hg` thread).
    func registerThread(_ body: ArraySlice<UInt8>) throws(RequestError) -> (body: ArraySlice<UInt8>, thread: Int) {
        guard lldb.threadSuffix, let (head, suffix) = body.split(at: UInt8(ascii: ";")) else {
            return (body, generalThread)
        }
        guard var field = suffix.dropping(LLDBName.threadColon) else { throw .malformed }
        if field.last == UInt8(ascii: ";") { field = field.dropLast() }
        let thread = try threadIDField(field)
        guard knownThread(thread) else { throw .malformed }
        return (head, thread)
    }

    /// `threads:1,2;thread-pcs:…;` in a `T` reply, once lldb asked for it with `QListThreadsInStopReply`. The pcs
    /// are left out when one cannot be read: the two lists must be the same length.
    func appendThreadsInStopReply() {
        guard lldb.threadsInStopReply else { return }
        let threads = target.threadIDs
        appendASCII("threads:")
        for (i, thread) in threads.enumerated() {
            if i > 0 { reply.append(UInt8(ascii: ",")) }
            appendHex(UInt64(truncatingIfNeeded: thread), to: &reply)
        }
        reply.append(UInt8(ascii: ";"))
        let pcs = threads.map { programCounter(of: $0) }
        guard pcs.allSatisfy({ $0 != nil }) else { return }
        appendASCII("thread-pcs:")
        for (i, pc) in pcs.enumerated() {
            if i > 0 { reply.append(UInt8(ascii: ",")) }
            appendHex(pc!, to: &reply)
        }
        reply.append(UInt8(ascii: ";"))
    }

    /// A thread's pc as a number (the register's bytes are little-endian).
    private func programCounter(of thread: Int) -> UInt64? {
        guard let bytes = try? target.readRegister(registerTable.pcRegnum, thread: thread), !bytes.isEmpty else {
            return nil
        }
        return bytes.prefix(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// `qThreadStopInfo TID`: the stop reply for the thread that stopped, and `T00` (stopped for no reason of its
    /// own, lldb's convention) with the expedited registers for every other one.
    private func appendThreadStopInfo(_ thread: Int) {
        if targetGone != nil {
            appendStopReply(lastStop)
            return
        }
        if let event = stopEvent(of: thread) {
            appendStopReply(event)
            return
        }
        appendASCII("T00thread:")
        appendHex(UInt64(truncatingIfNeeded: thread), to: &reply)
        reply.append(UInt8(ascii: ";"))
        appendExpeditedRegisters(of: thread)
        appendThreadsInStopReply()
    }

    /// What stopped `thread`: the stop's own thread its reason; another thread that the all-stop left at the
    /// address of a breakpoint of the session's, before running it, a breakpoint stop too — that is exactly the
    /// state a breakpoint hit leaves (pc at the instruction, not yet run). Said as T00, lldb before 20 steps the
    /// thread over the breakpoint on the next resume (it assumes one it stands on was hit), so the hit is never
    /// reported; said as a breakpoint, it is reported once. nil: stopped for no reason of its own.
    private func stopEvent(of thread: Int) -> StopEvent? {
        if thread == lastStop.thread { return lastStop }
        guard let pc = programCounter(of: thread) else { return nil }
        for breakpoint in insertedBreakpoints where breakpoint.address == pc {
            switch breakpoint.kind {
            case .software: return StopEvent(thread: thread, reason: .softwareBreakpoint)
            case .hardware: return StopEvent(thread: thread, reason: .hardwareBreakpoint)
            default: continue
            }
        }
        return nil
    }

    /// `jThreadsInfo`: a JSON array with each thread's stop info, as `qThreadStopInfo` gives it, in one reply:
    /// `[{"tid":1,"signal":5,"reason":"breakpoint","registers":{"16":"…"}},…]` (register numbers in decimal,
    /// values in target byte order; a watchpoint's description is its address in decimal).
    private func appendThreadsInfoJSON() {
        reply.append(UInt8(ascii: "["))
        guard targetGone == nil else {
            reply.append(UInt8(ascii: "]"))
            return
        }
        for (i, thread) in target.threadIDs.enumerated() {
            if i > 0 { reply.append(UInt8(ascii: ",")) }
            appendASCII("{\"tid\":")
            appendDecimal(thread)
            var signal: UInt8 = 0
            var reason: StaticString?
            var description: String?
            if let event = stopEvent(of: thread) {
                switch event.reason {
                case .interrupted: signal = 2
                case .fault(let faultSignal, _): signal = faultSignal
                case .stepped: (signal, reason) = (5, "trace")
                case .softwareBreakpoint, .hardwareBreakpoint: (signal, reason) = (5, "breakpoint")
                case .watchpoint(let kind, let address):
                    signal = 5
                    if kind == .software || kind == .hardware {
                        reason = "breakpoint"
                    } else {
                        (reason, description) = ("watchpoint", String(address))
                    }
                case .exited, .terminated: break
                }
            }
            appendASCII(",\"signal\":")
            appendDecimal(Int(signal))
            if let reason {
                appendASCII(",\"reason\":\"")
                appendASCII(reason)
                reply.append(UInt8(ascii: "\""))
            }
            if let description {
                appendASCII(",\"description\":\"")
                reply.append(contentsOf: description.utf8)
                reply.append(UInt8(ascii: "\""))
            }
            appendASCII(",\"registers\":{")
            var first = true
            for regnum in registerTable.expedited {
                guard let register = registerTable[regnum],
                    let value = try? target.readRegister(regnum, thread: thread), value.count >= register.byteSize
                else { continue }
                if !first { reply.append(UInt8(ascii: ",")) }
                first = false
                reply.append(UInt8(ascii: "\""))
                appendDecimal(regnum)
                appendASCII("\":\"")
                Hex.encode(value.prefix(register.byteSize), into: &reply)
                reply.append(UInt8(ascii: "\""))
            }
            appendASCII("}}")
        }
        reply.append(UInt8(ascii: "]"))
    }

    // MARK: - Replies

    /// `;HEX(message)` after an `E nn`, once lldb enabled error strings and the target said why.
    func appendErrorText() {
        guard lldb.errorStrings, let text = lldb.errorText, !text.isEmpty else { return }
        reply.append(UInt8(ascii: ";"))
        Hex.encode(Array(text.utf8), into: &reply)
    }

    func appendDecimal(_ value: Int) {
        reply.append(contentsOf: String(value).utf8)
    }
}

/// The triple and pointer size lldb needs for a gdb architecture name.
struct LLDBArchitecture {
    let triple: String
    let pointerSize: Int

    init?(gdbArchitecture: String) {
        switch gdbArchitecture {
        case "i386:x86-64": (triple, pointerSize) = ("x86_64-unknown-none", 8)
        // lldb has no 16-bit x86: the real-mode table's registers are i386's.
        case "i8086", "i386": (triple, pointerSize) = ("i386-unknown-none", 4)
        case "aarch64": (triple, pointerSize) = ("aarch64-unknown-none", 8)
        case "powerpc:common64": (triple, pointerSize) = ("powerpc64le-unknown-none", 8)
        default: return nil
        }
    }
}

private enum LLDBName {
    static let qHostInfo = [UInt8](ascii: "qHostInfo")
    static let qProcessInfo = [UInt8](ascii: "qProcessInfo")
    static let qMemoryRegionInfo = [UInt8](ascii: "qMemoryRegionInfo:")
    static let qWatchpointSupportInfo = [UInt8](ascii: "qWatchpointSupportInfo")
    static let qWatchpointSupportInfoColon = [UInt8](ascii: "qWatchpointSupportInfo:")
    static let threadSuffixSupported = [UInt8](ascii: "QThreadSuffixSupported")
    static let listThreadsInStopReply = [UInt8](ascii: "QListThreadsInStopReply")
    static let enableErrorStrings = [UInt8](ascii: "QEnableErrorStrings")
    static let supportsDetachAndStayStopped = [UInt8](ascii: "qSupportsDetachAndStayStopped:")
    static let qThreadStopInfo = [UInt8](ascii: "qThreadStopInfo")
    static let jThreadsInfo = [UInt8](ascii: "jThreadsInfo")
    static let threadColon = [UInt8](ascii: "thread:")
}

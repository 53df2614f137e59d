import GDBStub
import Glibc
import KVM
import Registers

extension ARM64Machine: DebugTarget {
    package var registerTable: RegisterTable { registers.table }
    package var threadIDs: [Int] { [1] }

    private func check(_ thread: Int) throws(TargetError) {
        guard thread == 1 else { throw .invalidArgument("no thread \(thread): the arm64 VMM has one vCPU") }
    }

    private func failed(_ error: KVMError) -> TargetError { .failed("\(error)") }

    // MARK: Registers

    package func readRegister(_ regnum: Int, thread: Int) throws(TargetError) -> [UInt8]? {
        try check(thread)
        guard registerTable[regnum] != nil else { throw .invalidArgument("no register \(regnum)") }
        do { return try registers.read(regnum) } catch { throw failed(error) }
    }

    package func writeRegister(_ regnum: Int, value: [UInt8], thread: Int) throws(TargetError) {
        try check(thread)
        guard let reg = registerTable[regnum] else { throw .invalidArgument("no register \(regnum)") }
        guard value.count == reg.byteSize else { throw .invalidArgument("\(reg.name) is \(reg.byteSize) bytes") }
        if reg.id == ARM64ID.vectorGranules {
            if let now = try readRegister(regnum, thread: thread), now == value { return }
            throw .invalidArgument("vg is fixed: the vector length was chosen before KVM_ARM_VCPU_FINALIZE (--sve-vl)")
        }
        let written: Bool
        do { written = try registers.write(regnum, value) } catch { throw failed(error) }
        guard written else { throw .invalidArgument("\(reg.name) cannot be written: the kernel does not serve it") }
        // To the kernel now, not at the next KVM_RUN: a value it refuses (a pstate mode, a read-only sysreg) is
        // this write's `E`.
        do { try registers.flush(reg.syncGroup) } catch { throw failed(error) }
    }

    /// A system register's value through the register file (so a value gdb wrote is seen), or straight from
    /// the kernel when the table does not list it.
    func systemRegister(_ id: OneRegID) -> UInt64? {
        if let regnum = regnumByID[id], let bytes = try? registers.read(regnum), bytes.count >= 8 {
            return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        }
        return try? readCore(id)
    }

    /// The stage-1 walk of the vCPU's current translation regime; nil when its registers cannot be read.
    package func pageWalk() -> ARM64PageWalk? {
        typealias R = ARM64SystemRegisterID
        guard let sctlr = systemRegister(R.sctlr), let tcr = systemRegister(R.tcr),
            let ttbr0 = systemRegister(R.ttbr0), let ttbr1 = systemRegister(R.ttbr1)
        else { return nil }
        let memory = memory
        return ARM64PageWalk(sctlr: sctlr, tcr: tcr, ttbr0: ttbr0, ttbr1: ttbr1) { memory.readUInt64($0) }
    }

    // MARK: Memory

    /// Guest-virtual `address`'s guest-physical address in RAM, page by page.
    private func physicalRuns(_ address: UInt64, count: Int) -> [(physical: UInt64, count: Int)] {
        guard let walk = pageWalk() else { return [] }
        var runs: [(UInt64, Int)] = []
        var va = address
        var remaining = count
        while remaining > 0 {
            guard let (pa, _) = walk.translate(va) else { break }
            let chunk = min(remaining, Int(0x1000 - (va & 0xfff)))
            guard memory.contains(pa, count: chunk) else { break }
            runs.append((pa, chunk))
            remaining -= chunk
            let (next, overflow) = va.addingReportingOverflow(UInt64(chunk))
            if overflow { break }
            va = next
        }
        return runs
    }

    package func readMemory(at address: UInt64, count: Int, thread: Int) throws(TargetError) -> [UInt8] {
        try check(thread)
        var out: [UInt8] = []
        for (pa, n) in physicalRuns(address, count: count) {
            let start = out.count
            out += memory.read(pa, count: n) ?? []
            // Our BRKs read as what they replaced, while they are still there.
            for (_, bp) in softwareBreakpoints where bp.physical + 4 > pa && bp.physical < pa + UInt64(n) {
                guard memory.read(bp.physical, count: 4) == ARM64Architecture.breakpointInstruction else { continue }
                for i in 0..<4 where bp.physical + UInt64(i) >= pa && bp.physical + UInt64(i) < pa + UInt64(n) {
                    out[start + Int(bp.physical + UInt64(i) - pa)] = bp.original[i]
                }
            }
        }
        if out.isEmpty && count > 0 { throw .badAddress(address) }
        return out
    }

    package func writeMemory(at address: UInt64, bytes: [UInt8], thread: Int) throws(TargetError) {
        try check(thread)
        let runs = physicalRuns(address, count: bytes.count)
        guard runs.reduce(0, { $0 + $1.count }) == bytes.count else {
            throw .badAddress(address &+ UInt64(runs.reduce(0, { $0 + $1.count })))
        }
        var offset = 0
        for (pa, n) in runs {
            var data = Array(bytes[offset..<offset + n])
            // A write over one of our BRKs changes what it will restore; the BRK stays.
            for (va, bp) in softwareBreakpoints where bp.physical + 4 > pa && bp.physical < pa + UInt64(n) {
                var original = bp.original
                for i in 0..<4 where bp.physical + UInt64(i) >= pa && bp.physical + UInt64(i) < pa + UInt64(n) {
                    let k = Int(bp.physical + UInt64(i) - pa)
                    original[i] = data[k]
                    data[k] = ARM64Architecture.breakpointInstruction[i]
                }
                softwareBreakpoints[va] = (bp.physical, original)
            }
            memory.write(pa, data)
            memory.synchronizeInstructions(pa, count: n)
            offset += n
        }
    }

    // MARK: Breakpoints and watchpoints

    package var supportedBreakpointKinds: Set<BreakpointKind> {
        var kinds: Set<BreakpointKind> = [.software]
        if !hardwareBreakpoints.isEmpty { kinds.insert(.hardware) }
        if !watchpoints.isEmpty { kinds.formUnion([.writeWatchpoint, .readWatchpoint, .accessWatchpoint]) }
        return kinds
    }

    package var watchpointCapacity: Int? { watchpoints.isEmpty ? nil : watchpoints.count }

    package func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        switch kind {
        case .software:
            guard address % 4 == 0 else { throw .invalidArgument("A64 instructions are 4-byte aligned") }
            guard softwareBreakpoints[address] == nil else { return }
            guard let (pa, n) = physicalRuns(address, count: 4).first, n == 4,
                let original = memory.read(pa, count: 4)
            else { throw .badAddress(address) }
            softwareBreakpoints[address] = (pa, original)
            memory.write(pa, ARM64Architecture.breakpointInstruction)
            memory.synchronizeInstructions(pa, count: 4)
        case .hardware:
            let value = try ARM64Architecture.breakpointValue(address)
            if hardwareBreakpoints.contains(value) { return }
            guard let i = hardwareBreakpoints.firstIndex(where: { $0 == nil }) else {
                throw .noSpace(
                    "all \(hardwareBreakpoints.count) hardware breakpoints (KVM_CAP_GUEST_DEBUG_HW_BPS) are in use")
            }
            hardwareBreakpoints[i] = value
        case .writeWatchpoint, .readWatchpoint, .accessWatchpoint:
            if watchpoints.contains(where: { $0?.kind == kind && $0?.address == address && $0?.length == length }) {
                return
            }
            // One slot, or one per doubleword for a range that crosses one (each slot remembers gdb's request).
            let pieces = try ARM64Architecture.watchpointSlots(kind, address: address, length: length)
            let free = watchpoints.indices.filter { watchpoints[$0] == nil }
            guard free.count >= pieces.count else {
                throw .noSpace(
                    free.isEmpty
                        ? "all \(watchpoints.count) watchpoints (KVM_CAP_GUEST_DEBUG_HW_WPS) are in use"
                        : "\(length) bytes at 0x\(hex(address)) take \(pieces.count) watchpoints (one per doubleword); \(free.count) of \(watchpoints.count) are free"
                )
            }
            for (i, piece) in zip(free, pieces) {
                watchpoints[i] = Watchpoint(
                    kind: kind, address: address, length: length, control: piece.control, value: piece.value)
            }
        }
    }

    package func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(TargetError) {
        switch kind {
        case .software:
            guard let bp = softwareBreakpoints.removeValue(forKey: address) else { return }
            // Only while our BRK is still there: a guest that wrote over it keeps what it wrote.
            if memory.read(bp.physical, count: 4) == ARM64Architecture.breakpointInstruction {
                memory.write(bp.physical, bp.original)
                memory.synchronizeInstructions(bp.physical, count: 4)
            }
        case .hardware:
            if let i = hardwareBreakpoints.firstIndex(of: address) { hardwareBreakpoints[i] = nil }
        case .writeWatchpoint, .readWatchpoint, .accessWatchpoint:
            for i in watchpoints.indices
            where watchpoints[i]?.kind == kind && watchpoints[i]?.address == address && watchpoints[i]?.length == length
            {
                watchpoints[i] = nil
            }
        }
    }

    /// The KVM_SET_GUEST_DEBUG state a run needs (ARM64Architecture.guestDebug).
    func debugState(step: Bool) -> (control: GuestDebugControl, words: [UInt64]) {
        ARM64Architecture.guestDebug(
            step: step, softwareBreakpoints: !softwareBreakpoints.isEmpty, hardwareBreakpoints: hardwareBreakpoints,
            watchpoints: watchpoints.map { $0.map { ($0.control, $0.value) } })
    }

    // MARK: Run control

    package func resume(_ actions: [Int: ResumeAction], otherThreads: ResumeAction?) throws(TargetError) -> ResumeResult
    {
        for t in actions.keys { try check(t) }
        guard let action = actions[1] ?? otherThreads else { return .stopped(lastStop) }
        if case .exited = lastStop.reason { return .stopped(lastStop) }  // powered off: nothing runs any more
        let debug = debugState(step: action.steps)
        do {
            try registers.flushBeforeRun()
            if appliedDebug == nil || appliedDebug!.control != debug.control || appliedDebug!.words != debug.words {
                try vcpu.setGuestDebug(debug.control, arch: debug.words)
                appliedDebug = debug
            }
        } catch {
            registers.invalidateAll()
            throw failed(error)
        }
        post(action)
        return .running
    }

    /// `vCont;r` runs on the vCPU thread (ARM64Machine.run).
    package var supportsRangeStepping: Bool { true }

    package var stopNotificationFD: Int32 { stopPipe.read }

    package func takeStop() -> StopEvent? {
        guard let stop = takePendingStop() else { return nil }
        registers.invalidateAfterRun()
        lastStop = stop
        return stop
    }

    package func interrupt() { kick() }

    package func attach() -> StopEvent {
        withLock { debuggerAttached = true }
        kick()
        waitUntilStopped()
        if let stop = takeStop() { lastStop = stop }
        statsBase = vcpu.counter.snapshot()
        return lastStop
    }

    package func detach() {
        withLock { debuggerAttached = false }
        if case .exited = lastStop.reason { return }
        if case .fault = lastStop.reason { return }  // it would fault again at once: stay stopped
        _ = try? resume([:], otherThreads: .continue)
    }

    package func kill() {
        withLock { debuggerAttached = false }
        kick()
        waitUntilStopped()
        _ = takeStop()
    }

    package func threadExtraInfo(_ thread: Int) -> String? {
        guard thread == 1 else { return nil }
        let running = withLock { self.running }
        return "vCPU 0, \(running ? "running" : "stopped"), last exit \(lastExit)"
    }
}

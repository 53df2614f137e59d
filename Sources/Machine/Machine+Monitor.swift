import GDBStub
import KVM
import Registers

extension Machine {
    /// The ioctl counts of one vCPU (thread = vCPU index + 1).
    public func counter(thread: Int) -> IoctlCounter { contexts[thread - 1].vcpu.counter }

    public var monitorHelp: [String] {
        [
            "sync-stats [reset]  ioctls per request type since attach, and the register groups valid/dirty now",
            "breakpoints         inserted breakpoints and watchpoints, and how Z0 is served on this host",
            "translate ADDR      walk the page tables for a guest-virtual address, level by level",
            "vcpus               the state and last exit of each vCPU",
            "sstep irq on|off    block interrupts during single steps (KVM_GUESTDBG_BLOCKIRQ; now \(blockIRQWhileStepping ? "on" : "off")\(capabilities.blockIRQ ? "" : ", not offered by this kernel"))",
        ]
    }

    public func monitor(_ command: String) -> String? {
        let words = command.split(separator: " ").map(String.init)
        switch words.first {
        case "sync-stats": return syncStats(reset: words.dropFirst().first == "reset")
        case "breakpoints": return breakpointReport()
        case "translate": return translateReport(words.dropFirst().first)
        case "sstep":
            guard words.count == 3, words[1] == "irq", ["on", "off"].contains(words[2]) else {
                return "usage: monitor sstep irq on|off\n"
            }
            blockIRQWhileStepping = words[2] == "on"
            let note = capabilities.blockIRQ ? "" : " (this kernel does not list BLOCKIRQ: steps are not protected)"
            return "single steps \(blockIRQWhileStepping ? "block" : "do not block") interrupts\(note)\n"
        case "vcpus": return threadIDs.compactMap { threadExtraInfo($0) }.joined(separator: "\n") + "\n"
        default: return nil
        }
    }

    private func syncStats(reset: Bool) -> String {
        var out = ""
        for ctx in contexts {
            if reset { ctx.statsBase = ctx.vcpu.counter.snapshot() }
            let counts = ctx.vcpu.counter.since(ctx.statsBase)
            let file = ctx.registers
            out += "vCPU \(ctx.vcpu.index): valid=\(name(file.valid)) dirty=\(name(file.dirty))"
            out += ctx.backend.syncRegs ? " (REGS and SREGS come back in kvm_run: KVM_CAP_SYNC_REGS)\n" : "\n"
            if counts.isEmpty { out += "  no ioctls since attach\n" }
            for (k, v) in counts.sorted(by: { $0.key < $1.key }) { out += "  \(k) \(v)\n" }
        }
        return out
    }

    private func name(_ g: SyncGroup) -> String { g.isEmpty ? "-" : registerTable.groupName(g) }

    private func breakpointReport() -> String {
        var out = "Z0 strategy: \(strategy.rawValue)"
        out += strategy == .int3 ? " (int3 + KVM_GUESTDBG_USE_SW_BP)\n" : " (debug registers first, then HLT: this host does not intercept int3)\n"
        for (va, placement) in breakpoints.software.sorted(by: { $0.key < $1.key }) {
            switch placement {
            case .slot(let i): out += "  sw 0x\(hex(va)) in DR\(i)\n"
            case .memory(let pa):
                let p = breakpoints.patch(atPhysical: pa)
                out += "  sw 0x\(hex(va)) phys 0x\(hex(pa)) trap 0x\(hex(UInt64(p?.trap ?? 0))) saved 0x\(hex(UInt64(p?.original ?? 0)))\n"
            }
        }
        out += "watchpoints: \(watchpointStrategy.rawValue)"
        out += watchpointStrategy == .debugRegisters ? "\n" : " (data breakpoints do not fire on this host: a vCPU single-steps while one is set)\n"
        for (va, length) in breakpoints.steppedWatches.sorted(by: { $0.key < $1.key }) {
            out += "  watch 0x\(hex(va)) len \(length) (single-stepped)\n"
        }
        for (i, slot) in breakpoints.slots.enumerated() {
            guard let slot, slot.kind != .software else { continue }
            out += "  DR\(i) \(slot.kind) 0x\(hex(slot.address)) len \(slot.length)\n"
        }
        return out
    }

    private func translateReport(_ arg: String?) -> String {
        guard let arg, let va = UInt64(arg.hasPrefix("0x") ? String(arg.dropFirst(2)) : arg, radix: 16) else {
            return "usage: monitor translate ADDR (hex)\n"
        }
        let ctx = contexts[0]
        guard let walk = pageWalk(ctx) else { return "cannot read the control registers\n" }
        guard walk.pagingEnabled else { return "paging is off: 0x\(hex(va)) is guest-physical 0x\(hex(va))\n" }
        var steps: [X86PageWalk.Step] = []
        let result = withUnsafeMutablePointer(to: &steps) { walk.translate(va, steps: $0) }
        var out = "cr3 0x\(hex(walk.cr3))\n"
        for s in steps { out += "  \(s.level) at 0x\(hex(s.entryAddress)) = 0x\(hex(s.entry))\n" }
        if let (pa, size) = result {
            out += "0x\(hex(va)) -> guest-physical 0x\(hex(pa)) (\(size >> 10) KiB page)\n"
        } else {
            out += "0x\(hex(va)) is not mapped\n"
        }
        return out
    }
}

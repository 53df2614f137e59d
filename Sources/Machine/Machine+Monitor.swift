import ARM64VMM
import GDBStub
import KVM
import Registers

extension Machine {
    /// The ioctl counts of one vCPU (thread = vCPU index + 1).
    package func counter(thread: Int) -> IoctlCounter { contexts[thread - 1].vcpu.counter }
    /// KVM_RUNs a signal ended at once (VCPUContext.interruptedRuns); read while the vCPU is stopped.
    package func interruptedRuns(thread: Int) -> Int { contexts[thread - 1].interruptedRuns }

    package var monitorHelp: [String] {
        if architecture is ARM64MachineArchitecture { return arm64MonitorHelp }
        return [
            "sync-stats [reset]  ioctls per request type since attach, the register groups valid/dirty now, vCont;r steps",
            "breakpoints         inserted breakpoints and watchpoints, how Z0 is served here and what serves each watchpoint",
            "watch-strategy [auto|page|debug-registers|single-step]  what serves new watchpoints (now \(pageWatches.state.withLock { $0.request.rawValue }))",
            "resume-timeline [reset]  with several vCPUs: hand-off, all-stop and notification times of the last resumes",
            "translate ADDR      walk the page tables for a guest-virtual address, level by level",
            "vcpus               the state and last exit of each vCPU; with an in-kernel LAPIC its KVM_MP_STATE",
            "lapic               with an in-kernel LAPIC: each vCPU's LAPIC id, version, SVR and ICR (KVM_GET_LAPIC)",
            "reginfo NAME        a register's ONE_REG ID field by field, the ioctl that serves it, its sync group",
            "kaslr               a Linux kernel's text address and KASLR slide, and the gdb command to apply it",
            "kvmclock            whether the guest was told of long stops (KVM_KVMCLOCK_CTRL), per vCPU",
            "sstep irq on|off    block interrupts during single steps (KVM_GUESTDBG_BLOCKIRQ; now \(blockIRQWhileStepping ? "on" : "off")\(capabilities.blockIRQ ? "" : ", not offered by this kernel"))",
        ]
    }

    package func monitor(_ command: String) -> String? {
        let words = command.split(separator: " ").map(String.init)
        if let arm64 = architecture as? ARM64MachineArchitecture, let out = arm64Monitor(words, arm64) { return out }
        switch words.first {
        case "sync-stats": return syncStats(reset: words.dropFirst().first == "reset")
        case "breakpoints": return breakpointReport()
        case "watch-strategy": return watchStrategyCommand(words)
        case "sstep":
            guard words.count == 3, words[1] == "irq", ["on", "off"].contains(words[2]) else {
                return "usage: monitor sstep irq on|off\n"
            }
            blockIRQWhileStepping = words[2] == "on"
            let note = capabilities.blockIRQ ? "" : " (this kernel does not list BLOCKIRQ: steps are not protected)"
            return "single steps \(blockIRQWhileStepping ? "block" : "do not block") interrupts\(note)\n"
        #if KVMSTUB_X86
            case "translate": return translateReport(words.dropFirst().first)
            case "reginfo": return registerInfo(words.dropFirst().first)
            case "kvmclock": return kvmclockReport()
            case "kaslr": return kaslrReport()
            case "lapic": return lapicReport()
        #endif
        case "resume-timeline":
            return control.withLock { s in
                if words.dropFirst().first == "reset" { s.timeline.reset() }
                return s.timeline.report
            }
        case "vcpus": return vcpusReport()
        default: return nil
        }
    }

    /// `monitor vcpus`: each vCPU as `info threads` shows it, and, with an in-kernel LAPIC, its KVM_GET_MP_STATE.
    private func vcpusReport() -> String {
        var out = ""
        for thread in threadIDs {
            guard let ctx = try? context(thread), let line = threadExtraInfo(thread) else { continue }
            out += line + "\n"
            if let mp = mpState(ctx) { out += "  mp_state KVM_MP_STATE_\(mp.name): \(mp.meaning)\n" }
        }
        return out
    }

    #if KVMSTUB_X86
    /// `monitor lapic`: what KVM_GET_LAPIC holds of each stopped vCPU's LAPIC registers (the guest's xAPIC page at
    /// 0xfee00000, which is no RAM: gdb's `x` cannot read it), the last IPI command decoded.
    private func lapicReport() -> String {
        guard configuration.hasInKernelIRQChip else { return "no in-kernel LAPIC (run --irqchip)\n" }
        var out = ""
        for ctx in contexts {
            guard !control.withLock({ $0.vcpus[ctx.vcpu.index].running }) else {
                out += "vCPU \(ctx.vcpu.index): running\n"
                continue
            }
            let regs: [UInt8]
            do { regs = try ctx.vcpu.lapicRegisters() } catch {
                out += "vCPU \(ctx.vcpu.index): \(error)\n"
                continue
            }
            func reg(_ offset: Int) -> UInt32 {
                (0..<4).reduce(0) { $0 | UInt32(regs[offset + $1]) << (8 * $1) }
            }
            let svr = reg(0xf0)
            out += "vCPU \(ctx.vcpu.index): LAPIC id \(reg(0x20) >> 24), version 0x\(padHex(UInt64(reg(0x30)), 1))"
            out += ", SVR 0x\(padHex(UInt64(svr), 1)) (\(svr & 0x100 != 0 ? "enabled" : "software-disabled"))\n"
            out += "  ICR 0x\(padHex(UInt64(reg(0x310)), 8)) 0x\(padHex(UInt64(reg(0x300)), 8)): "
            out += Self.describeICR(low: reg(0x300), high: reg(0x310)) + "\n"
        }
        return out
    }
    #endif

    /// The interrupt command register's fields (Intel SDM vol. 3, "Interrupt Command Register").
    static func describeICR(low: UInt32, high: UInt32) -> String {
        let vector = low & 0xff
        let mode = ["fixed", "lowest priority", "SMI", "reserved", "NMI", "INIT", "STARTUP", "reserved"][
            Int(low >> 8 & 7)]
        var parts = [mode]
        if mode == "STARTUP" {
            parts.append("vector 0x\(padHex(UInt64(vector), 2)) (start at 0x\(padHex(UInt64(vector) << 12, 1)))")
        } else if mode == "fixed" || mode == "lowest priority" {
            parts.append("vector 0x\(padHex(UInt64(vector), 2))")
        }
        parts.append(low & 0x8000 != 0 ? "level-triggered, \(low & 0x4000 != 0 ? "assert" : "de-assert")" : "edge")
        switch low >> 18 & 3 {
        case 1: parts.append("to self")
        case 2: parts.append("to all")
        case 3: parts.append("to all but self")
        default: parts.append("to \(low & 0x800 != 0 ? "logical" : "LAPIC id") \(high >> 24)")
        }
        parts.append(low & 0x1000 != 0 ? "send pending" : "idle")
        return parts.joined(separator: ", ")
    }

    private func syncStats(reset: Bool) -> String {
        var out = ""
        for ctx in contexts {
            if reset {
                ctx.statsBase = ctx.vcpu.counter.snapshot()
                ctx.rangeSteps = RangeStepCount()
            }
            let counts = ctx.vcpu.counter.since(ctx.statsBase)
            let file = ctx.registers
            out += "vCPU \(ctx.vcpu.index): valid=\(name(file.valid)) dirty=\(name(file.dirty))"
            #if KVMSTUB_X86
                let synced = (ctx.backend as? X86Backend)?.syncRegs ?? false
                out += synced ? " (REGS and SREGS come back in kvm_run: KVM_CAP_SYNC_REGS)\n" : "\n"
            #else
                out += "\n"
            #endif
            if counts.isEmpty { out += "  no ioctls since attach\n" }
            for (k, v) in counts.sorted(by: { $0.key < $1.key }) { out += "  \(k) \(v)\n" }
            if let ranges = ctx.rangeSteps.report { out += ranges }
        }
        return out
    }

    #if KVMSTUB_X86
    /// The teaching view of one register: how `p $NAME` becomes an ioctl.
    private func registerInfo(_ arg: String?) -> String {
        guard let arg, let reg = registerTable.register(named: arg.hasPrefix("$") ? String(arg.dropFirst()) : arg)
        else {
            return "usage: monitor reginfo NAME (a register gdb knows, e.g. rax, cr3, efer, xmm0)\n"
        }
        let id = reg.id
        let space = X86ID.space(of: id)
        var out =
            "\(reg.name): gdb regnum \(reg.regnum), \(reg.bitSize) bits, type \(reg.type), feature \(reg.feature)\n"
        out += "ONE_REG ID \(id)\n"
        out += "  arch   0x\(hex(id.arch >> 56)) (\(id.archName))     bits 63-56\n"
        out +=
            "  size   \(id.byteSize) bytes (KVM_REG_SIZE field \((id.rawValue & OneRegID.sizeMask) >> 52))     bits 55-52\n"
        out += "  type   0x\(hex((id.rawValue >> 32) & 0xff))"
        switch space {
        case .msr: out += " (KVM_X86_REG_TYPE_MSR: the kernel's own ID)"
        case .some(let s): out += " (project-private: \(s), never sent to the kernel)"
        case nil: out += " (unknown)"
        }
        out += "     bits 39-32\n"
        out += "  index  0x\(hex(UInt64(X86ID.index(of: id))))"
        switch space {
        case .msr: out += " (MSR number)\n"
        case .regs: out += " (byte offset in struct kvm_regs)\n"
        case .sregs: out += " (byte offset in struct kvm_sregs)\n"
        case .fpu where X86ID.index(of: id) == X86ID.fullTagWordIndex:
            out += " (computed: the full tag word from the abridged one)\n"
        case .fpu: out += " (byte offset in struct kvm_fpu, read from the XSAVE legacy area)\n"
        case .xsave: out += " (byte offset in the XSAVE area)\n"
        case .debugregs: out += " (byte offset in struct kvm_debugregs)\n"
        case nil: out += "\n"
        }
        let ctx = contexts[0]
        let file = ctx.registers
        out += "sync group \(registerTable.groupName(reg.syncGroup))"
        let level =
            registerTable.runtime.contains(reg.syncGroup)
            ? "RUNTIME" : registerTable.reset.contains(reg.syncGroup) ? "RESET" : "FULL"
        out += " (\(level)), served by \(registerTable.info(for: reg.syncGroup)?.servedBy ?? "?")\n"
        out += "on vCPU 0 now: \(file.valid.contains(reg.syncGroup) ? "valid" : "not fetched since the last run")"
        out += file.dirty.contains(reg.syncGroup) ? ", dirty (goes back before the next KVM_RUN)\n" : ", clean\n"
        if ctx.x86.syncRegs && [SyncGroup.x86Regs, .x86Sregs].contains(reg.syncGroup) {
            out += "(this group comes back in kvm_run after every KVM_RUN: KVM_CAP_SYNC_REGS, no ioctl)\n"
        }
        return out
    }
    #endif

    /// Bytes as they lie in memory, as one hex number per byte run: [0xcc] is "cc".
    private func hexBytes(_ bytes: [UInt8]) -> String {
        if bytes.count == 1 { return String(bytes[0], radix: 16) }
        return bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    private func name(_ g: SyncGroup) -> String { g.isEmpty ? "-" : registerTable.groupName(g) }

    private func breakpointReport() -> String {
        var out = "Z0 strategy: \(strategy.placement.summary(host))\n"
        for (va, placement) in breakpoints.software.sorted(by: { $0.key < $1.key }) {
            switch placement {
            case .slot(let i): out += "  sw 0x\(hex(va)) in DR\(i)\n"
            case .memory(let pa):
                let p = breakpoints.patch(atPhysical: pa)
                out +=
                    "  sw 0x\(hex(va)) phys 0x\(hex(pa)) trap 0x\(hexBytes(p?.trap ?? [0])) saved 0x\(hexBytes(p?.original ?? [0]))"
                if let p, let now = memory.read(pa, count: p.trap.count), now != p.trap {
                    out += " (gone: the guest wrote 0x\(hexBytes(now)) over the trap)"
                }
                out += "\n"
            }
        }
        out += watchpointReport()  // Machine+PageWatchExits.swift
        for (i, slot) in breakpoints.slots.enumerated() {
            guard let slot, slot.kind == .hardware else { continue }
            out += "  DR\(i) \(slot.kind) 0x\(hex(slot.address)) len \(slot.length)\n"
        }
        return out
    }

    #if KVMSTUB_X86
    private func translateReport(_ arg: String?) -> String {
        guard let arg, let va = UInt64(arg.hasPrefix("0x") ? String(arg.dropFirst(2)) : arg, radix: 16) else {
            return "usage: monitor translate ADDR (hex)\n"
        }
        let ctx = contexts[0]
        guard let walk = x86PageWalk(ctx) else { return "cannot read the control registers\n" }
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
    #endif
}

/// `v` in hex, at least `width` digits.
private func padHex(_ v: UInt64, _ width: Int) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, width - s.count)) + s
}

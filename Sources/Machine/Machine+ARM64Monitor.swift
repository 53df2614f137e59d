import ARM64VMM
import GDBStub
import KVM
import Registers

/// The monitor commands whose answers are arm64's own: the stage-1 walk, a ONE_REG ID's arm64 fields, the debug
/// registers by their arm64 names, the SVE vector length. The rest (sync-stats, vcpus, watch-strategy,
/// resume-timeline) are the machine's (Machine+Monitor.swift).
extension Machine {
    var arm64MonitorHelp: [String] {
        [
            "sync-stats [reset]  ioctls per request type since attach, the register groups valid/dirty now, vCont;r steps",
            "breakpoints         inserted breakpoints and watchpoints, the debug registers KVM offers, BRKs given back",
            "watch-strategy [auto|page|debug-registers]  what serves new watchpoints (now \(pageWatches.state.withLock { $0.request.rawValue }))",
            "resume-timeline [reset]  with several vCPUs: hand-off, all-stop and notification times of the last resumes",
            "translate ADDR      walk the stage-1 page tables (TTBR0/TTBR1_EL1, 4 KiB granule) for a guest-virtual address",
            "reginfo NAME        a register's ONE_REG ID field by field, the ioctl that serves it, its sync group",
            "sve                 the vector length the vCPU was finalized with (what vg and z/p show) and ZCR_EL1's",
            "vcpus               the state, KVM_MP_STATE (STOPPED: powered off) and last exit of each vCPU",
        ]
    }

    /// nil: not one of arm64's own (the machine's switch answers it).
    func arm64Monitor(_ words: [String], _ arch: ARM64MachineArchitecture) -> String? {
        switch words.first {
        case "breakpoints": return arm64BreakpointReport(arch)
        case "translate": return arm64TranslateReport(words.dropFirst().first, arch)
        case "reginfo": return arm64RegisterInfo(words.dropFirst().first)
        case "sve": return sveReport(arch)
        default: return nil
        }
    }

    private func arm64BreakpointReport(_ arch: ARM64MachineArchitecture) -> String {
        let software = breakpoints.software.sorted(by: { $0.key < $1.key })
        var out = "software breakpoints (BRK #0, KVM_GUESTDBG_USE_SW_BP): \(software.count)\n"
        for (va, placement) in software {
            switch placement {
            case .memory(let pa):
                out += "  0x\(hex(va)) (guest-physical 0x\(hex(pa)))"
                if let p = breakpoints.patch(atPhysical: pa), !trapIntact(p) { out += " (gone: the guest wrote over it)" }
                out += "\n"
            case .slot(let i): out += "  0x\(hex(va)) (in breakpoint register \(i))\n"
            }
        }
        out += "hardware breakpoints (dbg_bcr/bvr): \(arch.breakpointSlots) offered (KVM_CAP_GUEST_DEBUG_HW_BPS)\n"
        for i in arch.breakpointRange {
            if let s = breakpoints.slots[i] {
                out += "  slot \(i): 0x\(hex(s.address)) bcr 0x\(hex(ARM64Architecture.breakpointControl))\n"
            }
        }
        out += "watchpoints (dbg_wcr/wvr): \(arch.watchpointSlots) offered (KVM_CAP_GUEST_DEBUG_HW_WPS)\n"
        let words = arch.guestDebugWords(breakpoints.slots)
        for (j, i) in arch.watchpointRange.enumerated() {
            guard let s = breakpoints.slots[i] else { continue }
            let wcr = words[2 * ARM64Architecture.maxDebugRegisters + j]
            let wvr = words[3 * ARM64Architecture.maxDebugRegisters + j]
            out += "  slot \(j): \(s.kind) 0x\(hex(s.address)) len \(s.length) wcr 0x\(hex(wcr)) wvr 0x\(hex(wvr))\n"
        }
        if !pageWatches.state.withLock({ $0.served.isEmpty }) {
            out += watchpointReport()  // what serves each watchpoint (Machine+PageWatchExits.swift)
        }
        let returned = contexts.reduce(0) { $0 + $1.trapsReturned }
        out += "BRKs of the guest's own given back to it (exception entry through VBAR_EL1): \(returned)\n"
        return out
    }

    private func arm64TranslateReport(_ arg: String?, _ arch: ARM64MachineArchitecture) -> String {
        guard let arg, let va = UInt64(arg.hasPrefix("0x") ? String(arg.dropFirst(2)) : arg, radix: 16) else {
            return "usage: monitor translate ADDR (hex, e.g. 0xffff000040001000)\n"
        }
        guard let walk = arch.arm64PageWalk(contexts[0], memory: memory) else {
            return "the translation registers cannot be read\n"
        }
        if !walk.pagingEnabled {
            let inRAM = memory.contains(va) ? "in RAM" : "not RAM"
            return "SCTLR_EL1.M = 0 (MMU off): 0x\(hex(va)) is guest-physical 0x\(hex(va)) (\(inRAM))\n"
        }
        var out =
            "SCTLR_EL1 0x\(hex(walk.sctlr)) TCR_EL1 0x\(hex(walk.tcr)) TTBR0_EL1 0x\(hex(walk.ttbr0)) TTBR1_EL1 0x\(hex(walk.ttbr1))\n"
        let (steps, outcome) = walk.walk(va)
        for s in steps {
            out +=
                "  level \(s.level): entry at 0x\(hex(s.descriptorAddress)) = 0x\(hex(s.descriptor)) (\(s.meaning))\n"
        }
        switch outcome {
        case .mapped(let pa, let size):
            out +=
                "0x\(hex(va)) -> guest-physical 0x\(hex(pa)) (\(size >> 10) KiB \(size == 0x1000 ? "page" : "block"))\n"
        case .fault(let why): out += "0x\(hex(va)): \(why)\n"
        }
        return out
    }

    /// The teaching view of one register: how `p $NAME` becomes a ONE_REG ioctl.
    private func arm64RegisterInfo(_ arg: String?) -> String {
        guard let arg, let reg = registerTable.register(named: arg.hasPrefix("$") ? String(arg.dropFirst()) : arg)
        else { return "usage: monitor reginfo NAME (a register gdb knows, e.g. x0, pc, cpsr, z0, p0, vg, SCTLR_EL1)\n" }
        let id = reg.id
        let raw = id.rawValue
        var out =
            "\(reg.name): gdb regnum \(reg.regnum), \(reg.bitSize) bits, type \(reg.type), feature \(reg.feature)\n"
        out += "ONE_REG ID \(id)\n"
        out += "  arch    0x\(hex(raw >> 56)) (\(id.archName))     bits 63-56\n"
        out += "  size    \(id.byteSize) bytes (KVM_REG_SIZE field \((raw & OneRegID.sizeMask) >> 52))     bits 55-52\n"
        if ARM64ID.isProjectPrivate(id) {
            out += "  type    0x\(hex((raw >> 32) & 0xff)) (project-private: never sent to the kernel; "
            out += "the vector length in 64-bit granules the vCPU was finalized with)     bits 39-32\n"
        } else {
            let coproc = raw & ARM64ID.coprocMask
            let kind: String
            switch coproc {
            case ARM64ID.core:
                kind = "KVM_REG_ARM_CORE: byte offset \(ARM64ID.coreOffset(of: id) ?? 0) in struct kvm_regs"
            case ARM64ID.sysreg:
                let f = ARM64ID.sysregFields(of: id)!
                kind = "KVM_REG_ARM64_SYSREG: op0 \(f.op0) op1 \(f.op1) CRn \(f.crn) CRm \(f.crm) op2 \(f.op2)"
            case ARM64ID.sve:
                kind =
                    "KVM_REG_ARM64_SVE: the kernel's value is \(id.byteSize * 8) bits whatever VL; gdb gets the low VL"
            case ARM64ID.firmware: kind = "KVM_REG_ARM_FW: a firmware (hypercall) register"
            default: kind = "coprocessor 0x\(hex(coproc >> 16))"
            }
            out += "  coproc  0x\(hex(coproc >> 16)) (\(kind))     bits 27-16\n"
        }
        let ctx = contexts[0]
        out += "sync group \(registerTable.groupName(reg.syncGroup))"
        out += ", served by \(registerTable.info(for: reg.syncGroup)?.servedBy ?? "?")\n"
        out +=
            "on vCPU 0 now: \(ctx.registers.valid.contains(reg.syncGroup) ? "valid" : "not fetched since the last run")"
        out += ctx.registers.dirty.contains(reg.syncGroup) ? ", dirty (goes back before the next KVM_RUN)\n" : ", clean\n"
        if let backend = ctx.backend as? ARM64Backend, let errno = backend.unavailable[id] {
            out += "the kernel refused it at the last fetch (errno \(errno)): it reads as xx\n"
        }
        return out
    }

    private func sveReport(_ arch: ARM64MachineArchitecture) -> String {
        guard let backend = contexts[0].backend as? ARM64Backend, let vl = backend.sveVectorLength else {
            return "no SVE on this vCPU (--no-sve, or the host offers none)\n"
        }
        var out =
            "finalized vector length \(vl) bits (KVM_REG_ARM64_SVE_VLS before KVM_ARM_VCPU_FINALIZE): vg = \(vl / 64),\n"
        out += "z0-z31 \(vl) bits, p0-p15 and ffr \(vl / 8) bits, in target.xml, g, p and P alike\n"
        for ctx in contexts {
            guard let zcr = ctx.systemRegister(ARM64SystemRegisterID.zcr) else { continue }
            // The lengths the vCPU has (a host may lack 384, say: LEN = 2 then gives 256), else up to vl.
            let offered =
                (try? ctx.vcpu.getOneReg(ARM64ID.vectorLengths)).map(ARM64Backend.offeredLengths)
                ?? Array(stride(from: 128, through: vl, by: 128))
            let effective = ARM64Architecture.effectiveVectorLength(zcr: zcr, offered: offered)
            if contexts.count > 1 { out += "vCPU \(ctx.vcpu.index): " }
            out +=
                "ZCR_EL1 0x\(hex(zcr)): LEN \(zcr & 0xf), the guest's effective vector length at EL1 is \(effective) bits"
            out += effective < vl ? " (bits above it read as zero in the guest)\n" : "\n"
        }
        return out
    }
}

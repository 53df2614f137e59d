import GDBStub
import KVM
import Registers

extension ARM64Machine {
    package var monitorHelp: [String] {
        [
            "sync-stats [reset]  ioctls per request type since attach, the register groups valid/dirty now, vCont;r steps",
            "breakpoints         inserted breakpoints and watchpoints, the debug registers KVM offers, BRKs given back",
            "translate ADDR      walk the stage-1 page tables (TTBR0/TTBR1_EL1, 4 KiB granule) for a guest-virtual address",
            "reginfo NAME        a register's ONE_REG ID field by field, the ioctl that serves it, its sync group",
            "sve                 the vector length the vCPU was finalized with (what vg and z/p show) and ZCR_EL1's",
            "vcpus               the state and last exit of the vCPU",
        ]
    }

    package func monitor(_ command: String) -> String? {
        let words = command.split(separator: " ").map(String.init)
        switch words.first {
        case "sync-stats": return syncStats(reset: words.dropFirst().first == "reset")
        case "breakpoints": return breakpointReport()
        case "translate": return translateReport(words.dropFirst().first)
        case "reginfo": return registerInfo(words.dropFirst().first)
        case "sve": return sveReport()
        case "vcpus": return (threadExtraInfo(1) ?? "") + "\n"
        default: return nil
        }
    }

    private func syncStats(reset: Bool) -> String {
        if reset {
            statsBase = vcpu.counter.snapshot()
            rangeResumes = 0
            rangeSteps = 0
        }
        let table = registerTable
        func names(_ g: SyncGroup) -> String {
            let n = g.bits.map { table.groupName($0) }
            return n.isEmpty ? "none" : n.joined(separator: ",")
        }
        var out = "vCPU 0: valid=\(names(registers.valid)) dirty=\(names(registers.dirty))\n"
        let counts = vcpu.counter.since(statsBase)
        if counts.isEmpty { out += "  no ioctls since attach\n" }
        for (k, v) in counts.sorted(by: { $0.key < $1.key }) { out += "  \(k) \(v)\n" }
        if rangeResumes > 0 {
            out += "  vCont;r: \(rangeResumes) range steps, \(rangeSteps) single steps inside them\n"
        }
        return out
    }

    private func breakpointReport() -> String {
        var out = "software breakpoints (BRK #0, KVM_GUESTDBG_USE_SW_BP): \(softwareBreakpoints.count)\n"
        for (va, bp) in softwareBreakpoints.sorted(by: { $0.key < $1.key }) {
            out += "  0x\(hex(va)) (guest-physical 0x\(hex(bp.physical)))\n"
        }
        out += "hardware breakpoints (dbg_bcr/bvr): \(hardwareBreakpoints.count) offered (KVM_CAP_GUEST_DEBUG_HW_BPS)\n"
        for (i, a) in hardwareBreakpoints.enumerated() {
            if let a { out += "  slot \(i): 0x\(hex(a)) bcr 0x\(hex(ARM64Architecture.breakpointControl))\n" }
        }
        out += "watchpoints (dbg_wcr/wvr): \(watchpoints.count) offered (KVM_CAP_GUEST_DEBUG_HW_WPS)\n"
        for (i, w) in watchpoints.enumerated() {
            if let w {
                out +=
                    "  slot \(i): \(w.kind) 0x\(hex(w.address)) len \(w.length) wcr 0x\(hex(w.control)) wvr 0x\(hex(w.value))\n"
            }
        }
        out += "BRKs of the guest's own given back to it (exception entry through VBAR_EL1): \(guestTrapsReturned)\n"
        return out
    }

    private func translateReport(_ arg: String?) -> String {
        guard let arg, let va = UInt64(arg.hasPrefix("0x") ? String(arg.dropFirst(2)) : arg, radix: 16) else {
            return "usage: monitor translate ADDR (hex, e.g. 0xffff000040001000)\n"
        }
        guard let walk = pageWalk() else { return "the translation registers cannot be read\n" }
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
    private func registerInfo(_ arg: String?) -> String {
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
        out += "sync group \(registerTable.groupName(reg.syncGroup))"
        out += ", served by \(registerTable.info(for: reg.syncGroup)?.servedBy ?? "?")\n"
        out += "now: \(registers.valid.contains(reg.syncGroup) ? "valid" : "not fetched since the last run")"
        out += registers.dirty.contains(reg.syncGroup) ? ", dirty (goes back before the next KVM_RUN)\n" : ", clean\n"
        if let errno = backend.unavailable[id] {
            out += "the kernel refused it at the last fetch (errno \(errno)): it reads as xx\n"
        }
        return out
    }

    private func sveReport() -> String {
        guard let vl = sveVectorLength else { return "no SVE on this vCPU (--no-sve, or the host offers none)\n" }
        var out =
            "finalized vector length \(vl) bits (KVM_REG_ARM64_SVE_VLS before KVM_ARM_VCPU_FINALIZE): vg = \(vl / 64),\n"
        out += "z0-z31 \(vl) bits, p0-p15 and ffr \(vl / 8) bits, in target.xml, g, p and P alike\n"
        if let zcr = systemRegister(ARM64SystemRegisterID.zcr) {
            // The lengths the vCPU has (a host may lack 384, say: LEN = 2 then gives 256), else up to vl.
            let offered =
                (try? vcpu.getOneReg(ARM64ID.vectorLengths)).map(ARM64Backend.offeredLengths)
                ?? Array(stride(from: 128, through: vl, by: 128))
            let effective = ARM64Architecture.effectiveVectorLength(zcr: zcr, offered: offered)
            out +=
                "ZCR_EL1 0x\(hex(zcr)): LEN \(zcr & 0xf), the guest's effective vector length at EL1 is \(effective) bits"
            out += effective < vl ? " (bits above it read as zero in the guest)\n" : "\n"
        }
        return out
    }
}

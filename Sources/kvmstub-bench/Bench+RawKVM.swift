import Glibc
import KVM

/// A bare VM for the floor: the loop guest in long mode, one vCPU, and nothing between the benchmark and
/// KVM_RUN — the measured loops call the ioctls through `VCPU.uncounted` (KVM/VCPU+Uncounted.swift), not through
/// the counted funnel (one variant uses `VCPU.runOnce` to show what the counting costs).
final class RawVM {
    let kvm: KVMSystem
    let vm: VirtualMachine
    let memory: GuestMemory
    let vcpu: VCPU
    let capabilities: KVMCapabilities

    init() throws {
        kvm = try KVMSystem()
        capabilities = KVMCapabilities(kvm)
        vm = try kvm.createVM()
        try vm.setTSSAddress(0xfffb_d000)
        memory = try GuestMemory(size: 4 << 20)
        try vm.mapMemory(guestPhysical: 0, size: memory.size, host: memory.host)
        // GDT at 0x500 (null, 64-bit code, data); PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000: 1 GiB of 2 MiB pages.
        memory.writeUInt64(0x500, 0)
        memory.writeUInt64(0x508, 0x00af_9b00_0000_ffff)
        memory.writeUInt64(0x510, 0x00cf_9300_0000_ffff)
        memory.writeUInt64(0x1000, 0x2003)
        memory.writeUInt64(0x2000, 0x3003)
        for i in 0..<512 { memory.writeUInt64(0x3000 + UInt64(i) * 8, UInt64(i) << 21 | 0x83) }
        memory.write(LoopGuest.entry, LoopGuest.code)
        vcpu = try vm.createVCPU(index: 0)
        try vcpu.setCPUID(fromSupportedOf: kvm)
        var s = X86Sregs()
        try vcpu.getSregs(&s)
        func segment(_ selector: UInt16, code: Bool) -> X86Segment {
            var seg = X86Segment()
            seg.limit = 0xffff_ffff
            seg.selector = selector
            seg.type = code ? 0xb : 0x3
            seg.present = 1
            seg.db = code ? 0 : 1
            seg.s = 1
            seg.l = code ? 1 : 0
            seg.g = 1
            return seg
        }
        s.cs = segment(0x08, code: true)
        s.ds = segment(0x10, code: false)
        s.es = s.ds
        s.fs = s.ds
        s.gs = s.ds
        s.ss = s.ds
        s.tr.limit = 0x67
        s.tr.type = 0xb
        s.tr.present = 1
        s.ldt.type = 2
        s.ldt.present = 1
        s.ldt.unusable = 1
        s.gdt.base = 0x500
        s.gdt.limit = 23
        s.cr3 = 0x1000
        s.cr4 = 1 << 5 | 1 << 9 | 1 << 10
        s.cr0 = 1 << 0 | 1 << 1 | 1 << 4 | 1 << 5 | 1 << 16 | 1 << 31
        s.efer = 1 << 8 | 1 << 10
        try vcpu.setSregs(&s)
        var r = X86Regs()
        r.rip = LoopGuest.entry
        r.rsp = 0x20_0000
        r.rflags = 2
        try vcpu.setRegs(&r)
    }

    /// KVM_SET_GUEST_DEBUG, uncounted. `dr0` with `hardware`: one execute breakpoint in DR0 (DR7 as QEMU sets it).
    func setGuestDebug(step: Bool, dr0: UInt64? = nil) throws(BenchError) {
        var control: GuestDebugControl = .enable
        if step {
            control.insert(.singleStep)
            if capabilities.blockIRQ { control.insert(.blockIRQ) }
        }
        var dr: [UInt64] = []
        if let dr0 {
            control.insert(.useHardwareBreakpoints)
            dr = [dr0, 0, 0, 0, 0, 0, 0, 0x600 | 2]
        }
        guard vcpu.uncounted.setGuestDebug(control, debugRegisters: dr) else {
            throw BenchError("KVM_SET_GUEST_DEBUG: \(errnoText())")
        }
    }

    /// One KVM_RUN that must end in KVM_EXIT_DEBUG.
    @inline(__always)
    func runToDebugExit() throws(BenchError) {
        let calls = vcpu.uncounted
        while true {
            if calls.runOnce() == 0 { break }
            if errno == EINTR || errno == EAGAIN { continue }
            throw BenchError("KVM_RUN: \(errnoText())")
        }
        let reason = calls.exitReason
        guard reason == UncountedVCPUCalls.debugExit else {
            throw BenchError("KVM_RUN ended with exit reason \(reason), not KVM_EXIT_DEBUG")
        }
    }

    func rip() throws(BenchError) -> UInt64 {
        var r = X86Regs()
        guard vcpu.uncounted.getRegs(&r) else { throw BenchError("KVM_GET_REGS: \(errnoText())") }
        return r.rip
    }
}

/// A mutable value the probes' closures share.
final class Box<T> {
    var value: T
    init(_ value: T) { self.value = value }
}

extension Bench {
    /// a. What KVM itself costs per step and per breakpoint hit, with nothing else in the way.
    func rawKVMProbes() -> [Probe] {
        let keys: [(String, String, String)] = [
            ("step", "single-step: KVM_RUN only", "steps/s"),
            ("step_sync_regs", "single-step: KVM_RUN, SYNC_REGS regs+sregs", "steps/s"),
            ("step_get_regs", "single-step: KVM_RUN + KVM_GET_REGS", "steps/s"),
            ("step_full_sync", "single-step: + GET_REGS, GET_SREGS, GET_XSAVE", "steps/s"),
            ("step_counted", "single-step: VCPU.runOnce (ioctl counter)", "steps/s"),
            ("hw_hit", "hw breakpoint hit: SET_GUEST_DEBUG + KVM_RUN", "hits/s"),
        ]
        func figure(_ key: String, _ label: String, _ unit: String) -> Figure {
            Figure("raw_kvm.\(key)", .rawKVM, label, kind: .rate(unit: unit))
        }
        let raw: RawVM
        do {
            guard access("/dev/kvm", R_OK | W_OK) == 0 else { throw BenchError("/dev/kvm is not usable here") }
            raw = try RawVM()
        } catch {
            return keys.map { Probe.failed(figure($0.0, $0.1, $0.2), "\(error)") }
        }
        let calls = raw.vcpu.uncounted
        let regs = UnsafeMutablePointer<X86Regs>.allocate(capacity: 1)
        let sregs = UnsafeMutablePointer<X86Sregs>.allocate(capacity: 1)
        let xsave = UnsafeMutablePointer<X86XSAVE>.allocate(capacity: 1)
        let stepping: () throws(BenchError) -> Void = { () throws(BenchError) in
            calls.handBack(regsAndSregs: false)
            try raw.setGuestDebug(step: true)
        }
        var probes: [Probe] = []
        for (key, label, unit) in keys {
            var f = figure(key, label, unit)
            switch key {
            case "step":
                probes.append(Probe(f, before: stepping) { () throws(BenchError) in try raw.runToDebugExit() })
            case "step_sync_regs":
                probes.append(
                    Probe(
                        f,
                        before: { () throws(BenchError) in
                            try stepping()
                            calls.handBack(regsAndSregs: true)
                        },
                        after: { calls.handBack(regsAndSregs: false) }
                    ) { () throws(BenchError) in try raw.runToDebugExit() })
            case "step_get_regs":
                probes.append(
                    Probe(f, before: stepping) { () throws(BenchError) in
                        try raw.runToDebugExit()
                        guard calls.getRegs(regs) else {
                            throw BenchError("KVM_GET_REGS: \(errnoText())")
                        }
                    })
            case "step_full_sync":
                f.note = "what one step costs if every stop re-reads REGS, SREGS and XSAVE (a 'g' with no caching)"
                probes.append(
                    Probe(f, before: stepping) { () throws(BenchError) in
                        try raw.runToDebugExit()
                        guard calls.getRegs(regs), calls.getSregs(sregs), calls.getXSAVE(xsave)
                        else { throw BenchError("KVM_GET_*: \(errnoText())") }
                    })
            case "step_counted":
                f.note = "VCPU.runOnce goes through the funnel: IoctlCounter records it (one slot per Ioctl, under a Mutex)"
                let vcpu = raw.vcpu
                probes.append(
                    Probe(f, before: stepping) { () throws(BenchError) in
                        do { _ = try vcpu.runOnce() } catch { throw BenchError("\(error)") }
                    })
            default:  // hw_hit: DR0 alternates between the two sites, so every run goes from one to the other.
                f.note = "DR0 alternates between 0x100000 and 0x100003: each hit is one SET_GUEST_DEBUG and one KVM_RUN"
                let site = Box(0)
                let sites = [LoopGuest.siteA, LoopGuest.siteB]
                probes.append(
                    Probe(
                        f,
                        before: { () throws(BenchError) in
                            calls.handBack(regsAndSregs: false)
                            site.value = try raw.rip() == LoopGuest.siteA ? 1 : 0
                        }
                    ) { () throws(BenchError) in
                        try raw.setGuestDebug(step: false, dr0: sites[site.value])
                        try raw.runToDebugExit()
                        site.value ^= 1
                    })
            }
        }
        return probes
    }
}

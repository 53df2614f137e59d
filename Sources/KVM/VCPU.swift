import CKVM
import Glibc

/// A vCPU file descriptor and its shared kvm_run page. Every ioctl goes through `ioctls` and is counted in
/// `counter`; the kvm_run page is read only here (VCPUExit) and by the backends' KVM_CAP_SYNC_REGS path.
package final class VCPU: @unchecked Sendable {
    package let fd: Int32
    package let index: Int
    /// The shared `struct kvm_run`.
    package let runPage: UnsafeMutablePointer<kvm_run>
    private let runSize: Int
    package let counter = IoctlCounter()
    let ioctls: IoctlFunnel

    init(fd: Int32, index: Int, run: UnsafeMutableRawPointer, runSize: Int) {
        self.fd = fd
        self.index = index
        self.runPage = run.assumingMemoryBound(to: kvm_run.self)
        self.runSize = runSize
        ioctls = IoctlFunnel(fd: fd, counter: counter, vcpu: index)
    }

    deinit {
        munmap(runPage, runSize)
        close(fd)
    }

    /// `KVM_RUN`, and the exit it ended with: `.interrupted` when a signal or `immediate_exit` kicked it
    /// (EINTR) before an exit to handle.
    package func run() throws(KVMError) -> VCPUExit {
        let r = ioctls.perform(.run, CKVM_RUN, .value(0))
        if !r.failed { return VCPUExit(runPage) }
        if r.errno == EINTR || r.errno == EAGAIN { return .interrupted }
        throw ioctls.error(.run, r.errno)
    }

    /// `KVM_RUN` without decoding the exit (the benchmark's counted floor). False when interrupted.
    package func runOnce() throws(KVMError) -> Bool {
        let r = ioctls.perform(.run, CKVM_RUN, .value(0))
        if !r.failed { return true }
        if r.errno == EINTR || r.errno == EAGAIN { return false }
        throw ioctls.error(.run, r.errno)
    }

    /// Set from another thread to make the next (or current, with a signal) KVM_RUN return at once.
    package func setImmediateExit(_ on: Bool) { ckvm_run_set_immediate_exit(runPage, on ? 1 : 0) }

    /// All-stop: make this vCPU leave KVM_RUN now, or not enter it, whatever `thread` (the one running it) does.
    package func kick(_ thread: pthread_t) {
        setImmediateExit(true)
        KickSignal.send(to: thread)
    }

    /// `KVM_SET_SIGNAL_MASK` with an empty set: whatever the calling thread blocks, nothing is blocked inside
    /// KVM_RUN, so a kick that arrives just before the ioctl stays pending and ends it at once (QEMU's scheme).
    package func unblockAllSignalsInRun() throws(KVMError) {
        // struct kvm_signal_mask { __u32 len; __u8 sigset[]; } with the kernel's 8-byte sigset, all clear: three
        // u32s, so no padding sits between len and the set.
        var mask: (UInt32, UInt32, UInt32) = (8, 0, 0)
        try ioctls.call(.setSignalMask, CKVM_SET_SIGNAL_MASK, &mask)
    }

    #if KVMSTUB_X86
    package func getRegs(_ regs: inout kvm_regs) throws(KVMError) { try ioctls.call(.getRegs, CKVM_GET_REGS, &regs) }
    package func setRegs(_ regs: inout kvm_regs) throws(KVMError) { try ioctls.call(.setRegs, CKVM_SET_REGS, &regs) }
    package func getSregs(_ s: inout kvm_sregs) throws(KVMError) { try ioctls.call(.getSregs, CKVM_GET_SREGS, &s) }
    package func setSregs(_ s: inout kvm_sregs) throws(KVMError) { try ioctls.call(.setSregs, CKVM_SET_SREGS, &s) }
    package func getFPU(_ f: inout kvm_fpu) throws(KVMError) { try ioctls.call(.getFPU, CKVM_GET_FPU, &f) }
    package func setFPU(_ f: inout kvm_fpu) throws(KVMError) { try ioctls.call(.setFPU, CKVM_SET_FPU, &f) }
    package func getXSAVE(_ x: inout kvm_xsave) throws(KVMError) { try ioctls.call(.getXSAVE, CKVM_GET_XSAVE, &x) }
    package func setXSAVE(_ x: inout kvm_xsave) throws(KVMError) { try ioctls.call(.setXSAVE, CKVM_SET_XSAVE, &x) }
    package func getDebugRegs(_ d: inout kvm_debugregs) throws(KVMError) {
        try ioctls.call(.getDebugRegs, CKVM_GET_DEBUGREGS, &d)
    }
    package func setDebugRegs(_ d: inout kvm_debugregs) throws(KVMError) {
        try ioctls.call(.setDebugRegs, CKVM_SET_DEBUGREGS, &d)
    }
    #endif

    /// `KVM_SET_MP_STATE` to RUNNABLE: with an in-kernel LAPIC a secondary vCPU waits for INIT/SIPI unless made so.
    package func makeRunnable() throws(KVMError) {
        var mp = kvm_mp_state(mp_state: CKVM_MP_STATE_RUNNABLE)
        try ioctls.call(.setMPState, CKVM_SET_MP_STATE, &mp, detail: "\(CKVM_MP_STATE_RUNNABLE)")
    }

    /// `KVM_GET_MP_STATE`: RUNNABLE, or (with an in-kernel LAPIC) waiting for INIT/SIPI or halted in KVM. The
    /// kernel takes the vCPU's mutex: never call it while the vCPU is in KVM_RUN on its thread (it would wait).
    package func mpState() throws(KVMError) -> MPState {
        var mp = kvm_mp_state()
        try ioctls.call(.getMPState, CKVM_GET_MP_STATE, &mp)
        return MPState(rawValue: mp.mp_state)
    }

    #if KVMSTUB_X86
    /// `KVM_GET_LAPIC`: the in-kernel LAPIC's 1 KiB register page, as the guest sees it at 0xfee00000 (xAPIC).
    /// Takes the vCPU's mutex like every vCPU ioctl: not while the vCPU is in KVM_RUN.
    package func lapicRegisters() throws(KVMError) -> [UInt8] {
        var state = kvm_lapic_state()
        try ioctls.call(.getLAPIC, CKVM_GET_LAPIC, &state)
        return withUnsafeBytes(of: &state.regs) { Array($0) }
    }

    /// `KVM_GET_VCPU_EVENTS` / `KVM_SET_VCPU_EVENTS`: pending and injected exceptions, interrupts, NMIs.
    package func getEvents() throws(KVMError) -> X86VCPUEvents {
        var events = kvm_vcpu_events()
        try ioctls.call(.getVCPUEvents, CKVM_GET_VCPU_EVENTS, &events)
        return events
    }
    package func setEvents(_ events: X86VCPUEvents) throws(KVMError) {
        var e = events
        try ioctls.call(.setVCPUEvents, CKVM_SET_VCPU_EVENTS, &e)
    }
    #endif

    /// `KVM_SET_GUEST_DEBUG`: `control` the KVM_GUESTDBG_* flags, `arch` the words of the architecture's
    /// `struct kvm_guest_debug_arch` in order (x86: debugreg[8] = DR0–DR3, 4–5 unused, DR6, DR7; arm64:
    /// dbg_bcr[16], dbg_bvr[16], dbg_wcr[16], dbg_wvr[16]); words beyond the struct are ignored.
    package func setGuestDebug(_ control: GuestDebugControl, arch: [UInt64] = []) throws(KVMError) {
        var dbg = kvm_guest_debug()
        dbg.control = control.rawValue
        withUnsafeMutableBytes(of: &dbg.arch) { raw in
            for (i, v) in arch.prefix(raw.count / 8).enumerated() {
                raw.storeBytes(of: v, toByteOffset: i * 8, as: UInt64.self)
            }
        }
        try ioctls.call(.setGuestDebug, CKVM_SET_GUEST_DEBUG, &dbg, detail: "0x" + String(control.rawValue, radix: 16))
    }

    /// `KVM_GET_ONE_REG`: `value` must be exactly `KVM_REG_SIZE(id)` bytes.
    package func getOneReg(_ id: UInt64, into value: UnsafeMutableRawBufferPointer) throws(KVMError) {
        var reg = kvm_one_reg(id: id, addr: UInt64(UInt(bitPattern: value.baseAddress)))
        try ioctls.call(.getOneReg, CKVM_GET_ONE_REG, &reg, detail: "0x" + hex16(id))
    }

    package func setOneReg(_ id: UInt64, from value: UnsafeRawBufferPointer) throws(KVMError) {
        var reg = kvm_one_reg(id: id, addr: UInt64(UInt(bitPattern: value.baseAddress)))
        try ioctls.call(.setOneReg, CKVM_SET_ONE_REG, &reg, detail: "0x" + hex16(id))
    }

    #if KVMSTUB_X86
    /// `KVM_GET_MSRS` for the given indices, in one call.
    package func getMSRs(_ indices: [UInt32]) throws(KVMError) -> [UInt64] {
        try withMSRBuffer(indices, values: nil) { buf throws(KVMError) in
            try msrCall(.getMSRs, CKVM_GET_MSRS, buf, count: indices.count)
            return (0..<indices.count).map { buf.load(fromByteOffset: 8 + 16 * $0 + 8, as: UInt64.self) }
        }
    }

    package func setMSRs(_ indices: [UInt32], values: [UInt64]) throws(KVMError) {
        _ = try withMSRBuffer(indices, values: values) { buf throws(KVMError) in
            try msrCall(.setMSRs, CKVM_SET_MSRS, buf, count: indices.count)
            return []
        }
    }

    /// KVM_GET_MSRS and KVM_SET_MSRS answer how many entries they did: fewer than asked is a failure too.
    private func msrCall(_ op: Ioctl, _ request: UInt, _ buf: UnsafeMutableRawPointer, count: Int) throws(KVMError) {
        let r = ioctls.perform(op, request, .pointer(buf))
        guard r.value == count else {
            throw ioctls.error(op, r.failed ? r.errno : EINVAL, detail: "(\(r.value) of \(count))")
        }
    }

    /// struct kvm_msrs { u32 nmsrs; u32 pad; struct kvm_msr_entry { u32 index; u32 reserved; u64 data; } entries[]; }
    private func withMSRBuffer(
        _ indices: [UInt32], values: [UInt64]?, _ body: (UnsafeMutableRawPointer) throws(KVMError) -> [UInt64]
    ) throws(KVMError) -> [UInt64] {
        let size = ckvm_msrs_size(UInt32(indices.count))
        let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buf.deallocate() }
        buf.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        buf.storeBytes(of: UInt32(indices.count), as: UInt32.self)
        for (i, msr) in indices.enumerated() {
            buf.storeBytes(of: msr, toByteOffset: 8 + 16 * i, as: UInt32.self)
            if let values { buf.storeBytes(of: values[i], toByteOffset: 8 + 16 * i + 8, as: UInt64.self) }
        }
        return try body(buf)
    }

    /// `KVM_SET_CPUID2` with the entries the host supports, less the `hiding` features.
    package func setCPUID(fromSupportedOf kvm: KVMSystem, hiding: [CPUIDFeature] = []) throws(KVMError) {
        try kvm.withSupportedCPUID { buf, count throws(KVMError) in
            // struct kvm_cpuid_entry2 { function, index, flags, eax, ebx, ecx, edx, pad[3] }: 40 bytes from offset 8.
            for h in hiding {
                for i in 0..<count {
                    let entry = 8 + 40 * i
                    guard buf.load(fromByteOffset: entry, as: UInt32.self) == h.function,
                        buf.load(fromByteOffset: entry + 4, as: UInt32.self) == h.index
                    else { continue }
                    let offset = entry + 12 + 4 * h.register
                    buf.storeBytes(
                        of: buf.load(fromByteOffset: offset, as: UInt32.self) & ~(1 << UInt32(h.bit)),
                        toByteOffset: offset, as: UInt32.self)
                }
            }
            try ioctls.call(.setCPUID2, CKVM_SET_CPUID2, .pointer(buf))
        }
    }
    #endif
}

/// The KVM_GUESTDBG_* flags of `KVM_SET_GUEST_DEBUG`.
package struct GuestDebugControl: OptionSet, Sendable, Hashable {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }

    package static let enable = GuestDebugControl(rawValue: CKVM_GUESTDBG_ENABLE)
    package static let singleStep = GuestDebugControl(rawValue: CKVM_GUESTDBG_SINGLESTEP)
    package static let useSoftwareBreakpoints = GuestDebugControl(rawValue: CKVM_GUESTDBG_USE_SW_BP)
    #if arch(arm64)
        /// arm64's KVM_GUESTDBG_USE_HW: dbg_bcr/bvr and dbg_wcr/wvr of kvm_guest_debug_arch.
        package static let useHardwareBreakpoints = GuestDebugControl(rawValue: CKVM_GUESTDBG_USE_HW)
        /// x86's only: no flag here (a trap that is not ours cannot be given back: MachineArchitecture.reinjectTrap).
        package static let injectBreakpoint = GuestDebugControl([])
        /// x86's only: no flag here (capabilities.blockIRQ is false, so it is never asked for).
        package static let blockIRQ = GuestDebugControl([])
    #else
        package static let useHardwareBreakpoints = GuestDebugControl(rawValue: CKVM_GUESTDBG_USE_HW_BP)
        /// x86: re-inject the #BP the last KVM_EXIT_DEBUG reported into the guest.
        package static let injectBreakpoint = GuestDebugControl(rawValue: CKVM_GUESTDBG_INJECT_BP)
        /// No interrupt delivered during a single step (only where KVM_CAP_SET_GUEST_DEBUG2 lists it).
        package static let blockIRQ = GuestDebugControl(rawValue: CKVM_GUESTDBG_BLOCKIRQ)
    #endif
}

#if KVMSTUB_X86
    /// The kernel's x86 register blocks, named for the VMM (which does not import CKVM).
    package typealias X86Regs = kvm_regs
    package typealias X86Sregs = kvm_sregs
    package typealias X86Segment = kvm_segment
    package typealias X86VCPUEvents = kvm_vcpu_events
#endif

func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 16 - s.count)) + s
}

import CKVM
import Glibc

/// A vCPU file descriptor and its shared kvm_run page. Every ioctl is counted by name in `counter`.
public final class VCPU: @unchecked Sendable {
    public let fd: Int32
    public let index: Int
    /// The shared `struct kvm_run`.
    public let run: UnsafeMutablePointer<kvm_run>
    private let runSize: Int
    public let counter = IoctlCounter()

    init(fd: Int32, index: Int, run: UnsafeMutableRawPointer, runSize: Int) {
        self.fd = fd
        self.index = index
        self.run = run.assumingMemoryBound(to: kvm_run.self)
        self.runSize = runSize
    }

    deinit {
        munmap(run, runSize)
        close(fd)
    }

    /// One counted ioctl with a pointer argument; EINTR retried.
    @inline(__always)
    func ioctl<T>(_ name: String, _ request: UInt, _ arg: inout T, detail: @autoclosure () -> String = "") throws(KVMError) {
        counter.record(name)
        let r = withUnsafeMutablePointer(to: &arg) { p in retryingEINTR { ckvm_ioctl_ptr(fd, request, p) } }
        guard r >= 0 else {
            let e = errno
            let d = detail()  // built only on failure: no String per call on the hot path
            throw KVMError(operation: d.isEmpty ? name : "\(name) \(d)", vcpu: index, errno: e)
        }
    }

    /// `KVM_RUN`. Returns false when the run was interrupted (EINTR: a signal kicked this thread, or
    /// immediate_exit was set) rather than ending in an exit to handle.
    public func runOnce() throws(KVMError) -> Bool {
        counter.record("KVM_RUN")
        if ckvm_ioctl_val(fd, CKVM_RUN, 0) == 0 { return true }
        let e = errno
        if e == EINTR || e == EAGAIN { return false }
        throw KVMError(operation: "KVM_RUN", vcpu: index, errno: e)
    }

    public var exitReason: UInt32 { ckvm_run_exit_reason(run) }

    /// Set from another thread to make the next (or current, with a signal) KVM_RUN return at once.
    public func setImmediateExit(_ on: Bool) { ckvm_run_set_immediate_exit(run, on ? 1 : 0) }

    public func getRegs(_ regs: inout kvm_regs) throws(KVMError) { try ioctl("KVM_GET_REGS", CKVM_GET_REGS, &regs) }
    public func setRegs(_ regs: inout kvm_regs) throws(KVMError) { try ioctl("KVM_SET_REGS", CKVM_SET_REGS, &regs) }
    public func getSregs(_ s: inout kvm_sregs) throws(KVMError) { try ioctl("KVM_GET_SREGS", CKVM_GET_SREGS, &s) }
    public func setSregs(_ s: inout kvm_sregs) throws(KVMError) { try ioctl("KVM_SET_SREGS", CKVM_SET_SREGS, &s) }
    public func getFPU(_ f: inout kvm_fpu) throws(KVMError) { try ioctl("KVM_GET_FPU", CKVM_GET_FPU, &f) }
    public func setFPU(_ f: inout kvm_fpu) throws(KVMError) { try ioctl("KVM_SET_FPU", CKVM_SET_FPU, &f) }
    public func getXSAVE(_ x: inout kvm_xsave) throws(KVMError) { try ioctl("KVM_GET_XSAVE", CKVM_GET_XSAVE, &x) }
    public func setXSAVE(_ x: inout kvm_xsave) throws(KVMError) { try ioctl("KVM_SET_XSAVE", CKVM_SET_XSAVE, &x) }
    public func getDebugRegs(_ d: inout kvm_debugregs) throws(KVMError) {
        try ioctl("KVM_GET_DEBUGREGS", CKVM_GET_DEBUGREGS, &d)
    }
    public func setDebugRegs(_ d: inout kvm_debugregs) throws(KVMError) {
        try ioctl("KVM_SET_DEBUGREGS", CKVM_SET_DEBUGREGS, &d)
    }

    /// `KVM_SET_MP_STATE`: with an in-kernel LAPIC a secondary vCPU waits for INIT/SIPI unless made RUNNABLE.
    public func setMPState(_ state: UInt32) throws(KVMError) {
        var mp = kvm_mp_state(mp_state: state)
        try ioctl("KVM_SET_MP_STATE", CKVM_SET_MP_STATE, &mp, detail: "\(state)")
    }

    /// `KVM_GET_VCPU_EVENTS` / `KVM_SET_VCPU_EVENTS`: pending and injected exceptions, interrupts, NMIs.
    public func getEvents() throws(KVMError) -> kvm_vcpu_events {
        var events = kvm_vcpu_events()
        try ioctl("KVM_GET_VCPU_EVENTS", CKVM_GET_VCPU_EVENTS, &events)
        return events
    }
    public func setEvents(_ events: kvm_vcpu_events) throws(KVMError) {
        var e = events
        try ioctl("KVM_SET_VCPU_EVENTS", CKVM_SET_VCPU_EVENTS, &e)
    }

    /// `KVM_SET_GUEST_DEBUG`: control = KVM_GUESTDBG_* flags, debugreg = DR0–DR3, (4, 5 unused), DR6, DR7.
    public func setGuestDebug(control: UInt32, debugRegisters: [UInt64] = []) throws(KVMError) {
        var dbg = kvm_guest_debug()
        dbg.control = control
        withUnsafeMutableBytes(of: &dbg.arch.debugreg) { raw in
            for (i, v) in debugRegisters.prefix(8).enumerated() { raw.storeBytes(of: v, toByteOffset: i * 8, as: UInt64.self) }
        }
        try ioctl("KVM_SET_GUEST_DEBUG", CKVM_SET_GUEST_DEBUG, &dbg, detail: "0x" + String(control, radix: 16))
    }

    /// `KVM_GET_ONE_REG`: `value` must be exactly `KVM_REG_SIZE(id)` bytes.
    public func getOneReg(_ id: UInt64, into value: UnsafeMutableRawBufferPointer) throws(KVMError) {
        var reg = kvm_one_reg(id: id, addr: UInt64(UInt(bitPattern: value.baseAddress)))
        try ioctl("KVM_GET_ONE_REG", CKVM_GET_ONE_REG, &reg, detail: "0x" + hex16(id))
    }

    public func setOneReg(_ id: UInt64, from value: UnsafeRawBufferPointer) throws(KVMError) {
        var reg = kvm_one_reg(id: id, addr: UInt64(UInt(bitPattern: value.baseAddress)))
        try ioctl("KVM_SET_ONE_REG", CKVM_SET_ONE_REG, &reg, detail: "0x" + hex16(id))
    }

    /// `KVM_GET_MSRS` for the given indices, in one call.
    public func getMSRs(_ indices: [UInt32]) throws(KVMError) -> [UInt64] {
        try withMSRBuffer(indices, values: nil) { buf throws(KVMError) in
            counter.record("KVM_GET_MSRS")
            let n = retryingEINTR { ckvm_ioctl_ptr(fd, CKVM_GET_MSRS, buf) }
            guard n == indices.count else {
                throw KVMError(operation: "KVM_GET_MSRS (\(n) of \(indices.count))", vcpu: index, errno: n < 0 ? errno : EINVAL)
            }
            return (0..<indices.count).map { buf.load(fromByteOffset: 8 + 16 * $0 + 8, as: UInt64.self) }
        }
    }

    public func setMSRs(_ indices: [UInt32], values: [UInt64]) throws(KVMError) {
        _ = try withMSRBuffer(indices, values: values) { buf throws(KVMError) in
            counter.record("KVM_SET_MSRS")
            let n = retryingEINTR { ckvm_ioctl_ptr(fd, CKVM_SET_MSRS, buf) }
            guard n == indices.count else {
                throw KVMError(operation: "KVM_SET_MSRS (\(n) of \(indices.count))", vcpu: index, errno: n < 0 ? errno : EINVAL)
            }
            return []
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

    /// One CPUID feature bit, and its number in Linux's feature words (X86_FEATURE_*, word × 32 + bit).
    public struct CPUIDFeature: Sendable, Equatable {
        public let name: String
        public let function: UInt32
        public let index: UInt32
        /// 0 eax, 1 ebx, 2 ecx, 3 edx.
        public let register: Int
        public let bit: Int
        public let linuxNumber: Int
    }

    /// What KVM's instruction emulator cannot execute, as the CPUID features a Linux guest uses those
    /// instructions by. Where every CPL0 instruction is emulated (kvm_pvm) each one is an "instruction emulation
    /// failed" stop once the kernel patches its alternatives in; hidden, Linux takes the older sequence:
    /// CMPXCHG16B (SLUB's cmpxchg_double takes a lock), POPCNT (hweight in software), SMAP's CLAC/STAC (on every
    /// interrupt entry), BMI1/BMI2, CLWB, RDTSCP (rdtsc_ordered keeps LFENCE; RDTSC). Found one instruction at a
    /// time at CPL0 (LinuxPlatformTests.emulatorGaps). kvm_pvm shows its guests some of these whatever
    /// KVM_SET_CPUID2 says (POPCNT and the leaf 7 bits, XSAVE too), so `--kernel` also clears them on the
    /// kernel's command line (LinuxBoot.emulatorParameters).
    public static let emulatorMissing: [CPUIDFeature] = [
        CPUIDFeature(name: "CX16", function: 1, index: 0, register: 2, bit: 13, linuxNumber: 4 * 32 + 13),
        CPUIDFeature(name: "POPCNT", function: 1, index: 0, register: 2, bit: 23, linuxNumber: 4 * 32 + 23),
        CPUIDFeature(name: "BMI1", function: 7, index: 0, register: 1, bit: 3, linuxNumber: 9 * 32 + 3),
        CPUIDFeature(name: "BMI2", function: 7, index: 0, register: 1, bit: 8, linuxNumber: 9 * 32 + 8),
        CPUIDFeature(name: "SMAP", function: 7, index: 0, register: 1, bit: 20, linuxNumber: 9 * 32 + 20),
        CPUIDFeature(name: "CLWB", function: 7, index: 0, register: 1, bit: 24, linuxNumber: 9 * 32 + 24),
        CPUIDFeature(name: "RDTSCP", function: 0x8000_0001, index: 0, register: 3, bit: 27, linuxNumber: 1 * 32 + 27),
        // SIMD beyond SSE2 (no SSE arithmetic in the emulator, nor LDMXCSR): Linux's in-kernel users (blake2s in
        // the random driver at the first initcalls, crypto, crc) check these before kernel_fpu_begin, and take
        // their generic C code without them. (AVX and later go with `noxsave`.)
        CPUIDFeature(name: "PCLMULQDQ", function: 1, index: 0, register: 2, bit: 1, linuxNumber: 4 * 32 + 1),
        CPUIDFeature(name: "SSSE3", function: 1, index: 0, register: 2, bit: 9, linuxNumber: 4 * 32 + 9),
        CPUIDFeature(name: "SSE4.1", function: 1, index: 0, register: 2, bit: 19, linuxNumber: 4 * 32 + 19),
        CPUIDFeature(name: "SSE4.2", function: 1, index: 0, register: 2, bit: 20, linuxNumber: 4 * 32 + 20),
        CPUIDFeature(name: "AES", function: 1, index: 0, register: 2, bit: 25, linuxNumber: 4 * 32 + 25),
        CPUIDFeature(name: "SHA", function: 7, index: 0, register: 1, bit: 29, linuxNumber: 9 * 32 + 29),
    ]

    /// `KVM_SET_CPUID2` with the entries the host supports, less the `hiding` features.
    public func setCPUID(fromSupportedOf kvm: KVMSystem, hiding: [CPUIDFeature] = []) throws(KVMError) {
        var n: UInt32 = 256
        while true {
            let size = ckvm_cpuid2_size(n)
            let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            defer { buf.deallocate() }
            buf.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            buf.storeBytes(of: n, as: UInt32.self)
            if ckvm_ioctl_ptr(kvm.fd, CKVM_GET_SUPPORTED_CPUID, buf) != 0 {
                if errno == E2BIG && n < 4096 {
                    n *= 2
                    continue
                }
                throw KVMError(operation: "KVM_GET_SUPPORTED_CPUID", errno: errno)
            }
            // struct kvm_cpuid_entry2 { function, index, flags, eax, ebx, ecx, edx, pad[3] }: 40 bytes from offset 8.
            let count = Int(buf.load(as: UInt32.self))
            for h in hiding {
                for i in 0..<count {
                    let entry = 8 + 40 * i
                    guard buf.load(fromByteOffset: entry, as: UInt32.self) == h.function,
                        buf.load(fromByteOffset: entry + 4, as: UInt32.self) == h.index
                    else { continue }
                    let offset = entry + 12 + 4 * h.register
                    buf.storeBytes(of: buf.load(fromByteOffset: offset, as: UInt32.self) & ~(1 << UInt32(h.bit)), toByteOffset: offset, as: UInt32.self)
                }
            }
            counter.record("KVM_SET_CPUID2")
            guard retryingEINTR({ ckvm_ioctl_ptr(fd, CKVM_SET_CPUID2, buf) }) == 0 else {
                throw KVMError(operation: "KVM_SET_CPUID2", vcpu: index, errno: errno)
            }
            return
        }
    }
}

func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 16 - s.count)) + s
}

import CKVM
import Glibc

/// An open /dev/kvm. The corresponding ioctls are the system ioctls of Documentation/virt/kvm/api.rst, 4.
package final class KVMSystem: @unchecked Sendable {
    package let fd: Int32
    package let path: String
    let ioctls: IoctlFunnel

    /// Opens /dev/kvm and checks the API version (12, the only stable one).
    package init(path: String = "/dev/kvm") throws(KVMError) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw KVMError(operation: "open \(path)", errno: errno) }
        self.fd = fd
        self.path = path
        ioctls = IoctlFunnel(fd: fd, counter: nil, vcpu: nil)
        let version = ioctls.perform(.getAPIVersion, CKVM_GET_API_VERSION, .value(0)).value
        guard version == 12 else {
            close(fd)
            throw KVMError(
                operation: "KVM_GET_API_VERSION returned \(version), expected 12 from \(path)", errno: EINVAL)
        }
    }

    deinit { close(fd) }

    package var apiVersion: Int32 { ioctls.perform(.getAPIVersion, CKVM_GET_API_VERSION, .value(0)).value }

    /// `KVM_CHECK_EXTENSION`: 0 when absent, else a capability-specific value (a count, a flag set).
    package func checkExtension(_ cap: Int32) -> Int32 {
        max(0, ioctls.perform(.checkExtension, CKVM_CHECK_EXTENSION, .value(UInt(cap))).value)
    }

    /// `KVM_GET_VCPU_MMAP_SIZE`: the size of the shared kvm_run mapping.
    package func vcpuMmapSize() throws(KVMError) -> Int {
        Int(try ioctls.call(.getVCPUMmapSize, CKVM_GET_VCPU_MMAP_SIZE, .value(0)))
    }

    #if KVMSTUB_X86
    /// `KVM_GET_MSR_INDEX_LIST`: the MSRs KVM_GET_MSRS serves.
    package func msrIndexList() throws(KVMError) -> [UInt32] {
        var probe = kvm_msr_list()
        // E2BIG, with the count. The pointer lives only inside the closure: `.pointer(&probe)` would let it escape.
        _ = withUnsafeMutablePointer(to: &probe) {
            ioctls.perform(.getMSRIndexList, CKVM_GET_MSR_INDEX_LIST, .pointer(UnsafeMutableRawPointer($0)))
        }
        let n = probe.nmsrs
        let size = ckvm_msr_list_size(n)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buf.deallocate() }
        buf.storeBytes(of: n, as: UInt32.self)
        try ioctls.call(.getMSRIndexList, CKVM_GET_MSR_INDEX_LIST, .pointer(buf))
        let count = Int(buf.load(as: UInt32.self))
        return (0..<count).map { buf.load(fromByteOffset: 4 + 4 * $0, as: UInt32.self) }
    }

    /// `KVM_GET_SUPPORTED_CPUID` into a `struct kvm_cpuid2` grown until it fits; `body` gets it and its entry count.
    func withSupportedCPUID(_ body: (UnsafeMutableRawPointer, Int) throws(KVMError) -> Void) throws(KVMError) {
        var n: UInt32 = 256
        while true {
            let size = ckvm_cpuid2_size(n)
            let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            defer { buf.deallocate() }
            buf.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            buf.storeBytes(of: n, as: UInt32.self)
            let r = ioctls.perform(.getSupportedCPUID, CKVM_GET_SUPPORTED_CPUID, .pointer(buf))
            if r.failed {
                if r.errno == E2BIG && n < 4096 {
                    n *= 2
                    continue
                }
                throw ioctls.error(.getSupportedCPUID, r.errno)
            }
            return try body(buf, Int(buf.load(as: UInt32.self)))
        }
    }
    #endif

    /// `KVM_CREATE_VM` with the default machine type.
    package func createVM() throws(KVMError) -> VirtualMachine {
        VirtualMachine(fd: try ioctls.call(.createVM, CKVM_CREATE_VM, .value(0)), system: self)
    }
}

/// What the host KVM offers, as `kvmstub info` prints it.
package struct KVMCapabilities: Sendable {
    package let apiVersion: Int32
    package let oneReg: Bool
    package let syncRegs: UInt64
    package let setGuestDebug: Bool
    /// `KVM_CAP_SET_GUEST_DEBUG2`: the KVM_GUESTDBG_* flags the kernel accepts (0 on kernels before 5.16).
    package let guestDebugFlags: UInt32
    package let recommendedVCPUs: Int32
    package let maxVCPUs: Int32
    package let debugRegs: Bool
    package let xsave: Bool
    package let immediateExit: Bool
    /// `KVM_CAP_KVMCLOCK_CTRL`: KVM_KVMCLOCK_CTRL tells a kvmclock guest it was paused.
    package let kvmclockControl: Bool
    /// `KVM_CAP_ARM_SVE`: vCPUs can have SVE (arm64).
    package let armSVE: Bool
    /// `KVM_CAP_ARM_PSCI_0_2`: PSCI 0.2 and later in the kernel (arm64).
    package let armPSCI0_2: Bool
    /// `KVM_CAP_GUEST_DEBUG_HW_BPS` / `_WPS`: hardware breakpoints and watchpoints KVM_SET_GUEST_DEBUG can arm (arm64).
    package let hardwareBreakpoints: Int32
    package let hardwareWatchpoints: Int32

    package init(_ kvm: KVMSystem) {
        apiVersion = kvm.apiVersion
        oneReg = kvm.checkExtension(CKVM_CAP_ONE_REG) > 0
        syncRegs = UInt64(kvm.checkExtension(CKVM_CAP_SYNC_REGS))
        setGuestDebug = kvm.checkExtension(CKVM_CAP_SET_GUEST_DEBUG) > 0
        guestDebugFlags = UInt32(bitPattern: kvm.checkExtension(CKVM_CAP_SET_GUEST_DEBUG2))
        recommendedVCPUs = kvm.checkExtension(CKVM_CAP_NR_VCPUS)
        maxVCPUs = kvm.checkExtension(CKVM_CAP_MAX_VCPUS)
        #if KVMSTUB_X86
            debugRegs = kvm.checkExtension(CKVM_CAP_DEBUGREGS) > 0
            xsave = kvm.checkExtension(CKVM_CAP_XSAVE) > 0
        #else
            debugRegs = false  // x86's KVM_GET_DEBUGREGS and KVM_GET_XSAVE
            xsave = false
        #endif
        immediateExit = kvm.checkExtension(CKVM_CAP_IMMEDIATE_EXIT) > 0
        kvmclockControl = kvm.checkExtension(CKVM_CAP_KVMCLOCK_CTRL) > 0
        armSVE = kvm.checkExtension(CKVM_CAP_ARM_SVE) > 0
        armPSCI0_2 = kvm.checkExtension(CKVM_CAP_ARM_PSCI_0_2) > 0
        hardwareBreakpoints = kvm.checkExtension(CKVM_CAP_GUEST_DEBUG_HW_BPS)
        hardwareWatchpoints = kvm.checkExtension(CKVM_CAP_GUEST_DEBUG_HW_WPS)
    }

    #if KVMSTUB_X86
        /// BLOCKIRQ keeps a single step out of interrupt handlers; only kernels that list it accept it.
        package var blockIRQ: Bool { guestDebugFlags & CKVM_GUESTDBG_BLOCKIRQ != 0 }

        /// x86: kvm_run carries both REGS and SREGS back (KVM_CAP_SYNC_REGS), so the backend can use it.
        package var syncsX86RegsAndSregs: Bool {
            syncRegs & CKVM_SYNC_X86_REGS != 0 && syncRegs & CKVM_SYNC_X86_SREGS != 0
        }
    #else
        /// KVM_GUESTDBG_BLOCKIRQ is x86's.
        package var blockIRQ: Bool { false }
        package var syncsX86RegsAndSregs: Bool { false }
    #endif
}

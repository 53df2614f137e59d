import CKVM
import Glibc

/// An open /dev/kvm. The corresponding ioctls are the system ioctls of Documentation/virt/kvm/api.rst, 4.
public final class KVMSystem: @unchecked Sendable {
    public let fd: Int32
    public let path: String

    /// Opens /dev/kvm and checks the API version (12, the only stable one).
    public init(path: String = "/dev/kvm") throws(KVMError) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw KVMError(operation: "open \(path)", errno: errno) }
        self.fd = fd
        self.path = path
        let version = ckvm_ioctl_val(fd, CKVM_GET_API_VERSION, 0)
        guard version == 12 else {
            close(fd)
            throw KVMError(operation: "KVM_GET_API_VERSION returned \(version), expected 12 from \(path)", errno: EINVAL)
        }
    }

    deinit { close(fd) }

    public var apiVersion: Int32 { ckvm_ioctl_val(fd, CKVM_GET_API_VERSION, 0) }

    /// `KVM_CHECK_EXTENSION`: 0 when absent, else a capability-specific value (a count, a flag set).
    public func checkExtension(_ cap: Int32) -> Int32 {
        max(0, ckvm_ioctl_val(fd, CKVM_CHECK_EXTENSION, UInt(cap)))
    }

    /// `KVM_GET_VCPU_MMAP_SIZE`: the size of the shared kvm_run mapping.
    public func vcpuMmapSize() throws(KVMError) -> Int {
        let n = ckvm_ioctl_val(fd, CKVM_GET_VCPU_MMAP_SIZE, 0)
        guard n > 0 else { throw KVMError(operation: "KVM_GET_VCPU_MMAP_SIZE", errno: errno) }
        return Int(n)
    }

    /// `KVM_GET_MSR_INDEX_LIST`: the MSRs KVM_GET_MSRS serves.
    public func msrIndexList() throws(KVMError) -> [UInt32] {
        var n: UInt32 = 0
        var probe = kvm_msr_list()
        _ = ckvm_ioctl_ptr(fd, CKVM_GET_MSR_INDEX_LIST, &probe)  // E2BIG, with the count
        n = probe.nmsrs
        let size = ckvm_msr_list_size(n)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buf.deallocate() }
        buf.storeBytes(of: n, as: UInt32.self)
        guard ckvm_ioctl_ptr(fd, CKVM_GET_MSR_INDEX_LIST, buf) == 0 else {
            throw KVMError(operation: "KVM_GET_MSR_INDEX_LIST", errno: errno)
        }
        let count = Int(buf.load(as: UInt32.self))
        return (0..<count).map { buf.load(fromByteOffset: 4 + 4 * $0, as: UInt32.self) }
    }

    /// `KVM_CREATE_VM` with the default machine type.
    public func createVM() throws(KVMError) -> VirtualMachine {
        let vmfd = retryingEINTR { ckvm_ioctl_val(fd, CKVM_CREATE_VM, 0) }
        guard vmfd >= 0 else { throw KVMError(operation: "KVM_CREATE_VM", errno: errno) }
        return VirtualMachine(fd: vmfd, system: self)
    }
}

/// What the host KVM offers, as `kvmstub info` prints it.
public struct KVMCapabilities: Sendable {
    public let apiVersion: Int32
    public let oneReg: Bool
    public let syncRegs: UInt64
    public let setGuestDebug: Bool
    /// `KVM_CAP_SET_GUEST_DEBUG2`: the KVM_GUESTDBG_* flags the kernel accepts (0 on kernels before 5.16).
    public let guestDebugFlags: UInt32
    public let recommendedVCPUs: Int32
    public let maxVCPUs: Int32
    public let debugRegs: Bool
    public let xsave: Bool
    public let immediateExit: Bool
    /// `KVM_CAP_KVMCLOCK_CTRL`: KVM_KVMCLOCK_CTRL tells a kvmclock guest it was paused.
    public let kvmclockControl: Bool

    public init(_ kvm: KVMSystem) {
        apiVersion = kvm.apiVersion
        oneReg = kvm.checkExtension(CKVM_CAP_ONE_REG) > 0
        syncRegs = UInt64(kvm.checkExtension(CKVM_CAP_SYNC_REGS))
        setGuestDebug = kvm.checkExtension(CKVM_CAP_SET_GUEST_DEBUG) > 0
        guestDebugFlags = UInt32(bitPattern: kvm.checkExtension(CKVM_CAP_SET_GUEST_DEBUG2))
        recommendedVCPUs = kvm.checkExtension(CKVM_CAP_NR_VCPUS)
        maxVCPUs = kvm.checkExtension(CKVM_CAP_MAX_VCPUS)
        debugRegs = kvm.checkExtension(CKVM_CAP_DEBUGREGS) > 0
        xsave = kvm.checkExtension(CKVM_CAP_XSAVE) > 0
        immediateExit = kvm.checkExtension(CKVM_CAP_IMMEDIATE_EXIT) > 0
        kvmclockControl = kvm.checkExtension(CKVM_CAP_KVMCLOCK_CTRL) > 0
    }

    /// BLOCKIRQ keeps a single step out of interrupt handlers; only kernels that list it accept it.
    public var blockIRQ: Bool { guestDebugFlags & CKVM_GUESTDBG_BLOCKIRQ != 0 }
}

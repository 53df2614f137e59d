import CKVM
import Glibc

/// A VM file descriptor from `KVM_CREATE_VM`.
public final class VirtualMachine: @unchecked Sendable {
    public let fd: Int32
    public let system: KVMSystem
    private var nextSlot: UInt32 = 0

    init(fd: Int32, system: KVMSystem) {
        self.fd = fd
        self.system = system
    }

    deinit { close(fd) }

    /// `KVM_SET_USER_MEMORY_REGION`: back guest-physical `[guestPhysical, +size)` with host memory.
    public func mapMemory(guestPhysical: UInt64, size: Int, host: UnsafeMutableRawPointer) throws(KVMError) {
        var region = kvm_userspace_memory_region(
            slot: nextSlot, flags: 0, guest_phys_addr: guestPhysical, memory_size: UInt64(size),
            userspace_addr: UInt64(UInt(bitPattern: host)))
        guard retryingEINTR({ ckvm_ioctl_ptr(fd, CKVM_SET_USER_MEMORY_REGION, &region) }) == 0 else {
            throw KVMError(
                operation: "KVM_SET_USER_MEMORY_REGION slot \(nextSlot) at 0x\(String(guestPhysical, radix: 16))",
                errno: errno)
        }
        nextSlot += 1
    }

    /// `KVM_SET_TSS_ADDR`: three pages below 4 GiB that Intel hosts need for real-mode emulation.
    public func setTSSAddress(_ address: UInt64) throws(KVMError) {
        guard retryingEINTR({ ckvm_ioctl_val(fd, CKVM_SET_TSS_ADDR, UInt(address)) }) == 0 else {
            throw KVMError(operation: "KVM_SET_TSS_ADDR", errno: errno)
        }
    }

    /// `KVM_CREATE_VCPU`, and the mapping of its kvm_run page.
    public func createVCPU(index: Int) throws(KVMError) -> VCPU {
        let vcpufd = retryingEINTR { ckvm_ioctl_val(fd, CKVM_CREATE_VCPU, UInt(index)) }
        guard vcpufd >= 0 else { throw KVMError(operation: "KVM_CREATE_VCPU", vcpu: index, errno: errno) }
        let size = try system.vcpuMmapSize()
        guard let run = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpufd, 0), run != MAP_FAILED else {
            let e = errno
            close(vcpufd)
            throw KVMError(operation: "mmap of kvm_run", vcpu: index, errno: e)
        }
        return VCPU(fd: vcpufd, index: index, run: run, runSize: size)
    }
}

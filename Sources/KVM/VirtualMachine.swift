import CKVM
import Glibc

/// A VM file descriptor from `KVM_CREATE_VM`.
package final class VirtualMachine: @unchecked Sendable {
    package let fd: Int32
    package let system: KVMSystem
    let ioctls: IoctlFunnel
    /// The next memory slot id `mapMemory` or `newSlotID` hands out (VirtualMachine+Slots.swift).
    var nextSlot: UInt32 = 0

    init(fd: Int32, system: KVMSystem) {
        self.fd = fd
        self.system = system
        ioctls = IoctlFunnel(fd: fd, counter: nil, vcpu: nil)
    }

    deinit { close(fd) }

    /// `KVM_SET_USER_MEMORY_REGION`: back guest-physical `[guestPhysical, +size)` with host memory, in a new slot
    /// (returned).
    @discardableResult
    package func mapMemory(guestPhysical: UInt64, size: Int, host: UnsafeMutableRawPointer) throws(KVMError) -> UInt32 {
        var region = kvm_userspace_memory_region(
            slot: nextSlot, flags: 0, guest_phys_addr: guestPhysical, memory_size: UInt64(size),
            userspace_addr: UInt64(UInt(bitPattern: host)))
        try ioctls.call(
            .setUserMemoryRegion, CKVM_SET_USER_MEMORY_REGION, &region,
            detail: "slot \(nextSlot) at 0x\(String(guestPhysical, radix: 16))")
        nextSlot += 1
        return nextSlot - 1
    }

    #if KVMSTUB_X86
    /// `KVM_SET_TSS_ADDR`: three pages below 4 GiB that Intel hosts need for real-mode emulation.
    package func setTSSAddress(_ address: UInt64) throws(KVMError) {
        try ioctls.call(.setTSSAddr, CKVM_SET_TSS_ADDR, .value(UInt(address)))
    }
    #endif

    /// `KVM_CREATE_VCPU`, and the mapping of its kvm_run page.
    package func createVCPU(index: Int) throws(KVMError) -> VCPU {
        let r = ioctls.perform(.createVCPU, CKVM_CREATE_VCPU, .value(UInt(index)))
        guard !r.failed else { throw KVMError(operation: "KVM_CREATE_VCPU", vcpu: index, errno: r.errno) }
        let vcpufd = r.value
        let size = try system.vcpuMmapSize()
        guard let run = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpufd, 0), run != MAP_FAILED else {
            let e = errno
            close(vcpufd)
            throw KVMError(operation: "mmap of kvm_run", vcpu: index, errno: e)
        }
        return VCPU(fd: vcpufd, index: index, run: run, runSize: size)
    }
}

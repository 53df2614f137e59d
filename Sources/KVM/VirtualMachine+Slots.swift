import CKVM

/// Memory slots rearranged after creation: what page-protection watchpoints (Machine/Machine+PageWatchpoints.swift) do
/// to take guest-physical pages out of the guest's RAM (an access there leaves KVM_RUN as KVM_EXIT_MMIO) or to
/// make them read-only (KVM_MEM_READONLY: only writes exit).
extension VirtualMachine {
    /// `KVM_MEM_READONLY` (include/uapi/linux/kvm.h): the slot's pages read as RAM, writes exit as MMIO.
    package static let readOnlySlotFlag: UInt32 = 1 << 1
    /// `KVM_CAP_READONLY_MEM` (81), from the kernel's header: a hand-written 31 here was KVM_CAP_MCE, which x86
    /// answers with its bank count and arm64 with 0.
    static let capReadOnlyMemory = Int32(CKVM_CAP_READONLY_MEM)

    /// Whether this VM may have KVM_MEM_READONLY slots: asked of the VM (KVM_CHECK_EXTENSION on its fd, as QEMU
    /// does since 9.2), because since Linux 6.11 it depends on the VM type; /dev/kvm only where the VM ioctl is
    /// refused (before 3.17).
    package var offersReadOnlySlots: Bool { checkExtension(Self.capReadOnlyMemory) > 0 }

    /// `KVM_CHECK_EXTENSION` on the VM fd (KVM_CAP_CHECK_EXTENSION_VM), else on /dev/kvm.
    package func checkExtension(_ cap: Int32) -> Int32 {
        let r = ioctls.perform(.checkExtension, CKVM_CHECK_EXTENSION, .value(UInt(cap)))
        return r.value >= 0 ? r.value : system.checkExtension(cap)
    }

    /// A slot id no other mapping uses.
    package func newSlotID() -> UInt32 {
        nextSlot += 1
        return nextSlot - 1
    }

    /// `KVM_SET_USER_MEMORY_REGION` on a given slot: `size` 0 deletes it (api.rst: a slot's size, address and
    /// flags other than dirty logging cannot change in place, so a changed slot is deleted, then created again).
    package func setSlot(
        _ slot: UInt32, flags: UInt32, guestPhysical: UInt64, size: UInt64, host: UnsafeMutableRawPointer
    ) throws(KVMError) {
        var region = kvm_userspace_memory_region(
            slot: slot, flags: flags, guest_phys_addr: guestPhysical, memory_size: size,
            userspace_addr: UInt64(UInt(bitPattern: host)))
        try ioctls.call(
            .setUserMemoryRegion, CKVM_SET_USER_MEMORY_REGION, &region,
            detail: "slot \(slot) at 0x\(String(guestPhysical, radix: 16)) size 0x\(String(size, radix: 16))")
    }
}

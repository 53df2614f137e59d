import CKVM
import Glibc

/// The in-kernel PC platform a Linux guest needs (used only by `kvmstub run --kernel`: the example guests rely on
/// HLT exits, which an in-kernel local APIC swallows). All of these must come before the first KVM_CREATE_VCPU.
extension VirtualMachine {
    /// `KVM_SET_IDENTITY_MAP_ADDR`: one page below 4 GiB for the EPT identity map Intel hosts use in real mode.
    public func setIdentityMapAddress(_ address: UInt64) throws(KVMError) {
        var a = address
        guard retryingEINTR({ ckvm_ioctl_ptr(fd, CKVM_SET_IDENTITY_MAP_ADDR, &a) }) == 0 else {
            throw KVMError(operation: "KVM_SET_IDENTITY_MAP_ADDR", errno: errno)
        }
    }

    /// `KVM_CREATE_IRQCHIP`: the in-kernel 8259 PICs, IOAPIC and a local APIC per vCPU.
    public func createIRQChip() throws(KVMError) {
        guard retryingEINTR({ ckvm_ioctl_val(fd, CKVM_CREATE_IRQCHIP, 0) }) == 0 else {
            throw KVMError(operation: "KVM_CREATE_IRQCHIP", errno: errno)
        }
    }

    /// `KVM_CREATE_PIT2`: the in-kernel 8254 timer on IRQ 0 (speaker port 0x61 a dummy, as QEMU does).
    public func createPIT2() throws(KVMError) {
        var config = kvm_pit_config()
        config.flags = UInt32(CKVM_PIT_SPEAKER_DUMMY)
        guard retryingEINTR({ ckvm_ioctl_ptr(fd, CKVM_CREATE_PIT2, &config) }) == 0 else {
            throw KVMError(operation: "KVM_CREATE_PIT2", errno: errno)
        }
    }

    /// `KVM_IRQ_LINE`: drive an ISA interrupt line (PIC and IOAPIC input `irq`) to `level`.
    public func setIRQLine(_ irq: UInt32, level: Bool) throws(KVMError) {
        guard retryingEINTR({ ckvm_irq_line(fd, irq, level ? 1 : 0) }) == 0 else {
            throw KVMError(operation: "KVM_IRQ_LINE \(irq)", errno: errno)
        }
    }
}

import CKVM
import Glibc

// x86 only: the PC platform (identity map, PIC/IOAPIC, PIT, ISA IRQ lines).
#if KVMSTUB_X86

/// The in-kernel PC platform a Linux guest needs (used only by `kvmstub run --kernel`: the example guests rely on
/// HLT exits, which an in-kernel local APIC swallows). All of these must come before the first KVM_CREATE_VCPU.
extension VirtualMachine {
    /// `KVM_SET_IDENTITY_MAP_ADDR`: one page below 4 GiB for the EPT identity map Intel hosts use in real mode.
    package func setIdentityMapAddress(_ address: UInt64) throws(KVMError) {
        var a = address
        try ioctls.call(.setIdentityMapAddr, CKVM_SET_IDENTITY_MAP_ADDR, &a)
    }

    /// `KVM_CREATE_IRQCHIP`: the in-kernel 8259 PICs, IOAPIC and a local APIC per vCPU.
    package func createIRQChip() throws(KVMError) {
        try ioctls.call(.createIRQChip, CKVM_CREATE_IRQCHIP, .value(0))
    }

    /// `KVM_CREATE_PIT2`: the in-kernel 8254 timer on IRQ 0 (speaker port 0x61 a dummy, as QEMU does), whose lost
    /// ticks are dropped, not re-injected (`KVM_REINJECT_CONTROL`). The PIT counts on while gdb holds the guest
    /// stopped; re-injected, every tick missed meanwhile arrives back to back once it runs again, and a step with
    /// interrupts let through then runs the handler once per missed tick (seen in the nested rig, where a gdb round
    /// trip lasts a hundred ticks of a 1 kHz timer). QEMU keeps the stopped time from the PIT instead.
    package func createPIT2() throws(KVMError) {
        var config = kvm_pit_config()
        config.flags = UInt32(CKVM_PIT_SPEAKER_DUMMY)
        try ioctls.call(.createPIT2, CKVM_CREATE_PIT2, &config)
        var reinject = kvm_reinject_control()  // pit_reinject = 0
        try ioctls.call(.reinjectControl, CKVM_REINJECT_CONTROL, &reinject)
    }

    /// `KVM_IRQ_LINE`: drive an ISA interrupt line (PIC and IOAPIC input `irq`) to `level`.
    package func setIRQLine(_ irq: UInt32, level: Bool) throws(KVMError) {
        // struct kvm_irq_level { union { __u32 irq; __s32 status; }; __u32 level; }
        var line: (UInt32, UInt32) = (irq, level ? 1 : 0)
        try ioctls.call(.irqLine, CKVM_IRQ_LINE, &line, detail: "\(irq)")
    }
}

#endif

# guest: lesson-11-smp-boot
# run: --irqchip
# cpus: 2
# exit: 1
# serial: BSP: no AP answered: run with --irqchip --cpus 2
# expect: SVR 0xff (software-disabled)
# expect: ICR 0x01000000 0x00000608: STARTUP, vector 0x08 (start at 0x8000), edge, to LAPIC id 1, idle
# expect: mp_state KVM_MP_STATE_UNINITIALIZED: waits for an INIT IPI, then a SIPI
# Lesson 11 (examples/lesson-11-smp-boot/LESSON.md), the LAPIC left software-disabled: vCPU 0 skips its SVR
# write (gdb's `return` leaves lapic_write before the store), sends INIT and SIPI all the same, and KVM delivers
# neither (kvm_pvm and the nested rig's 6.1 SVM alike): vCPU 1 stays UNINITIALIZED, the guest gives up.
set confirm off
hbreak lapic_write if reg == 0xf0
continue
return
delete
hbreak wait_for_aps
continue
monitor lapic
monitor vcpus
expect_eq $_thread 1 "vCPU 0 at wait_for_aps"
continue

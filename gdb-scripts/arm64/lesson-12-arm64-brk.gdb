# guest: arm64/brk
# gdb: gdb-multiarch
# exit: 0
# quotes-from: rig
# serial: brk #0x42 handled at own_brk_42
# serial: brk #0x0 handled at own_brk_0
# serial: brks=2
# Lesson 12 (examples/lesson-12-arm64/LESSON.md): an arm64 guest on arm64 KVM. The reset state (EL1h, DAIF,
# VBAR_EL1 0), a software breakpoint as BRK #0 in guest memory, the guest's own BRKs given back to it while gdb's
# is inserted — one of them stepped into, to see the exception entry kvmstub made for the guest: ESR_EL1,
# ELR_EL1, SPSR_EL1, pc at VBAR_EL1 + 0x200.
info registers pc cpsr sp
expect_eq ($cpsr&0x3cf) 0x3c5 "EL1h, DAIF masked"
p/x $VBAR_EL1
x/2i own_brk_42
break report
continue
expect_eq $pc report "at report, after the guest's first BRK"
p brks
p/x last_imm
p/x $VBAR_EL1
monitor breakpoints
x/4xb own_brk_0
delete
hbreak *own_brk_0
continue
expect_eq $pc (long)own_brk_0 "the hardware breakpoint at the guest's brk #0"
delete
break after_brks
stepi
expect_eq $pc (long)el1_vectors+0x200 "the step took the guest's BRK into its vector: VBAR_EL1 + 0x200"
x/2i $pc
p/x $ESR_EL1
expect_eq $ESR_EL1 0xf2000000 "ESR_EL1: class 0x3c (BRK), IL, immediate 0"
p/x $ELR_EL1
expect_eq $ELR_EL1 (long)own_brk_0 "ELR_EL1: the BRK itself"
p/x $SPSR_EL1
continue
expect_eq $pc after_brks "gdb's breakpoint: the only stop gdb reported"
p brks
monitor breakpoints
continue

# guest: arm64/brk
# gdb: gdb-multiarch
# exit: 0
# serial: brk #0x42 handled at own_brk_42
# serial: brk #0x0 handled at own_brk_0
# serial: brks=2
# serial: done
# The guest's own BRKs go to the guest: with a gdb software breakpoint inserted (kvmstub traps every BRK), the
# guest's `brk #0x42` and `brk #0` are returned to its VBAR_EL1 handler, which sees the right ESR and ELR;
# gdb stops only at its own breakpoint.
break after_brks
continue
expect_eq $pc after_brks "stopped at gdb's breakpoint, not at the guest's BRKs"
expect_eq brks 2 "the guest's handler took both BRKs"
expect_eq last_elr (long)own_brk_0 "the second at own_brk_0 (ELR_EL1 as the handler saw it)"
expect_eq $VBAR_EL1 (long)el1_vectors "VBAR_EL1 is the guest's vector table"
continue

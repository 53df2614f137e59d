# guest: arm64/mmu
# gdb: gdb-multiarch
# exit: 0
# serial: page[0]=0x600dcafe via 0xffffff8000001000
# serial: done
# expect: TTBR1_EL1
# System registers on arm64, read through KVM_GET_ONE_REG: what the mmu guest wrote before turning its MMU on
# (MAIR_EL1, TCR_EL1, TTBR0/1_EL1, VBAR_EL1, SCTLR_EL1.M/C/I) is what gdb reads; TPIDR_EL1 written from gdb is
# what KVM keeps across a step.
break mmu_ready
continue
expect_eq $MAIR_EL1 0xff00 "MAIR_EL1: attr0 Device-nGnRnE, attr1 Normal write-back"
expect_eq $TCR_EL1 0x1b5193519 "TCR_EL1: T0SZ = T1SZ = 25, 4 KiB granules, IPS 36 bits"
expect_eq $TTBR0_EL1 &l1_low "TTBR0_EL1 = the identity map's level-1 table"
expect_eq $TTBR1_EL1 &l1_high "TTBR1_EL1 = the high map's level-1 table"
expect_eq $VBAR_EL1 (long)el1_vectors "VBAR_EL1 = the guest's vector table"
expect_eq ($SCTLR_EL1&0x1005) 0x1005 "SCTLR_EL1: M, C and I set"
expect_eq $SCTLR_EL1 (sctlr_before|0x1005) "and the rest as the guest read it before"
expect_true ($MIDR_EL1!=0) "MIDR_EL1 reads"
info registers SCTLR_EL1 TCR_EL1 TTBR0_EL1 TTBR1_EL1 MAIR_EL1 VBAR_EL1 MIDR_EL1
set $TPIDR_EL1 = 0x7e57
expect_eq $TPIDR_EL1 0x7e57 "TPIDR_EL1 written"
stepi
expect_eq $TPIDR_EL1 0x7e57 "TPIDR_EL1 kept across a step (written to KVM, read back)"
delete
continue

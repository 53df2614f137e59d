# guest: arm64/hello
# gdb: gdb-multiarch
# exit: 0
# serial: hello from the arm64 guest
# serial: CurrentEL=1 sp at entry=0x48000000
# serial: done
# expect: x30
# expect: cpsr
# The arm64 VMM's starting state as gdb sees it, stopped before the first instruction (--wait): pc at the ELF's
# entry, EL1h with D, A, I and F masked (cpsr 0x3c5), sp at the top of the default 128 MiB of RAM from
# 0x40000000, the MMU off; then the guest runs to its end and says where its sp was.
expect_eq $pc 0x40000000 "pc at e_entry (0x40000000)"
expect_eq $pc _start "which is _start"
expect_eq ($cpsr&0x3cf) 0x3c5 "EL1h (M = 0b0101), D, A, I, F masked"
expect_eq $sp 0x48000000 "sp at the top of RAM (0x40000000 + 128 MiB)"
expect_eq ($SCTLR_EL1&1) 0 "SCTLR_EL1.M: the MMU is off"
info registers
continue

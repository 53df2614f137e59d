# guest: hello
# exit: 0
# serial: done
# expect: kvmstub: KVM internal error: instruction emulation failed at rip 0xf0000000
# expect: Program received signal SIGILL
# KVM_EXIT_INTERNAL_ERROR, made on purpose: pc set to 0xF0000000, where no memory slot is, so KVM has to fetch the
# instruction from MMIO and its emulator gives up. A stop gdb understands (SIGILL at that rip, the cause as console
# output, one line on kvmstub's stderr); registers and memory read afterwards, and the guest even recovers once
# gdb puts pc back.
set $entry = $pc
set $pc = 0xf0000000
continue
expect_eq $pc 0xf0000000 "stopped at the unbacked address"
expect_eq message[0] 'k' "guest memory reads after the internal error"
expect_eq $cs 8 "segment registers read after the internal error"
set $pc = $entry
continue

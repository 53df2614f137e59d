# guest: hello
# exit: 0
# serial: fib(10) = 55
# Single steps move rip by one instruction; registers written with P come back; the system
# registers the VMM set up (long mode, identity paging) read back through their groups.
expect_eq $pc _start "stopped at the entry"
set $before = $pc
stepi
expect_true ($pc>$before) "stepi advanced rip"
expect_true ($pc-$before<16) "by one instruction"
stepi
stepi
set $r12 = 0x1122334455667788
expect_eq $r12 0x1122334455667788 "r12 written"
stepi
expect_eq $r12 0x1122334455667788 "r12 survives a step (flushed, then read back from KVM)"
expect_eq $cr3 0x1000 "cr3 is the VMM's PML4"
expect_eq ($efer&0x500) 0x500 "efer has LME and LMA"
expect_eq ($cr0&0x80000001) 0x80000001 "cr0 has PE and PG"
expect_eq $cs 8 "cs is the flat 64-bit code selector"
expect_eq ($eflags&0x200) 0 "interrupts are off"
info registers rip eflags cs cr0 cr3 cr4 efer fs_base
monitor sync-stats
continue

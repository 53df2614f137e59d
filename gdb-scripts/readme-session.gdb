# guest: hello
# exit: 3
# serial: counter=120
# varies: KVM_RUN \d+
# varies: KVM_SET_GUEST_DEBUG \d+
# README.md's first session ("Attach gdb"), as a student types it. How many KVM_RUNs a breakpoint costs
# depends on the host's strategy for it (int3 or a debug register, `monitor breakpoints`): the README says so.
break add
continue
expect_eq $pc add "stopped at add"
finish
set var counter = 100
info registers rip cr3 efer
monitor sync-stats
continue

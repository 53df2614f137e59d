# guest: hello
# exit: 0
# serial: counter=20
# expect: Hardware assisted breakpoint 1 at
# expect: Hardware watchpoint 2: counter
# expect: Old value = 1
# expect: New value = 2
# hbreak (Z1) through a debug register, watch (Z2) on a global. On hosts where data breakpoints do
# not fire (kvm_pvm: `monitor breakpoints` says so) the stub single-steps while the watchpoint is
# set; on real KVM it is DR0-DR3. (awatch/rwatch: see the README — x86 has no read-only watchpoint.)
hbreak tick
continue
expect_eq $pc tick "hbreak stopped at tick"
continue
expect_eq counter 1 "the second hit of tick, after one increment"
delete
watch counter
monitor breakpoints
continue
expect_eq counter 2 "watch stopped after the next write"
expect_true ($pc>tick&&$pc<tick+32) "in tick, right after the store"
delete
continue

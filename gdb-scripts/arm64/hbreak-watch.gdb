# guest: arm64/hello
# gdb: gdb-multiarch
# exit: 0
# serial: counter=20
# serial: done
# expect: Hardware watchpoint 2: counter
# expect: Old value = 0
# expect: New value = 1
# expect: Old value = 1
# expect: New value = 2
# Hardware breakpoints and watchpoints on arm64 (kvm_guest_debug_arch's dbg_bcr/bvr and dbg_wcr/wvr): hbreak
# fib stops there; `watch counter` stops after each store tick() makes, with the old and new value; deleted, the
# guest runs on to its end.
hbreak fib
continue
expect_eq $pc fib "the hardware breakpoint stopped at fib"
delete
watch counter
continue
expect_eq counter 1 "the first tick stored 1"
continue
expect_eq counter 2 "the second tick stored 2"
expect_true ($pc>=tick)&&($pc<tick+32) "stopped in tick"
delete
continue

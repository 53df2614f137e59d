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
# expect: Hardware read watchpoint 3: counter
# expect: Value = 2
# expect: Hardware access (read/write) watchpoint 4: counter
# expect: Hardware read watchpoint 6: *(unsigned int *)((char *)&counter + 4)
# expect: Hardware read watchpoint 7: *(unsigned long *)((char *)&counter + 4)
# Hardware breakpoints and watchpoints on arm64 (kvm_guest_debug_arch's dbg_bcr/bvr and dbg_wcr/wvr): hbreak
# fib stops there; `watch counter` stops after each store tick() makes, with the old and new value; `rwatch` at
# the next load (DBGWCR LSC = load), `awatch` at a load or store; a load that fires an rwatch sharing bytes with a
# watch is the rwatch's (WnR), an 8-byte rwatch at counter+4 (across a doubleword: two slots) fires on counter's
# load; deleted, the guest runs on to its end.
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
rwatch counter
continue
expect_eq counter 2 "the read watchpoint stopped at the third tick's load, before its store"
delete
awatch counter
continue
continue
expect_eq counter 3 "the access watchpoint: the load, then the store of 3"
delete
watch counter
rwatch *(unsigned int *)((char *)&counter + 4)
continue
expect_eq counter 4 "the watch stops at the store of 4"
continue
expect_eq counter 4 "the next load is the rwatch of counter's upper half (ESR WnR = 0), not the watch sharing its bytes"
delete
rwatch *(unsigned long *)((char *)&counter + 4)
continue
expect_eq counter 5 "an 8-byte rwatch across a doubleword (a DBGWCR pair for each) stops at the next load"
delete
continue

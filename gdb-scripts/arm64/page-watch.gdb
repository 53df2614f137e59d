# guest: arm64/hello
# gdb: gdb-multiarch
# run: --watchpoints page
# exit: 0
# serial: counter=20
# serial: done
# expect: Hardware watchpoint 1: counter
# expect: Old value = 0
# expect: New value = 1
# expect: Old value = 1
# expect: New value = 2
# expect: page protection, phys page
# expect: ro
# expect: received: "E28"
# Page-protection watchpoints on arm64 (`--watchpoints page`): the page holding `counter` becomes a read-only
# memory slot, so tick()'s store is an MMIO exit (KVM decodes it: ISV), which kvmstub reports before making it —
# as a DBGWCR watchpoint stops before the access — and makes at the next run, whose KVM_RUN completes the store;
# gdb steps over it (arm64 watchpoints are non-steppable to gdb) and shows the old and new value. A 136-byte watch,
# which no DBGWCR pair can express, stops at the same store. An rwatch would need the page out of RAM, where an
# instruction fetch is an abort KVM gives the guest: refused (E28), and the guest runs on to its end.
watch counter
continue
expect_eq counter 1 "stopped after the first store (gdb stepped over it)"
expect_true ($pc>=tick)&&($pc<tick+32) "in tick"
monitor breakpoints
continue
expect_eq counter 2 "the second store"
delete
watch *(char (*)[136])&counter
continue
expect_eq counter 3 "a 136-byte watch stops at the third store"
delete
python
gdb.execute("maint packet Z3,%x,8" % int(gdb.parse_and_eval("(long)&counter")))
end
continue

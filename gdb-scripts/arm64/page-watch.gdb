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
# expect: page protection, phys page 0x40002000 ro
# expect: Hardware read watchpoint 3: counter
# expect: Value = 3
# expect: received: "E28"
# Page-protection watchpoints on arm64 (`--watchpoints page`). `watch counter` makes counter's page a read-only
# memory slot (KVM_CAP_READONLY_MEM): tick()'s store is an MMIO exit KVM decodes (ISV), which kvmstub reports
# before making it — as a DBGWCR watchpoint stops before the access — and makes at the next run, whose KVM_RUN
# completes the instruction; gdb steps over it (arm64 watchpoints are non-steppable to gdb) and shows the old
# and new value. A 136-byte watch, which no DBGWCR pair can express, stops at the same store. An rwatch takes the
# page out of the slots (every access an exit, served from RAM) and stops at the next load. A page of the image's
# code never leaves the slots (an instruction fetch from it would be an abort KVM gives the guest): an rwatch
# there is E28. Deleted, the guest runs on to its end. With always-inserted gdb puts the watchpoint in at once,
# so `monitor breakpoints` names the read-only page before the run (after a hit, gdb's step-over leaves it out
# until the next resume).
set breakpoint always-inserted on
watch counter
monitor breakpoints
continue
expect_eq counter 1 "stopped after the first store (gdb stepped over it)"
expect_true ($pc>=tick)&&($pc<tick+32) "in tick"
continue
expect_eq counter 2 "the second store"
delete
watch *(char (*)[136])&counter
continue
expect_eq counter 3 "a 136-byte watch stops at the third store"
delete
rwatch counter
continue
expect_eq counter 3 "the rwatch stopped at the fourth tick's load, before its store"
delete
python
gdb.execute("maint packet Z3,%x,4" % int(gdb.parse_and_eval("(long)&tick")))
end
continue

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
# expect: page protection, phys page 0x40002000
# expect: Hardware read watchpoint 3: counter
# expect: Value = 3
# expect: received: "E28"
# Page-protection watchpoints on arm64 (`--watchpoints page`). The rig's kernel offers no read-only memory slots
# (KVM_CAP_READONLY_MEM 0), so the page holding `counter` is taken out of the slots: every access to it is an MMIO
# exit KVM decodes (ISV). kvmstub serves the others from RAM and reports a watched one before making it — as a
# DBGWCR watchpoint stops before the access — then makes it at the next run, whose KVM_RUN completes the
# instruction; gdb steps over it (arm64 watchpoints are non-steppable to gdb) and shows the old and new value.
# A 136-byte watch, which no DBGWCR pair can express, stops at the same store; an rwatch at the next load. A page
# of the image's code never becomes a hole (an instruction fetch from it would be an abort KVM gives the guest):
# an rwatch there is E28. Deleted, the guest runs on to its end.
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
rwatch counter
continue
expect_eq counter 3 "the rwatch stopped at the fourth tick's load, before its store"
delete
python
gdb.execute("maint packet Z3,%x,4" % int(gdb.parse_and_eval("(long)&tick")))
end
continue

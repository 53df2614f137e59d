# guest: hello
# exit: 0
# serial: origin = (3, 4), distance2 = 25
# serial: done
# A single step after gdb wrote a register is exactly one instruction, rip written or not. (KVM keeps a step's
# TF across a register write only while rip equals the rip it sampled at the last KVM_SET_GUEST_DEBUG, so
# kvmstub issues that ioctl again after such a write; a step with nothing written stays one KVM_RUN.)
hbreak distance2
continue
delete
stepi
expect_eq $pc distance2+3 "the first step: one instruction"
set $r12 = 0x1122
stepi
expect_eq $pc distance2+7 "a step after writing r12: one instruction"
expect_eq $r12 0x1122 "r12 kept the value written"
set $eflags = $eflags
stepi
expect_eq $pc distance2+11 "a step after writing eflags back: one instruction"
# Back one instruction (imul %rax,%rax again, rax put back to 3 so the guest's result stays 25): rip written,
# and the step runs only the instruction there.
set $pc = distance2+7
set $rax = 3
stepi
expect_eq $pc distance2+11 "a step after writing rip: one instruction, at the new rip"
expect_eq $rax 9 "it ran the instruction at the new rip, once"
python
stats = gdb.execute("monitor sync-stats reset", to_string=True)
gdb.execute("stepi")
stats = gdb.execute("monitor sync-stats", to_string=True)
def count(name):
    for line in stats.splitlines():
        parts = line.split()
        if parts and parts[0] == name:
            return int(parts[1])
    return 0
print(("PASS: " if count("KVM_RUN") == 1 and count("KVM_SET_GUEST_DEBUG") == 0 else "FAIL: ")
      + "a step with nothing written is one KVM_RUN and no KVM_SET_GUEST_DEBUG\n" + stats)
end
expect_eq $pc distance2+15 "and that step was one instruction too"
continue

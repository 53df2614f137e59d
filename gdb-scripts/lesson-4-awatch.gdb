# guest: lesson-4-race
# cpus: 2
# varies: Thread [12] hit Hardware access \(read/write\) watchpoint 1: counter
# Lesson 4's `awatch` (examples/lesson-4-race/LESSON.md). Where data breakpoints fire it is a debug register;
# where they never fire (kvm_pvm: `monitor breakpoints` says "data breakpoints never fire") kvmstub serves it
# by page protection: counter's page leaves the guest's memory slots and every access to it exits. Either way
# it stops a vCPU right after its first access to counter — which vCPU gets there first is up to the host's
# scheduler (both run from the start).
monitor breakpoints
awatch counter
continue
python
import gdb
thread = int(gdb.parse_and_eval("$_thread"))
rip = int(gdb.parse_and_eval("$pc"))
between = int(gdb.parse_and_eval("(long)&between"))
print(("PASS: " if thread in (1, 2) else "FAIL: ") + "awatch stopped a vCPU (thread %d)" % thread)
print(("PASS: " if rip == between else "FAIL: ") + "right after increment's read of counter (pc 0x%x)" % rip)
end
delete
kill

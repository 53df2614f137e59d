# guest: lesson-4-race
# cpus: 2
# exit: 1
# serial: counter=9, lost=1
# expect: Hardware watchpoint 2: counter
# expect: Thread 2 hit Hardware watchpoint 2: counter
# expect: Old value = 0
# expect: New value = 1
# Lesson 4 (examples/lesson-4-race/LESSON.md): gdb as the scheduler. With scheduler-locking on, `continue`
# runs only the selected vCPU, so the lost update of a read-modify-write race can be made to happen on purpose,
# and `watch` shows what it does and does not report.
info threads
set scheduler-locking on
hbreak between
continue
expect_eq $_thread 1 "vCPU 0 (thread 1) stopped between its read and its write"
p counter
p $rax
expect_eq counter 0 "counter is 0"
expect_eq $rax 0 "vCPU 0 read 0 into rax"
watch counter
thread 2
continue
expect_eq $_thread 2 "vCPU 1 (thread 2) between its read and its write"
p $rax
expect_eq $rax 0 "vCPU 1 read 0 too"
continue
expect_eq $_thread 2 "the watchpoint stopped vCPU 1 after its write"
expect_eq counter 1 "counter is 1"
info threads
thread 1
# vCPU 0 still holds 0 in rax: its write stores 1 again. The value does not change, so `watch` says nothing,
# and the next stop is vCPU 0's next read.
continue
expect_eq $_thread 1 "vCPU 0 stopped at its next increment"
p counter
p $rax
expect_eq counter 1 "two increments, counter 1: an update was lost"
expect_eq $rax 1 "vCPU 0 read 1"
delete
finish
p counter
expect_eq counter 2 "vCPU 0's second increment"
# The rest, one vCPU at a time, so that no other update is lost: vCPU 1's four, then vCPU 0's three.
thread 2
continue
thread 1
continue

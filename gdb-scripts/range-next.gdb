# guest: lines
# exit: 0
# serial: acc=5997000
# source: lib/rangestats.py
# expect: vCont;r 
# `next` over a one-line loop of 2000 iterations (12 000 instructions). With range stepping (gdb's default, as
# kvmstub lists `r` in vCont?) one vCont;r carries the whole loop; then the same call again from the same state
# with `set range-stepping off` (gdb steps every instruction itself) arrives at the same pc. Then `step` into a
# call, range-stepping.
break busy
continue
set $entry_sp = $sp
monitor sync-stats reset
next
set $on_pc = $pc
set $on_acc = acc
range-stats
expect_true ($range_longest>=12000) "one vCont;r stepped the whole loop"
expect_true ($range_resumes<=6) "next took a few resumes, not one per instruction"
expect_eq $on_acc 1999000 "the loop ran to its end"
echo the same call again, without range stepping\n
delete
set var acc = 0
set $sp = $entry_sp
set $pc = busy
set range-stepping off
monitor sync-stats reset
next
expect_eq $pc $on_pc "next without range stepping arrives at the same pc"
expect_eq acc $on_acc "after the same loop"
range-stats
expect_eq $range_resumes 0 "without range stepping gdb sends no vCont;r"
expect_true ($kvm_runs>=12000) "and steps every instruction itself"
set range-stepping on
monitor sync-stats reset
step
expect_eq $pc busy "step enters the next call"
expect_true $_caller_is("main") "called from main"
range-stats
expect_true ($range_resumes>=1) "step went by vCont;r"
continue

# Two vCPUs: thread listing and selection, per-thread registers and steps, vCont with thread ids.
info threads
thread 2
info registers rip rdi
stepi
thread 1
stepi
break work
continue
info threads
thread apply all bt
thread apply all p $pc
delete
set scheduler-locking step
stepi
set scheduler-locking off
detach

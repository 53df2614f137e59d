# guest: arm64/hello
# gdb: gdb-multiarch
# source: lib/arm64.py
# exit: 0
# serial: fib(10) = 55
# serial: done
# Single-step (KVM_GUESTDBG_SINGLESTEP) on arm64: every stepi in fib's loop runs exactly one instruction (pc + 4,
# or a branch's target), to fib's return; x0 is then fib(10) = 55.
break fib
continue
expect_eq $pc fib "stopped at fib"
expect_eq $x0 10 "n = 10"
delete
stepi_checked 12 "the first steps into fib's loop"
stepi_out "fib to its caller"
expect_eq $x0 55 "fib returned 55 in x0"
expect_true ((long)$pc>(long)main) "back in main"
continue

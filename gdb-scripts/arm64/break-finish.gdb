# guest: arm64/hello
# gdb: gdb-multiarch
# exit: 0
# serial: add(2, 3) = 43
# serial: fib(10) = 55
# serial: counter=20
# expect: Value returned is $1 = 43
# Software breakpoints (BRK #0) on arm64: break in add, change an argument register, finish out (a breakpoint
# at the return address, taken once), and the guest prints the changed sum. A second breakpoint in a loop is
# hit at every call, then removed: the guest runs on to its end.
break add
continue
expect_eq $pc add "stopped at add"
expect_eq $x0 2 "a = 2 in x0"
expect_eq $x1 3 "b = 3 in x1"
set var $x0 = 40
finish
expect_eq $x0 43 "add returned 43 to main"
break tick
continue
expect_eq $pc tick "at tick (first call)"
expect_eq counter 0 "counter is 0 before the first tick"
continue
expect_eq $pc tick "at tick again (second call)"
expect_eq counter 1 "counter is 1"
delete
continue

# guest: hello
# exit: 3
# serial: message=Kvmstub
# serial: counter=120
# Reads and writes of guest memory by virtual address: a string, a struct, a global the guest then
# prints. With breakpoints kept inserted, code under each reads as the original bytes — also under the
# fifth, which (on hosts that do not intercept int3) is a HLT patched into memory, not a debug register.
break distance2
continue
expect_eq origin.x 3 "origin.x"
expect_eq p->y 4 "p->y through the argument pointer"
expect_eq message[0] 'k' "message[0]"
set var message[0] = 'K'
expect_eq message[0] 'K' "message[0] written"
set var counter = 100
x/s message
delete
set $add = *(unsigned long *)add
set $fib = *(unsigned long *)fib
set $greet = *(unsigned long *)greet
set $tick = *(unsigned long *)tick
set $main = *(unsigned long *)main
set breakpoint always-inserted on
break add
break fib
break greet
break main
break tick
monitor breakpoints
set $now = *(unsigned long *)add
expect_eq $now $add "add reads as the original code"
set $now = *(unsigned long *)fib
expect_eq $now $fib "fib reads as the original code"
set $now = *(unsigned long *)greet
expect_eq $now $greet "greet reads as the original code"
set $now = *(unsigned long *)main
expect_eq $now $main "main reads as the original code"
set $now = *(unsigned long *)tick
expect_eq $now $tick "tick reads as the original code"
continue
expect_eq $pc tick "the fifth breakpoint is hit"
delete
continue

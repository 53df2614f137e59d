# Recorded through rsp-proxy.py into the seed corpus: as many packet kinds as a plain gdb session sends.
info registers
info registers float
info registers vector
p $rip
p $xmm0
p $cr3
x/16xb $pc
x/4i $pc
stepi
stepi
stepi
set $r12 = 0x1122334455667788
set $rax = 0
break add
break fib
tbreak greet
hbreak tick
continue
bt
info frame
p a
p b
finish
continue
continue
delete
watch counter
continue
delete
p origin
p message
set var message[0] = 'K'
set var counter = 7
p/x *(unsigned char (*)[64]) &message
x/s message
info threads
thread 1
monitor help
monitor sync-stats
monitor breakpoints
monitor translate 0x100000
monitor reginfo rip
monitor no-such-command
p $_siginfo
info symbol $pc
set var counter = 120
break tick
continue
delete
detach

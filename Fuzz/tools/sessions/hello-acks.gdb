# The same kinds of traffic with acks on (set remote noack-packet off), and a Ctrl-C while the guest runs.
info registers rip rsp
x/8xg $sp-64
stepi
break distance2
continue
p *p
set var p->x = 9
delete
stepi 5
kill

# A guest fault (triple fault, MMIO write outside RAM or hlt with interrupts off, by the image): the stop,
# then registers and memory read after it.
continue
info registers rip
x/4i $pc
p $_siginfo
bt
monitor vcpus
continue
detach

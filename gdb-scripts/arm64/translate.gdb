# guest: arm64/mmu
# gdb: gdb-multiarch
# source: lib/arm64.py
# exit: 0
# serial: page[0]=0x600dcafe via 0xffffff8000001000
# serial: page[1]=0x7
# serial: high_add(2, 3) = 5 at 0xffffff80002
# expect: SCTLR_EL1.M = 0 (MMU off): 0x40000000 is guest-physical 0x40000000 (in RAM)
# expect: 0xffffff8000200000 -> guest-physical 0x40000000 (2048 KiB block)
# expect: (4 KiB page)
# expect: is invalid: not mapped
# expect: New value = 1611516670
# Guest-virtual memory on arm64 once the guest's MMU is on (4 KiB granule, TTBR0 identity map, TTBR1 aliases):
# `monitor translate` walks its tables; gdb reads and writes memory, sets a watchpoint and a software
# breakpoint (a BRK written through the walk) at TTBR1 addresses, and the guest sees what gdb wrote.
monitor translate 0x40000000
break mmu_ready
continue
finish
expect_eq ($SCTLR_EL1&1) 1 "the MMU is on"
monitor translate 0xffffff8000001000
expect_translate 0xffffff8000001000 &page "the TTBR1 page is `page`"
monitor translate 0xffffff8000200000
expect_translate 0xffffff8000200000 0x40000000 "the TTBR1 2 MiB block is the image"
monitor translate 0xffffff8000000000
expect_translate 0x40000000 0x40000000 "the identity map"
set *(unsigned long *)0xffffff8000001008 = 7
expect_eq page[1] 7 "written at a TTBR1 address, read at its physical one"
expect_eq *(unsigned*)0xffffff8000200000 *(unsigned*)0x40000000 "the same instruction through the block alias"
x/i 0xffffff8000200000
watch -l *(unsigned long *)0xffffff8000001000
continue
expect_eq page[0] 0x600dcafe "the watchpoint at the TTBR1 address stopped after the store"
delete
break *(0xffffff8000200000+(long)high_add-0x40000000)
continue
expect_eq $pc (0xffffff8000200000+(long)high_add-0x40000000) "stopped at high_add's TTBR1 alias"
expect_eq $x0 2 "high_add(2, 3): a = 2"
delete
continue

# guest: arm64/mmu
# gdb: gdb-multiarch
# exit: 0
# serial: high_add(2, 3) = 5 at 0xffffff80002
# expect: Program received signal SIGTRAP
# expect: reached through another alias of its page
# A software breakpoint is a BRK in guest-physical memory: code that reaches it through another alias of its
# page (high_add's breakpoint set at its identity address, the call made through the TTBR1 block alias) stops
# gdb with a SIGTRAP there (not a swbreak stop: gdb would resume into it for ever) — ours by the physical
# address, as the x86 Machine decides — rather than handing the guest a `BRK #0` it never wrote (its handler
# would report an unexpected exception and reset: exit 1).
break *high_add
continue
expect_eq $pc (0xffffff8000200000+(long)high_add-0x40000000) "stopped at high_add's TTBR1 alias, on our BRK"
expect_eq $x0 2 "high_add(2, 3): a = 2"
delete
continue

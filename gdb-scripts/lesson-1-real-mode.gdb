# guest: lesson-1-real-mode
# run: --real-mode
# exit: 210
# serial: boot: real mode at 0000:7c00
# serial: far: cs=07c0
# serial: sum=0x00d2
# expect: xor    %eax,%eax
# expect: The target architecture is set to "i8086".
# expect: xor    %ax,%ax
# expect: lcall  $0x7c0,$0x3f
# expect: exited with code 0322
# Lesson 1 (examples/lesson-1-real-mode/LESSON.md): a boot sector at 0000:7c00, debugged in 16-bit mode.
# gdb starts as i386 (the ELF's architecture) and decodes the 16-bit code wrongly; i8086 decodes it right.
x/3i $pc
set architecture i8086
x/3i $pc
info registers eip cs ss esp edx cr0
expect_eq $pc 0x7c00 "cs:ip = 0000:7c00"
expect_eq $cs 0 "cs = 0"
expect_eq $esp 0x7c00 "sp = 0x7c00, below the boot sector"
expect_eq $edx 0x80 "dl = 0x80, the boot drive"
expect_eq ($cr0&0x80000001) 0 "CR0.PE and CR0.PG are clear: real mode, no paging"
monitor translate 0x7c00
# A breakpoint is a linear address; while cs = 0 it is also gdb's $pc.
hbreak *farcall
continue
expect_eq $pc farcall "stopped at the far call"
x/i $pc
stepi
# cs = 0x07c0 now: ip counts from 0x7c00, and gdb, which knows nothing of segments, looks at linear 0x3f.
p/x $cs
p/x $pc
p/x $cs_base
expect_eq $cs 0x7c0 "the far call loaded cs = 0x07c0"
expect_eq $pc (far-0x7c00) "ip is the offset in the segment"
expect_eq $cs_base 0x7c00 "the segment base is cs * 16"
x/i $pc
x/2i $cs*16+$pc
expect_eq (*(char*)($cs*16+$pc)&0xff) 0x1e "cs * 16 + ip is the push %ds at far"
# kvmstub.py does that sum.
source gdb-scripts/kvmstub.py
info linear-pc
x/i $_linear_pc()
expect_eq $_linear_pc() far "$_linear_pc() is far"
# A hardware breakpoint at far: linear 0x7c3f, reported as pc 0x3f, where gdb knows none. It resumes at once,
# for ever, until Ctrl-C (a SIGINT to gdb, as a terminal sends it).
# (One-line python: gdb's trace-commands does not show the command after a python ... end block.)
hbreak far
python import os, signal, threading; threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
set debug remote 1
continue
set debug remote 0
expect_eq $pc (far-0x7c00) "Ctrl-C stopped the endless resumes at far"
delete
# Back in segment 0 from here on: symbols and breakpoints agree again. Change `count` before it is read.
break *done
p *(short*)&count
set var *(short*)&count = 20
continue
expect_eq $pc done "the software breakpoint at done hit"
p $ax
expect_eq $ax 210 "1 + 2 + ... + 20 = 210"
delete
continue

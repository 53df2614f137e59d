# guest: lesson-3-breakpoints
# exit: 0
# serial: stage 1: 4
# serial: stage 4: 13
# serial: all results right
# expect: saved 0x8d
# expect: (gone: the guest wrote 0x8d over the trap)
# expect: Cannot insert breakpoint
# expect: Cannot access memory at address 0x100000000
# expect: 0x100000000 is not mapped
# expect: 0x100000000 -> guest-physical 0x103000 (4 KiB page)
# Lesson 3 (examples/lesson-3-breakpoints/LESSON.md): `break` is a byte the stub writes into guest memory
# (int3, caught by KVM or, where CPL0 code is emulated, by the emulator's stop on it; a debug register, then
# HLT, on hosts where the guest takes its own #BP); `hbreak` is an address in a debug register.
# Code the guest copies over the byte, or code at an address not mapped yet, escapes the first, not the second.
# `always-inserted` keeps gdb's breakpoints in the guest while it is stopped, so `monitor breakpoints` shows them.
set breakpoint always-inserted on
python
# Does this host serve `break` (Z0) from a debug register while one is free (kvm_pvm), or as int3 (real KVM)?
out = gdb.execute("monitor breakpoints", to_string=True)
gdb.set_convenience_variable("z0_in_dr", 1 if "debug registers first" in out else 0)
end
# Part A: one `break` on the trampoline, before the guest copies code there.
break *trampoline
monitor breakpoints
hbreak checkpoint
continue
if $z0_in_dr
  echo this host: Z0 went to a debug register, which compares addresses: the copy did not remove it\n
  expect_eq $pc trampoline "this host: break (in DR0) hit the copied code"
  continue
end
expect_eq $pc checkpoint "at checkpoint 1"
expect_eq stage 1 "stage 1"
delete
# Part B: take all four debug registers, so `break` must patch memory, as every `break` does on real KVM.
hbreak checkpoint
hbreak never_called_1
hbreak never_called_2
hbreak never_called_3
set $filler = $bpnum
break *trampoline
set $sw = $bpnum
monitor breakpoints
continue
expect_eq $pc checkpoint "stage 2's copy overwrote the trap: break missed the trampoline"
expect_eq stage 2 "stage 2"
expect_eq result 7 "the copied code ran: 3 * 2 + 1"
monitor breakpoints
# The same address in a debug register (one freed for it) stops stage 3 at the copied code.
expect_eq $sw 7 "break *trampoline is breakpoint 7 (the lesson deletes it by number)"
expect_eq $filler 6 "hbreak never_called_3 is breakpoint 6"
delete 7
delete 6
hbreak *trampoline
set $hw = $bpnum
continue
expect_eq $pc trampoline "hbreak hit the copied code"
p $rdi
expect_eq $rdi 3 "called with 3"
continue
expect_eq stage 3 "stage 3"
# Part C: an address that is not mapped yet. A software breakpoint needs the page; a debug register does not.
expect_eq $hw 8 "hbreak *trampoline is breakpoint 8"
delete 8
hbreak never_called_3
set $filler = $bpnum
monitor translate 0x100000000
# kvmstub's memory map (qXfer:memory-map:read) lists the guest's RAM; gdb refuses, or turns into `hbreak`,
# anything outside it. This guest maps 4 GiB itself, so tell gdb to let the stub answer for such addresses.
set mem inaccessible-by-default off
# The breakpoint cannot be inserted: an error, which would end this script. Python runs it and prints the
# error as gdb would at its prompt, and the "+command" line of trace-commands (which gdb does not always
# print for a command python runs).
python
print("+break *0x100000000")
try:
    gdb.execute("break *0x100000000")
except gdb.error as e:
    print(str(e).rstrip("\n"))
end
expect_eq $bpnum 10 "break *0x100000000 is breakpoint 10"
expect_eq $filler 9 "hbreak never_called_3 is breakpoint 9"
delete 10
delete 9
hbreak *0x100000000
continue
expect_eq $pc 0x100000000 "hbreak hit code at an address mapped after it was set"
expect_eq $rdi 4 "called with 4"
monitor translate 0x100000000
x/2i $pc
delete
continue

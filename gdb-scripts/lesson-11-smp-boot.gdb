# guest: lesson-11-smp-boot
# run: --irqchip
# cpus: 2
# exit: 0
# serial: BSP: LAPIC id 0, version 0x50014
# serial: AP: hello from LAPIC id 1, in long mode
# serial: BSP: the AP with LAPIC id 1 is up
# source: kvmstub.py
# expect: vCPU 1, stopped, waits for an INIT IPI, then a SIPI
# expect: mp_state KVM_MP_STATE_UNINITIALIZED: waits for an INIT IPI, then a SIPI
# expect: ICR 0x01000000 0x0000c500: INIT, level-triggered, assert, to LAPIC id 1, idle
# expect: mp_state KVM_MP_STATE_INIT_RECEIVED: INIT received, waits for a SIPI
# expect: ICR 0x01000000 0x00000608: STARTUP, vector 0x08 (start at 0x8000), edge, to LAPIC id 1, idle
# expect: cs:ip = 0800:0000, linear 0x8000 <ap_trampoline>
# expect: Thread 2 hit Breakpoint 2, ap_trampoline () at
# expect: Thread 2 hit Breakpoint 4, ap_trampoline () at
# expect: Thread 2 hit Breakpoint 5, lapic_read (reg=reg@entry=32)
# Lesson 11 (examples/lesson-11-smp-boot/LESSON.md): vCPU 1 waits in KVM for the INIT and SIPI vCPU 0 sends it
# through its LAPIC, then climbs from real mode to long mode in a trampoline at 0x8000. Replayed on kvm_pvm (the
# lesson's quotes) and in the nested rig.
info threads
thread 2
p/x $pc
p/x $cs
p/x $cr0
p/x $rdx
monitor vcpus
expect_eq $pc 0xfff0 "vCPU 1 waits at the reset vector's offset"
expect_eq $cs 0xf000 "cs = 0xf000 (base 0xffff0000)"
expect_eq ($cr0&1) 0 "real mode"
# vCPU 0 steps while vCPU 1 waits in KVM_RUN: gdb resumes both (scheduler-locking off), kvmstub kicks vCPU 1 out.
thread 1
stepi
stepi
info threads
expect_eq $_thread 1 "the steps stopped vCPU 0"
hbreak send_ipi
continue
p/x icr
expect_eq icr 0xc500 "INIT, level-triggered, assert"
monitor translate 0xfee00300
python
print("+x/x 0xfee00300")
try:
    gdb.execute("x/x 0xfee00300")
except gdb.error as e:
    print(str(e).rstrip("\n"))
end
finish
monitor lapic
monitor vcpus
continue
p/x icr
expect_eq icr 0x8500 "INIT de-assert"
continue
p/x icr
expect_eq icr 0x608 "STARTUP, vector 8"
# vCPU 0 alone sends the SIPI; vCPU 1 is held where it is.
set scheduler-locking on
finish
monitor lapic
monitor vcpus
thread 2
p/x $cs
p/x $pc
expect_eq $cs 0x800 "the SIPI's vector 8: cs 0x0800"
expect_eq $pc 0 "ip 0: the linear address is 0x8000"
info linear-pc
set architecture i8086
x-as i8086 $_linear_pc() 3
hbreak *0x8005
continue
p/x $cs
expect_eq $pc 0x8005 "after the far jump: cs 0, ip = the physical address"
x-as i8086 $pc 6
hbreak ap_protected_mode
continue
p/x $cs
p/x $cr0
expect_eq $cs 0x18 "32-bit code selector"
expect_eq ($cr0&0x80000001) 1 "protected mode, no paging yet"
x-as i386 $pc 9
x/9i $pc
hbreak ap_long_mode
continue
p/x $cs
p/x $cr0
p/x $efer
expect_eq $cs 0x08 "64-bit code selector"
expect_eq ($efer&0x500) 0x500 "EFER.LME and LMA: long mode"
x/3i $pc
delete
set scheduler-locking off
hbreak lapic_read thread 2
continue
bt
expect_eq $_thread 2 "only vCPU 1 (thread 2) stops at lapic_read"
finish
expect_eq ($>>24) 1 "vCPU 1 reads LAPIC id 1"
delete
continue

# guest: arm64/smp-ap
# gdb: gdb-multiarch
# cpus: 2
# exit: 0
# serial: smp-ap: AFFINITY_INFO cpu 1: 0 (on)
# serial: smp-ap: AFFINITY_INFO cpu 2: -2 (no such cpu)
# serial: smp-ap: cpu 1 started at ap_start with sp 0x47ff0000, MPIDR Aff0 1, secondary_work(1) = 55
# serial: smp-ap: 2 cpus reported in
# expect: Thread 2 hit Breakpoint 1, secondary_work (cpu=cpu@entry=1)
# arm64 SMP with `ap_start` (examples/arm64/smp-ap): kvmstub starts vCPU 1 there itself, beside vCPU 0, with
# x0 = 1 and sp = the top of RAM - 0x10000 — no PSCI CPU_ON. Both threads stand at their entries before the
# first instruction; the breakpoint in secondary_work stops thread 2 while thread 1 waits in wait_for_cpus.
info threads
expect_eq $_inferior_thread_count 2 "two threads: one per vCPU"
expect_eq $pc _start "vCPU 0 (thread 1) at the ELF entry"
expect_eq $sp 0x48000000 "vCPU 0's sp at the top of RAM"
thread 2
expect_eq $pc ap_start "vCPU 1 (thread 2) at ap_start"
expect_eq $x0 1 "x0 = its index, 1"
expect_eq $sp 0x47ff0000 "sp = the top of RAM - 0x10000"
expect_eq ($cpsr&0x3cf) 0x3c5 "EL1h, D, A, I, F masked"
expect_eq ($SCTLR_EL1&1) 0 "the MMU is off"
expect_eq ($MPIDR_EL1&0xff) 1 "MPIDR_EL1 Aff0 is 1"
python
import re
out = gdb.execute("monitor vcpus", to_string=True)
print(out, end="")
ok = re.search(r"^vCPU 1,.*\n  mp_state KVM_MP_STATE_RUNNABLE", out, re.M)
print(("PASS: " if ok else "FAIL: ") + "vCPU 1 is RUNNABLE from the start (no CPU_ON)")
end
break secondary_work
continue
expect_eq $_thread 2 "the breakpoint stopped thread 2 (vCPU 1)"
expect_eq cpu 1 "its cpu argument is 1"
expect_eq ap_entry_sp[1] 0x47ff0000 "ap_start recorded the sp it was given"
thread 1
expect_true $_caller_is("wait_for_cpus",0) "vCPU 0 (thread 1) is in wait_for_cpus"
delete
continue

# guest: arm64/smp
# gdb: gdb-multiarch
# cpus: 2
# exit: 0
# serial: smp: CPU_ON cpu 1: 0 (started)
# serial: smp: CPU_ON cpu 2: -2 (no such cpu)
# serial: smp: cpu 1 reported in: MPIDR Aff0 1, sp 0x
# serial: secondary_work(1) = 55
# serial: smp: 2 cpus reported in
# expect: vCPU 1, stopped, powered off, waits for a PSCI CPU_ON
# expect: Thread 2 hit Breakpoint 1, secondary_work (cpu=cpu@entry=1)
# expect: wait_for_cpus (count=count@entry=2)
# arm64 SMP (examples/arm64/smp): one gdb thread per vCPU, all-stop. At entry vCPU 1 exists powered off
# (no ap_start: it waits for PSCI CPU_ON). vCPU 0 starts it with CPU_ON; the breakpoint in secondary_work stops
# the machine with thread 2 (vCPU 1) on its own stack, MPIDR Aff0 1, cpu = 1, while vCPU 0 (thread 1) waits in
# wait_for_cpus; then both run on to the end (vCPU 1 CPU_OFFs, vCPU 0 SYSTEM_OFFs).
info threads
expect_eq $_inferior_thread_count 2 "two threads: one per vCPU"
expect_eq $_thread 1 "stopped in thread 1 (vCPU 0)"
expect_eq $pc _start "vCPU 0 at the ELF entry"
expect_eq $sp 0x48000000 "vCPU 0's sp at the top of RAM"
python
import re
def expect_mp_state(vcpu, state, label):
    # `monitor vcpus` prints a line per vCPU, then its "  mp_state KVM_MP_STATE_..." line.
    out = gdb.execute("monitor vcpus", to_string=True)
    print(out, end="")
    m = re.search(r"^vCPU %d,.*\n  mp_state KVM_MP_STATE_(\w+)" % vcpu, out, re.M)
    got = m.group(1) if m else "no line for vCPU %d" % vcpu
    print(("PASS: " if got == state else "FAIL: ") + label + ("" if got == state else ": got " + got))
expect_mp_state(1, "STOPPED", "vCPU 1 is powered off (STOPPED) until its CPU_ON")
end
break secondary_work
continue
expect_eq $_thread 2 "the breakpoint stopped thread 2 (vCPU 1)"
expect_eq $pc secondary_work "at secondary_work"
expect_eq cpu 1 "its cpu argument is 1"
expect_eq $x0 1 "cpu in x0"
expect_eq ($MPIDR_EL1&0xff) 1 "vCPU 1's MPIDR_EL1 Aff0 is 1"
expect_true ($sp>(long)secondary_stacks[1])&&($sp<=(long)secondary_stacks[2]) "vCPU 1 runs on its own stack, secondary_stacks[1]"
expect_eq reported[1] 0 "vCPU 1 has not reported in yet"
bt
info threads
thread 1
expect_eq $_thread 1 "thread 1 selected"
expect_true $_caller_is("wait_for_cpus",0) "vCPU 0 (thread 1) is in wait_for_cpus, waiting for the report"
bt
expect_eq ($MPIDR_EL1&0xff) 0 "vCPU 0's MPIDR_EL1 Aff0 is 0"
expect_true ($sp>0x47ff0000)&&($sp<=0x48000000) "vCPU 0 on the loader's stack at the top of RAM"
python expect_mp_state(1, "RUNNABLE", "vCPU 1, started by CPU_ON, is RUNNABLE")
delete
continue

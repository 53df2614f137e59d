# kernel: bzimage
# cmdline: console=ttyS0 nokaslr
# serial: rtc_cmos rtc_cmos: registered as rtc0
# cpus: 2
# timeout: 900
# serial: smp: Brought up 1 node, 2 CPUs
# serial: kvmstub-l2 # 
# expect: Thread 2 (vCPU 1
# expect: Online CPUs   : [0, 1]
# Debian's kernel on two vCPUs (`--cpus 2`, KASLR off so the -dbg vmlinux's addresses are right from the start;
# its rtc_cmos driver finds kvmstub's CMOS clock: without one it spun on the update bit of ports that read all ones,
# and with two vCPUs in the rig that took minutes, with RCU stall reports, until this booted with
# initcall_blacklist=cmos_init):
# both vCPUs are gdb threads from the first instruction to the prompt, and a breakpoint in code that both CPUs run
# is reported by the thread (vCPU) that hit it.
set pagination off
# At the entry vCPU 1 waits in KVM for the INIT/SIPI that Linux's smp_init will send; it is a thread already.
expect-output "info threads" "Thread 2 \(vCPU 1" "two threads at the entry"
hbreak start_kernel
continue
elapsed start_kernel
expect_eq $pc start_kernel "hbreak start_kernel (nokaslr: link addresses)"
expect_eq $_thread 1 "start_kernel runs on the boot CPU (thread 1)"
expect-output "info threads" "Thread 2 \(vCPU 1" "two threads at start_kernel"
delete
kernel-gdb-scripts
wait-console "smp: Brought up 1 node, 2 CPUs" 600
elapsed smp-brought-up
expect-output "info threads" "Thread 2 \(vCPU 1" "two threads once both CPUs run"
expect-output "lx-cpus" "Online CPUs   : \[0, 1\]" "lx-cpus: both CPUs online"
# Code both CPUs run: the idle loop. Each hit is reported by a thread; that thread's own registers must say it is
# that CPU: its gs_base is the CPU's per-CPU base (__per_cpu_offset[cpu]) and cpu_number there is thread - 1.
hbreak do_idle
python
import time
u64 = lambda expr: int(gdb.parse_and_eval(expr)) & 0xFFFFFFFFFFFFFFFF
seen = {}
t0 = time.time()
while len(seen) < 2 and len(sum(seen.values(), [])) < 200 and time.time() - t0 < 300:
    gdb.execute("continue", to_string=True)
    thread = gdb.selected_thread().num
    pc = u64("$pc")
    want = u64("(unsigned long)&do_idle")
    gs = u64("$gs_base")
    base = u64("__per_cpu_offset[%d]" % (thread - 1))
    cpu = int(gdb.parse_and_eval("*(int *)(%d + (unsigned long)&cpu_number)" % gs))
    ok = pc == want and gs == base and cpu == thread - 1
    print("%s: do_idle hit by thread %d: gs_base 0x%x, __per_cpu_offset[%d] 0x%x, cpu_number %d"
          % ("PASS" if ok else "FAIL", thread, gs, thread - 1, base, cpu))
    seen.setdefault(thread, []).append(time.time() - t0)
print("%s: do_idle hit by threads %s" % ("PASS" if sorted(seen) == [1, 2] else "FAIL", sorted(seen)))
end
delete
wait-console "kvmstub-l2 # " 600
elapsed prompt
expect-output "info threads" "Thread 2 \(vCPU 1" "two threads at the prompt"
expect-output "lx-cpus" "Active CPUs   : \[0, 1\]" "lx-cpus at the prompt"
expect_eq $lx_per_cpu("cpu_number",1) 1 "$lx_per_cpu(cpu_number, 1)"
thread 2
expect_eq $lx_per_cpu("this_cpu_off") __per_cpu_offset[1] "thread 2: $lx_per_cpu without a CPU reads CPU 1's (the thread's) per-CPU data"
kill

# guest: lesson-11-smp-boot
# run: --irqchip
# cpus: 2
# exit: 0
# serial: BSP: the AP with LAPIC id 1 is up
# expect: Thread 2 received signal SIGINT
# expect: Thread 1 hit Breakpoint 1, send_ipi
# Ctrl-C (SIGINT to gdb, as from a terminal) while the only vCPU running is one that waits in KVM for its INIT/SIPI
# (scheduler-locking on, thread 2 continued alone: its KVM_RUN blocks in the kernel and never returns by itself).
# The stop comes, vCPU 1 still waits, and nothing is lost: vCPU 0 then sends INIT and SIPI and the AP boots.
set scheduler-locking on
thread 2
python
import os, signal, threading
threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
end
continue
expect_eq $_thread 2 "the Ctrl-C stopped thread 2"
expect_eq $pc 0xfff0 "vCPU 1 still at the reset vector"
monitor vcpus
# vCPU 1 waits in KVM_RUN (all threads resumed) while vCPU 0 runs to its first IPI, then on to the end.
set scheduler-locking off
thread 1
hbreak send_ipi
continue
expect_eq $_thread 1 "vCPU 0 reached send_ipi"
python
import os, signal, threading
threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
end
delete
set scheduler-locking on
thread 2
continue
expect_eq $_thread 2 "a second Ctrl-C stopped thread 2, alone and waiting"
set scheduler-locking off
continue

# guest: arm64/sve
# gdb: gdb-multiarch
# exit: 0
# serial: parked
# serial: done
# expect: Program received signal SIGINT
# Ctrl-C stops a running arm64 guest that makes no exits (park()'s loop: gdb sends 0x03, the stub kicks the vCPU
# out of KVM_RUN with immediate_exit and a signal), and the guest goes on afterwards. Each round lets it run
# for 0.5 s and interrupts it; a round may end before the vCPU ran at all, so the rounds repeat (up to 100)
# until `spins` has moved: no check depends on this machine's speed.
python
import os, signal, threading
def ctrl_c_after(seconds):
    threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
end
set $rounds = 0
while spins == 0 && $rounds < 100
  python ctrl_c_after(0.5)
  continue
  set $rounds = $rounds + 1
end
expect_true (spins>0) "the guest spun in park() before the interrupt"
expect_true ((long)$pc>=(long)park)&&((long)$pc<(long)park+64) "stopped in park()"
set $first = spins
set $rounds = 0
while spins == $first && $rounds < 100
  python ctrl_c_after(0.3)
  continue
  set $rounds = $rounds + 1
end
expect_true (spins>$first) "and it spun on after the first interrupt"
set var released = 1
continue

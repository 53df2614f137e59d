# guest: spin
# exit: 7
# serial: stopped after
# expect: Program received signal SIGINT
# Ctrl-C stops a running guest (gdb sends 0x03; the stub kicks the vCPU out of KVM_RUN), and the
# guest goes on afterwards. Each round lets the guest run for 0.5 s and interrupts it; on a busy host
# a round may end before the guest's vCPU thread ran at all, so the rounds repeat (up to 100) until
# the guest has moved: no check here depends on how fast this machine is.
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
expect_true (spins>0) "the guest ran before the interrupt"
set $first = spins
set $rounds = 0
while spins == $first && $rounds < 100
  python ctrl_c_after(0.3)
  continue
  set $rounds = $rounds + 1
end
expect_true (spins>$first) "and again after it"
set var stop_spinning = 1
continue

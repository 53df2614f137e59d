# guest: spin
# exit: 7
# serial: stopped after
# Ctrl-C stops a running guest (gdb sends 0x03; the stub kicks the vCPU out of KVM_RUN), and the
# guest goes on afterwards.
python
import os, signal, threading
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
end
continue
expect_true (spins>0) "the guest ran before the interrupt"
set $first = spins
python
threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
end
continue
expect_true (spins>$first) "and again after it"
set var stop_spinning = 1
continue

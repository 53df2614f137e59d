# guest: lines
# exit: 0
# serial: spins=
# source: lib/rangestats.py
# expect: Program received signal SIGINT
# Ctrl-C ends a `next` over a one-line loop that would never end: kvmstub watches gdb's socket between the
# steps of a vCont;r, so a long range stays interruptible.
break spin
continue
set var stop_spinning = 0
delete
monitor sync-stats reset
python
import os, signal, threading
threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
end
next
expect_true ($pc>=spin&&$pc<spin+0x1c) "stopped inside the loop"
expect_true (spins>1) "after more than one iteration"
range-stats
expect_eq $range_resumes 1 "one vCont;r, interrupted"
expect_true ($range_longest>6) "after more than one iteration's steps inside it"
set var stop_spinning = 1
continue

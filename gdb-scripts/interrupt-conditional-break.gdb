# guest: spin
# exit: 7
# serial: stopped after
# expect: Program received signal SIGINT
# Ctrl-C ends a `continue` past a conditional breakpoint in a hot loop: gdb evaluates the condition at every
# hit and resumes (steps over the breakpoint, continues) while it is false, so its Ctrl-C reaches kvmstub
# between a stop and the next resume. kvmstub owes it to the next resume, which stops with SIGINT.
break *spin_once if $rax == 0x1234567890abcdef
python
import os, signal, threading
threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
end
continue
expect_true (spins>1) "the loop ran through many false hits first"
info breakpoints
delete
set var stop_spinning = 1
continue

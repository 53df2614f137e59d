# guest: lesson-1-real-mode
# run: --real-mode
# exit: 55
# serial: sum=0x0037
# expect: Program received signal SIGINT
# Ctrl-C ends lesson 1's `hbreak far` loop (examples/lesson-1-real-mode/LESSON.md): in `far` cs is 0x07c0, the
# debug register stops the CPU at linear 0x7c3f, kvmstub reports pc 0x3f, gdb knows no breakpoint there and
# resumes at once, thousands of times a second. gdb is handling a stop of its own nearly all the time, so its
# Ctrl-C (0x03) reaches kvmstub while the guest is stopped: kvmstub owes it, and the next resume stops with
# SIGINT. Before, that 0x03 was dropped and `continue` ran for ever.
set architecture i8086
hbreak far
python
import os, signal, threading
threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
end
continue
expect_eq $cs 0x7c0 "stopped by Ctrl-C inside far (cs = 0x07c0)"
expect_eq $pc (far-0x7c00) "at far's first instruction, where the breakpoint held it"
delete
continue

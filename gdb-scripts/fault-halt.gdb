# guest: faults-mode0
# exit: 0
# serial: faults: mode=0
# serial: halting
# expect: kvmstub: halted at rip 0x
# expect: with nothing to wake it (no interrupt controller)
# expect: Program received signal SIGSTOP
# expect: halt_forever () at
# `cli; hlt` with no interrupt controller: the vCPU could never wake, so it is a stop gdb understands (SIGSTOP
# after the hlt), one line on kvmstub's stderr; registers and memory read afterwards. Continuing halts again.
continue
expect_true ($pc>halt_forever&&$pc<=halt_forever+3) "stopped right after the hlt"
set $insn = *(unsigned char *)($pc - 1)
expect_eq $insn 0xf4 "the instruction before pc is hlt"
expect_eq ($eflags&0x200) 0 "interrupts are off"
expect_eq mode 0 "guest memory reads after the halt"
set $halt_pc = $pc
bt
continue
expect_eq $pc $halt_pc "continuing halts again"
kill

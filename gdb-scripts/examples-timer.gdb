# guest: timer
# run: --irqchip
# exit: 0
# serial: timer: 200 ticks
# varies: 0x[0-9a-f]{16} in timer_interrupt \(\)
# varies: \$1 = \d+
# examples/README.md, "Stepping and interrupts": where the step into the handler stops (its first instruction
# or the one after) and how many ticks came before count_up depend on the host; the README says so.
hbreak count_up
continue
monitor sstep irq off
# A person reads the screen here; the timer (1 kHz) has a tick pending by the time they step.
shell sleep 0.01
stepi
expect_true ($pc>=(long)&timer_interrupt&&$pc<(long)&timer_interrupt_end) "the step entered the handler"
monitor sstep irq on
hbreak count_up
continue
shell sleep 0.01
stepi
p ticks
delete
continue

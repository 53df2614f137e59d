# guest: timer
# run: --irqchip
# exit: 0
# serial: timer: 200 ticks
# varies: 0x[0-9a-f]{16} in timer_interrupt \(\)
# varies: \$1 = \d+
# examples/README.md, "Stepping and interrupts": where the step into the handler stops (its first instruction
# or the one after, or on SVM back in count_up with the handler run inside the step) and how many ticks came
# before count_up depend on the host; the README says so.
hbreak count_up
continue
monitor sstep irq off
# A person reads the screen here; the timer (1 kHz) has a tick pending by the time they step.
python
gdb.set_convenience_variable("cpl0_emulated", 1 if "data breakpoints never fire" in gdb.execute("monitor breakpoints", to_string=True) else 0)
end
set $ticks_before_step = ticks
shell sleep 0.01
stepi
# Where CPL0 code is emulated (kvm_pvm) the step stops inside the handler; on SVM delivery clears TF, the whole
# handler runs inside the step and it stops back in count_up, the tick taken (timer-irq-step.gdb says more).
if $cpl0_emulated
  expect_true ($pc>=(long)&timer_interrupt&&$pc<(long)&timer_interrupt_end) "the step entered the handler"
else
  expect_true (ticks>$ticks_before_step&&!($pc>=(long)&timer_interrupt&&$pc<(long)&timer_interrupt_end)) "the handler ran inside the step"
end
monitor sstep irq on
hbreak count_up
continue
shell sleep 0.01
stepi
p ticks
delete
continue

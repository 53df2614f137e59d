# guest: timer
# run: --irqchip
# exit: 0
# serial: timer: 200 ticks
# expect: single steps do not block interrupts
# expect: single steps block interrupts
# Stepping with and without KVM_GUESTDBG_BLOCKIRQ on a guest whose PIT interrupts it at 1 kHz
# (examples/timer, kvmstub run --irqchip: in-kernel PIC and PIT). While gdb thinks, the timer fires;
# the next `stepi` either enters the interrupt handler (irq off) or stays in the code being stepped
# (irq on, kvmstub's default) and the tick waits for the next `continue`.
set $handler = (long)&timer_interrupt
set $handler_end = (long)&timer_interrupt_end
hbreak count_up
continue
delete
expect_eq $pc count_up "stopped in count_up, interrupts enabled"
expect_true ($eflags&0x200) "IF is set"

monitor sstep irq off
shell sleep 0.01
stepi
expect_true ($pc>=$handler&&$pc<$handler_end) "stepi without irq blocking went into timer_interrupt"

monitor sstep irq on
hbreak count_up
continue
delete
set $ticks_before = ticks
set $entered = 0
set $i = 0
shell sleep 0.01
while $i < 30
  stepi
  if $pc >= $handler && $pc < $handler_end
    set $entered = 1
  end
  set $i = $i + 1
end
expect_eq $entered 0 "30 steps with irq blocking never entered timer_interrupt"
expect_eq ticks $ticks_before "no tick was taken while stepping"
hbreak count_up
continue
expect_true (ticks>$ticks_before) "the held-back tick was taken on continue"
delete
continue

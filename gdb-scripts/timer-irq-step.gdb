# guest: timer
# run: --irqchip
# exit: 0
# serial: timer: 200 ticks
# expect: single steps do not block interrupts
# expect: single steps block interrupts
# Stepping with and without KVM_GUESTDBG_BLOCKIRQ on a guest whose PIT interrupts it at 1 kHz
# (examples/timer, kvmstub run --irqchip: in-kernel PIC and PIT). While gdb thinks, the timer fires;
# the next `stepi` either takes the interrupt (irq off: where it stops then depends on the host, see below)
# or stays in the code being stepped (irq on, kvmstub's default) and the tick waits for the next `continue`.
set $handler = (long)&timer_interrupt
set $handler_end = (long)&timer_interrupt_end
hbreak count_up
continue
delete
expect_eq $pc count_up "stopped in count_up, interrupts enabled"
expect_true ($eflags&0x200) "IF is set"

monitor sstep irq off
# Where that step ends depends on the host (kvmstub's probe tells them apart: `monitor breakpoints`). Where CPL0
# code is emulated (kvm_pvm) it stops at the handler's first instruction. On architectural KVM (SVM; VMX alike)
# the interrupt is delivered at VM entry, delivery clears TF, so the whole handler runs inside the step and it
# ends one instruction after the handler's iretq, back in the code being stepped, with the tick taken.
python
emulated = "data breakpoints never fire" in gdb.execute("monitor breakpoints", to_string=True)
gdb.set_convenience_variable("cpl0_emulated", 1 if emulated else 0)
end
set $ticks_before_step = ticks
shell sleep 0.01
stepi
if $cpl0_emulated
  expect_true ($pc>=$handler&&$pc<$handler_end) "this host (CPL0 emulated): stepi without irq blocking stopped at timer_interrupt"
else
  expect_true !($pc>=$handler&&$pc<$handler_end) "this host (architectural KVM): the handler ran inside the step, which ended outside it"
  expect_true (ticks>$ticks_before_step) "the tick was taken during that one step"
end

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

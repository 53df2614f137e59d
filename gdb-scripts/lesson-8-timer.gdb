# guest: timer
# run: --irqchip
# exit: 0
# serial: timer: 200 ticks
# varies: \$\d+ = \d+
# varies: 0x[0-9a-f]{16} in timer_interrupt \(\)
# varies: => 0x[0-9a-f]+ <timer_interrupt(\+\d+)?>:.*
# Lesson 8 (examples/lesson-8-timer/LESSON.md): a timer interrupt from the in-kernel PIT through the in-kernel
# PIC, its IDT gate, and single steps with and without KVM_GUESTDBG_BLOCKIRQ (monitor sstep irq off|on). How
# many ticks have come, and where in the handler the step lands, depend on timing and the host: the lesson
# says so.
hbreak count_up
continue
p ticks
p $eflags
expect_true ($eflags&0x200) "interrupts are enabled"
p/x idt[0x20]
info symbol idt[0x20].offset_low | idt[0x20].offset_mid << 16 | (long)idt[0x20].offset_high << 32
x/6i timer_interrupt
monitor sstep irq off
# Where CPL0 code is emulated (kvm_pvm, the lesson's quotes) the step stops in the handler; on architectural KVM
# (SVM in the nested rig) delivering the tick clears TF, the handler runs whole inside the step, which ends back
# in count_up with the tick counted. kvmstub's probe says which host this is.
python
gdb.set_convenience_variable("cpl0_emulated", 1 if "data breakpoints never fire" in gdb.execute("monitor breakpoints", to_string=True) else 0)
end
set $ticks_before_step = ticks
# A person reads the screen here; the PIT (1 kHz) has a tick pending by the time they step.
shell sleep 0.01
stepi
set $in_handler = $pc>=(long)&timer_interrupt&&$pc<(long)&timer_interrupt_end
expect_true ($cpl0_emulated?$in_handler:(!$in_handler&&ticks>$ticks_before_step)) "the step went into timer_interrupt (CPL0 emulated), or ran it whole (architectural KVM)"
x/i $pc
# The frame the CPU pushed: rip at the top of the stack, under rax if the step ran the handler's first push.
set $frame = $rsp + ($pc == (long)&timer_interrupt ? 0 : 8)
x/3gx $frame
info symbol *(long*)$frame
if $cpl0_emulated
  expect_eq *(long*)$frame count_up "the frame's rip: where the interrupt came in"
  expect_eq *(long*)($frame+8) 8 "then cs"
end
monitor sstep irq on
hbreak count_up
continue
set $before = ticks
shell sleep 0.01
stepi
stepi
stepi
p ticks
expect_eq ticks $before "no tick while stepping with irq blocking"
expect_true ($pc<(long)&timer_interrupt||$pc>=(long)&timer_interrupt_end) "never inside the handler"
delete
continue

# guest: lesson-6-exceptions
# exit: 4
# serial: exception 0 at rip
# serial: exception 14 at rip
# serial: cr2 0x200000000
# serial: exceptions taken: 4
# Lesson 6 (examples/lesson-6-exceptions/LESSON.md): the guest's own IDT, and four exceptions it takes and
# handles: #DE, #BP (its own int3), #UD, #PF. gdb stops in the common C handler each time and reads the frame
# the CPU and the entry stub pushed.
hbreak exception
continue
expect_eq f->vector 0 "first #DE (vector 0)"
p f->vector
p/x f->rip
info symbol f->rip
x/i f->rip
p/x *f
expect_eq f->rip de_insn "#DE is a fault: rip is the div itself"
expect_eq f->cs 8 "cs as the guest's GDT has it"
p/x $idtr_base
p $idtr_limit
expect_eq $idtr_base &idt "idtr holds the guest's table"
p/x idt[0]
p/x idt[0].offset_low | idt[0].offset_mid << 16 | (long)idt[0].offset_high << 32
info symbol idt[0].offset_low | idt[0].offset_mid << 16 | (long)idt[0].offset_high << 32
x/2gx &idt[14]
continue
expect_eq f->vector 3 "then #BP (vector 3), the guest's own int3"
p f->vector
p/x f->rip
info symbol f->rip
expect_eq f->rip bp_insn+1 "#BP is a trap: rip is past the int3"
continue
expect_eq f->vector 6 "then #UD (vector 6)"
p f->vector
x/i f->rip
continue
expect_eq f->vector 14 "then #PF (vector 14)"
p f->vector
p/x $cr2
p/x f->error
x/i f->rip
expect_eq $cr2 0x200000000 "cr2 is the address the load wanted"
expect_eq f->error 0 "error code 0: not present, a read, in kernel mode"
monitor translate 0x200000000
delete
continue

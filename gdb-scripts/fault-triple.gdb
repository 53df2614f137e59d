# guest: faults-mode1
# exit: 0
# serial: faults: mode=1
# expect: kvmstub: triple fault (KVM_EXIT_SHUTDOWN) at rip 0x
# expect: Program received signal SIGSEGV
# expect: trigger_triple_fault () at
# A triple fault (KVM_EXIT_SHUTDOWN: #UD with an empty IDT, then #GP, then #DF) is a stop gdb understands:
# SIGSEGV at the ud2, the cause as console output, one line on kvmstub's stderr (GuestFaultTests counts it).
# Registers and memory still read afterwards; continuing faults again, and gdb can still end the guest.
continue
expect_true ($pc>=trigger_triple_fault&&$pc<write_outside_ram) "stopped in trigger_triple_fault"
set $insn = *(unsigned short *)$pc
expect_eq $insn 0x0b0f "at the ud2 (0f 0b)"
expect_eq mode 1 "guest memory reads after the fault"
expect_eq $cs 8 "segment registers read after the fault"
expect_eq ($cr0&0x80000001) 0x80000001 "control registers read after the fault"
expect_true ($rsp>0x100000) "the stack pointer reads"
set $fault_pc = $pc
info registers rip rsp eflags
x/2i $pc
bt
continue
expect_eq $pc $fault_pc "continuing faults again, at the same place"
kill

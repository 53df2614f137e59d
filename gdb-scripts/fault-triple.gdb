# guest: faults-mode1
# exit: 0
# serial: faults: mode=1
# expect: kvmstub: triple fault (KVM_EXIT_SHUTDOWN)
# expect: Program received signal SIGSEGV
# A triple fault (KVM_EXIT_SHUTDOWN: #UD with an empty IDT, then #GP, then #DF) is a stop gdb understands:
# SIGSEGV, the cause as console output, one line on kvmstub's stderr (GuestFaultTests counts it). Registers and
# memory still read afterwards, and gdb can still end the guest. What the vCPU holds then depends on the host:
# - Intel VMX and kvm_pvm leave it as it was: the stop is at the ud2, and continuing faults again there.
# - AMD SVM resets it (KVM's shutdown intercept must INIT it: the VMCB is undefined after a shutdown), so gdb
#   sees cs:ip f000:fff0 in real mode and the line says the vCPU was reset. Continuing would run whatever is at
#   0xffff0 (no BIOS here), so the script ends the guest instead.
python
import os, tempfile
# The console line kvmstub sends with the stop (gdb's log file has it; to_string would not).
fd, log = tempfile.mkstemp()
os.close(fd)
for c in ("set logging file " + log, "set logging overwrite on", "set logging enabled on"):
    gdb.execute(c)
gdb.execute("continue")
gdb.execute("set logging enabled off")
text = open(log).read()
os.unlink(log)
reset = int(gdb.parse_and_eval("$pc")) == 0xfff0 and int(gdb.parse_and_eval("$cs")) == 0xf000
gdb.set_convenience_variable("reset", 1 if reset else 0)
if reset:
    ok = "KVM reset the vCPU" in text
else:
    ok = "triple fault (KVM_EXIT_SHUTDOWN) at rip 0x" in text and gdb.selected_frame().name() == "trigger_triple_fault"
print(("PASS: " if ok else "FAIL: ") + ("the fault line says KVM reset the vCPU (AMD)" if reset
      else "the fault line gives the rip, and gdb shows trigger_triple_fault"))
end
expect_eq mode 1 "guest memory reads after the fault"
info registers rip cs rsp eflags cr0
if $reset
  echo this host: KVM reset the vCPU on the triple fault (AMD SVM)\n
  expect_eq $cs 0xf000 "cs = 0xf000 after the reset"
  expect_eq ($cr0&0x80000001) 0 "real mode after the reset: CR0.PE and CR0.PG clear"
  expect_true ($rdx>>8)!=0 "rdx holds the processor signature (family/model), as after INIT"
else
  echo this host: the vCPU stays at the faulting instruction\n
  expect_true ($pc>=trigger_triple_fault&&$pc<write_outside_ram) "stopped in trigger_triple_fault"
  set $insn = *(unsigned short *)$pc
  expect_eq $insn 0x0b0f "at the ud2 (0f 0b)"
  expect_eq $cs 8 "segment registers read after the fault"
  expect_eq ($cr0&0x80000001) 0x80000001 "control registers read after the fault"
  expect_true ($rsp>0x100000) "the stack pointer reads"
  set $fault_pc = $pc
  x/2i $pc
  bt
  continue
  expect_eq $pc $fault_pc "continuing faults again, at the same place"
end
kill

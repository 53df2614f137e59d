# guest: hello
# exit: 0
# serial: done
# expect: Program received signal SIGILL
# expect: kvmstub: KVM_RUN refused the register state (Invalid argument) at rip 0x100000
# A vCPU state the kernel refuses to run (long mode with CR4.PAE cleared, written by gdb): KVM_RUN fails with
# EINVAL before any VM entry, so it is a stop gdb understands (SIGILL), with one line on kvmstub's stderr.
# Registers and memory read afterwards; putting CR4 back lets the guest run to its end. (KVM checks the state
# itself, so on this host a VM-entry failure, KVM_EXIT_FAIL_ENTRY, is never reached this way.)
set $entry = $pc
set $cr4_before = $cr4
maint packet P3f=0000000000000000
stepi
expect_eq $pc $entry "no instruction ran"
expect_eq message[0] 'k' "guest memory reads after the refused run"
expect_eq $cs 8 "segment registers read after the refused run"
set $cr4 = $cr4_before
expect_eq ($cr4&0x20) 0x20 "CR4.PAE is back"
continue

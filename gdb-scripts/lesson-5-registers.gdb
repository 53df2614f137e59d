# guest: lesson-5-registers
# source: kvmstub.py
# exit: 42
# serial: rax changed by the debugger: 0x2a
# expect: ONE_REG ID 0x203000e000000000
# expect: index  0x0 (byte offset in struct kvm_regs)
# expect: sync group regs (RUNTIME)
# expect: ONE_REG ID 0x20300002c0000081
# expect: (KVM_X86_REG_TYPE_MSR: the kernel's own ID)
# expect: rax   0x203000e000000000  x86   U64
# varies: KVM_GET_ONE_REG \d+
# The number of MSRs the kernel lists (KVM_GET_MSR_INDEX_LIST) depends on the host: the lesson quotes this
# host's counts and says so.
# Lesson 5 (examples/lesson-5-registers/LESSON.md): what `p $rax`, `p $star`, `p $xmm0` and `info all-registers`
# cost in ioctls, and where a written register goes. kvmstub.py adds `info onereg` and the $_kvm_* functions.
hbreak registers_set
continue
expect_eq $pc registers_set "stopped with the registers set"
python
gdb.set_convenience_variable("sync_regs", 1 if "come back in kvm_run" in gdb.execute("monitor sync-stats", to_string=True) else 0)
end
monitor sync-stats reset
info onereg rax cr3 star xmm0
monitor reginfo rax
p/x $rax
info registers rip rbx
p $cr3
monitor sync-stats
expect_eq $rax 0x1111111111111111 "rax as the guest set it"
expect_eq $rbx 0x2222222222222222 "rbx as the guest set it"
expect_eq $_kvm_ioctls("KVM_GET_REGS") 0 "rax, rbx, rip came with the stop (in kvm_run, or by KVM_GET_REGS for the stop reply)"
expect_eq $_kvm_ioctls("KVM_GET_SREGS") (!$sync_regs) "the sregs group: in kvm_run with SYNC_REGS, else one KVM_GET_SREGS"
monitor reginfo star
p/x $star
expect_eq $star 0x0023001000000000 "STAR as the guest wrote it"
expect_true $_kvm_valid("msr-list") "reading one listed MSR fetched its whole group"
monitor sync-stats
p $xmm0.uint128
set $xsave = $_kvm_ioctls("KVM_GET_XSAVE")+$_kvm_ioctls("KVM_GET_FPU")
expect_eq $xsave 1 "xmm0: one KVM_GET_XSAVE (KVM_GET_FPU without XSAVE)"
p $xmm1.uint128
expect_eq $_kvm_ioctls("KVM_GET_XSAVE")+$_kvm_ioctls("KVM_GET_FPU") $xsave "xmm1 was fetched with xmm0: no ioctl"
monitor sync-stats
info all-registers
monitor sync-stats
expect_true $_kvm_valid("debugregs")&&$_kvm_valid("msrs")&&$_kvm_valid("fpu") "info all-registers fetched every group"
stepi
monitor sync-stats
expect_eq $_kvm_valid("fpu") 0 "after KVM_RUN the fpu group is stale"
expect_eq $_kvm_ioctls("KVM_GET_REGS") (!$sync_regs) "the stop's registers: in kvm_run (SYNC_REGS), else one KVM_GET_REGS"
set $rax = 0x2a
monitor reginfo rax
expect_eq $_kvm_dirty("regs") 1 "the write made regs dirty"
set $before = $_kvm_ioctls("KVM_SET_REGS")
tbreak serial_puts
continue
monitor sync-stats
expect_eq $_kvm_ioctls("KVM_SET_REGS") $before+(!$sync_regs) "rax went back in kvm_run (SYNC_REGS), else by KVM_SET_REGS"
expect_eq $_kvm_dirty("regs") 0 "nothing dirty after the run"
delete
continue

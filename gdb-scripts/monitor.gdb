# guest: hello
# exit: 0
# serial: done
# expect: sync-stats [reset]
# expect: valid=regs|sregs dirty=-
# expect: KVM_GET_ONE_REG 4
# expect: Z0 strategy:
# expect: PML4E at 0x1000
# expect: -> guest-physical 0x100000
# expect: ONE_REG ID 0x20300002c0000080
# expect: (KVM_X86_REG_TYPE_MSR: the kernel's own ID)
# expect: (project-private: regs, never sent to the kernel)
# The monitor commands, and the lazy register file: a stop costs no register ioctl (SYNC_REGS),
# and cr3 costs none either; fs_base costs the MSR group once.
monitor help
stepi
monitor sync-stats reset
info registers rip
p $cr3
monitor sync-stats
p $fs_base
p $efer
monitor sync-stats
monitor breakpoints
monitor translate 0x100000
monitor reginfo efer
monitor reginfo rip
detach

# guest: hello
# exit: 0
# serial: done
# expect: sync-stats [reset]
# expect: valid=regs|sregs dirty=-
# expect: Z0 strategy:
# expect: PML4E at 0x1000
# expect: -> guest-physical 0x100000
# expect: ONE_REG ID 0x20300002c0000080
# expect: (KVM_X86_REG_TYPE_MSR: the kernel's own ID)
# expect: (project-private: regs, never sent to the kernel)
# The monitor commands, and the lazy register file: a stop costs no register ioctl (SYNC_REGS),
# and cr3 costs none either; fs_base costs the MSR group once: four KVM_GET_ONE_REG where the kernel serves MSRs
# through ONE_REG (Linux 6.18+), else one KVM_GET_MSRS and no ONE_REG attempt at all (KVM_CAP_ONE_REG absent).
monitor help
stepi
monitor sync-stats reset
info registers rip
p $cr3
monitor sync-stats
p $fs_base
p $efer
python
stats = gdb.execute("monitor sync-stats", to_string=True)
print(stats)
counts = {p[0]: int(p[1]) for p in (l.split() for l in stats.splitlines()) if len(p) == 2 and p[0].startswith("KVM_")}
one_reg, msrs = counts.get("KVM_GET_ONE_REG", 0), counts.get("KVM_GET_MSRS", 0)
ok = (one_reg, msrs) in ((4, 0), (0, 1))
print(("PASS: " if ok else "FAIL: ") + f"the MSR group cost four KVM_GET_ONE_REG or one KVM_GET_MSRS, not both (got {one_reg} and {msrs})")
end
monitor breakpoints
monitor translate 0x100000
monitor reginfo efer
monitor reginfo rip
detach

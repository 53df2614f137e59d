# guest: arm64/hello
# gdb: gdb-multiarch
# exit: 0
# serial: counter=20
# serial: done
# expect: remote failure reply 'E05'
# expect: remote failure reply 'E22'
# expect: received: "E14"
# expect: received: "E22"
# expect: KVM_REG_ARM64_SVE
# expect: finalized vector length 2048 bits
# What the arm64 VMM refuses, and says why: a pstate KVM will not take (EL2h) is E05 at once — the write goes
# to the kernel with the P, not with the next run — and cpsr stays as it was; vg is fixed at finalize (E22);
# memory outside RAM is E14; a watchpoint length neither a DBGWCR nor page protection can serve (2 MiB + 1: not a
# power of two, more doublewords than there are slots, more than page protection's 1 MiB) is E22. Then the
# monitor commands:
# reginfo of an SVE register, the vector lengths, the breakpoint slots.
# run: --sve-vl 2048
break add
continue
set $cpsr_before = $cpsr
python
def attempt(cmd):
    try:
        out = gdb.execute(cmd, to_string=True)
        print(cmd, "->", out.strip())
        return True
    except gdb.error as e:
        print(cmd, "-> error:", e)
        return False
print(("FAIL: " if attempt("set $cpsr = 0x3c9") else "PASS: ") + "an EL2h pstate is refused")
print(("FAIL: " if attempt("set $vg = 4") else "PASS: ") + "vg cannot change")
print(("FAIL: " if attempt("x/x 0x1000") else "PASS: ") + "0x1000 is not memory")
attempt("maint packet m1000,4")
attempt("maint packet Z2,40000000,200001")
end
expect_eq $cpsr $cpsr_before "cpsr as it was after the refused write"
expect_eq $vg 32 "vg still 32 (2048 bits)"
monitor reginfo z0
monitor sve
monitor breakpoints
continue

# guest: hello
# source: kvmstub.py
# exit: 0
# expect: cr0            0x80010033          [ PE MP ET NE WP PG ]
# expect: efer           0x500               [ LME LMA ]
# The registers kvmstub's target description puts in group system and msr, listed by gdb-scripts/kvmstub.py's
# `info sysregs` from the description itself; and what this gdb does with those groups (gdb 13's x86 code
# ignores them: `info registers system` prints nothing). Whatever gdb does, the two must agree when it honours
# them.
info sysregs
info sysregs msr
python
import gdb
system = gdb.execute("info sysregs", to_string=True)
msr = gdb.execute("info sysregs msr", to_string=True)
general = gdb.execute("info registers", to_string=True)
def names(text):
    return [line.split()[0] for line in text.splitlines() if line.strip()]
def check(ok, label):
    print(("PASS: " if ok else "FAIL: ") + label)
check({"cr0", "cr3", "efer", "dr7", "idtr_base", "k_gs_base"} <= set(names(system)), "info sysregs: the system group")
check("rax" not in names(system) and "star" not in names(system), "info sysregs: nothing outside it")
check({"star", "lstar"} <= set(names(msr)) and "cr0" not in names(msr), "info sysregs msr: the listed MSRs")
honoured = gdb.execute("info registers system", to_string=True)
if names(honoured):
    print("this gdb honours the description's groups")
    check(names(honoured) == names(system), "info registers system is the description's system group")
else:
    print("this gdb ignores the description's groups: info registers system prints nothing")
    check("cr0" in names(general) and "star" in names(general), "so info registers lists them all")
end
continue

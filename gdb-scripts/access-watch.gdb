# guest: hello
# exit: 0
# serial: counter=20
# awatch (Z4) and rwatch (Z3) on `counter`. x86 debug registers trap writes, or reads and writes
# together, never reads alone: kvmstub refuses Z3 and gdb then serves rwatch with an access watchpoint,
# reporting only the accesses that left the value unchanged (reads). Where data breakpoints never fire
# (kvm_pvm: CPL0 code is emulated, `monitor breakpoints` says "watchpoints: single-step") kvmstub
# refuses Z4 too, and gdb says it could not insert the watchpoint; the script checks that instead.
# (The debug-register branch has not run on kvm_pvm, the only KVM here.)
break tick
continue
delete
python
def check(ok, label):
    print(("PASS: " if ok else "FAIL: ") + label)

strategy = gdb.execute("monitor breakpoints", to_string=True)
if "watchpoints: single-step" in strategy:
    gdb.execute("awatch counter")
    try:
        gdb.execute("continue")
        check(False, "awatch refused where data breakpoints never fire")
    except gdb.error as e:
        check("Could not insert" in str(e) or "Command aborted" in str(e), "awatch refused where data breakpoints never fire")
    gdb.execute("delete")
    check(int(gdb.parse_and_eval("$pc")) == int(gdb.parse_and_eval("(long)tick")), "still stopped in tick after the refusal")
else:
    gdb.execute("awatch counter")
    out = gdb.execute("continue", to_string=True)
    check("Value = " in out, "awatch stopped on an access to counter")
    check(int(gdb.parse_and_eval("$pc")) - int(gdb.parse_and_eval("(long)tick")) < 32, "awatch stopped in tick")
    gdb.execute("delete")
    gdb.execute("rwatch counter")
    out = gdb.execute("continue", to_string=True)
    check("Value = 20" in out, "rwatch stopped on the read of the final counter")
    gdb.execute("delete")
end
continue

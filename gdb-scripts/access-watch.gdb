# guest: hello
# exit: 0
# serial: counter=20
# awatch (Z4) and rwatch (Z3) on `counter`. x86 debug registers trap writes, or reads and writes
# together, never reads alone: kvmstub refuses Z3 and gdb then serves rwatch with an access watchpoint,
# reporting only the accesses that left the value unchanged (reads). Where data breakpoints never fire
# (kvm_pvm: CPL0 code is emulated, `monitor breakpoints` says "watchpoints: single-step") kvmstub
# refuses Z4 too, and gdb says it could not insert the watchpoint; the script checks that instead.
# The debug-register branch runs on architectural KVM (the nested rig: scripts/rig-x86.sh).
# tick() is `mov counter, %rax` (7 bytes); `add $1, %rax`; `mov %rax, counter`; `ret`.
break tick
continue
delete
python
def check(ok, label):
    print(("PASS: " if ok else "FAIL: ") + label)

def stop_by(command):
    # The breakpoint or watchpoint the stop names (gdb's stop event: what gdb prints for it, "Value = ...",
    # is not part of what gdb.execute(..., to_string=True) returns).
    seen = []
    handler = lambda e: seen.extend(getattr(e, "breakpoints", []))
    gdb.events.stop.connect(handler)
    try:
        gdb.execute(command)
    finally:
        gdb.events.stop.disconnect(handler)
    return seen

def pc():
    return int(gdb.parse_and_eval("$pc"))

tick = int(gdb.parse_and_eval("(long)tick"))
strategy = gdb.execute("monitor breakpoints", to_string=True)
if "watchpoints: single-step" in strategy:
    gdb.execute("awatch counter")
    try:
        gdb.execute("continue")
        check(False, "awatch refused where data breakpoints never fire")
    except gdb.error as e:
        check("Could not insert" in str(e) or "Command aborted" in str(e), "awatch refused where data breakpoints never fire")
    gdb.execute("delete")
    check(pc() == tick, "still stopped in tick after the refusal")
else:
    gdb.execute("awatch counter")
    by = stop_by("continue")
    check([b.type for b in by] == [gdb.BP_ACCESS_WATCHPOINT], "awatch stopped the guest")
    check(int(gdb.parse_and_eval("counter")) == 0, "on the read in tick, before the first increment")
    check(pc() == tick + 7, "right after the read (a data breakpoint traps after the access)")
    gdb.execute("delete")
    # rwatch, served as an access watchpoint: the store in this tick changes the value (gdb goes on
    # silently), the load in the next tick does not, and that is where it stops.
    gdb.execute("rwatch counter")
    by = stop_by("continue")
    check([b.type for b in by] == [gdb.BP_READ_WATCHPOINT], "rwatch stopped the guest")
    check(pc() == tick + 7, "right after a read in tick")
    check(int(gdb.parse_and_eval("counter")) == 1, "the next tick's read: the write in between did not stop it")
    gdb.execute("delete")
end
continue

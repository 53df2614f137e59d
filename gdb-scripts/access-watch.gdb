# guest: hello
# exit: 0
# serial: counter=20
# awatch (Z4) and rwatch (Z3) on `counter`. Where data breakpoints fire awatch is a debug register (RW = 11);
# where they never fire (kvm_pvm: CPL0 code is emulated) it is page protection. x86 debug registers never trap
# reads alone: rwatch is page protection on every host (PageWatchpoints.swift), a stop on reads only.
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
gdb.execute("awatch counter")
by = stop_by("continue")
check([b.type for b in by] == [gdb.BP_ACCESS_WATCHPOINT], "awatch stopped the guest")
check(int(gdb.parse_and_eval("counter")) == 0, "on the read in tick, before the first increment")
check(pc() == tick + 7, "right after the read (a data breakpoint traps after the access)")
gdb.execute("delete")
# rwatch: the store in this tick does not stop it, the load in the next tick does.
gdb.execute("rwatch counter")
by = stop_by("continue")
check([b.type for b in by] == [gdb.BP_READ_WATCHPOINT], "rwatch stopped the guest")
check(pc() == tick + 7, "right after a read in tick")
check(int(gdb.parse_and_eval("counter")) == 1, "the next tick's read: the write in between did not stop it")
gdb.execute("delete")
end
continue

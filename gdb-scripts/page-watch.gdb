# guest: watch
# exit: 0
# serial: watch: done sum=7 hot=1000 code_page_var=2
# expect: Hardware read watchpoint 2: page.target
# expect: Hardware access (read/write) watchpoint 3: page.target
# Page-protection watchpoints (PageWatchpoints.swift), forced with `monitor watch-strategy page` so every host
# runs the same thing: rwatch, awatch and watch on `page.target`, whose page also holds `page.hot`, bumped 1000
# times first (each bump is an MMIO exit kvmstub serves without stopping); ten watchpoints at once; a
# watchpoint across a page boundary; and one on the page the guest then executes from (the page is given
# back, the watchpoint falls back to single-stepping, nothing crashes). Watchpoints stay inserted across stops
# (always-inserted) so `monitor breakpoints` shows what serves each. Detaching with two inserted leaves the
# guest to finish on its own.
set breakpoint always-inserted on
monitor watch-strategy page
break phase
continue
expect_eq $rdi 0 "at phase(0): target initialised, hot not yet bumped"
delete
rwatch page.target
python
import gdb
def check(ok, label):
    print(("PASS: " if ok else "FAIL: ") + label)
def stop_by(command):
    seen = []
    handler = lambda e: seen.extend(getattr(e, "breakpoints", []))
    gdb.events.stop.connect(handler)
    try:
        gdb.execute(command)
    finally:
        gdb.events.stop.disconnect(handler)
    return [b.type for b in seen]
def val(e):
    return int(gdb.parse_and_eval(e))
def monitor(cmd):
    return gdb.execute("monitor " + cmd, to_string=True)

# Bad input: an unmapped address is E14, an empty range E22; neither changes anything.
check('received: "E14"' in gdb.execute("maint packet Z3,ffffffff00000000,8", to_string=True), "Z3 at an unmapped address: E14")
check('received: "E22"' in gdb.execute("maint packet Z3,%x,0" % val("&page.hot"), to_string=True), "Z3 of 0 bytes: E22")
report = monitor("breakpoints")
check("rwatch 0x%x len 8: page protection, phys page 0x%x" % (val("&page.target"), val("&page")) in report,
      "monitor breakpoints: the rwatch is served by page protection")
check(stop_by("continue") == [gdb.BP_READ_WATCHPOINT], "rwatch stopped the guest")
check(val("page.hot") == 1000, "the 1000 bumps of hot on the same page ran on, served, unreported")
check(val("$rax") == 7, "trap-like: the read completed, rax holds target's value")
check(val("sum") == 0, "and nothing after it ran (sum not yet stored)")
report = monitor("breakpoints")
check("MMIO exits served" in report, "monitor breakpoints counts the exits served")
gdb.execute("delete")
gdb.execute("awatch page.target")
check(stop_by("continue") == [gdb.BP_ACCESS_WATCHPOINT], "awatch stopped the guest")
check(val("page.target") == 42, "on the write, after it: target is 42")
check(val("sum") == 7, "the read before it (already past) is not reported again")
gdb.execute("delete")

# Ten write watchpoints at once, all on one page: each stops on its own element, in order.
for i in range(10):
    gdb.execute("watch page.many[%d]" % i)
report = monitor("breakpoints")
check(report.count("page protection") == 10, "ten watchpoints, all page protection")
order = []
for i in range(10):
    check(stop_by("continue") == [gdb.BP_HARDWARE_WATCHPOINT], "watch %d stopped the guest" % i)
    order.append(val("page.many[%d]" % i))
check(order == list(range(1, 11)), "each watch stopped on its element's write, in order: %s" % order)
gdb.execute("delete")

# Across a page boundary: gdb splits the unaligned 4 bytes into pieces on either page.
gdb.execute("break phase if $rdi == 2")
gdb.execute("continue")
gdb.execute("delete")
gdb.execute("watch *(unsigned int *)(area + 4094)")
check(stop_by("continue") == [gdb.BP_HARDWARE_WATCHPOINT], "the straddling watch stopped the guest")
check(val("*(unsigned int *)(area + 4094)") == 0x11223344, "after the write that crosses the boundary")
report = monitor("breakpoints")
check("0x%x" % (val("&area") + 0x1000) in report and "0x%x" % val("&area") in report,
      "both pages of the straddling range are protected")
gdb.execute("delete")

# A watched page the guest executes from: code_page_fn shares its page with code_page_var. rwatch and awatch
# make it a hole; the first call cannot fetch from it (an emulation failure), and kvmstub makes the page
# read-only RAM instead: the awatch goes on seeing writes, the rwatch cannot be served any more.
gdb.execute("break phase if $rdi == 3")
gdb.execute("continue")
gdb.execute("delete")
gdb.execute("rwatch code_page_var")
gdb.execute("awatch code_page_var")
check(monitor("breakpoints").count("page protection") == 2, "code_page_var's page is a hole while no vCPU runs there")
by = stop_by("continue")
check(gdb.BP_ACCESS_WATCHPOINT in by, "the awatch stopped on the write %s" % by)
check(val("code_page_var") == 1, "after the first call's increment")
report = monitor("breakpoints")
check("writes only: vCPU 0 executed from its page" in report, "the executed page was given back as read-only RAM: awatch sees writes only")
check("NOT SERVED: vCPU 0 executed from its page" in report, "the rwatch says it is not served")
by = stop_by("continue")
check(gdb.BP_ACCESS_WATCHPOINT in by and val("code_page_var") == 2, "and the awatch stops on the second %s" % by)
gdb.execute("delete")
check("slots:" not in monitor("breakpoints"), "no watchpoints: RAM is one slot again")
end
# Detach with watchpoints inserted: kvmstub removes them (RAM whole again) and the guest runs to its end.
rwatch page.target
awatch page.many[3]
detach

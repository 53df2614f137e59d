# guest: smp
# cpus: 2
# run: --watchpoints page
# serial: counter=
# expect: Hardware read watchpoint 1: counter
# expect: len 8: page protection, phys page
# Page-protection watchpoints with two vCPUs (`run --watchpoints page`: on every host, not only where data
# breakpoints never fire): rwatch on `counter`, whose page also holds `started` and `finished`, which vCPU 0
# spins on (each spin an MMIO exit served without a stop). Either vCPU's read stops both, and the stop names the vCPU that
# read. Then the page goes back and the guest finishes undisturbed.
rwatch counter
python
import gdb
caught = {1: 0, 2: 0}
for i in range(450):
    gdb.execute("continue", to_string=True)
    caught[int(gdb.parse_and_eval("$_thread"))] += 1
    if caught[1] and caught[2]:
        break
print(("PASS: " if caught[1] else "FAIL: ") + "vCPU 0 (thread 1) was caught reading counter")
print(("PASS: " if caught[2] else "FAIL: ") + "vCPU 1 (thread 2) was caught reading counter")
end
delete
# An access watchpoint too, and what serves it.
set breakpoint always-inserted on
awatch counter
monitor breakpoints
continue
expect_true ($_thread==1||$_thread==2) "the awatch stopped a vCPU"
delete
continue

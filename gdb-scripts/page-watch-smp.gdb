# guest: smp
# cpus: 2
# serial: counter=
# expect: Hardware read watchpoint 1: counter
# Page-protection watchpoints with two vCPUs: rwatch (page protection on every host: no debug register traps
# reads alone) on `counter`, whose page also holds `started` and `finished`, which vCPU 0 spins on (each
# spin an MMIO exit served without a stop). Either vCPU's read stops both, and the stop names the vCPU that
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
monitor breakpoints
continue

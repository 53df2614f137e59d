# guest: arm64/hello
# gdb: gdb-multiarch
# exit: 0
# serial: add(2, 3) = 5
# serial: fib(10) = 55
# serial: done
# expect: steps inside: the most in one
# Range stepping on arm64: the VMM offers vCont;r, so gdb's `next` is one packet a line and the single steps of
# the line run on the vCPU thread (ARM64Machine.run). Six nexts from main's first line end on the line six
# lines down, the calls in between having run whole; `monitor sync-stats` counts the range steps and the
# single steps inside them (more steps than range steps: each line is several instructions).
break main
continue
delete
monitor sync-stats reset
set $start = $pc
python
start_line = gdb.find_pc_line(int(gdb.parse_and_eval("$pc"))).line
for i in range(6):
    gdb.execute("next", to_string=True)
line = gdb.find_pc_line(int(gdb.parse_and_eval("$pc"))).line
print(("PASS: " if line == start_line + 6 else "FAIL: ") + "six nexts moved six lines (%d -> %d)" % (start_line, line))
stats = gdb.execute("monitor sync-stats", to_string=True)
print(stats)
import re
m = re.search(r"vCont;r (\d+) \((\d+) steps inside", stats)
ok = m is not None and int(m.group(1)) >= 1 and int(m.group(2)) > int(m.group(1))
print(("PASS: " if ok else "FAIL: ") + "the nexts were range steps holding more single steps")
end
expect_true ($pc>main)&&($pc<main+0x100) "still in main"
continue

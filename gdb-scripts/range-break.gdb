# guest: lines
# exit: 0
# serial: acc=5997000
# source: lib/rangestats.py
# expect: Breakpoint 2, 
# expect: Hardware assisted breakpoint 3 at
# expect: Hardware watchpoint 4: acc
# expect: Old value = 1
# expect: New value = 3
# A `next` over a one-line loop (one vCont;r) stops early where a single step would have: on a software
# breakpoint inside the line, on a hardware one, and on a watchpoint written inside it.
break busy
continue
python
arch = gdb.selected_frame().architecture()
start = int(gdb.parse_and_eval("&busy"))
cmp = next(i["addr"] for i in arch.disassemble(start, start + 0x40) if i["asm"].startswith("cmp"))
gdb.set_convenience_variable("in_loop", cmp)
end
break *$in_loop
monitor sync-stats reset
next
expect_eq $pc $in_loop "next stopped on the breakpoint inside the line"
expect_eq acc 0 "in the first iteration"
range-stats
expect_true ($range_resumes>=1) "by vCont;r"
delete 2
hbreak *$in_loop
next
expect_eq $pc $in_loop "next stopped on the hardware breakpoint inside the line"
expect_eq acc 1 "in the second iteration"
delete 3
watch acc
monitor sync-stats reset
next
expect_eq acc 3 "the watchpoint stopped next after the third iteration's store"
expect_true ($pc>busy&&$pc<$in_loop) "inside the line, right after the store"
range-stats
expect_true ($range_resumes>=1) "by vCont;r"
delete
continue

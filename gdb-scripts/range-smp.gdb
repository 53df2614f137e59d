# guest: smp
# cpus: 2
# serial: counter=
# source: lib/rangestats.py
# Range stepping with two vCPUs. With `set scheduler-locking step` gdb sends vCont;r for the stepping
# thread alone: it steps its line and the other vCPU stays where it was (all-stop). With gdb's default
# (the others continue: vCont;r…:N;c) the range ends the same way while the other vCPU runs.
break work
continue
delete
python
def other_pc():
    me = gdb.selected_thread()
    other = [t for t in gdb.selected_inferior().threads() if t.num != me.num][0]
    other.switch()
    pc = int(gdb.parse_and_eval("$pc"))
    me.switch()
    return pc
gdb.set_convenience_variable("other_before", other_pc())
end
set $me = $_thread
set scheduler-locking step
monitor sync-stats reset
next
next
expect_eq $_thread $me "the stepping thread reports the stop"
python gdb.set_convenience_variable("other_after", other_pc())
expect_eq $other_after $other_before "the other vCPU did not move"
range-stats
expect_true ($range_resumes>=2) "each next was a vCont;r"
set scheduler-locking replay
monitor sync-stats reset
next
expect_eq $_thread $me "with the others running, the stepping thread still reports the stop"
range-stats
expect_true ($range_resumes>=1) "by vCont;r"
continue

# guest: lesson-4-race
# cpus: 2
# Lesson 4's `awatch` (examples/lesson-4-race/LESSON.md). Where data breakpoints never fire (kvm_pvm: `monitor
# breakpoints` says "watchpoints: single-step") kvmstub watches writes by single-stepping and comparing values,
# which cannot see reads, so it refuses Z4 (and Z3): gdb says "too many hardware breakpoints". Where they fire,
# awatch is a debug register and stops vCPU 0 at its first access to counter.
monitor breakpoints
python
import gdb
single_step = "watchpoints: single-step" in gdb.execute("monitor breakpoints", to_string=True)
# A refusal is an error, which would end this script: python runs the commands and prints the error's last
# line ("Command aborted."), as gdb does at its prompt, and the "+command" lines of trace-commands (which gdb
# does not always print for a command python runs).
print("+awatch counter")
gdb.execute("awatch counter")
print("+continue")
try:
    gdb.execute("continue")
    error = None
except gdb.error as e:
    error = str(e).rstrip("\n")
    print(error)
if single_step:
    ok = error == "Command aborted."
    print(("PASS: " if ok else "FAIL: ") + "awatch is refused where watchpoints are single-stepped")
else:
    ok = error is None and int(gdb.parse_and_eval("$_thread")) in (1, 2)
    print(("PASS: " if ok else "FAIL: ") + "awatch stopped a vCPU at an access to counter")
end
delete
kill

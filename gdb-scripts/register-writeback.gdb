# guest: hello
# exit: 0
# serial: done
# A register write the kernel refuses is the `E` reply to that `P`, and costs nothing else; writing back what was
# read is never refused. MSR_KVM_ASYNC_PF_INT (0x4b564d06, `msr_4b564d06`) is one the kernel refuses to set
# without an in-kernel local APIC: before, the write waited for the next KVM_RUN and the step after it was lost
# (a SIGILL stop, "KVM_SET_ONE_REG ... failed"). Then every register gdb knows is read and written back as it was
# (p, then P with the same bytes, as a client that saves and restores the register file does), and the next
# step is still exactly one instruction.
python
def check(ok, label):
    print(("PASS: " if ok else "FAIL: ") + label)

def packet(text):
    out = gdb.execute("maint packet " + text, to_string=True)
    return out.split("received: ", 1)[1].strip().strip('"') if "received: " in out else out

try:
    gdb.execute("set $msr_4b564d06 = 0x22")
    check(False, "the refused MSR write is an error at once")
except gdb.error as e:
    check("remote failure reply 'E" in str(e), "the refused MSR write is an E reply to the P: " + str(e))
check(int(gdb.parse_and_eval("$msr_4b564d06")) == 0, "the MSR still reads what the kernel holds")
gdb.execute("stepi")
check(int(gdb.parse_and_eval("$pc")) == int(gdb.parse_and_eval("(long)&_start")) + 2, "the step after it: one instruction")

table = gdb.execute("maint print remote-registers", to_string=True).splitlines()[1:]
remote = sorted({int(l.split()[6]) for l in table if len(l.split()) >= 8 and l.split()[6].isdigit()})
refused, written = [], 0
for n in remote:
    value = packet("p%x" % n)
    if not value or value.startswith("E") or set(value) == {"x"}:
        continue  # unavailable: nothing to write back
    answer = packet("P%x=%s" % (n, value))
    written += 1
    if answer != "OK":
        refused.append((n, answer))
check(written > 100 and not refused, "%d registers written back as read, none refused %s" % (written, refused[:5]))
pc = int(gdb.parse_and_eval("$pc"))
gdb.execute("stepi")
check(int(gdb.parse_and_eval("$pc")) == pc + 4, "the step after writing them all back: one instruction (andq $-16, %rsp)")
end
continue

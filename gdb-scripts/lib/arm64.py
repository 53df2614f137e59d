# Commands for the arm64 gdb-multiarch sessions (gdb-scripts/arm64/): run.sh sources it for a script whose
# header says `# source: lib/arm64.py`. Each check prints one PASS: or FAIL: line, like lib/check.gdb.
#
#   stepi_checked N LABEL   N stepi's, each checked to have run exactly one instruction: the new pc is the old
#                           one + 4, unless the instruction stepped was a branch (b, bl, br, blr, ret, b.cond,
#                           cbz/cbnz, tbz/tbnz), whose target gdb's disassembler names; one PASS/FAIL line
#   stepi_out LABEL         stepi until the pc leaves the current function (back in its caller), checking each
#                           step as above; prints the number of steps
#   reattach                detach, then `target remote` to the same address again (the guest runs between)
#   expect_translate VA EXPR LABEL   `monitor translate VA` says "VA -> guest-physical PA", PA = EXPR's value
import re

import gdb

BRANCHES = re.compile(r"^\s*(b|bl|br|blr|ret|b\.\w+|cbz|cbnz|tbz|tbnz|eret)\b")


def check(ok, label):
    print(("PASS: " if ok else "FAIL: ") + label)
    return ok


def pc():
    return int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF


def insn(at):
    arch = gdb.selected_frame().architecture()
    return arch.disassemble(at)[0]["asm"]


def one_step():
    """One stepi; returns a problem (str) or None."""
    before = pc()
    text = insn(before)
    gdb.execute("stepi", to_string=True)
    after = pc()
    if BRANCHES.match(text):
        return None if after != before else "a branch at %#x did not move the pc" % before
    if after != before + 4:
        return "stepi at %#x (%s) went to %#x, not %#x" % (before, text.strip(), after, before + 4)
    return None


class StepiChecked(gdb.Command):
    def __init__(self):
        super().__init__("stepi_checked", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        n, _, label = arg.partition(" ")
        n = int(n)
        label = label.strip().strip('"')
        for i in range(n):
            problem = one_step()
            if problem:
                check(False, "%s: step %d: %s" % (label, i + 1, problem))
                return
        check(True, "%s: %d steps, one instruction each" % (label, n))


class StepiOut(gdb.Command):
    def __init__(self):
        super().__init__("stepi_out", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        label = arg.strip().strip('"')
        block = gdb.block_for_pc(pc())
        while block.function is None and block.superblock is not None:
            block = block.superblock
        start, end = block.start, block.end
        steps = 0
        while start <= pc() < end and steps < 100000:
            problem = one_step()
            steps += 1
            if problem:
                check(False, "%s: step %d: %s" % (label, steps, problem))
                return
        print("%d steps" % steps)
        check(not (start <= pc() < end), "%s: out of %s after %d single steps" % (label, block.function, steps))


class Reattach(gdb.Command):
    def __init__(self):
        super().__init__("reattach", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        where = gdb.selected_inferior().connection.details
        gdb.execute("detach")
        gdb.execute("target remote " + where)


class ExpectTranslate(gdb.Command):
    def __init__(self):
        super().__init__("expect_translate", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        va, expr, label = arg.split(" ", 2)
        want = int(gdb.parse_and_eval(expr)) & 0xFFFFFFFFFFFFFFFF
        out = gdb.execute("monitor translate " + va, to_string=True)
        m = re.search(r"-> guest-physical (0x[0-9a-f]+)", out)
        got = int(m.group(1), 16) if m else None
        check(got == want, "%s: %s -> %s (want %#x)" % (label.strip().strip('"'), va, hex(got) if m else "no translation", want))


ExpectTranslate()
StepiChecked()
StepiOut()
Reattach()

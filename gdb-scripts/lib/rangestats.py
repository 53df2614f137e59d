# Helpers for the range-stepping scripts: what `monitor sync-stats` says about vCont;r, as convenience
# variables gdb's expect_eq / expect_true can check.
import re

import gdb


class RangeStats(gdb.Command):
    """range-stats: run `monitor sync-stats` and set $range_resumes, $range_steps, $range_longest (0 when the
    stub reported no vCont;r) and $kvm_runs (KVM_RUN ioctls of vCPU 0)."""

    def __init__(self):
        super().__init__("range-stats", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        out = gdb.execute("monitor sync-stats", to_string=True)
        print(out, end="")
        m = re.search(r"vCont;r (\d+) \((\d+) steps inside: the most in one (\d+)", out)
        resumes, steps, longest = (int(g) for g in m.groups()) if m else (0, 0, 0)
        runs = re.search(r"KVM_RUN (\d+)", out)
        gdb.set_convenience_variable("range_resumes", resumes)
        gdb.set_convenience_variable("range_steps", steps)
        gdb.set_convenience_variable("range_longest", longest)
        gdb.set_convenience_variable("kvm_runs", int(runs.group(1)) if runs else 0)


RangeStats()

# Helpers for the Linux-kernel sessions in gdb-scripts/kernel/ (run.sh sources this for a `# kernel:` script).
# run.sh passes, in the environment: KERNEL_GDB (scripts/kernel-gdb.sh's cache directory: vmlinux with debug info,
# gdb/vmlinux-gdb.py, modules/), KVMSTUB_SERIAL (the file the guest's serial console goes to, as it is written).
#
#   kernel-gdb-scripts            source the kernel's own helpers (vmlinux-gdb.py: lx-dmesg, lx-ps, ...). One
#                                 step of theirs is routed through kernel-symbols: lx-symbols (6.1) reloads vmlinux
#                                 with a plain `symbol-file`, which puts every symbol back at its link address, so
#                                 under KASLR it then reads the module list from the wrong place; here that reload
#                                 keeps the slide that `kaslr` found (newer kernels' lx-symbols pass it themselves)
#   kernel-symbols SLIDE          load vmlinux's symbols moved by SLIDE (0 for a kernel that did not move), every
#                                 section but the per-CPU one (.data..percpu is linked at 0 and holds offsets from
#                                 each CPU's per-CPU base, which KASLR does not move)
#   kaslr                         `monitor kaslr`, then kernel-symbols with the slide it found ($kaslr_slide)
#   kernel-lx-symbols             lx-symbols with the cache's modules/ (gdb's working directory moves there first:
#                                 lx-symbols also searches the working directory, recursively)
#   wait-console TEXT [SECONDS]   continue until the guest's console shows TEXT (then stop it with Ctrl-C);
#                                 FAIL: after SECONDS (default 900)
#   expect-output "CMD" "REGEX" "LABEL"   run gdb command CMD, show its output, PASS:/FAIL: on REGEX
#   elapsed LABEL                 print "TIME: LABEL N.N s" (seconds since this file was sourced, ~ gdb connected)
import os
import re
import shlex
import sys
import signal
import threading
import time

import gdb

_t0 = time.time()
_kernel = os.environ.get("KERNEL_GDB", "")


def _run(command, to_string=False):
    """gdb.execute without `set trace-commands on` echoing the inner command: in a traced session (run.sh traces
    the ones the documentation quotes) everything this command runs is its own output."""
    with gdb.with_parameter("trace-commands", "off"):
        return gdb.execute(command, to_string=to_string)


def _say(line):
    gdb.write(line + "\n")
    gdb.flush()


class KernelGdbScripts(gdb.Command):
    """Source the kernel's vmlinux-gdb.py from $KERNEL_GDB/gdb."""

    def __init__(self):
        super().__init__("kernel-gdb-scripts", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        _run("source " + os.path.join(_kernel, "gdb", "vmlinux-gdb.py"))
        symbols = sys.modules.get("linux.symbols")
        if symbols is not None and not isinstance(symbols.gdb, _KeepSlide):
            symbols.gdb = _KeepSlide()


class _KeepSlide:
    """gdb as linux/symbols.py sees it: `symbol-file FILE` becomes kernel-symbols with the slide in $kaslr_slide
    (0 when `kaslr` never ran); every other call goes to gdb itself."""

    def __getattr__(self, name):
        return getattr(gdb, name)

    def execute(self, command, *args, **kwargs):
        words = command.split()
        if len(words) == 2 and words[0] == "symbol-file":
            slide = gdb.convenience_variable("kaslr_slide")
            gdb.write("(lx-symbols: vmlinux reloaded at slide 0x%x, .data..percpu unmoved)\n" % int(slide or 0))
            command = "kernel-symbols %d" % int(slide or 0)
        # Untraced, as with _run: lx-symbols' breakpoint on do_init_module runs commands in the middle of a
        # `continue`, and a traced session would show them as commands of its own.
        with gdb.with_parameter("trace-commands", "off"):
            return gdb.execute(command, *args, **kwargs)


class KernelSymbols(gdb.Command):
    """kernel-symbols SLIDE: vmlinux's symbols at link address + SLIDE, .data..percpu where it was linked."""

    def __init__(self):
        super().__init__("kernel-symbols", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        slide = int(gdb.parse_and_eval(arg or "0")) & 0xFFFFFFFFFFFFFFFF
        vmlinux = os.path.join(_kernel, "vmlinux")
        # Dropping the old symbols first: add-symbol-file beside an unmoved copy would leave two answers per name.
        _run("symbol-file", to_string=True)
        _run("add-symbol-file %s -o 0x%x -s .data..percpu 0" % (vmlinux, slide), to_string=True)
        _say("kernel-symbols: %s at slide 0x%x (.data..percpu unmoved)" % (os.path.basename(vmlinux), slide))


class KernelLxSymbols(gdb.Command):
    """kernel-lx-symbols: lx-symbols $KERNEL_GDB/modules, run from that directory."""

    def __init__(self):
        super().__init__("kernel-lx-symbols", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        modules = os.path.join(_kernel, "modules")
        _run("cd " + modules, to_string=True)
        _run("lx-symbols " + modules)


class Kaslr(gdb.Command):
    """kaslr: the slide from `monitor kaslr`, then kernel-symbols with it."""

    def __init__(self):
        super().__init__("kaslr", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        out = _run("monitor kaslr", to_string=True)
        _say(out.rstrip())
        m = re.search(r"KASLR slide (0x[0-9a-f]+)", out)
        if not m:
            _say("FAIL: monitor kaslr found no kernel text")
            return
        gdb.set_convenience_variable("kaslr_slide", int(m.group(1), 16))
        _run("kernel-symbols " + m.group(1))


class WaitConsole(gdb.Command):
    """wait-console TEXT [SECONDS]: continue until the serial console shows TEXT, then interrupt."""

    def __init__(self):
        super().__init__("wait-console", gdb.COMMAND_RUNNING)

    def invoke(self, arg, from_tty):
        words = shlex.split(arg)
        text = words[0].encode()
        limit = float(words[1]) if len(words) > 1 else 900.0
        path = os.environ["KVMSTUB_SERIAL"]
        done = threading.Event()
        seen = {}

        def watch():
            start = time.time()
            while not done.is_set():
                try:
                    with open(path, "rb") as f:
                        if text in f.read():
                            seen["at"] = time.time()
                            break
                except OSError:
                    pass
                if time.time() - start > limit:
                    break
                time.sleep(0.2)
            if not done.is_set():
                os.kill(os.getpid(), signal.SIGINT)

        t = threading.Thread(target=watch, daemon=True)
        t.start()
        try:
            _run("continue")
        finally:
            done.set()
        t.join()
        if "at" in seen:
            _say("PASS: the console showed %r (%.1f s since gdb connected)" % (text.decode(), seen["at"] - _t0))
        else:
            _say("FAIL: the console did not show %r within %.0f s" % (text.decode(), limit))


class ExpectOutput(gdb.Command):
    """expect-output "CMD" "REGEX" "LABEL": run CMD, print its output, PASS:/FAIL: whether REGEX matches it."""

    def __init__(self):
        super().__init__("expect-output", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        cmd, pattern, label = shlex.split(arg)
        try:
            out = _run(cmd, to_string=True)
        except gdb.error as e:
            out = "error: %s\n" % e
        gdb.write(out if len(out) < 6000 else out[:3000] + "\n[...]\n" + out[-2500:])
        ok = re.search(pattern, out, re.M) is not None
        _say("%s: %s" % ("PASS" if ok else "FAIL", label if ok else "%s (%s: no /%s/)" % (label, cmd, pattern)))


class Elapsed(gdb.Command):
    """elapsed LABEL: TIME: LABEL N s since gdb connected."""

    def __init__(self):
        super().__init__("elapsed", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        _say("TIME: %s %.1f s" % (arg, time.time() - _t0))


KernelGdbScripts()
KernelSymbols()
KernelLxSymbols()
Kaslr()
WaitConsole()
ExpectOutput()
Elapsed()

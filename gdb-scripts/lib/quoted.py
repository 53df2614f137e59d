#!/usr/bin/env python3
"""Checks the sessions the documentation quotes against a run of the gdb script that replays them.

A fenced block in README.md, examples/README.md or examples/*/LESSON.md preceded by the line

    <!-- session: NAME -->            gdb's side: commands and their output, as gdb-scripts/NAME.gdb ran them
    <!-- session: NAME serial -->     the guest's serial output of that run
    (NAME may name a subdirectory's script: kernel/lesson-9-linux is gdb-scripts/kernel/lesson-9-linux.gdb)

is checked here when run.sh runs gdb-scripts/NAME.gdb (gdb with `set trace-commands on`, so that its output
says which command printed what). In a gdb block:

    $ gdb …                 gdb starting: the lines after it are what `target remote` printed
    $ anything else         a shell command: not checked
    (gdb) CMD   # note      a command: the script must run CMD (the note is not part of it), in this order
    other lines             what the command before printed, all of it, in order (blank lines aside)
    ...                     any number of lines left out, said so (before any command: commands left out)

Every line is compared with blanks collapsed and the repository's path taken out of gdb's (gdb prints source
paths absolute). A value that depends on the host is written as this host printed it, the text says so, and
the script carries a `# varies: REGEX` header: a quoted line matching REGEX in full stands for any printed line
that does. A serial block's lines must appear in the serial output, in order.

usage: quoted.py ROOT NAME GDB_OUTPUT SERIAL_OUTPUT SCRIPT     (prints one line per problem; exit 1 if any)
       quoted.py --list ROOT                                   (every annotated block: FILE:LINE NAME [serial])
       quoted.py --rewrite ROOT NAME GDB_OUTPUT SERIAL SCRIPT  (writing a lesson: puts what each quoted command
                                                                printed under it; read the diff before keeping it)
"""
import glob
import os
import re
import sys

DOCS = ["README.md", "examples/README.md"]


def documents(root):
    return DOCS + sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "examples/*/LESSON.md")))


ANNOTATION = re.compile(r"^<!-- session: ([A-Za-z0-9_./-]+)( serial)? -->\s*$")


def blocks(root):
    """Every fenced block: (file, line of the fence, info string, annotation or None, lines)."""
    found = []
    for doc in documents(root):
        path = os.path.join(root, doc)
        if not os.path.exists(path):
            continue
        lines = open(path, encoding="utf-8").read().split("\n")
        i = 0
        while i < len(lines):
            m = re.match(r"^```(\S*)\s*$", lines[i])
            if not m:
                i += 1
                continue
            start = i
            j = i + 1
            while j < len(lines) and lines[j].rstrip() != "```":
                j += 1
            previous = lines[start - 1] if start > 0 else ""
            found.append((doc, start + 1, m.group(1), previous.strip(), lines[start + 1 : j]))
            i = j + 1
    return found


def squeeze(text):
    return " ".join(text.split())


def trace(output, root, raw_lines=False):
    """gdb's output under `set trace-commands on`: [(command, [lines it printed])] (squeezed, or as printed)."""
    entries = []
    prefix = root.rstrip("/") + "/"
    for raw in output.split("\n"):
        line = raw.replace(prefix, "").rstrip()
        m = re.match(r"^\++(.*)$", line)
        if m:
            command = squeeze(m.group(1))
            # A script that runs a command from python prints the "+command" line itself (gdb traces such a
            # command only sometimes): the same command again, with nothing printed between, is one.
            if entries and entries[-1][0] == command and not entries[-1][1]:
                entries.pop()
            entries.append((command, []))
            continue
        if not line.strip() or line.startswith("PASS: ") or line.startswith("FAIL: "):
            continue  # the script's own checks (lib/check.gdb), not gdb's output
        if not entries:
            entries.append(("", []))
        entries[-1][1].append(line if raw_lines else squeeze(line))
    return entries


def command_of(line):
    """`(gdb) CMD   # note` → CMD."""
    text = line[len("(gdb)") :].strip()
    text = re.split(r"\s{2,}#\s", text)[0]
    return squeeze(text)


def matches(quoted, printed, varies):
    if quoted == printed:
        return True
    for pattern in varies:
        if pattern.fullmatch(quoted) and pattern.fullmatch(printed):
            return True
    return False


def same_output(quoted, printed, varies):
    """quoted (with `...` for any run of lines) against printed, in full."""
    def walk(q, p):
        if q == len(quoted):
            return p == len(printed)
        if quoted[q] == "...":
            return any(walk(q + 1, k) for k in range(p, len(printed) + 1))
        return p < len(printed) and matches(quoted[q], printed[p], varies) and walk(q + 1, p + 1)

    return walk(0, 0)


def check_gdb_block(where, lines, entries, varies, problems, at, raw_entries=None, fixes=None):
    """Returns where in the trace the block ended: the session's next block goes on from there. With
    raw_entries, a command whose output differs gets (its line in the block, the printed lines) in fixes."""
    # (command or None for gdb's start, expected lines)
    steps = []
    for number, raw in enumerate(lines):
        line = raw.rstrip()
        if line.startswith("$ gdb ") or line == "$ gdb":
            steps.append(("target remote", [], number))
        elif line.startswith("$ "):
            continue
        elif line.startswith("(gdb)"):
            steps.append((command_of(line), [], number))
        elif not line.strip():
            continue
        elif not steps and line.strip() == "...":
            continue  # commands left out before the first one quoted
        elif not steps:
            problems.append(f"{where}: output before any command: {line.strip()}")
        else:
            steps[-1][1].append("..." if line.strip() == "..." else squeeze(line))
    for command, expected, number in steps:
        found = None
        for k in range(at, len(entries)):
            name = entries[k][0]
            if name == command or (command == "target remote" and name.startswith("target remote ")):
                found = k
                break
        if found is None:
            problems.append(f"{where}: the script does not run `{command}` here (after the block's earlier commands)")
            continue
        at = found + 1
        printed = entries[found][1]
        if not same_output(expected, printed, varies):
            cut = printed if len(printed) <= 16 else printed[:8] + [f"({len(printed) - 16} lines)"] + printed[-8:]
            shown = "\n         ".join(cut) if printed else "(nothing)"
            quoted = "\n         ".join(expected) if expected else "(nothing)"
            problems.append(f"{where}: `{command}` printed\n         {shown}\n       the text quotes\n         {quoted}")
            if fixes is not None:
                fixes.append((number, raw_entries[found][1]))
    return at


def check_serial_block(where, lines, serial, problems):
    at = 0
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        k = serial.find(line, at)
        if k < 0:
            problems.append(f"{where}: the guest did not print (here, in this order): {line}")
        else:
            at = k + len(line)


def main(argv):
    if len(argv) == 3 and argv[1] == "--list":
        for doc, line, info, note, _ in blocks(argv[2]):
            m = ANNOTATION.match(note)
            if m:
                print(f"{doc}:{line} {m.group(1)}{m.group(2) or ''}")
        return 0
    rewrite = len(argv) > 1 and argv[1] == "--rewrite"
    if rewrite:
        argv = argv[1:]
    root, name, gdb_output, serial_output, script = argv[1:6]
    varies = [re.compile(v) for v in re.findall(r"^# varies: (.*)$", open(script).read(), re.M)]
    text = open(gdb_output, errors="replace").read()
    entries = trace(text, root)
    raw_entries = trace(text, root, raw_lines=True)
    edits = {}  # doc -> [(first line of the block's body (0-based), fixes)]
    serial = open(serial_output, errors="replace").read() if os.path.exists(serial_output) else ""
    problems = []
    at = 0
    for doc, line, info, note, lines in blocks(root):
        m = ANNOTATION.match(note)
        if not m or m.group(1) != name:
            continue
        where = f"{doc}:{line}"
        if m.group(2):
            check_serial_block(where, lines, serial, problems)
        else:
            fixes = []
            at = check_gdb_block(where, lines, entries, varies, problems, at, raw_entries, fixes)
            if fixes:
                edits.setdefault(doc, []).append((line, fixes))
    if rewrite:
        # Development aid: replace each mismatching command's quoted output by what was printed.
        for doc, blocks_fixes in edits.items():
            path = os.path.join(root, doc)
            body = open(path, encoding="utf-8").read().split("\n")
            for fence_line, fixes in sorted(blocks_fixes, reverse=True):
                start = fence_line  # index of the block's first body line (fence_line is 1-based)
                for number, printed in sorted(fixes, reverse=True):
                    k = start + number + 1
                    while k < len(body) and not body[k].startswith("(gdb)") and not body[k].startswith("$ ") \
                            and body[k].rstrip() != "```":
                        del body[k]
                    body[k:k] = printed
            open(path, "w", encoding="utf-8").write("\n".join(body))
        return 0
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

# Register checks at the protocol level for kvmstub's scripted gdb sessions: `maint packet` sends p, P, g and G
# and reads the stub's own replies, and the register list comes from the stub's target description as gdb read
# it. Each check prints one PASS: or FAIL: line, like lib/check.gdb. Used by the gdb-multiarch scripts
# (gdb-scripts/multiarch/); run.sh sources it for a script whose header says `# source: lib/roundtrip.py`.
import re

import gdb


def check(ok, label):
    print(("PASS: " if ok else "FAIL: ") + label)
    return ok


def packet(text):
    """Sends one packet with `maint packet` and returns the reply's payload."""
    out = gdb.execute("maint packet " + text, to_string=True)
    m = re.search(r'received: "(.*)"\s*\Z', out, re.S)
    if m is None:
        raise gdb.GdbError("no reply to " + text[:60])
    # gdb prints unprintable bytes as \xNN (and a backslash or quote escaped): undo that.
    return re.sub(r"\\(x[0-9a-fA-F]{2}|.)", lambda e: chr(int(e.group(1)[1:], 16)) if len(e.group(1)) == 3 else e.group(1), m.group(1))


def xfer(annex):
    data, offset = "", 0
    while True:
        reply = packet("qXfer:features:read:%s:%x,%x" % (annex, offset, 0x1000))
        data += reply[1:]
        offset += len(reply) - 1
        if reply[:1] != "m":
            return data


def described_registers():
    """(regnum, name, bytes, feature) of every register in the stub's target description, by regnum."""
    regs = []
    for href in re.findall(r'<xi:include href="([^"]+)"', xfer("target.xml")):
        text = xfer(href)
        feature = re.search(r'<feature name="([^"]+)"', text).group(1)
        for m in re.finditer(r'<reg name="([^"]+)" bitsize="(\d+)"[^>]*regnum="(\d+)"', text):
            regs.append((int(m.group(3)), m.group(1), int(m.group(2)) // 8, feature))
    return sorted(regs)


def pattern(regnum, size, seed):
    return "".join("%02x" % ((regnum * 37 + i * 11 + seed) & 0xFF) for i in range(size))


def constrained(name, new, old):
    """A value the fake kernel accepts: vg cannot change after finalize, and pstate's mode must stay a valid one."""
    if name == "vg":
        return old
    if name == "cpsr":  # little-endian: the first byte holds M[4:0]
        return "%02x" % ((int(new[:2], 16) & 0xE0) | (int(old[:2], 16) & 0x1F)) + new[2:]
    return new


def flush_cache():
    gdb.execute("maint flush register-cache", to_string=True)


def roundtrip_p(aliases=None, skip_after_step=("pc",)):
    """Every register the stub describes: P a new value, p it back, P the old one back; then P new values to
    all, step once (the fake kernel receives them and the cache is dropped) and p them back. `aliases` maps a
    register to the one that shares its kernel storage now (arm64 at EL1h: sp is SP_EL1)."""
    aliases = aliases or {}
    regs = described_registers()
    bad = 0
    for regnum, name, size, _ in regs:
        old = packet("p%x" % regnum)
        new = constrained(name, pattern(regnum, size, 1), old)
        if packet("P%x=%s" % (regnum, new)) != "OK" or packet("p%x" % regnum) != new:
            bad += 1
            check(False, "P/p round trip of %s" % name)
        elif packet("P%x=%s" % (regnum, old)) != "OK" or packet("p%x" % regnum) != old:
            bad += 1
            check(False, "P/p restore of %s" % name)
    check(bad == 0, "P/p round trip of all %d registers" % len(regs))

    written = {}
    for regnum, name, size, _ in regs:
        old = packet("p%x" % regnum)
        # pc keeps its value: gdb reads the instruction there to step.
        written[name] = old if name == "pc" else constrained(name, pattern(regnum, size, 2), old)
        packet("P%x=%s" % (regnum, written[name]))
    flush_cache()
    gdb.execute("stepi", to_string=True)
    flush_cache()
    bad = 0
    for regnum, name, size, _ in regs:
        if name in skip_after_step:
            continue
        want = written[aliases.get(name, name)]
        if packet("p%x" % regnum) != want:
            bad += 1
            check(False, "%s after a step" % name)
    check(bad == 0, "every P write reached the (fake) kernel and came back after a step")
    flush_cache()


def roundtrip_g(standard_features):
    """g: its size is what gdb computes for its own features (the registers of `standard_features`); G of new
    values to every register in it comes back in g, also after a step; G of the old block restores it."""
    regs = described_registers()
    old = packet("g")
    in_g = [r for r in regs if r[3] in standard_features]
    frame = gdb.selected_frame()
    # The registers gdb hides (POWER's vsNh) cannot be read by name: their described size is what gdb uses.
    gdb_size = sum(size if re.fullmatch(r"vs\d+h", name) else frame.read_register(name).type.sizeof
                   for _, name, size, _ in in_g)
    print("g packet: %d bytes" % (len(old) // 2))
    check(len(old) // 2 == gdb_size, "g is %d bytes, the size of gdb's own registers" % gdb_size)
    check("x" not in old, "every register in g is available")
    def block(seed, keep_pc):
        text, offset = "", 0
        for regnum, name, size, _ in in_g:
            was = old[offset:offset + 2 * size]
            text += was if (keep_pc and name == "pc") else constrained(name, pattern(regnum, size, seed), was)
            offset += 2 * size
        return text

    new = block(3, keep_pc=False)
    check(packet("G" + new) == "OK", "G accepted (%d bytes)" % (len(new) // 2))
    check(packet("g") == new, "g returns what G wrote")
    # pc keeps its value for the step: gdb reads the instruction there.
    new = block(4, keep_pc=True)
    check(packet("G" + new) == "OK", "G of another block accepted")
    flush_cache()
    gdb.execute("stepi", to_string=True)
    after = packet("g")
    pc = [r for r in in_g if r[1] == "pc"][0]
    at = 2 * sum(r[2] for r in in_g if r[0] < pc[0])
    end = at + 2 * pc[2]
    check(after[:at] == new[:at] and after[end:] == new[end:], "G's values reached the (fake) kernel: g after a step has them (pc moved on)")
    check(packet("G" + old) == "OK" and packet("g") == old, "G of the first g block restores it")
    flush_cache()


def check_register_list(expected_raw, pseudo):
    """`info all-registers` lists every register of the description plus the `pseudo` registers gdb derives from
    its own features (no more, no fewer), and gdb's raw registers start with `expected_raw`, the names and order
    of gdb's own description."""
    lines = gdb.execute("info all-registers", to_string=True).splitlines()
    listed = [l.split()[0] for l in lines if l and not l[0].isspace()]
    print("info all-registers: %d registers" % len(listed))
    names = [r[1] for r in described_registers()]
    hidden = len([n for n in names if re.fullmatch(r"vs\d+h", n)])
    check(len(listed) == len(names) - hidden + pseudo,
          "info all-registers: %d = %d described - %d gdb hides + %d gdb derives" % (len(listed), len(names), hidden, pseudo))
    missing = [n for n in names if n not in listed and not re.fullmatch(r"vs\d+h", n)]
    check(not missing, "info all-registers lists all %d described registers%s" % (len(names), (": missing " + " ".join(missing[:8])) if missing else ""))
    check(names[:len(expected_raw)] == expected_raw, "the description's first %d registers are gdb's own, in gdb's order" % len(expected_raw))
    # gdb hides POWER's vsNh (it shows the 128-bit vsN pseudo-registers instead): they have no name to list.
    visible = [n for n in expected_raw if not re.fullmatch(r"vs\d+h", n)]
    arch_names = [r.name for r in gdb.selected_frame().architecture().registers("all")]
    check(arch_names[:len(visible)] == visible, "gdb took them as its own (its first %d registers match)" % len(visible))
    return listed


def aarch64_names(sve):
    core = ["x%d" % n for n in range(31)] + ["sp", "pc", "cpsr"]
    if sve:
        return core + ["z%d" % n for n in range(32)] + ["fpsr", "fpcr"] + ["p%d" % n for n in range(16)] + ["ffr", "vg"]
    return core + ["v%d" % n for n in range(32)] + ["fpsr", "fpcr"]


def power64_names():
    return (["r%d" % n for n in range(32)] + ["f%d" % n for n in range(32)]
            + ["pc", "msr", "cr", "lr", "ctr", "xer", "fpscr"] + ["vr%d" % n for n in range(32)] + ["vscr", "vrsave"]
            + ["vs%dh" % n for n in range(32)])

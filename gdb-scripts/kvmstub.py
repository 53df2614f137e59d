"""gdb helper for kvmstub (optional): `source gdb-scripts/kvmstub.py` adds

    info onereg [NAME...]   one line per register: its KVM ONE_REG ID split into its fields, the sync group
                            that fetches it, the ioctl that serves that group, and whether vCPU 0 holds it
                            valid or dirty right now. Without NAMEs: one register from each group.

and three convenience functions over `monitor sync-stats` (vCPU 0), for scripts and for watching costs:

    $_kvm_ioctls("KVM_GET_XSAVE")   how many of that ioctl since attach (or `monitor sync-stats reset`)
    $_kvm_valid("fpu")              1 when the register group is cached now, else 0
    $_kvm_dirty("regs")             1 when the group was written and goes back before the next KVM_RUN

For the registers gdb lists together:

    info sysregs [GROUP]    the registers kvmstub's target description puts in GROUP (default `system`: control,
                            debug and descriptor-table registers, efer, the segment bases; `msr`: every MSR the
                            kernel lists), as `info registers` prints them. gdb 13 on x86 does not use a
                            description's groups (its own rules decide), so `info registers system` prints
                            nothing and `info registers` everything else too; this reads them from the
                            description (`maint print xml-tdesc`).

and for real mode, where gdb's $pc is only the offset ip:

    info linear-pc          cs:ip, and the linear address cs_base + ip (cs * 16 + ip in real mode) with the
                            symbol there
    $_linear_pc()           that address, e.g. `x/2i $_linear_pc()`

and for code in another mode than the one gdb was told of (an x86-64 connection refuses `set architecture i8086`
or `i386`: lesson 11's application processor in its real-mode and protected-mode trampoline):

    x-as ARCH ADDR [N]      N (default 5) instructions at ADDR, read from the target, decoded by objdump as ARCH
                            (i8086, i386, x86-64), with gdb's symbols: e.g. `x-as i8086 $_linear_pc() 3`

It asks kvmstub (`monitor reginfo NAME`, see README.md "A tour") and lays the answer out as a table; nothing
here knows a register of its own. Example (after a stop, before any register was read):

    (gdb) info onereg rax cr3 efer
    reg   ONE_REG ID          arch  size  type                      index       group         vCPU 0 now
    rax   0x203000e000000000  x86   U64   0xe0 kvm_regs (private)   0x0         regs RUNTIME  valid, clean *
    cr3   0x203000e1000000f0  x86   U64   0xe1 kvm_sregs (private)  0xf0        sregs RESET   valid, clean *
    efer  0x20300002c0000080  x86   U64   0x2 MSR (kernel ID)       0xc0000080  msrs FULL     not fetched since the last run, clean
    group regs: KVM_GET_REGS / KVM_SET_REGS (struct kvm_regs)
    group sregs: KVM_GET_SREGS / KVM_SET_SREGS (struct kvm_sregs)
    group msrs: KVM_GET_ONE_REG / KVM_SET_ONE_REG (Linux 6.18+), else KVM_GET_MSRS / KVM_SET_MSRS
    * comes back in kvm_run after every KVM_RUN (KVM_CAP_SYNC_REGS): no ioctl
"""

import re

import gdb

DEFAULT_REGISTERS = ["rip", "rax", "cr3", "efer", "xmm0", "dr7", "star"]


def captured(command):
    """What `command` prints, without the "+command" lines of `set trace-commands on`."""
    text = gdb.execute(command, to_string=True)
    return "".join(line for line in text.splitlines(True) if not line.startswith("+"))

_TYPE_NAMES = {
    "regs": "kvm_regs",
    "sregs": "kvm_sregs",
    "fpu": "kvm_fpu",
    "debugregs": "kvm_debugregs",
    "xsave": "xsave area",
}


def reginfo(name):
    """`monitor reginfo NAME`, parsed into a dict; None when kvmstub does not know the register."""
    try:
        text = captured("monitor reginfo " + name)
    except gdb.error as e:
        raise gdb.GdbError("info onereg needs a kvmstub target (monitor reginfo failed: %s)" % e)
    if text.startswith("usage:") or "ONE_REG ID" not in text:
        return None
    info = {"name": name, "sync_regs": "back in kvm_run after every KVM_RUN" in text}
    patterns = {
        "id": r"^ONE_REG ID (0x[0-9a-f]+)",
        "arch": r"^\s+arch\s+\S+ \((\w+)\)",
        "size": r"^\s+size\s+(\d+) bytes",
        "type": r"^\s+type\s+(0x[0-9a-f]+) \(([^)]*)\)",
        "index": r"^\s+index\s+(0x[0-9a-f]+)",
        "group": r"^sync group (\S+) \((\w+)\), served by (.*)$",
        "now": r"^on vCPU 0 now: (.*)$",
        "regnum": r"gdb regnum (\d+), (\d+) bits",
    }
    for key, pattern in patterns.items():
        m = re.search(pattern, text, re.M)
        info[key] = m.groups() if m else None
    return info


def type_text(info):
    code, note = info["type"] or ("?", "")
    if "KVM_X86_REG_TYPE_MSR" in note:
        return "%s MSR (kernel ID)" % code
    m = re.match(r"project-private: (\w+)", note)
    if m:
        return "%s %s (private)" % (code, _TYPE_NAMES.get(m.group(1), m.group(1)))
    return code


class InfoOneReg(gdb.Command):
    """Show how kvmstub serves registers: ONE_REG ID fields, sync group, ioctl, valid/dirty now.

Usage: info onereg [NAME...]
Without NAMEs, one register from each sync group (rip rax cr3 efer xmm0 dr7 star).
Needs kvmstub's `monitor reginfo`; see gdb-scripts/kvmstub.py."""

    def __init__(self):
        super().__init__("info onereg", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        names = gdb.string_to_argv(arg) or DEFAULT_REGISTERS
        rows, served, unknown, sync_note = [], {}, [], False
        for name in names:
            info = reginfo(name.lstrip("$"))
            if info is None:
                unknown.append(name)
                continue
            group, level, served_by = info["group"] or ("?", "?", "?")
            served[group] = served_by
            mark = " *" if info["sync_regs"] else ""
            sync_note |= info["sync_regs"]
            rows.append(
                [
                    info["name"],
                    info["id"][0] if info["id"] else "?",
                    info["arch"][0] if info["arch"] else "?",
                    "U%d" % (8 * int(info["size"][0])) if info["size"] else "?",
                    type_text(info),
                    info["index"][0] if info["index"] else "?",
                    "%s %s" % (group, level),
                    (info["now"][0] if info["now"] else "?") + mark,
                ]
            )
        if rows:
            header = ["reg", "ONE_REG ID", "arch", "size", "type", "index", "group", "vCPU 0 now"]
            widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
            for r in [header] + rows:
                line = "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths[:-1])) + "  " + r[-1]
                gdb.write(line.rstrip() + "\n")
            for group, served_by in served.items():
                gdb.write("group %s: %s\n" % (group, served_by))
            if sync_note:
                gdb.write("* comes back in kvm_run after every KVM_RUN (KVM_CAP_SYNC_REGS): no ioctl\n")
        for name in unknown:
            gdb.write("%s: kvmstub has no such register\n" % name)


def sync_stats():
    """vCPU 0's part of `monitor sync-stats`: ({ioctl: count}, valid groups, dirty groups)."""
    text = captured("monitor sync-stats")
    counts, valid, dirty = {}, set(), set()
    for line in text.splitlines():
        m = re.match(r"vCPU (\d+): valid=(\S+) dirty=(\S+)", line)
        if m:
            if m.group(1) != "0":
                break
            valid = set(m.group(2).split("|")) - {"-"}
            dirty = set(m.group(3).split("|")) - {"-"}
            continue
        m = re.match(r"\s+(KVM_\w+) (\d+)$", line)
        if m:
            counts[m.group(1)] = int(m.group(2))
    return counts, valid, dirty


class KVMIoctls(gdb.Function):
    """$_kvm_ioctls("KVM_GET_XSAVE"): how many times vCPU 0 made that ioctl since attach or the last reset."""

    def __init__(self):
        super().__init__("_kvm_ioctls")

    def invoke(self, name):
        return sync_stats()[0].get(name.string(), 0)


class KVMGroupState(gdb.Function):
    """$_kvm_valid("GROUP") / $_kvm_dirty("GROUP"): 1 or 0, for vCPU 0's register file now."""

    def __init__(self, which):
        super().__init__("_kvm_" + which)
        self.which = which

    def invoke(self, group):
        _, valid, dirty = sync_stats()
        return 1 if group.string() in (valid if self.which == "valid" else dirty) else 0


InfoOneReg()
KVMIoctls()
KVMGroupState("valid")
KVMGroupState("dirty")


def described_groups():
    """{group: [register names]} from the target description's `group=` attributes, in description order."""
    xml = captured("maint print xml-tdesc")
    groups = {}
    for m in re.finditer(r'<reg name="([^"]+)"[^>]*?\bgroup="([^"]+)"', xml):
        groups.setdefault(m.group(2), []).append(m.group(1))
    return groups


class InfoSysregs(gdb.Command):
    """Show the registers kvmstub's target description puts in a group (default: system).

Usage: info sysregs [GROUP]
GROUP is a group= of the description: system (control, debug and descriptor-table registers, efer, segment
bases), msr (every MSR the kernel lists), float, vector. gdb 13 on x86 does not honour a description's groups,
so `info registers system` prints nothing; this command reads them from `maint print xml-tdesc`."""

    def __init__(self):
        super().__init__("info sysregs", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        group = arg.strip() or "system"
        groups = described_groups()
        names = groups.get(group)
        if not names:
            raise gdb.GdbError(
                "no register of the target description is in group %s (groups: %s)" % (group, " ".join(sorted(groups)) or "none")
            )
        gdb.execute("info registers " + " ".join(names))


def linear_pc():
    """(cs, ip, linear address): cs_base + ip where the description has cs_base, else cs * 16 + ip."""
    frame = gdb.selected_frame()
    cs = int(frame.read_register("cs")) & 0xFFFF
    ip = int(frame.read_register("pc"))
    try:
        base = int(frame.read_register("cs_base"))
    except ValueError:
        base = cs * 16
    return cs, ip, base + ip


class InfoLinearPC(gdb.Command):
    """Show cs:ip and the linear address the CPU fetches from (cs_base + ip; cs * 16 + ip in real mode).

Usage: info linear-pc
gdb's $pc is the offset alone (ip): in real mode with cs not 0, `x/i $pc` reads the wrong place. The linear
address with the symbol there is where the code is; `x/i $_linear_pc()` disassembles it."""

    def __init__(self):
        super().__init__("info linear-pc", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        cs, ip, linear = linear_pc()
        gdb.write("cs:ip = %04x:%04x, linear %s\n" % (cs, ip, gdb.format_address(linear)))


class LinearPC(gdb.Function):
    """$_linear_pc(): the linear address of the current instruction (cs_base + ip; cs * 16 + ip in real mode)."""

    def __init__(self):
        super().__init__("_linear_pc")

    def invoke(self):
        return linear_pc()[2]


class ExamineAs(gdb.Command):
    """Disassemble target memory as another architecture than the connection's.

Usage: x-as ARCH ADDR [N]     ARCH: i8086, i386 or x86-64 (objdump's -m i8086, i386, i386:x86-64)
gdb 13 will not `set architecture i8086` (or i386) when the target description is x86-64, as it is for a
guest whose other CPUs run in long mode. This reads N*15 bytes at ADDR (the selected thread's view, as `x`
reads), has objdump decode them in that mode and prints the first N instructions with gdb's symbol for each."""

    MACHINES = {"i8086": "i8086", "i386": "i386", "x86-64": "i386:x86-64", "i386:x86-64": "i386:x86-64"}

    def __init__(self):
        super().__init__("x-as", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        import subprocess
        import tempfile

        words = gdb.string_to_argv(arg)
        if len(words) not in (2, 3) or words[0] not in self.MACHINES:
            raise gdb.GdbError("usage: x-as i8086|i386|x86-64 ADDR [N]")
        address = int(gdb.parse_and_eval(words[1])) & 0xFFFFFFFFFFFFFFFF
        count = int(gdb.parse_and_eval(words[2])) if len(words) == 3 else 5
        data = bytes(gdb.selected_inferior().read_memory(address, 15 * count))
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(data)
            f.flush()
            out = subprocess.run(
                ["objdump", "-D", "-b", "binary", "-m", self.MACHINES[words[0]], "--adjust-vma=0x%x" % address,
                 f.name], capture_output=True, text=True, check=True).stdout
        shown = 0
        for line in out.splitlines():
            m = re.match(r"^\s*([0-9a-f]+):\t(?:[0-9a-f]{2} )+\s*\t(.*)$", line)
            if not m or shown == count:
                continue
            at = int(m.group(1), 16)
            gdb.write("   %s:\t%s\n" % (gdb.format_address(at), " ".join(m.group(2).split())))
            shown += 1


InfoSysregs()
InfoLinearPC()
LinearPC()
ExamineAs()

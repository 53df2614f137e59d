#!/usr/bin/env python3
"""Print a System.map (address, type, name) decoded from the kallsyms tables inside a vmlinux ELF.

Debian ships /boot/System.map-* as a one-line stub ("The real System.map is in the linux-image-<version>-dbg
package") and strips vmlinux, but a CONFIG_KALLSYMS kernel carries its own compressed symbol table in .rodata
(scripts/kallsyms.c, Linux 6.1 layout: kallsyms_offsets, _relative_base, _num_syms, _names, _markers,
_token_table, _token_index, each 8-byte aligned; base-relative offsets with absolute per-CPU symbols).
Usage: kallsyms.py VMLINUX [NAME...]  (with names: only those, "ADDR NAME" per line)."""
import struct, sys

def segments(elf):
    phoff, = struct.unpack_from('<Q', elf, 32)
    phentsize, phnum = struct.unpack_from('<HH', elf, 54)
    for i in range(phnum):
        t, _, off, vaddr, _, filesz = struct.unpack_from('<IIQQQQ', elf, phoff + i * phentsize)
        if t == 1:
            yield off, vaddr, filesz

def decode(elf):
    digits = b''.join(bytes([c]) + b'\0' for c in b'0123456789')
    pos = elf.find(digits)
    while pos >= 0:
        # token_table[ord('0')] is "0": walk back 48 NUL-terminated tokens to the table's start.
        start = pos
        for _ in range(ord('0')):
            start = elf.rfind(b'\0', 0, start - 1) + 1
        table = []
        p = start
        for _ in range(256):
            e = elf.index(b'\0', p)
            table.append(elf[p:e])
            p = e + 1
        idx = (p + 7) & ~7
        index = struct.unpack_from('<256H', elf, idx)
        if index[0] == 0 and all(start + index[i] < p for i in range(256)) and \
                elf[start + index[ord('0')]:start + index[ord('0')] + 2] == b'0\0':
            return table, start
        pos = elf.find(digits, pos + 1)
    raise SystemExit('no kallsyms token table found (CONFIG_KALLSYMS off?)')

def symbols(elf):
    table, token_start = decode(elf)
    # kallsyms_markers: u32 offsets into kallsyms_names every 256 symbols, markers[0] == 0, somewhere below the
    # token table (6.2+ and some 6.1 stable kernels put kallsyms_seqs_of_names in between).
    m = token_start & ~3
    while m > token_start - 0x1000000:
        m -= 4
        v = struct.unpack_from('<4I', elf, m)
        if v[0] == 0 and all(0 < v[i + 1] - v[i] < 0x10000 and v[i + 1] - v[i] > 256 for i in range(3)):
            break
    else:
        raise SystemExit('no kallsyms_markers found')
    markers = 1
    while True:
        a, b = struct.unpack_from('<2I', elf, m + 4 * (markers - 1))
        if not 256 < b - a < 0x10000:
            break
        markers += 1
    # kallsyms_num_syms sits just before kallsyms_names; find it by trying aligned places below the markers.
    for names in range(m & ~7, m - 0x4000000, -8):
        n, = struct.unpack_from('<Q', elf, names - 8)
        if n == 0 or abs((n + 255) // 256 - markers) > 1:
            continue
        out, p = [], names
        try:
            for _ in range(n):
                ln = elf[p]; p += 1
                if ln & 0x80:
                    ln = (ln & 0x7f) | (elf[p] << 7); p += 1
                out.append(b''.join(table[b] for b in elf[p:p + ln])); p += ln
        except IndexError:
            continue
        if not (m - 8 <= p <= m):
            continue
        base, = struct.unpack_from('<Q', elf, names - 16)
        offsets = struct.unpack_from('<%di' % n, elf, names - 16 - ((4 * n + 7) & ~7))
        result = []
        for off, name in zip(offsets, out):
            addr = off if off >= 0 else (base - 1 - off) & 0xffffffffffffffff
            result.append((addr, chr(name[0]), name[1:].decode()))
        return result
    raise SystemExit('no kallsyms_num_syms found')

if __name__ == '__main__':
    elf = open(sys.argv[1], 'rb').read()
    syms = symbols(elf)
    want = set(sys.argv[2:])
    for addr, t, name in syms:
        if not want:
            print('%016x %s %s' % (addr, t, name))
        elif name in want:
            print('%016x %s' % (addr, name))

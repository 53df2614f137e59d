#!/usr/bin/env python3
"""Write a copy of a stripped vmlinux with a symbol table rebuilt from its own kallsyms (scripts/kallsyms.py), so
a debugger that reads only ELF symbols (lldb) knows the kernel's functions and data. Every symbol is made
relative to the section holding it (objcopy --add-symbol NAME=SECTION:OFFSET): a debugger that slides the
image (qOffsets, a KASLR slide) slides them with it, which it would not do for absolute symbols. Per-CPU and
other absolute symbols are left out.

Usage: vmlinux-symbols.py VMLINUX OUT"""
import os, struct, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))


def sections(elf):
    shoff, = struct.unpack_from('<Q', elf, 40)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', elf, 58)
    headers = [struct.unpack_from('<IIQQQQ', elf, shoff + i * shentsize) for i in range(shnum)]
    names_offset = headers[shstrndx][4]
    for name, kind, flags, addr, off, size in headers:
        if flags & 2 and addr and size:  # SHF_ALLOC, at a kernel address
            end = elf.index(b'\0', names_offset + name)
            yield elf[names_offset + name:end].decode(), addr, size


def main(vmlinux, out):
    elf = open(vmlinux, 'rb').read()
    spans = sorted(sections(elf), key=lambda s: s[1])
    system_map = subprocess.run([sys.executable, os.path.join(here, 'kallsyms.py'), vmlinux], check=True,
                                capture_output=True, text=True).stdout
    options = []
    for line in system_map.splitlines():
        address, kind, name = line.split(' ', 2)
        address = int(address, 16)
        if kind in 'aA' or any(c in name for c in ' =,\'"\\'):
            continue
        for section, start, size in spans:
            if start <= address < start + size:
                binding = 'global' if kind.isupper() else 'local'
                what = 'function' if kind in 'tTwW' else 'object'
                options.append('--add-symbol %s=%s:0x%x,%s,%s' % (name, section, address - start, binding, what))
                break
    with tempfile.NamedTemporaryFile('w', suffix='.objcopy', delete=False) as f:
        f.write('\n'.join(options) + '\n')
    try:
        subprocess.run(['objcopy', '@' + f.name, vmlinux, out], check=True)
    finally:
        os.unlink(f.name)
    print('%s: %d symbols from kallsyms' % (out, len(options)))


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__.splitlines()[-1])
    main(sys.argv[1], sys.argv[2])

#!/usr/bin/env bash
# extract-vmlinux.sh BZIMAGE OUT: write the ELF vmlinux inside a bzImage (what `kvmstub run --kernel` boots
# through the PVH entry, skipping the decompressor). Like the kernel's scripts/extract-vmlinux, but it reads the
# setup header's payload_offset/payload_length instead of searching for magic numbers, then decompresses with
# the matching tool (gzip, xz, zstd, lz4 — Debian's kernels are LZ4; lzma/bzip2/lzo too when installed).
set -euo pipefail
in=${1:?usage: extract-vmlinux.sh BZIMAGE OUT}
out=${2:?usage: extract-vmlinux.sh BZIMAGE OUT}
read -r setup_sects offset length < <(python3 - "$in" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read(0x1000)
if b[0x202:0x206] != b'HdrS':
    sys.exit(sys.argv[1] + ': not a bzImage (no HdrS setup header)')
print(b[0x1f1] or 4, *struct.unpack_from('<II', b, 0x248))
PY
)
start=$(( (setup_sects + 1) * 512 + offset ))
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
dd if="$in" of="$tmp" bs=64K skip="$start" count="$length" iflag=skip_bytes,count_bytes status=none
magic=$(head -c 6 "$tmp" | od -An -tx1 | tr -d ' \n')
case $magic in
    1f8b*) gzip -dc <"$tmp" >"$out" 2>/dev/null || true ;;
    fd377a585a00) xz -dc <"$tmp" >"$out" 2>/dev/null || true ;;
    28b52ffd*) zstd -dc <"$tmp" >"$out" 2>/dev/null || true ;;
    02214c18*) lz4 -dc <"$tmp" >"$out" 2>/dev/null || true ;;  # legacy frames; the trailing size word upsets lz4
    5d0000*) xz --format=lzma -dc <"$tmp" >"$out" 2>/dev/null || true ;;
    425a68*) bzip2 -dc <"$tmp" >"$out" 2>/dev/null || true ;;
    894c5a*) lzop -dc <"$tmp" >"$out" 2>/dev/null || true ;;
    *) echo "$in: unknown payload compression (magic $magic)" >&2; exit 1 ;;
esac
[ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || { echo "$in: the payload did not decompress to an ELF file" >&2; exit 1; }

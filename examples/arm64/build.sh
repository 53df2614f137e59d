#!/usr/bin/env bash
# Builds the arm64 example guests: examples/arm64/<name>/ (main.c and any *.S beside it), linked with
# examples/arm64/lib/ by examples/arm64/guest.ld, into examples/build/arm64/<name>.elf (ELF64 AArch64 at
# 0x40000000, what `kvmstub run` loads on arm64 and what `qemu-system-aarch64 -M virt -kernel` loads too).
#
#   examples/arm64/build.sh          # rebuilds only what changed; installs gcc-aarch64-linux-gnu when missing
#   FORCE=1 examples/arm64/build.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(cd "$here/.." && pwd)/build/arm64
cc=${CC_ARM64:-aarch64-linux-gnu-gcc}
if ! command -v "$cc" >/dev/null; then
    [ "$(id -u)" = 0 ] && sudo= || sudo=sudo
    echo "examples/arm64/build.sh: installing gcc-aarch64-linux-gnu" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -o DPkg::Lock::Timeout=600 -y -qq gcc-aarch64-linux-gnu >/dev/null
fi

# -mgeneral-regs-only: C never uses FP/SIMD/SVE registers (CPACR_EL1 traps them at reset; the sve guest's
#   assembly enables and owns them). -mstrict-align: with the MMU off every data access is Device memory,
#   where an unaligned access faults. -O1: variables stay visible to gdb, functions keep real frames.
cflags=(
    -g -O1 -ffreestanding -fno-pic -fno-pie -no-pie -static -nostdlib
    -fno-stack-protector -mgeneral-regs-only -mstrict-align
    -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns
    -march=armv8-a+sve
    -Wall -Wextra -I "$here/lib"
)
ldflags=(-T "$here/guest.ld" -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,max-page-size=4096)
mkdir -p "$out"
shopt -s nullglob
for dir in "$here"/*/; do
    dir=${dir%/}
    name=$(basename "$dir")
    [ -f "$dir/main.c" ] || continue
    elf=$out/$name.elf
    if [ -z "${FORCE:-}" ] && [ -f "$elf" ] &&
        [ -z "$(find "$here/lib" "$here/guest.ld" "$here/build.sh" "$dir" -newer "$elf" -print -quit)" ]; then
        continue
    fi
    tmp=$elf.tmp.$$
    "$cc" "${cflags[@]}" "${ldflags[@]}" -o "$tmp" "$here/lib/start.S" "$here/lib/vectors.S" "$here/lib/guest.c" "$dir"/*.S "$dir/main.c" 2>&1 |
        grep -v 'has a LOAD segment with RWX' >&2 || true
    [ -f "$tmp" ] || { echo "examples/arm64/build.sh: $name failed" >&2; exit 1; }
    mv -f "$tmp" "$elf"
    echo "built $elf"
done

#!/usr/bin/env bash
# Builds every example guest into examples/build/<name>.elf (and <name>.bin for a real-mode boot.S).
#
#   examples/build.sh            # from any directory; rebuilds only what changed
#   CC=x86_64-linux-gnu-gcc examples/build.sh
#   FORCE=1 examples/build.sh    # rebuild everything
#
# A guest is any directory examples/<name>/ with a main.c. Each is linked
# together with examples/lib/ (start.S, guest.c) using examples/guest.ld.
# Extra variants: faults-mode<N>.elf = faults with `mode` preset to N.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/build"
cc="${CC:-gcc}"

# -ffreestanding/-nostdlib/-static/-no-pie/-fno-pic: bare-metal image, no libc,
#   no PT_INTERP/PT_DYNAMIC, absolute addresses.
# -mgeneral-regs-only: no SSE/x87 (KVM's emulator can't run SSE arithmetic).
# -mno-red-zone, -fno-stack-protector, -fcf-protection=none: no red zone, no
#   TLS canary (there is no %fs), no endbr64.
# -fno-asynchronous-unwind-tables: no .eh_frame; -g still emits .debug_frame.
# -fno-tree-loop-distribute-patterns: keeps gcc from turning the byte loops in
#   lib/guest.c's memset/memcpy into calls to memset/memcpy (themselves).
# -O1: variables stay visible to gdb, functions keep real frames.
cflags=(
    -g -O1 -ffreestanding -fno-pic -fno-pie -no-pie -static -nostdlib
    -fno-stack-protector -mno-red-zone -mgeneral-regs-only
    -fno-asynchronous-unwind-tables -fcf-protection=none
    -fno-tree-loop-distribute-patterns
    -Wall -Wextra
    -I "$here/lib"
)
# --build-id=none: no .note section; -z noexecstack: no "missing .note.GNU-stack"
# warning; -z max-page-size=4096: segments aligned to 4 KiB, not 2 MiB.
ldflags=(
    -T "$here/guest.ld"
    -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,max-page-size=4096
)
lib_srcs=("$here/lib/start.S" "$here/lib/guest.c")
common_deps=("$here/lib"/* "$here/guest.ld" "$here/build.sh")

mkdir -p "$out"

# build <name> <dir> [extra cflags...]
build() {
    local name="$1" dir="$2"
    shift 2
    local elf="$out/$name.elf"
    if [[ -z "${FORCE:-}" && -f "$elf" ]]; then
        local newer
        newer="$(find "${common_deps[@]}" "$dir" -newer "$elf" -print -quit)"
        if [[ -z "$newer" ]]; then
            return 0
        fi
    fi
    # Link to a temporary name and rename: concurrent callers (parallel test
    # runs) never see a half-written ELF.
    local tmp="$elf.tmp.$$"
    # A guest with its own trampoline.S starts its application processors itself (INIT/SIPI, lesson 11): the
    # trampoline is linked in with the guest's own guest.ld (which places it), and lib/start.S leaves out
    # `ap_start`, so kvmstub leaves vCPUs 1… waiting for the guest's SIPI.
    local srcs=("${lib_srcs[@]}" "$dir/main.c") own=("${ldflags[@]}")
    if [[ -f "$dir/trampoline.S" ]]; then
        srcs+=("$dir/trampoline.S")
        own=(-T "$dir/guest.ld" "${ldflags[@]:2}" -Wl,--no-warn-rwx-segments -DGUEST_STARTS_APS)
    fi
    "$cc" "${cflags[@]}" "$@" "${own[@]}" -o "$tmp" "${srcs[@]}"
    mv -f "$tmp" "$elf"
    echo "built $elf"
}

for dir in "$here"/*/; do
    dir="${dir%/}"
    name="$(basename "$dir")"
    [[ -f "$dir/main.c" ]] || continue
    build "$name" "$dir"
done

for mode in 0 1 2 3 4; do
    build "faults-mode$mode" "$here/faults" "-DFAULTS_MODE=$mode"
done

# A real-mode guest is examples/<name>/boot.S instead of main.c (the lessons): `kvmstub run --real-mode`
# loads the raw bytes, <name>.bin, at 0x7c00; gdb reads the symbols from <name>.elf, linked at 0x7c00. The
# ELF is 32-bit, so that gdb accepts kvmstub's i8086 register description, or 64-bit when the code reaches
# long mode (`.code64`: gdb then gets x86-64 registers, kvmstub run --gdb-arch x86-64).
build_raw() {
    local name="$1" dir="$2"
    local elf="$out/$name.elf" bin="$out/$name.bin"
    if [[ -z "${FORCE:-}" && -f "$bin" && -f "$elf" ]]; then
        if [[ -z "$(find "$dir" "$here/build.sh" -newer "$bin" -print -quit)" ]]; then return 0; fi
    fi
    local bits=(-m32) emulation=elf_i386
    if grep -q '^[[:space:]]*\.code64' "$dir/boot.S"; then bits=(-m64) emulation=elf_x86_64; fi
    local tmp="$out/$name.tmp.$$"
    "$cc" "${bits[@]}" -g -c -o "$tmp.o" "$dir/boot.S"
    "$cc" "${bits[@]}" -nostdlib -static -no-pie -Wl,-m,"$emulation" -Wl,-Ttext=0x7c00 -Wl,-e,_start \
        -Wl,--build-id=none -Wl,-z,noexecstack -o "$tmp.elf" "$tmp.o"
    objcopy -O binary "$tmp.elf" "$tmp.bin"
    rm -f "$tmp.o"
    mv -f "$tmp.elf" "$elf"
    mv -f "$tmp.bin" "$bin"
    echo "built $bin"
}

for dir in "$here"/*/; do
    dir="${dir%/}"
    if [[ -f "$dir/boot.S" ]]; then build_raw "$(basename "$dir")" "$dir"; fi
done

# Lesson 10: a disk, not an image. lesson-10-boot-disk/boot.S is built above (its .bin is sector 0);
# kernel.c is a 32-bit kernel (-O0) linked at 1 MiB (lesson-10-boot-disk-kernel.elf, with symbols, for gdb). The disk
# lesson-10-boot-disk.img (256 sectors): sector 0 the boot sector, sectors 1..64 the kernel's ELF file without its
# debug info (boot.S reads 64 sectors), zeroes after; the last sector is the kernel's record block, empty here.
build_disk() {
    local dir="$here/lesson-10-boot-disk" name=lesson-10-boot-disk
    local kernel="$out/$name-kernel.elf" img="$out/$name.img"
    if [[ -z "${FORCE:-}" && -f "$img" && -f "$kernel" ]]; then
        if [[ -z "$(find "$dir" "$here/build.sh" "$out/$name.bin" -newer "$img" -print -quit)" ]]; then return 0; fi
    fi
    local tmp="$out/$name.tmp.$$"
    # -O0: every local lives in the stack frame, so `info locals` shows them all (-O1 keeps few of them).
    "$cc" -m32 "${cflags[@]}" -O0 -T "$dir/kernel.ld" -Wl,-m,elf_i386 -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments \
        -Wl,-z,max-page-size=4096 -o "$tmp-kernel.elf" "$dir/kernel.c"
    objcopy --strip-all "$tmp-kernel.elf" "$tmp-kernel.bin"
    local size
    size=$(stat -c %s "$tmp-kernel.bin")
    if [ "$size" -gt $((64 * 512)) ]; then
        echo "build.sh: $name's kernel is $size bytes: boot.S reads 64 sectors (32768 bytes)" >&2
        rm -f "$tmp"*
        return 1
    fi
    [ "$(stat -c %s "$out/$name.bin")" = 512 ] || { echo "build.sh: $name.bin is not one sector" >&2; return 1; }
    truncate -s $((256 * 512)) "$tmp.img"
    dd if="$out/$name.bin" of="$tmp.img" conv=notrunc status=none
    dd if="$tmp-kernel.bin" of="$tmp.img" bs=512 seek=1 conv=notrunc status=none
    rm -f "$tmp-kernel.bin"
    mv -f "$tmp-kernel.elf" "$kernel"
    mv -f "$tmp.img" "$img"
    echo "built $img"
}
build_disk

#!/usr/bin/env bash
# What a kernel developer's gdb session needs for Debian's cloud kernel, built once and cached OUTSIDE the
# checkout in $KVMSTUB_CACHE/kernel-gdb/ABI/ (default /var/cache/kvmstub/kernel-gdb/ABI), rebuilt when missing:
#
#   vmlinux             the kernel with its debug info, from linux-image-ABI-dbg (only this file is unpacked;
#                       the package is ~280 MB, the vmlinux ~590 MB), with a .gdb_index added so gdb loads it
#                       in seconds instead of reading all of its DWARF
#   modules/NAME.ko     the modules in $KERNEL_GDB_MODULES (default: dummy) with their debug info, from the same
#                       package, for lx-symbols
#   gdb/vmlinux-gdb.py  the kernel's own gdb helpers (lx-dmesg, lx-ps, lx-symbols, $lx_current, ...), built with
#                       `make scripts_gdb` from linux-source-VERSION on Debian's config (/boot/config-ABI);
#                       gdb/scripts/gdb/linux/ holds the package, constants.py generated from that config
#   initramfs.cpio      busybox-static, /init (rig/kernel-init.sh) and the same modules as Debian ships them
#                       (/lib/modules/ABI), for `kvmstub run --kernel ... --initrd`
#   bzImage             a copy of /boot/vmlinuz-ABI, the image as shipped
#   vmlinux.pvh         the ELF vmlinux inside it (scripts/extract-vmlinux.sh), for a PVH boot
#
# usage: scripts/kernel-gdb.sh [ABI]    prints the directory on its last line (ABI default: the newest
#                                       /boot/vmlinuz-*-cloud-amd64, e.g. 6.1.0-57-cloud-amd64)
# The packages come with `apt-get download` (the system's apt sources; nothing is installed but the tools the
# build needs: flex, bison, bc, xz-utils, busybox-static, cpio, gdb).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${KVMSTUB_CACHE:-/var/cache/kvmstub}
abi=${1:-$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1 | sed 's|.*/vmlinuz-||')}
[ -n "$abi" ] || { echo "kernel-gdb: no /boot/vmlinuz-*-cloud-amd64 (apt-get install linux-image-cloud-amd64)" >&2; exit 1; }
dir=$cache/kernel-gdb/$abi
modules=${KERNEL_GDB_MODULES:-dummy}
log() { echo "kernel-gdb: $*" >&2; }
die() { echo "kernel-gdb: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] && sudo= || sudo=sudo

need=()
for p in flex bison bc make gcc xz-utils busybox-static cpio gdb python3; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -o DPkg::Lock::Timeout=600 -y -qq "${need[@]}" >/dev/null ||
        die "apt-get install ${need[*]}"
fi
mkdir -p "$dir/dl"
exec 9>"$dir/.lock"
flock 9

# The installed image's package version (6.1.192-3): the -dbg package and the source must be the same.
version=$(dpkg-query -W -f '${Version}' "linux-image-$abi" 2>/dev/null || true)
[ -n "$version" ] || die "linux-image-$abi is not installed (its version names the -dbg package and the source)"
download() {  # download PACKAGE=VERSION: into $dir/dl, once
    local pkg=${1%%=*}
    ls "$dir/dl/${pkg}_"*.deb >/dev/null 2>&1 && return 0
    log "downloading $1"
    (cd "$dir/dl" && apt-get download -qq "$1" >/dev/null 2>"$dir/dl/$pkg.log") ||
        { $sudo apt-get update -qq && (cd "$dir/dl" && apt-get download -qq "$1" >/dev/null 2>"$dir/dl/$pkg.log"); } ||
        die "apt-get download $1: see $dir/dl/$pkg.log"
}

# The -dbg vmlinux and modules: only those members of the package's data archive.
dbg_members=("./usr/lib/debug/boot/vmlinux-$abi")
for m in $modules; do
    rel=$(grep -oE "^[^:]*/(${m}|${m//_/-})\.ko:" "/lib/modules/$abi/modules.dep" | head -1 | tr -d :) ||
        die "module $m is not in /lib/modules/$abi/modules.dep"
    [ -e "$dir/modules/$m.ko" ] || dbg_members+=("./usr/lib/debug/lib/modules/$abi/$rel")
done
if [ ! -e "$dir/vmlinux" ] || [ ${#dbg_members[@]} -gt 1 ]; then
    download "linux-image-$abi-dbg=$version"
    log "unpacking ${dbg_members[*]##*/} from $(basename "$dir"/dl/linux-image-"$abi"-dbg_*.deb)"
    t0=$SECONDS
    rm -rf "$dir/dbg.tmp" && mkdir -p "$dir/dbg.tmp" "$dir/modules"
    dpkg-deb --fsys-tarfile "$dir"/dl/linux-image-"$abi"-dbg_*.deb | nice -n 10 tar -x -C "$dir/dbg.tmp" "${dbg_members[@]}" ||
        die "unpacking the -dbg package"
    for m in $modules; do
        f=$(find "$dir/dbg.tmp" -name "$m.ko" -o -name "${m//_/-}.ko" | head -1)
        [ -z "$f" ] || mv "$f" "$dir/modules/$m.ko"
    done
    if [ ! -e "$dir/vmlinux" ]; then
        # A .gdb_index: gdb otherwise reads the DWARF of all 590 MB on every load.
        log "adding a .gdb_index to vmlinux (once)"
        nice -n 10 gdb-add-index "$dir/dbg.tmp/usr/lib/debug/boot/vmlinux-$abi" >"$dir/gdb-add-index.log" 2>&1 ||
            log "gdb-add-index failed (see $dir/gdb-add-index.log): gdb will read the DWARF on every load"
        mv "$dir/dbg.tmp/usr/lib/debug/boot/vmlinux-$abi" "$dir/vmlinux"
    fi
    rm -rf "$dir/dbg.tmp"
    log "unpacked in $((SECONDS - t0)) s"
fi
for m in $modules; do [ -e "$dir/modules/$m.ko" ] || die "no $m.ko with debug info in the -dbg package"; done

# vmlinux-gdb.py: `make scripts_gdb` in Debian's source tree of the same version, on Debian's config.
if [ ! -e "$dir/gdb/vmlinux-gdb.py" ]; then
    mm=$(echo "$version" | cut -d. -f1,2)
    download "linux-source-$mm=$version"
    src_pkg=$(ls "$dir"/dl/linux-source-*.deb | head -1)
    [ -n "$src_pkg" ] || die "no linux-source package"
    t0=$SECONDS
    work=$dir/src.tmp
    rm -rf "$work" && mkdir -p "$work"
    log "unpacking $(basename "$src_pkg")"
    dpkg-deb --fsys-tarfile "$src_pkg" | tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
        nice -n 10 xz -dc | tar -x -C "$work" || die "unpacking the kernel source"
    tree=$(ls -d "$work"/linux-source-*)
    cp "/boot/config-$abi" "$tree/.config"
    log "make olddefconfig scripts_gdb in $tree"
    (cd "$tree" && nice -n 10 make -s olddefconfig >"$dir/scripts_gdb.log" 2>&1 &&
        nice -n 10 make -s -j"$(nproc)" scripts_gdb >>"$dir/scripts_gdb.log" 2>&1) ||
        die "make scripts_gdb: see $dir/scripts_gdb.log"
    [ -e "$tree/scripts/gdb/linux/constants.py" ] || die "make scripts_gdb made no constants.py: see $dir/scripts_gdb.log"
    rm -rf "$dir/gdb.tmp" && mkdir -p "$dir/gdb.tmp/scripts/gdb"
    cp -L "$tree/vmlinux-gdb.py" "$dir/gdb.tmp/vmlinux-gdb.py"
    cp -r "$tree/scripts/gdb/linux" "$dir/gdb.tmp/scripts/gdb/linux"
    echo "$version" >"$dir/gdb.tmp/VERSION"
    rm -rf "$dir/gdb" && mv "$dir/gdb.tmp" "$dir/gdb"
    rm -rf "$work"
    log "vmlinux-gdb.py built in $((SECONDS - t0)) s"
fi

# The L2 initramfs: busybox-static, our /init, the modules as Debian ships them. Rebuilt when its inputs change.
stamp=$(cat "$root/rig/kernel-init.sh" /bin/busybox | md5sum | cut -c1-12)-$(echo "$modules" | md5sum | cut -c1-8)
if [ "$(cat "$dir/initramfs.stamp" 2>/dev/null)" != "$stamp" ]; then
    t=$(mktemp -d)
    mkdir -p "$t"/{bin,dev,proc,sys,tmp,lib/modules}
    cp /bin/busybox "$t/bin/busybox"
    install -m 0755 "$root/rig/kernel-init.sh" "$t/init"
    for m in $modules; do
        rel=$(grep -oE "^[^:]*/(${m}|${m//_/-})\.ko:" "/lib/modules/$abi/modules.dep" | head -1 | tr -d :)
        deps=$(grep -m1 "^$rel:" "/lib/modules/$abi/modules.dep" | cut -d: -f2)
        [ -z "$deps" ] || die "module $m needs $deps: kernel-init.sh inserts single modules only"
        cp "/lib/modules/$abi/$rel" "$t/lib/modules/$m.ko"
    done
    (cd "$t" && find . | cpio -o -H newc --quiet) >"$dir/initramfs.cpio" || die "cpio"
    rm -rf "$t"
    echo "$stamp" >"$dir/initramfs.stamp"
fi
cp -u "/boot/vmlinuz-$abi" "$dir/bzImage"
# The ELF inside the bzImage (no debug info), for a PVH boot: `kvmstub run --kernel vmlinux.pvh`.
[ -e "$dir/vmlinux.pvh" ] || bash "$root/scripts/extract-vmlinux.sh" "$dir/bzImage" "$dir/vmlinux.pvh" >&2 ||
    die "extracting the ELF vmlinux from $dir/bzImage"
echo "$dir"

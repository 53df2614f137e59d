#!/usr/bin/env bash
# Builds kvmstub for arm64 on this x86-64 host, from this checkout's sources: Debian trixie's Swift (6.0.3)
# in an arm64 root (scripts/arm64-root.sh, cached in /var/cache/kvmstub/arm64-root) run under qemu-user-static.
# Leaves .build-arm64/kvmstub and, in .build-arm64/lib/, the shared libraries it needs beyond glibc (the Swift
# runtime, libstdc++, libgcc_s); glibc itself is the arm64 root's (rig/arm64.sh copies it into its guest).
#
# usage: scripts/build-arm64.sh [-c debug|release]      (release by default)
# env:   KVMSTUB_CACHE (default /var/cache/kvmstub): the root and the build's scratch directory live there, so a
#        second build is incremental; KVMSTUB_ARM64_ROOT overrides the root's path.
# A clean release build takes about 5 minutes of both cores here (every compiler process is emulated).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
config=release
[ "${1:-}" = -c ] && { config=$2; shift 2; }
case "$config" in debug | release) ;; *) echo "build-arm64: -c debug or -c release" >&2; exit 1 ;; esac
[ "$(id -u)" = 0 ] || { echo "build-arm64: needs root (chroot, mounts, binfmt_misc)" >&2; exit 1; }
cache=${KVMSTUB_CACHE:-/var/cache/kvmstub}
root=$(bash "$top/scripts/arm64-root.sh")
scratch=$cache/arm64-build
out=$top/.build-arm64
mkdir -p "$scratch" "$out"

# One build at a time uses the shared scratch directory (worktrees of one machine build in turn).
exec 9>"$cache/arm64-build.lock"
flock 9

start=$(date +%s)
# A private mount namespace: the checkout at /src, the scratch directory at /build, /proc, /dev and a /tmp inside
# the root; all gone when the build ends, whatever happens.
unshare --mount --propagation private bash -euo pipefail -c '
    root=$1 src=$2 scratch=$3 config=$4
    mkdir -p "$root/src" "$root/build"
    mount --bind "$src" "$root/src"
    mount --bind "$scratch" "$root/build"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/tmp"
    chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/tmp TMPDIR=/tmp \
        nice -n 10 swift build -c "$config" --package-path /src --scratch-path /build --product kvmstub
    # Every library the binary loads, as the arm64 loader resolves them in the root.
    chroot "$root" /usr/bin/ldd "/build/$config/kvmstub" >"$scratch/ldd.txt"
' build-arm64 "$root" "$top" "$scratch" "$config"

rm -rf "$out/lib"
mkdir -p "$out/lib"
cp "$scratch/$config/kvmstub" "$out/kvmstub"
# Beyond glibc: whatever ldd resolved that is not libc, libm, the loader, or glibc's other libraries.
while read -r name _ path _; do
    case "$name" in
    linux-vdso.so.* | ld-linux-*.so.* | libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | libutil.so.*) continue ;;
    esac
    [ -n "${path:-}" ] && [ -e "$root$path" ] || { echo "build-arm64: ldd: $name not found in the root" >&2; exit 1; }
    cp -L "$root$path" "$out/lib/$name"
done < <(grep '=>' "$scratch/ldd.txt")
echo "build-arm64: .build-arm64/kvmstub ($config, $(du -h "$out/kvmstub" | cut -f1)) and $(ls "$out/lib" | wc -l) libraries in .build-arm64/lib ($(ls "$out/lib" | tr '\n' ' ')) in $(($(date +%s) - start)) s"

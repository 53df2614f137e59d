#!/usr/bin/env bash
# Builds the rig's QEMU: Debian bookworm's own qemu 7.2 source package with rig/qemu-svm.patch (the two SVM
# gaps kvmstub's tests run into: DR0-DR3 never armed across VMRUN/#VMEXIT, INT3 checked against the INTn
# intercept instead of #BP's), x86_64-softmmu only, TCG, slirp, no docs.
#
# usage: rig/build-qemu-x86.sh [--stock]     prints the path of qemu-system-x86_64 on its last line
#   --stock   the same build without our patch (to show what Debian's QEMU does)
# env:   KVMSTUB_CACHE (default /var/cache/kvmstub): the build is cached there, keyed by the source version and
#        the patch's hash, and rebuilt when missing. Nothing is written into the checkout.
#
# The source comes through a private apt configuration (a deb-src line of our own under $KVMSTUB_CACHE/apt);
# the system's apt sources are never changed. Build dependencies are installed with apt-get when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KVMSTUB_CACHE:-/var/cache/kvmstub}
patch=$here/qemu-svm.patch
stock=
[ "${1:-}" = --stock ] && stock=1

log() { echo "build-qemu: $*" >&2; }
die() { echo "build-qemu: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] && sudo= || sudo=sudo

# Build dependencies: the subset of Debian's Build-Depends this configuration uses.
need=()
for p in gcc make ninja-build meson pkg-config python3 libglib2.0-dev libpixman-1-dev libslirp-dev libfdt-dev zlib1g-dev \
    dpkg-dev xz-utils; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    log "installing build dependencies: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -o DPkg::Lock::Timeout=600 -y -qq "${need[@]}" >/dev/null
fi

# The private apt configuration: our own sources list (deb-src only) and our own package lists.
apt_dir=$cache/apt
mkdir -p "$apt_dir/lists/partial" "$cache/src"
cat >"$apt_dir/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
EOF
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$apt_dir/lists" -o Debug::NoLocking=1)

# The version: the newest bookworm qemu source already downloaded, else what apt offers now.
dsc=$(ls "$cache"/src/qemu_7.2*.dsc 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$dsc" ]; then
    log "fetching Debian's qemu source package (private apt configuration in $apt_dir)"
    apt-get "${apt_opts[@]}" update -qq || die "apt-get update (private sources $apt_dir/sources.list) failed"
    (cd "$cache/src" && apt-get "${apt_opts[@]}" source --download-only -qq qemu >/dev/null 2>"$cache/src/fetch.log") ||
        die "apt-get source qemu failed: see $cache/src/fetch.log"
    dsc=$(ls "$cache"/src/qemu_7.2*.dsc 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$dsc" ] || die "apt-get source qemu fetched no 7.2 source (see $cache/src)"
fi
version=$(basename "$dsc" .dsc)
version=${version#qemu_}
if [ -n "$stock" ]; then
    key=stock
else
    key=$(sha256sum "$patch" | cut -c1-12)
fi
prefix=$cache/qemu-$version-$key
binary=$prefix/bin/qemu-system-x86_64
if [ -x "$binary" ]; then
    echo "$binary"
    exit 0
fi

work=$cache/build/qemu-$version-$key
rm -rf "$work"
mkdir -p "$work"
log "unpacking $(basename "$dsc") (Debian's patches applied) into $work"
dpkg-source -x "$dsc" "$work/src" >"$work/unpack.log" 2>&1 || die "dpkg-source -x failed: see $work/unpack.log"
if [ -z "$stock" ]; then
    (cd "$work/src" && patch -p1 --no-backup-if-mismatch <"$patch" >"$work/patch.log" 2>&1) ||
        die "rig/qemu-svm.patch does not apply to $version: see $work/patch.log"
fi
log "configuring (x86_64-softmmu, TCG, slirp, no docs): $work/build.log"
mkdir -p "$work/src/build"
(cd "$work/src/build" && ../configure --prefix="$prefix" --target-list=x86_64-softmmu --without-default-features \
    --enable-tcg --enable-slirp --enable-fdt=system --disable-docs --disable-werror >"$work/build.log" 2>&1) ||
    die "configure failed: see $work/build.log"
log "building qemu-system-x86_64 with $(nproc) jobs at nice 10: $work/build.log"
start=$SECONDS
(cd "$work/src/build" && nice -n 10 ninja -j"$(nproc)" qemu-system-x86_64 >>"$work/build.log" 2>&1) ||
    die "ninja failed: see $work/build.log"
# Only the binary: the firmware it loads (SeaBIOS, the option ROMs) is Debian's own, from the seabios and
# qemu-system-data packages (the dfsg source ships none); the rig passes -L for both.
install -D -m 0755 "$work/src/build/qemu-system-x86_64" "$binary"
log "built in $((SECONDS - start)) s: $binary"
rm -rf "$work/src"
echo "$binary"

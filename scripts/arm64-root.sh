#!/usr/bin/env bash
# An arm64 Debian trixie root with Debian's Swift (swiftlang 6.0.3), run on this x86-64 host under
# qemu-user-static through binfmt_misc. Cached outside the checkout (KVMSTUB_ARM64_ROOT, default
# /var/cache/kvmstub/arm64-root) and created when missing (~15 min on 2 shared cores); prints its path.
# Uses its own apt configuration for trixie: the host's sources are never touched.
# Needs root (mmdebstrap's root mode, chroot, binfmt_misc).
set -euo pipefail
root=${KVMSTUB_ARM64_ROOT:-/var/cache/kvmstub/arm64-root}
mirror=${KVMSTUB_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# qemu-user-static registers its interpreters (with the F flag, so they work inside a chroot) when
# binfmt_misc is mounted; mount it first if this machine has not.
binfmt() {
    [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    local need=()
    command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
    command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
    command -v update-binfmts >/dev/null || need+=(binfmt-support)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=900 -y -qq "${need[@]}" >/dev/null
    fi
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
    grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || {
        echo "arm64-root: qemu-aarch64 is registered without the F flag; chroot builds would not find it" >&2
        exit 1
    }
}

binfmt
if [ ! -e "$root/.kvmstub-root-complete" ]; then
    echo "arm64-root: creating $root (Debian trixie arm64 with swiftlang, under qemu-user; slow)" >&2
    rm -rf "$root.tmp"
    mkdir -p "$(dirname "$root")"
    # swiftlang brings clang, lld and the runtime; gcc and libstdc++ for the crt files and the C shim;
    # linux-libc-dev for arm64's <linux/kvm.h>.
    nice -n 10 mmdebstrap --mode=root --variant=apt --architectures=arm64 \
        --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        --include=swiftlang,gcc,g++,libc6-dev,linux-libc-dev,ca-certificates \
        --aptopt='Acquire::Languages "none"' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        trixie "$root.tmp" "deb $mirror trixie main" >&2
    touch "$root.tmp/.kvmstub-root-complete"
    rm -rf "$root"
    mv "$root.tmp" "$root"
fi
echo "$root"

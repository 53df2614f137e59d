#!/usr/bin/env bash
# Downloads Debian packages of another architecture (and suite) through a private apt configuration and
# unpacks them (dpkg-deb -x: no maintainer scripts) into one directory. The system's apt sources and dpkg
# architectures are never changed.
#
# usage: rig/fetch-debs.sh ARCH SUITE DEST PACKAGE...      e.g. arm64 trixie DIR linux-image-cloud-arm64
#   A package that is a metapackage (linux-image-cloud-arm64) is followed to the image it depends on.
#   DEST/.debs lists the .deb files that were unpacked. Caches under $KVMSTUB_CACHE/apt-ARCH-SUITE.
set -euo pipefail
arch=$1 suite=$2 dest=$3
shift 3
cache=${KVMSTUB_CACHE:-/var/cache/kvmstub}
mirror=${KVMSTUB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { echo "fetch-debs: $*" >&2; }
die() { echo "fetch-debs: $*" >&2; exit 1; }

apt_dir=$cache/apt-$arch-$suite
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$dest"
echo "deb [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir" -o "Dir::Cache::Archives=$apt_dir/archives"
    -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o Debug::NoLocking=1
    -o Acquire::Languages=none)
# The lists are refreshed when older than a day (or missing).
if [ -z "$(find "$apt_dir/lists" -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
    apt-get "${apt_opts[@]}" update -qq >/dev/null 2>"$apt_dir/update.log" ||
        die "apt-get update ($apt_dir/sources.list) failed: see $apt_dir/update.log"
fi
: >"$dest/.debs"
for pkg in "$@"; do
    # Follow a metapackage (no files of its own beyond docs) to the first package it depends on.
    real=$pkg
    for _ in 1 2 3; do
        dep=$(apt-cache "${apt_opts[@]}" depends "$real" 2>/dev/null | sed -n 's/^  Depends: //p' | head -1)
        case "$real" in
        linux-image-*-"$arch" | linux-image-"$arch" | linux-image-cloud-"$arch" | linux-image-powerpc64le)
            [ -n "$dep" ] && [ "$dep" != "$real" ] && [[ "$dep" == linux-image-* ]] && real=$dep || break ;;
        *) break ;;
        esac
    done
    (cd "$apt_dir/archives" && apt-get "${apt_opts[@]}" download -qq "$real" >/dev/null 2>"$apt_dir/download.log") ||
        die "apt-get download $real ($arch, $suite) failed: see $apt_dir/download.log"
    deb=$(ls -t "$apt_dir/archives/${real}_"*"_$arch.deb" "$apt_dir/archives/${real}_"*_all.deb 2>/dev/null | head -1 || true)
    [ -n "$deb" ] || die "no .deb for $real in $apt_dir/archives"
    dpkg-deb -x "$deb" "$dest"
    echo "$deb" >>"$dest/.debs"
    log "$real: $(basename "$deb")"
done

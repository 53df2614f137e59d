#!/usr/bin/env bash
# The ppc64 rig: real POWER KVM (book3s HV) on this x86-64 host, for the ppc64 register table. Debian's
# ppc64el kernel (bookworm) boots under qemu-system-ppc64 (TCG) as a pseries guest with nested HV
# (cap-nested-hv=on, POWER9), loads kvm.ko and kvm-hv.ko from the same package, and runs one job script with
# /dev/kvm; a busybox initramfs, no network. There is no Swift for ppc64el: the job runs C (the probe).
#
# usage: rig/ppc64.sh [--timeout S] [--log FILE] JOB.sh [FILE...]
#   FILE...   copied to /rig/ beside /rig/onereg-probe (rig/probes/onereg-probe.c built for ppc64le, static)
# env: KVMSTUB_CACHE (default /var/cache/kvmstub; ppc64-guest/ there), QUIET=1 as for rig/arm64.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rig_name=ppc64-rig
. "$here/guest-lib.sh"
cache=${KVMSTUB_CACHE:-/var/cache/kvmstub}
limit=900
log=
while [ $# -gt 0 ]; do
    case "$1" in
    --timeout) limit=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) rig_die "unknown option $1 (see --help)" ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || rig_die "usage: rig/ppc64.sh [options] JOB.sh [FILE...] (see --help)"
job=$1
shift
[ -f "$job" ] || rig_die "no job script $job"

need=()
command -v qemu-system-ppc64 >/dev/null || need+=(qemu-system-ppc)
command -v powerpc64le-linux-gnu-gcc >/dev/null || need+=(gcc-powerpc64le-linux-gnu)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
    rig_log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=900 -y -qq "${need[@]}" >/dev/null
fi

gdir=$cache/ppc64-guest
if [ ! -e "$gdir/.complete" ]; then
    rig_log "fetching Debian bookworm's ppc64el kernel and busybox-static into $gdir"
    rm -rf "$gdir"
    bash "$here/fetch-debs.sh" ppc64el bookworm "$gdir" linux-image-powerpc64le busybox-static
    touch "$gdir/.complete"
fi
kernel=$(ls "$gdir"/boot/vmlinux-* | sort -V | tail -1)
kver=${kernel##*/vmlinux-}
moddir=$(ls -d "$gdir"/usr/lib/modules/"$kver" "$gdir"/lib/modules/"$kver" 2>/dev/null | head -1 || true)
base=$gdir/base.cpio
if [ ! -e "$base" ] || [ "$base" -ot "$here/guest-lib.sh" ]; then
    make_base_initramfs "$base" "$gdir" "$(find "$moddir" -name 'kvm.ko*' | head -1)" \
        "$(find "$moddir" -name 'kvm-hv.ko*' | head -1)"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/job/rig"
cp "$job" "$work/job/job.sh"
for f in "$@"; do cp -r "$f" "$work/job/rig/"; done
powerpc64le-linux-gnu-gcc -O2 -Wall -static -o "$work/job/rig/onereg-probe" "$here/probes/onereg-probe.c"
pack_dir "$work/job" "$work/job.cpio"
cat "$base" "$work/job.cpio" >"$work/initrd"

[ -n "$log" ] || log=$(mktemp /tmp/ppc64-rig.XXXXXX.log)
rig_log "booting Linux $kver (pseries, POWER9, nested HV) for $(basename "$job"); console log $log"
start=$(date +%s)
status=0
run_guest "$log" "$limit" qemu-system-ppc64 -M pseries,cap-nested-hv=on -cpu POWER9 -smp 1 -m 1024 \
    -nographic -no-reboot -kernel "$kernel" -initrd "$work/initrd" -append "console=hvc0 panic=-1 quiet loglevel=4" \
    -nic none || status=$?
rig_log "job status $status after $(($(date +%s) - start)) s"
exit $status

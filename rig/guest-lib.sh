# Sourced by rig/arm64.sh and rig/ppc64.sh: a Debian kernel booted under qemu-system-* (TCG) with a busybox
# initramfs that runs one job script and powers off. Not a script of its own.
#
#   make_base_initramfs DIR BUSYBOX MODULES...   the cached part: busybox, the modules (decompressed), /init
#   run_guest LOG TIMEOUT QEMU-ARGS...            boots, streams the console to LOG (and stdout unless QUIET=1),
#                                                 returns the job's status (from the "RIG-STATUS n" line)
# The job: $job_dir is packed as a second cpio archive (the kernel unpacks concatenated archives in order), so
# /job.sh and the files beside it change per run while the base stays cached.

rig_log() { echo "${rig_name:-rig}: $*" >&2; }
rig_die() { echo "${rig_name:-rig}: $*" >&2; exit 1; }

# /init: mount the pseudo filesystems, load the modules listed in /modules (in order), bring up eth0 if there is
# one (QEMU user networking: 10.0.2.15), run /job.sh with /rig on PATH, report its status, power off.
rig_init_script() {
    cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/rig:/bin LD_LIBRARY_PATH=/rig/lib HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in $(cat /modules 2>/dev/null); do insmod /lib/modules/$m.ko || echo "RIG: insmod $m failed"; done
if [ -e /sys/class/net/eth0 ]; then
    ip link set lo up
    ip link set eth0 up
    ip addr add 10.0.2.15/24 dev eth0
fi
echo "RIG-READY $(uname -r) $(uname -m)"
cd /tmp
sh /job.sh
echo "RIG-STATUS $?"
sync
poweroff -f
INIT
}

# make_base_initramfs OUT.cpio BUSYBOX-TREE MODULE-FILE...: busybox (static) from an unpacked busybox-static
# package, the given .ko or .ko.xz files (loaded in that order), and /init.
make_base_initramfs() {
    local out=$1 bbtree=$2
    shift 2
    local d
    d=$(mktemp -d)
    mkdir -p "$d/bin" "$d/proc" "$d/sys" "$d/dev" "$d/tmp" "$d/lib/modules" "$d/rig/lib"
    local bb
    bb=$(find "$bbtree" -path '*bin/busybox' -type f | head -1)
    [ -n "$bb" ] || rig_die "no busybox in $bbtree"
    cp "$bb" "$d/bin/busybox"
    : >"$d/modules"
    local m name
    for m in "$@"; do
        name=$(basename "$m")
        name=${name%.xz}
        name=${name%.ko}
        case "$m" in
        *.xz) xz -dc "$m" >"$d/lib/modules/$name.ko" ;;
        *) cp "$m" "$d/lib/modules/$name.ko" ;;
        esac
        echo "$name" >>"$d/modules"
    done
    rig_init_script >"$d/init"
    chmod +x "$d/init"
    (cd "$d" && find . | cpio -o -H newc --quiet) >"$out.tmp"
    rm -rf "$d"
    mv "$out.tmp" "$out"
}

# pack_dir DIR OUT.cpio
pack_dir() { (cd "$1" && find . | cpio -o -H newc --quiet) >"$2"; }

# run_guest LOG TIMEOUT QEMU-COMMAND...: the job's status, 124 on timeout, 125 when the guest never reported one.
run_guest() {
    local log=$1 limit=$2
    shift 2
    local status=0
    if [ "${QUIET:-}" = 1 ]; then
        timeout --foreground -k 5 "$limit" "$@" </dev/null >"$log" 2>&1 || status=$?
    else
        timeout --foreground -k 5 "$limit" "$@" </dev/null 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
    fi
    [ "$status" = 124 ] && { rig_log "timed out after $limit s: see $log"; return 124; }
    local line
    line=$(grep -a '^RIG-STATUS ' "$log" | tail -1 | tr -d '\r' || true)
    [ -n "$line" ] || { rig_log "the guest reported no job status (qemu exit $status): see $log"; return 125; }
    return "${line#RIG-STATUS }"
}

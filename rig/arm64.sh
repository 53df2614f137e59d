#!/usr/bin/env bash
# The arm64 rig: real arm64 KVM on this x86-64 host. Debian's arm64 cloud kernel (trixie, KVM built in) boots
# under qemu-system-aarch64 (TCG) on a virt board with EL2 (virtualization=on), GICv3 and SVE up to 2048 bits,
# so /dev/kvm inside is arm64 KVM in VHE mode; a busybox initramfs runs one job script there and powers off.
#
# usage: rig/arm64.sh [--cpu CPU] [--gdb-port PORT [--then CMD]] [--timeout S] [--log FILE] JOB.sh [FILE...]
#        rig/arm64.sh [--cpu CPU] --serve DIR [FILE...]
#   JOB.sh      a busybox sh script run in the guest (in /tmp, PATH=/rig:/bin); the rig exits with its status
#   FILE...     copied to /rig/ in the guest beside:
#                 /rig/kvmstub, /rig/lib/  the arm64 kvmstub from .build-arm64 (scripts/build-arm64.sh) with its
#                                          libraries and the arm64 root's glibc, when it has been built
#                 /rig/onereg-probe        rig/probes/onereg-probe.c built for arm64 (static)
#   --cpu CPU       QEMU's -cpu (default max,sve=on,sve2048=on; cortex-a57 is a host without SVE)
#   --gdb-port P    forwards 127.0.0.1:P on this host to port 1234 in the guest (user networking)
#   --then CMD      once the guest's console says "waiting for gdb" (kvmstub serving on 0.0.0.0:1234 in the job),
#                   runs CMD on this host (bash -c, RIG_GDB_PORT set): e.g. gdb-multiarch through the forward. The
#                   rig's status is then CMD's if the job's was 0
#   --timeout S     give up after S seconds (default 900): the job, the boot and all
#   --log FILE      the console log (default: a temporary file, named on failure)
#   --serve DIR     no job: boot in the background and serve rig/agent.c (built for arm64) on port 7000, so
#                   rig/kvmstub-remote (KVMSTUB_RIG=DIR; rig/arm64-remote sets it) runs kvmstub there session
#                   after session in one boot. DIR gets ctl-port (the agent's forward on 127.0.0.1),
#                   monitor.sock (QEMU's monitor: kvmstub-remote adds the gdb forwards), console.log, qemu.pid,
#                   boot-seconds; returns once the agent answers. Stop: kill "$(cat DIR/qemu.pid)"
# env: KVMSTUB_CACHE (default /var/cache/kvmstub): the kernel, busybox and the base initramfs are cached there
#      (arm64-guest/); KVMSTUB_ARM64_BUILD (default .build-arm64); KVMSTUB_ARM64_ROOT (scripts/arm64-root.sh).
#      QUIET=1: the console goes to the log only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
rig_name=arm64-rig
. "$here/guest-lib.sh"
cache=${KVMSTUB_CACHE:-/var/cache/kvmstub}
build=${KVMSTUB_ARM64_BUILD:-$top/.build-arm64}
cpu=max,sve=on,sve2048=on
port=
then=
serve=
limit=900
log=
while [ $# -gt 0 ]; do
    case "$1" in
    --cpu) cpu=$2; shift 2 ;;
    --gdb-port) port=$2; shift 2 ;;
    --then) then=$2; shift 2 ;;
    --timeout) limit=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --serve) serve=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) rig_die "unknown option $1 (see --help)" ;;
    *) break ;;
    esac
done
agent_port=7000
if [ -n "$serve" ]; then
    [ -z "$port$then" ] || rig_die "--serve serves every port through kvmstub-remote: no --gdb-port/--then"
    mkdir -p "$serve"
    serve=$(cd "$serve" && pwd)
    # The job: the agent, restarted if it ever ends; the rig runs until it is killed.
    job=$serve/agent-job.sh
    cat >"$job" <<JOB
echo "rig-arm64: /rig/kvmstub \$([ -x /rig/kvmstub ] && echo present || echo missing), /dev/kvm \$([ -e /dev/kvm ] && echo present || echo missing)"
echo "rig-arm64: agent on port $agent_port"
while true; do agent $agent_port; echo "rig-arm64: agent exited (\$?), restarting"; sleep 1; done
JOB
else
    [ $# -ge 1 ] || rig_die "usage: rig/arm64.sh [options] JOB.sh [FILE...] (see --help)"
    [ -z "$then" ] || [ -n "$port" ] || rig_die "--then needs --gdb-port"
    job=$1
    shift
    [ -f "$job" ] || rig_die "no job script $job"
fi

need=()
command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
    rig_log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=900 -y -qq "${need[@]}" >/dev/null
fi

# The guest kernel and busybox (trixie arm64), fetched once.
gdir=$cache/arm64-guest
if [ ! -e "$gdir/.complete" ]; then
    rig_log "fetching Debian trixie's arm64 cloud kernel and busybox-static into $gdir"
    rm -rf "$gdir"
    bash "$here/fetch-debs.sh" arm64 trixie "$gdir" linux-image-cloud-arm64 busybox-static
    touch "$gdir/.complete"
fi
kernel=$(ls "$gdir"/boot/vmlinuz-* | sort -V | tail -1)
kver=${kernel##*/vmlinuz-}
moddir=$(ls -d "$gdir"/usr/lib/modules/"$kver" "$gdir"/lib/modules/"$kver" 2>/dev/null | head -1 || true)
base=$gdir/base.cpio
if [ ! -e "$base" ] || [ "$base" -ot "$here/guest-lib.sh" ]; then
    mods=()
    for m in failover net_failover virtio_net; do mods+=("$(find "$moddir" -name "$m.ko*" | head -1)"); done
    make_base_initramfs "$base" "$gdir" "${mods[@]}"
fi

# The job archive: /job.sh and /rig.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/job/rig/lib"
cp "$job" "$work/job/job.sh"
for f in "$@"; do cp -r "$f" "$work/job/rig/"; done
aarch64-linux-gnu-gcc -O2 -Wall -static -o "$work/job/rig/onereg-probe" "$here/probes/onereg-probe.c"
[ -z "$serve" ] || aarch64-linux-gnu-gcc -O2 -Wall -static -o "$work/job/rig/agent" "$here/agent.c"
if [ -x "$build/kvmstub" ]; then
    cp "$build/kvmstub" "$work/job/rig/"
    cp -L "$build"/lib/* "$work/job/rig/lib/" 2>/dev/null || true
    # glibc from the arm64 root the binary was built in, and the loader at the path the binary names.
    root=${KVMSTUB_ARM64_ROOT:-$cache/arm64-root}
    for l in ld-linux-aarch64.so.1 libc.so.6 libm.so.6; do
        cp -L "$root/usr/lib/aarch64-linux-gnu/$l" "$work/job/rig/lib/" || rig_die "no $l in the arm64 root $root"
    done
    mkdir -p "$work/job/lib"
    ln -s /rig/lib/ld-linux-aarch64.so.1 "$work/job/lib/ld-linux-aarch64.so.1"
else
    rig_log "no arm64 kvmstub at $build/kvmstub (bash scripts/build-arm64.sh builds it): the job runs without it"
fi
pack_dir "$work/job" "$work/job.cpio"
cat "$base" "$work/job.cpio" >"$work/initrd"

if [ -n "$serve" ]; then
    pidfile=$serve/qemu.pid
    if [ -e "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then rig_die "a rig already runs from $serve (pid $(cat "$pidfile"))"; fi
    cp "$work/initrd" "$serve/initrd"
    ctl=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rm -f "$serve/console.log" "$serve/monitor.sock" "$serve/ctl-port"
    rig_log "booting Linux $kver (-cpu $cpu) to serve kvmstub sessions; console log $serve/console.log"
    start=$(date +%s)
    qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu "$cpu" -smp 1 -m 1024 \
        -display none -no-reboot -kernel "$kernel" -initrd "$serve/initrd" \
        -append "console=ttyAMA0 panic=-1 quiet loglevel=4" \
        -netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$ctl-:$agent_port" -device virtio-net-pci,netdev=net0 \
        -serial "file:$serve/console.log" -monitor "unix:$serve/monitor.sock,server,nowait" \
        -pidfile "$pidfile" -daemonize >"$serve/qemu.log" 2>&1 || rig_die "QEMU did not start: see $serve/qemu.log"
    echo "$ctl" >"$serve/ctl-port"
    until python3 - "$ctl" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.settimeout(2)
sys.exit(0 if s.recv(1) == b"B" else 1)
PY
    do
        kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -20 "$serve/console.log" >&2; rig_die "the rig died while booting: see $serve/console.log"; }
        if [ $(($(date +%s) - start)) -ge "$limit" ]; then
            kill "$(cat "$pidfile")"; rig_die "the agent did not answer within $limit s: see $serve/console.log"
        fi
        sleep 0.5
    done
    echo $(($(date +%s) - start)) >"$serve/boot-seconds"
    grep -a '^rig-arm64:' "$serve/console.log" | tr -d '\r' | sed 's/^/  /' >&2
    rig_log "ready $(cat "$serve/boot-seconds") s after QEMU started (agent on 127.0.0.1:$ctl)"
    exit 0
fi

[ -n "$log" ] || log=$(mktemp /tmp/arm64-rig.XXXXXX.log)
net=(-nic none)
[ -n "$port" ] && net=(-netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:1234" -device virtio-net-pci,netdev=n0)
rig_log "booting Linux $kver (-cpu $cpu) for $(basename "$job"); console log $log"
start=$(date +%s)
status=0
qemu=(qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu "$cpu" -smp 1 -m 1024
    -nographic -no-reboot -kernel "$kernel" -initrd "$work/initrd"
    -append "console=ttyAMA0 panic=-1 quiet loglevel=4" "${net[@]}")
if [ -z "$then" ]; then
    run_guest "$log" "$limit" "${qemu[@]}" || status=$?
else
    : >"$log"
    (QUIET=1 run_guest "$log" "$limit" "${qemu[@]}") &
    guest=$!
    until grep -aq "waiting for gdb" "$log" 2>/dev/null; do
        kill -0 "$guest" 2>/dev/null || break
        sleep 0.5
    done
    host_status=0
    if grep -aq "waiting for gdb" "$log"; then
        RIG_GDB_PORT=$port bash -c "$then" || host_status=$?
    else
        rig_log "the job never said \"waiting for gdb\": see $log"
        host_status=1
    fi
    wait "$guest" || status=$?
    [ "${QUIET:-}" = 1 ] || cat "$log"
    [ "$status" != 0 ] || status=$host_status
fi
rig_log "status $status after $(($(date +%s) - start)) s"
exit $status

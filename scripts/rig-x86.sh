#!/usr/bin/env bash
# The nested x86 rig: kvmstub on architectural KVM (AMD SVM) on a host whose own /dev/kvm is not.
#
# QEMU's TCG emulates an AMD CPU with SVM (QEMU 7.2 from Debian's source package, patched: rig/qemu-svm.patch).
# L1 is a Linux kernel (default: Debian's cloud kernel in /boot, which scripts/test.sh installs) with an
# initramfs of busybox-static, the modules it needs (kvm, kvm-amd nested=0, virtio-net), a release kvmstub with
# the libraries `ldd` lists at the same paths, and the rig's agent (rig/agent.c). kvmstub runs in L1 on L1's
# /dev/kvm; gdb stays on this host and reaches it through QEMU's user network, forwarded on 127.0.0.1 only.
# rig/kvmstub-remote stands in for the kvmstub binary here, so gdb-scripts/run.sh runs unchanged against L1
# with KVMSTUB=rig/kvmstub-remote.
#
# usage: scripts/rig-x86.sh build        QEMU (cached in /var/cache/kvmstub), agent, release kvmstub, initramfs
#        scripts/rig-x86.sh boot         build, then start L1 in the background and wait until its agent answers
#        scripts/rig-x86.sh stop         stop L1
#        scripts/rig-x86.sh kvmstub ARGS run L1's kvmstub with ARGS (e.g. `info`), as rig/kvmstub-remote does
#        scripts/rig-x86.sh test         boot, check what L1's KVM offers, run every gdb-scripts/*.gdb (and the
#                                        kernel sessions, gdb-scripts/kernel/*.gdb: see RIG_SCRIPTS) and
#                                        lifecycle.sh against L1, stop; "N passed, N failed", timings
# env (all optional; issue 17 and other rigs set these):
#   KVMSTUB_RIG     state directory (default .build-rig/x86): initramfs, console.log, qemu.log, ports
#   RIG_QEMU        qemu-system-x86_64 to use (default: rig/build-qemu-x86.sh's patched build; "stock" builds
#                   Debian's 7.2 without the patch, to see what it lacks)
#   RIG_KERNEL      L1's kernel image (default: the newest /boot/vmlinuz-*-cloud-amd64)
#   RIG_MODULES_DIR its modules (default /lib/modules/RELEASE, RELEASE from the image's name)
#   RIG_MODULES     modules to load, in order, deps first by modules.dep: NAME[:PARAM=V,...] ...
#                   (default "virtio_pci virtio_net kvm_amd:nested=0")
#   RIG_FILES       more files for the initramfs: SRC[:DEST] ... (DEST defaults to SRC's own path)
#   RIG_RC          a shell script L1 runs before its agent starts (copied to /etc/rig/rc.local)
#   RIG_FORWARDS    more forwards: HOSTPORT:GUESTPORT ... (127.0.0.1 only)
#   RIG_CPU (EPYC)  RIG_SMP (1)  RIG_MEMORY (1024, MiB)  RIG_APPEND (more kernel command line)
#   RIG_BOOT_TIMEOUT seconds to wait for L1's agent (default 300)
#   RIG_SCRIPTS     the gdb scripts `test` runs (default: gdb-scripts/*.gdb gdb-scripts/kernel/*.gdb, relative to the
#                   checkout); a kernel session (`# kernel:`) first has scripts/kernel-gdb.sh build or find its cache
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${KVMSTUB_RIG:-$root/.build-rig/x86}
export KVMSTUB_RIG=$state
agent_port=7000

say() { echo "rig-x86: $*" >&2; }
die() { echo "rig-x86: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] && sudo= || sudo=sudo

need_packages() {
    local need=() p
    for p in "$@"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p"); done
    [ ${#need[@]} -eq 0 ] && return 0
    say "installing ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -o DPkg::Lock::Timeout=600 -y -qq "${need[@]}" >/dev/null ||
        die "apt-get install ${need[*]}"
}

kernel_image() {
    if [ -n "${RIG_KERNEL:-}" ]; then echo "$RIG_KERNEL"; return; fi
    ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1
}

qemu_binary() {
    case "${RIG_QEMU:-}" in
    "") bash "$root/rig/build-qemu-x86.sh" | tail -1 ;;
    stock) bash "$root/rig/build-qemu-x86.sh" --stock | tail -1 ;;
    *) echo "$RIG_QEMU" ;;
    esac
}

# Copies a host file into the initramfs tree at the same path (or DEST), following symlinks.
stage() {
    local src=$1 dest=${2:-$1}
    mkdir -p "$tree$(dirname "$dest")"
    cp -L "$src" "$tree$dest"
}

build() {
    local t0=$SECONDS
    need_packages busybox-static cpio gcc libc6-dev python3 seabios qemu-system-data
    [ -n "$(kernel_image)" ] && [ -e "$(kernel_image)" ] || need_packages linux-image-cloud-amd64
    local kernel
    kernel=$(kernel_image)
    [ -e "$kernel" ] || die "no L1 kernel ($kernel): set RIG_KERNEL or install linux-image-cloud-amd64"
    local release=${kernel##*/vmlinuz-}
    local moddir=${RIG_MODULES_DIR:-/lib/modules/$release}
    [ -e "$moddir/modules.dep" ] || die "no modules for $release in $moddir (set RIG_MODULES_DIR)"

    mkdir -p "$state"
    say "QEMU: $(qemu_binary >"$state/qemu-path" 2>"$state/qemu-build.log" && cat "$state/qemu-path" ||
        { cat "$state/qemu-build.log" >&2; die "building QEMU (rig/build-qemu-x86.sh): see $state/qemu-build.log"; })"

    say "release kvmstub (swift build -c release)"
    (cd "$root" && nice -n 10 swift build -c release --product kvmstub >"$state/swift-build.log" 2>&1) ||
        die "swift build -c release: see $state/swift-build.log"
    local kvmstub
    kvmstub=$(cd "$root" && swift build -c release --show-bin-path)/kvmstub
    gcc -O2 -Wall -static -o "$state/agent" "$root/rig/agent.c" 2>"$state/agent-build.log" ||
        die "building rig/agent.c: see $state/agent-build.log"

    tree=$state/initramfs
    rm -rf "$tree"
    mkdir -p "$tree"/{bin,dev,proc,sys,tmp,run,etc/rig,usr/local/bin}
    cp /bin/busybox "$tree/bin/busybox"
    file -b "$tree/bin/busybox" 2>/dev/null | grep -q 'statically linked' || ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' ||
        die "/bin/busybox is not static (install busybox-static)"
    install -m 0755 "$root/rig/l1-init.sh" "$tree/init"
    cp "$state/agent" "$tree/usr/local/bin/agent"
    echo "$agent_port" >"$tree/etc/rig/agent-port"
    cp "$kvmstub" "$tree/usr/local/bin/kvmstub"
    # The libraries kvmstub links, at the paths ldd finds them (the dynamic loader included).
    local lib
    while read -r lib; do stage "$lib"; done < <(ldd "$kvmstub" | grep -oE '/[^ ]+' | sort -u)
    [ -n "${RIG_RC:-}" ] && install -m 0755 "$RIG_RC" "$tree/etc/rig/rc.local"
    local f
    for f in ${RIG_FILES:-}; do stage "${f%%:*}" "$([ "${f#*:}" != "$f" ] && echo "${f#*:}" || echo "${f%%:*}")"; done

    # Modules, dependencies first (modules.dep), each once.
    : >"$tree/etc/rig/modules"
    declare -A seen=()
    add_module() {  # add_module RELPATH PARAMS
        local rel=$1 params=$2 dep
        [ -n "${seen[$rel]:-}" ] && return
        seen[$rel]=1
        for dep in $(grep -m1 "^$rel:" "$moddir/modules.dep" | cut -d: -f2); do add_module "$dep" ""; done
        stage "$moddir/$rel" "/lib/modules/$release/$rel"
        echo "/lib/modules/$release/$rel $params" >>"$tree/etc/rig/modules"
    }
    local spec name params rel
    for spec in ${RIG_MODULES:-virtio_pci virtio_net kvm_amd:nested=0}; do
        name=${spec%%:*}
        params=$([ "${spec#*:}" != "$spec" ] && echo "${spec#*:}" | tr , ' ' || true)
        rel=$(grep -oE "^[^:]*/(${name}|${name//_/-})\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -1 | tr -d :)
        [ -n "$rel" ] || die "module $name is not in $moddir/modules.dep"
        add_module "$rel" "$params"
    done
    (cd "$tree" && find . | cpio -o -H newc --quiet >"$state/initramfs.cpio") || die "cpio of $tree"
    echo "$kernel" >"$state/kernel-path"
    say "built in $((SECONDS - t0)) s: initramfs $(($(stat -c %s "$state/initramfs.cpio") / 1048576)) MiB" \
        "($(wc -l <"$tree/etc/rig/modules") modules), kernel $kernel"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

running() { [ -e "$state/qemu.pid" ] && kill -0 "$(cat "$state/qemu.pid")" 2>/dev/null; }

stop() {
    if running; then
        local pid
        pid=$(cat "$state/qemu.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        say "L1 stopped"
    fi
    rm -f "$state/qemu.pid" "$state/ctl-port" "$state/monitor.sock"
}

boot() {
    running && stop
    build
    local qemu kernel port fwd=""
    qemu=$(cat "$state/qemu-path")
    kernel=$(cat "$state/kernel-path")
    port=$(free_port)
    for f in ${RIG_FORWARDS:-}; do fwd+=",hostfwd=tcp:127.0.0.1:${f%%:*}-:${f#*:}"; done
    rm -f "$state/console.log" "$state/monitor.sock"
    say "booting L1: $qemu -cpu ${RIG_CPU:-EPYC} -smp ${RIG_SMP:-1} -m ${RIG_MEMORY:-1024} (console: $state/console.log)"
    local t0=$SECONDS
    "$qemu" -accel tcg -cpu "${RIG_CPU:-EPYC}" -smp "${RIG_SMP:-1}" -m "${RIG_MEMORY:-1024}" \
        -kernel "$kernel" -initrd "$state/initramfs.cpio" \
        -append "console=ttyS0 panic=-1 loglevel=4 ${RIG_APPEND:-}" \
        -netdev "user,id=net0,ipv6=off,hostfwd=tcp:127.0.0.1:$port-:$agent_port$fwd" \
        -device virtio-net-pci,netdev=net0,romfile= \
        -L /usr/share/seabios -L /usr/share/qemu -nodefaults -vga none \
        -display none -no-reboot -serial "file:$state/console.log" \
        -monitor "unix:$state/monitor.sock,server,nowait" \
        -pidfile "$state/qemu.pid" -daemonize >"$state/qemu.log" 2>&1 ||
        die "QEMU did not start: see $state/qemu.log"
    echo "$port" >"$state/ctl-port"
    local deadline=$((SECONDS + ${RIG_BOOT_TIMEOUT:-300}))
    until python3 - "$port" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.settimeout(2)
sys.exit(0 if s.recv(1) == b"B" else 1)
PY
    do
        running || { tail -20 "$state/console.log" >&2; die "L1 died while booting: see $state/console.log"; }
        [ $SECONDS -lt $deadline ] || { tail -20 "$state/console.log" >&2; stop; die "L1's agent did not answer within ${RIG_BOOT_TIMEOUT:-300} s: see $state/console.log"; }
        sleep 0.5
    done
    echo $((SECONDS - t0)) >"$state/boot-seconds"
    grep '^rig-l1:' "$state/console.log" | sed 's/^/  /' >&2
    grep -q '^rig-l1: /dev/kvm present' "$state/console.log" || { stop; die "L1 has no /dev/kvm: see $state/console.log"; }
    grep -q '^rig-l1: vendor AuthenticAMD' "$state/console.log" || say "L1's CPU is not AMD's (see $state/console.log)"
    say "L1 ready $((SECONDS - t0)) s after QEMU started (agent on 127.0.0.1:$port)"
}

remote() { "$root/rig/kvmstub-remote" "$@"; }

suite() {
    local failed=0 passed=0 t0 info
    trap stop EXIT
    boot
    bash "$root/examples/build.sh" >/dev/null || die "examples/build.sh"
    # What L1's KVM offers, as kvmstub's probe finds it: on the patched QEMU, int3 is intercepted by KVM and
    # data breakpoints fire (on Debian's stock 7.2 neither does).
    info=$(remote info 2>&1) || { echo "$info" >&2; die "kvmstub info in L1 failed"; }
    echo "$info" >"$state/info.txt"
    echo "--- kvmstub info in L1 ($state/info.txt)"
    echo "$info" | sed 's/^/  /'
    check_info() {
        if grep -qE "$1" <<<"$info"; then echo "ok   L1: $2"; passed=$((passed + 1));
        else echo "FAIL L1: $2 (kvmstub info lacks /$1/)"; failed=$((failed + 1)); fi
    }
    check_info 'int3: the kernel intercepts #BP' "int3 is intercepted by KVM"
    check_info 'debug-registers: data breakpoints fire' "data breakpoints fire"
    echo "--- gdb-scripts against L1 (KVMSTUB=rig/kvmstub-remote)"
    local script name s out
    elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$EPOCHREALTIME"; }
    local scripts=()
    for script in ${RIG_SCRIPTS:-gdb-scripts/*.gdb gdb-scripts/kernel/*.gdb}; do
        for s in $root/$script; do [ -e "$s" ] && scripts+=("$s"); done
    done
    if grep -ql '^# kernel:' "${scripts[@]}" 2>/dev/null && [ -z "${KERNEL_GDB:-}" ]; then
        t0=$SECONDS
        KERNEL_GDB=$(bash "$root/scripts/kernel-gdb.sh" | tail -1) || die "scripts/kernel-gdb.sh (the kernel sessions' cache)"
        export KERNEL_GDB
        echo "--- kernel sessions' cache: $KERNEL_GDB ($((SECONDS - t0)) s)"
    fi
    for script in "${scripts[@]}"; do
        name=$(basename "$script" .gdb)
        t0=$EPOCHREALTIME
        s=0
        out=$(KVMSTUB="$root/rig/kvmstub-remote" KVMSTUB_START_TIMEOUT=60 KVMSTUB_GDB_TIMEOUT=600 bash "$root/gdb-scripts/run.sh" "$script" 2>&1) || s=$?
        echo "$(echo "$out" | grep -E '^(ok|FAIL) ') ($(elapsed "$t0") s)"
        if [ $s = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "$out" | grep -vE '^(ok|FAIL) |passed, ' | sed 's/^/  /'; fi
    done
    t0=$EPOCHREALTIME
    s=0
    out=$(KVMSTUB="$root/rig/kvmstub-remote" KVMSTUB_START_TIMEOUT=60 bash "$root/gdb-scripts/lifecycle.sh" 2>&1) || s=$?
    echo "lifecycle.sh: $(echo "$out" | tail -1) ($(elapsed "$t0") s)"
    if [ $s = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "$out" | sed 's/^/  /'; fi
    echo "rig-x86: L1 boot $(cat "$state/boot-seconds") s"
    echo "rig-x86: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

case "${1:-}" in
build) build ;;
boot) boot ;;
stop) stop ;;
kvmstub) shift; remote "$@" ;;
test) suite ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The arm64 rig's gdb sessions: kvmstub built for arm64 (scripts/build-arm64.sh) runs the arm64 example guests
# (examples/arm64/) on real arm64 KVM — Debian's arm64 cloud kernel at EL2 under qemu-system-aarch64 TCG
# (rig/arm64.sh: -M virt,virtualization=on, GICv3, SVE up to 2048 bits) — and gdb-multiarch on this host runs
# gdb-scripts/arm64/*.gdb against it through gdb-scripts/run.sh, unchanged: KVMSTUB=rig/arm64-remote stands in
# for kvmstub (each session's kvmstub runs in the rig; its gdb port is forwarded to 127.0.0.1 here). One boot
# serves every session.
#
# usage: scripts/rig-arm64.sh boot          start the rig in the background (state in .build-rig/arm64)
#        scripts/rig-arm64.sh stop          stop it
#        scripts/rig-arm64.sh kvmstub ARGS  run the rig's kvmstub with ARGS (e.g. `info`)
#        scripts/rig-arm64.sh test          boot, check what the rig's KVM offers, run the sessions, stop; then the
#                                           same on a Cortex-A57 host (no SVE: host-without-sve/*.gdb and the
#                                           sessions that need no SVE): "N passed, N failed", each one's time
# env: RIG_SCRIPTS    the sessions `test` runs (default gdb-scripts/arm64/*.gdb, relative to the checkout); set,
#                     only they run, on RIG_CPU only
#      RIG_CPU        QEMU's -cpu (default max,sve=on,sve2048=on)
#      KVMSTUB_RIG_ARM64  state directory (default .build-rig/arm64)
#      the arm64 kvmstub is .build-arm64/kvmstub (KVMSTUB_ARM64_BUILD): build it first (bash scripts/build-arm64.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${KVMSTUB_RIG_ARM64:-$root/.build-rig/arm64}
export KVMSTUB_RIG_ARM64=$state
# What the Cortex-A57 host (no SVE) runs: the sessions that need no SVE, and host-without-sve/.
nosve_scripts="gdb-scripts/arm64/host-without-sve/*.gdb gdb-scripts/arm64/entry.gdb gdb-scripts/arm64/break-finish.gdb
    gdb-scripts/arm64/stepi.gdb gdb-scripts/arm64/hbreak-watch.gdb gdb-scripts/arm64/own-brk.gdb gdb-scripts/arm64/no-sve.gdb
    gdb-scripts/arm64/sysregs.gdb gdb-scripts/arm64/translate.gdb"
say() { echo "rig-arm64: $*" >&2; }
die() { echo "rig-arm64: FAILED: $*" >&2; exit 1; }

running() { [ -e "$state/qemu.pid" ] && kill -0 "$(cat "$state/qemu.pid")" 2>/dev/null; }

stop() {
    if running; then
        local pid
        pid=$(cat "$state/qemu.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        say "rig stopped"
    fi
    rm -f "$state/qemu.pid" "$state/ctl-port" "$state/monitor.sock"
}

boot() {
    running && stop
    [ -x "${KVMSTUB_ARM64_BUILD:-$root/.build-arm64}/kvmstub" ] || die "no arm64 kvmstub: bash scripts/build-arm64.sh"
    command -v gdb-multiarch >/dev/null || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=600 -y -qq gdb-multiarch >/dev/null
    }
    bash "$root/rig/arm64.sh" --cpu "${RIG_CPU:-max,sve=on,sve2048=on}" --timeout 300 --serve "$state"
}

# suite CPU STATE SCRIPT-PATTERNS CHECKS: one boot of the rig with QEMU's -cpu CPU, kvmstub info checked against
# CHECKS ("REGEX=LABEL;..."), then every script. Adds to passed/failed.
suite() {
    local cpu=$1 scripts_glob=$3 checks=$4 info script name s out t0 check
    state=$2
    export KVMSTUB_RIG_ARM64=$state
    RIG_CPU=$cpu boot
    info=$("$root/rig/arm64-remote" info 2>&1) || { echo "$info" >&2; stop; die "kvmstub info in the rig failed"; }
    echo "$info" >"$state/info.txt"
    echo "--- kvmstub info on the rig's arm64 KVM, -cpu $cpu ($state/info.txt)"
    echo "$info" | sed 's/^/  /'
    IFS=';' read -ra checks <<<"$checks"
    for check in "${checks[@]}"; do
        if grep -qE "${check%%=*}" <<<"$info"; then echo "ok   rig ($cpu): ${check#*=}"; passed=$((passed + 1));
        else echo "FAIL rig ($cpu): ${check#*=} (kvmstub info lacks /${check%%=*}/)"; failed=$((failed + 1)); fi
    done
    echo "--- gdb-scripts against the rig, -cpu $cpu (KVMSTUB=rig/arm64-remote, gdb-multiarch)"
    elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$EPOCHREALTIME"; }
    local scripts=()
    for script in $scripts_glob; do
        for s in $root/$script; do [ -e "$s" ] && scripts+=("$s"); done
    done
    [ ${#scripts[@]} -gt 0 ] || { stop; die "no scripts in $scripts_glob"; }
    for script in "${scripts[@]}"; do
        name=${script#"$root"/gdb-scripts/arm64/}
        name=${name%.gdb}
        t0=$EPOCHREALTIME
        s=0
        out=$(KVMSTUB="$root/rig/arm64-remote" GDB=gdb-multiarch KVMSTUB_START_TIMEOUT=60 KVMSTUB_GDB_TIMEOUT=300 \
            bash "$root/gdb-scripts/run.sh" "$script" 2>&1) || s=$?
        echo "$(echo "$out" | grep -E '^(ok|FAIL) ' | sed "s|^\(....\) [^ ]*|\1 $name|") ($(elapsed "$t0") s)"
        if [ $s = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "$out" | grep -vE '^(ok|FAIL) |passed, ' | sed 's/^/  /'; fi
    done
    echo "rig-arm64: -cpu $cpu booted in $(cat "$state/boot-seconds") s"
    stop
}

# The sessions on two hosts: SVE up to 2048 bits (QEMU's max CPU) and a Cortex-A57, which has no SVE.
test_all() {
    local passed=0 failed=0
    trap stop EXIT
    bash "$root/examples/arm64/build.sh" >/dev/null || die "examples/arm64/build.sh"
    suite "${RIG_CPU:-max,sve=on,sve2048=on}" "$state" "${RIG_SCRIPTS:-gdb-scripts/arm64/*.gdb}" \
        'SVE vector lengths: .*\b2048 bits=SVE at 2048 bits offered;hw breakpoints: +[1-9][0-9]*, watchpoints [1-9]=hardware breakpoints and watchpoints'
    if [ -z "${RIG_SCRIPTS:-}" ]; then
        suite cortex-a57 "$state-a57" "$nosve_scripts" \
            'ARM_SVE: +no=no SVE (Cortex-A57);hw breakpoints: +[1-9][0-9]*, watchpoints [1-9]=hardware breakpoints and watchpoints'
    fi
    echo "rig-arm64: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

case "${1:-}" in
boot) boot ;;
stop) stop ;;
kvmstub) shift; "$root/rig/arm64-remote" "$@" ;;
test) test_all ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac

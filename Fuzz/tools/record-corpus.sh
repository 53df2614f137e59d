#!/usr/bin/env bash
# Records the fuzzers' seed corpus: real gdb sessions against real kvmstub guests, through rsp-proxy.py, split
# into one file per distinct packet gdb sent (plus each whole session) under Fuzz/corpus/gdb/.
#
#   Fuzz/tools/record-corpus.sh        (needs /dev/kvm, gdb, a built kvmstub: swift build)
#   env: KVMSTUB (default .build/debug/kvmstub)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
kvmstub=${KVMSTUB:-$root/.build/debug/kvmstub}
out=$root/Fuzz/corpus/gdb
[ -x "$kvmstub" ] || { echo "record-corpus.sh: build kvmstub first (swift build)" >&2; exit 2; }
bash "$root/examples/build.sh" >/dev/null
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# record NAME SCRIPT GUEST [kvmstub options...] [-- gdb options...]
record() {
    local name=$1 script=$2 guest=$3
    shift 3
    local stub_args=() gdb_args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do stub_args+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    gdb_args=("$@")
    local port=$((20000 + RANDOM % 20000)) proxy_port=$((40000 + RANDOM % 20000))
    "$kvmstub" run "$root/examples/build/$guest.elf" --wait --gdb "127.0.0.1:$port" --serial "$tmp/serial" \
        "${stub_args[@]}" 2>"$tmp/$name.stderr" &
    local stub=$!
    for _ in $(seq 100); do grep -q "waiting for gdb" "$tmp/$name.stderr" 2>/dev/null && break; sleep 0.05; done
    python3 "$here/rsp-proxy.py" "$proxy_port" "127.0.0.1:$port" "$tmp/$name" >"$tmp/$name.proxy" &
    local proxy=$!
    for _ in $(seq 100); do grep -q "proxy listening" "$tmp/$name.proxy" 2>/dev/null && break; sleep 0.05; done
    timeout -k 5 60 gdb -batch -nx -ex "set confirm off" "${gdb_args[@]}" -ex "target remote 127.0.0.1:$proxy_port" \
        -x "$here/sessions/$script" "$root/examples/build/$guest.elf" >"$tmp/$name.gdb.out" 2>&1 || true
    wait "$proxy" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$stub" 2>/dev/null || break; sleep 0.05; done
    kill "$stub" 2>/dev/null || true
    wait "$stub" 2>/dev/null || true
    python3 "$here/split-packets.py" "$tmp/$name.gdb" "$out" "$name"
}

record hello-tour hello-tour.gdb hello
record hello-acks hello-acks.gdb hello -- -ex "set remote noack-packet off"
record smp-threads smp-threads.gdb smp --cpus 2
record spin-interrupt spin-interrupt.gdb spin -- -ex "set remote noack-packet off"
for mode in 0 1 2; do record "faults-mode$mode" faults-tour.gdb "faults-mode$mode"; done
echo "corpus: $(ls "$out" | wc -l) files, $(cat "$out"/* | wc -c) bytes in $out"

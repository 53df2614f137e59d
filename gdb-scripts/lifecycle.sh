#!/usr/bin/env bash
# Session lifecycle against one kvmstub: attach to a running guest, detach, attach again (as often as
# wanted), a gdb killed without a word (treated like D), a second connection refused while one is active,
# and finally `k`, which ends kvmstub. Prints "N passed, N failed".
# usage: gdb-scripts/lifecycle.sh   (env KVMSTUB, GDB, KVMSTUB_START_TIMEOUT as for run.sh)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
kvmstub=${KVMSTUB:-$root/.build/debug/kvmstub}
gdb=${GDB:-gdb}
bash "$root/examples/build.sh" >/dev/null
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; [ "${KEEP:-}" = 1 ] && echo "logs in $tmp" || rm -rf "$tmp"' EXIT
passed=0
failed=0
check() {  # check LABEL COMMAND...
    local label=$1; shift
    if "$@"; then echo "ok   $label"; passed=$((passed + 1)); else echo "FAIL $label"; failed=$((failed + 1)); fi
}
clean() {
    exec python3 -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_SETMASK, [])
for s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}
# KVMSTUB_PORTS=LO-HI as for run.sh: a port found taken is skipped.
IFS=- read -r port_lo port_hi <<<"${KVMSTUB_PORTS:-20000-59999}"
for attempt in $(seq 20); do
    port=$((port_lo + (RANDOM * 32768 + RANDOM) % (port_hi - port_lo + 1)))
    clean "$kvmstub" run "$root/examples/build/spin.elf" --gdb "127.0.0.1:$port" --serial "$tmp/serial" 2>"$tmp/stderr" &
    pid=$!
    for _ in $(seq $((${KVMSTUB_START_TIMEOUT:-30} * 20))); do
        grep -q "waiting for gdb" "$tmp/stderr" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    grep -q "waiting for gdb" "$tmp/stderr" && break
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done
g() { (clean timeout -k 5 60 "$gdb" -batch -nx -ex "target remote 127.0.0.1:$port" "$@" "$root/examples/build/spin.elf" 2>&1); }
# "The guest runs on" never depends on this host's speed: attach, read spins, detach, again, until spins
# passes $1 (at most 60 s; a guest that stays stopped leaves it at $1 and the check fails).
spins_above() {
    local n= deadline=$((SECONDS + 60))
    while :; do
        n=$(g -ex 'p spins' -ex 'detach' | sed -n 's/^\$1 = //p')
        [ "${n:-0}" -gt "$1" ] || [ $SECONDS -ge $deadline ] && break
        sleep 0.1
    done
    echo "${n:-0}"
}
# The guest prints "spinning" after its first spin_once (rig/kvmstub-remote hands the serial output over only
# at the end: there, a second instead).
if [ -e "$tmp/serial" ]; then
    for _ in $(seq 1200); do grep -q spinning "$tmp/serial" 2>/dev/null && break; sleep 0.05; done
else
    sleep 1
fi

out1=$(g -ex 'p spins' -ex 'detach')
n1=$(sed -n 's/^\$1 = //p' <<<"$out1")
check "first gdb attaches to the running guest (spins=$n1)" test "${n1:-0}" -gt 0
n2=$(spins_above "${n1:-0}")
check "the guest ran on after detach, and a second gdb attaches (spins=$n2)" test "${n2:-0}" -gt "${n1:-0}"

# A gdb that dies without detaching: its breakpoint must not stay behind, and the guest runs on.
clean "$gdb" -batch -nx -ex "target remote 127.0.0.1:$port" -ex 'break spin_once' -ex 'continue' \
    -ex 'python import time; time.sleep(30)' "$root/examples/build/spin.elf" >"$tmp/gdb3" 2>&1 &
g3=$!
for _ in $(seq 100); do grep -q "Breakpoint 1, spin_once" "$tmp/gdb3" && break; sleep 0.05; done
# While it holds the session, a second connection is refused.
python3 - "$port" >"$tmp/second" 2>&1 <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.settimeout(5)
print(s.recv(64).decode(errors="replace"))
PY
check "a second connection is refused while gdb is attached" grep -q 'E01' "$tmp/second"
{ kill -9 "$g3"; wait "$g3"; } 2>/dev/null
wait "$g3" 2>/dev/null
# Where g3 stopped the guest: spins no higher than this until kvmstub has noticed g3 is gone.
n3=$(spins_above "${n2:-0}")
out4=$(g -ex 'info breakpoints' -ex 'p spins' -ex 'p $pc' -ex 'detach')
echo "$out4" > "$tmp/out4"
n4=$(spins_above "$n3")
check "after a vanished gdb the guest runs on, its breakpoint gone (spins $n3 -> $n4)" \
    bash -c "grep -q 'No breakpoints' '$tmp/out4' && [ '${n4:-0}' -gt '${n3:-0}' ]"
# A gdb that dies while the guest runs (the run is on the session's thread: gdb's socket closing must end it).
clean "$gdb" -batch -nx -ex "target remote 127.0.0.1:$port" -ex 'python print("resuming", flush=True)' \
    -ex 'continue' "$root/examples/build/spin.elf" >"$tmp/gdb4" 2>&1 &
g4=$!
for _ in $(seq 1200); do grep -q "^resuming" "$tmp/gdb4" 2>/dev/null && break; sleep 0.05; done
sleep 0.2  # gdb sends its vCont
{ kill -9 "$g4"; wait "$g4"; } 2>/dev/null
n7=$(spins_above "$n4")
check "a gdb killed while the guest ran: the next gdb attaches (spins $n4 -> $n7)" test "${n7:-0}" -gt "${n4:-0}"
out5=$(g -ex 'p spins' -ex 'detach')
n5=$(sed -n 's/^\$1 = //p' <<<"$out5")
n6=$(spins_above "${n5:-0}")
check "and keeps running between attaches (spins $n5 -> $n6)" test "${n6:-0}" -gt "${n5:-0}"
check "kvmstub said it refused the second connection" grep -qi 'refus' "$tmp/stderr"

g -ex 'kill' >/dev/null
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
check "k ends kvmstub" bash -c "! kill -0 $pid 2>/dev/null"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# Runs kvmstub's scripted lldb sessions: for each script, boot its guest under a fresh kvmstub, attach a real
# lldb (`gdb-remote`), run the script, and check what lldb printed, what the guest printed and how kvmstub exited.
# The counterpart of gdb-scripts/run.sh, for the other client.
#
# usage: lldb-scripts/run.sh [SCRIPT.lldb ...]     (default: every lldb-scripts/*.lldb)
# env:   KVMSTUB (default .build/debug/kvmstub), LLDB (default lldb-16; lldb-scripts/toolchain-lldb.sh runs the
#        Swift toolchain's own), KEEP=1 keeps the logs, LLDB_OUTPUT=FILE gets a copy of lldb's output (one script)
#
# A script's header says what to expect:
#   # guest: NAME          examples/build/NAME.elf (lldb's symbol file too)
#   # run: --no-wait       start the guest running (default: --wait, stopped at its entry); other words are
#                          more `kvmstub run` flags
#   # cpus: N              vCPUs (kvmstub run --cpus N)
#   # kernel: BZIMAGE      no example guest: `kvmstub run --kernel BZIMAGE` (a path, or `debian` for the newest
#                          /boot/vmlinuz-*-cloud-amd64), KASLR on; lldb's symbol file is the vmlinux extracted
#                          from it (scripts/extract-vmlinux.sh) with its symbols rebuilt from its kallsyms
#                          (scripts/vmlinux-symbols.py: Debian strips them); with `# cmdline: TEXT` for the kernel
#   # attach-when-serial: TEXT   start lldb only once the guest's serial output contains TEXT (default: at once)
#   # exit: N              kvmstub's exit status (the guest's, through the exit port)
#   # serial: TEXT         the guest's serial output contains TEXT (any number of these)
#   # serial-lacks: TEXT   the guest's serial output does not contain TEXT
#   # expect: TEXT         lldb's output contains TEXT (any number of these; the lines lldb echoes, the
#                          script's own `(lldb) COMMAND`, are not looked at)
#   # expect-re: REGEX     lldb's output has a line matching this extended regular expression (grep -E)
#   # reject: TEXT         lldb's output must not contain TEXT
#   # allow-error: TEXT    an `error:` line containing TEXT is expected (any other `error:` line fails)
#   # then: FILE.lldb [LLDB]   when the first lldb has left, a second one attaches and runs FILE (a reattach),
#                          with LLDB if given (a program in lldb-scripts/, e.g. toolchain-lldb.sh); its output is
#                          checked with the first's
# A script checks with `expect_true EXPR ;; MESSAGE` and the other commands of lib/kvmstub.py, which print
# PASS:/FAIL: lines. Every script fails on a FAIL: line, on an lldb `error:` line it does not allow, on lldb's own assertion messages
# ("Assertion failed", "GetMemoryRegionInfo() succeeded, then failed", "Please file a bug report"), on lldb
# exiting with a non-zero status, and when it checks nothing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
kvmstub=${KVMSTUB:-$root/.build/debug/kvmstub}
lldb=${LLDB:-lldb-16}
[ -x "$kvmstub" ] || { echo "run.sh: $kvmstub is not built (swift build)" >&2; exit 2; }
command -v "$lldb" >/dev/null || { echo "run.sh: $lldb is not installed (scripts/test.sh installs lldb-16)" >&2; exit 2; }

# As in gdb-scripts/run.sh: a parent (a test runner's thread) may have blocked signals; start each program
# with a clean signal state, so SIGINT and timeout's SIGTERM land.
clean_signals() {
    exec python3 -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_SETMASK, [])
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=("$here"/*.lldb)
passed=0
failed=0

header() { sed -n "s/^# $1: //p" "$2"; }

for script in "${scripts[@]}"; do
    [ -n "$(header guest "$script")" ] || continue
    "$root/examples/build.sh" >/dev/null || { echo "run.sh: examples/build.sh failed" >&2; exit 2; }
    break
done

for script in "${scripts[@]}"; do
    name=$(basename "$script" .lldb)
    tmp=$(mktemp -d)
    problems=()
    guest=$(header guest "$script")
    kernel=$(header kernel "$script")
    want_exit=$(header exit "$script")
    wait_flag=--wait
    run_flags=()
    for w in $(header run "$script"); do
        case "$w" in
        --no-wait) wait_flag= ;;
        *) run_flags+=("$w") ;;
        esac
    done
    cpus=$(header cpus "$script")
    if [ -n "$kernel" ]; then
        [ "$kernel" = debian ] && kernel=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort | tail -1)
        cmdline=$(header cmdline "$script")
        serve=(run --kernel "$kernel" ${cmdline:+--cmdline "$cmdline"} $wait_flag "${run_flags[@]}" --serial "$tmp/serial")
        image="$tmp/vmlinux"
        { bash "$root/scripts/extract-vmlinux.sh" "$kernel" "$tmp/vmlinux.stripped" &&
            python3 "$root/scripts/vmlinux-symbols.py" "$tmp/vmlinux.stripped" "$image"; } >"$tmp/extract.log" 2>&1 ||
            problems+=("extracting vmlinux and its symbols from $kernel failed: $(tail -2 "$tmp/extract.log")")
    else
        serve=(run "$root/examples/build/$guest.elf" $wait_flag ${cpus:+--cpus $cpus} "${run_flags[@]}" --serial "$tmp/serial")
        image="$root/examples/build/$guest.elf"
    fi
    pid=
    for attempt in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 40000))
        clean_signals "$kvmstub" "${serve[@]}" --gdb "127.0.0.1:$port" >"$tmp/stdout" 2>"$tmp/stderr" &
        pid=$!
        for _ in $(seq 200); do
            grep -q "waiting for gdb" "$tmp/stderr" 2>/dev/null && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        grep -q "waiting for gdb" "$tmp/stderr" && break
        wait "$pid" 2>/dev/null
        pid=
    done
    # One lldb session: batch mode, no ~/.lldbinit, connect, run the file.
    session() {
        (clean_signals timeout -k 5 "${2:-120}" "${3:-$lldb}" --batch --no-lldbinit --no-use-colors \
            -o "settings set auto-confirm true" -o "settings set interpreter.stop-command-source-on-error false" \
            -o "command script import $here/lib/kvmstub.py" \
            -o "gdb-remote 127.0.0.1:$port" -s "$1" "$image") >>"$tmp/lldb.out" 2>&1
    }
    if [ ${#problems[@]} -gt 0 ]; then
        [ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null; }
    elif [ -z "$pid" ]; then
        problems+=("kvmstub did not start: $(cat "$tmp/stderr")")
    else
        attach_when=$(header attach-when-serial "$script")
        if [ -n "$attach_when" ]; then
            for _ in $(seq 9000); do  # up to 900 s: a KASLR boot is minutes of emulated code on kvm_pvm, more on a busy host
                grep -qF -- "$attach_when" "$tmp/serial" 2>/dev/null && break
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            grep -qF -- "$attach_when" "$tmp/serial" 2>/dev/null || problems+=("the serial output never showed: $attach_when")
        elif [ -z "$wait_flag" ]; then
            sleep 0.3  # let the guest run before lldb attaches
        fi
        lldb_status=0
        session "$script" 240 || lldb_status=$?
        read -r then_script then_lldb < <(header then "$script"; echo)
        if [ -n "${then_lldb:-}" ] && ! "$here/$then_lldb" --version >/dev/null 2>&1; then
            echo "--- $then_lldb does not start here; the second session uses $lldb ---" >>"$tmp/lldb.out"
            then_lldb=
        fi
        if [ -n "$then_script" ] && [ "$lldb_status" = 0 ]; then
            echo "--- then: $then_script ${then_lldb:-} ---" >>"$tmp/lldb.out"
            session "$here/$then_script" 240 ${then_lldb:+"$here/$then_lldb"} || lldb_status=$?
        fi
        status=
        for _ in $(seq 200); do
            kill -0 "$pid" 2>/dev/null || { wait "$pid"; status=$?; break; }
            sleep 0.05
        done
        if [ -z "$status" ]; then
            kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
            problems+=("kvmstub was still running 10 s after lldb left")
        elif [ -n "$want_exit" ] && [ "$status" != "$want_exit" ]; then
            problems+=("kvmstub exited with $status, expected $want_exit")
        fi
        [ "$lldb_status" = 0 ] || problems+=("lldb exited with $lldb_status")
        # What lldb printed, without the lines it echoes ("(lldb) COMMAND"): the script's own header and
        # commands must never satisfy an expectation.
        grep -v '^(lldb) ' "$tmp/lldb.out" >"$tmp/printed" || true
        [ -n "${LLDB_OUTPUT:-}" ] && cp "$tmp/lldb.out" "$LLDB_OUTPUT"
        allowed=$(header allow-error "$script")
        while IFS= read -r line; do
            ok=
            while IFS= read -r a; do [ -n "$a" ] && [[ "$line" == *"$a"* ]] && ok=1; done <<<"$allowed"
            [ -n "$ok" ] || problems+=("lldb: $line")
        done < <(grep -E '^error: ' "$tmp/printed")
        for text in "Assertion failed" "succeeded, then failed" "Please file a bug report" "PLEASE submit a bug report"; do
            grep -qF -- "$text" "$tmp/printed" && problems+=("lldb printed: $(grep -F -- "$text" "$tmp/printed" | head -1)")
        done
        while IFS= read -r text; do
            [ -n "$text" ] && grep -qF -- "$text" "$tmp/printed" && problems+=("lldb output has what it must not: $text")
        done < <(header reject "$script")
        while IFS= read -r text; do
            [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/serial" 2>/dev/null && problems+=("serial output lacks: $text")
        done < <(header serial "$script")
        while IFS= read -r text; do
            [ -n "$text" ] && grep -qF -- "$text" "$tmp/serial" 2>/dev/null && problems+=("serial output has what it must not: $text")
        done < <(header serial-lacks "$script")
        while IFS= read -r text; do
            [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/printed" && problems+=("lldb output lacks: $text")
        done < <(header expect "$script")
        while IFS= read -r re; do
            [ -n "$re" ] && ! grep -qE -- "$re" "$tmp/printed" && problems+=("no lldb output line matches: $re")
        done < <(header expect-re "$script")
        grep -q "^FAIL:" "$tmp/printed" && problems+=("$(grep '^FAIL:' "$tmp/printed" | head -5)")
        passes=$(grep -c "^PASS:" "$tmp/printed")
        checks=$(( passes + $(header expect "$script" | grep -c .) + $(header expect-re "$script" | grep -c .) ))
        [ "$checks" -gt 0 ] || problems+=("the script checked nothing")
    fi
    if [ ${#problems[@]} -eq 0 ]; then
        echo "ok   $name ($passes checks, $((checks - passes)) expected lines, exit ${status:-?}, $("$lldb" --version | head -1 | cut -d' ' -f1-3))"
        passed=$((passed + 1))
    else
        echo "FAIL $name ($lldb)"
        printf '     %s\n' "${problems[@]}"
        echo "     --- lldb output ---"; sed 's/^/     /' "$tmp/lldb.out" 2>/dev/null | tail -60
        echo "     --- kvmstub stderr ---"; sed 's/^/     /' "$tmp/stderr" | tail -10
        failed=$((failed + 1))
    fi
    [ "${KEEP:-}" = 1 ] && echo "     logs in $tmp" || rm -rf "$tmp"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

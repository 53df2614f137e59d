#!/usr/bin/env bash
# Runs kvmstub's scripted gdb sessions: for each script, boot its guest under a fresh kvmstub, attach the
# real gdb, run the script, and check what it printed, what the guest printed and how kvmstub exited.
#
# usage: gdb-scripts/run.sh [SCRIPT.gdb ...]     (default: every gdb-scripts/*.gdb;
#        gdb-scripts/multiarch/*.gdb are the gdb-multiarch sessions against `kvmstub fake-target`)
# env:   KVMSTUB (default .build/debug/kvmstub), GDB (default gdb), KEEP=1 keeps the logs,
#        KVMSTUB_START_TIMEOUT (seconds to wait for "waiting for gdb", default 30), KVMSTUB_GDB_TIMEOUT (seconds
#        a script may take, default 120; the nested rig steps about a hundred times slower),
#        KVMSTUB_PORTS=LO-HI (the ports kvmstub may listen on, default 20000-59999; taken ones are skipped).
#        KVMSTUB=rig/kvmstub-remote runs each kvmstub in the nested rig's L1 (scripts/rig-x86.sh).
#
# A script's header says what to expect:
#   # guest: NAME          examples/build/NAME.elf (arm64/NAME: examples/arm64/NAME, built by examples/arm64/build.sh)
#   # run: --no-wait       start the guest running (default: --wait, stopped at its entry); other words are
#                          more `kvmstub run` flags: --real-mode boots examples/build/NAME.bin (gdb still
#                          reads NAME.elf for symbols), --gdb-arch x86-64
#   # running: TEXT        with --no-wait: gdb attaches once the guest's serial output contains TEXT (at most
#                          60 s, else the script fails), so "the guest ran" never depends on this host's speed
#   # cpus: N              vCPUs (kvmstub run --cpus N)
#   # exit: N              kvmstub's exit status (the guest's, through the exit port)
#   # serial: TEXT         the guest's serial output contains TEXT (any number of these)
#   # expect: TEXT         gdb's output contains TEXT (any number of these)
#   # fake-target: ARCH [VL] no guest: serve a fake arm64/ppc64 kernel (kvmstub fake-target --arch ARCH
#                          [--sve-vl VL]) instead of `kvmstub run`
#   # gdb: NAME            run this gdb (e.g. gdb-multiarch) instead of $GDB
#   # source: FILE         gdb sources gdb-scripts/FILE (e.g. lib/roundtrip.py) before connecting
#   # symbols: none        gdb gets no symbol file (default: examples/build/NAME.elf)
#   # varies: REGEX        a line the documentation quotes as this host printed it, which differs by host
#   # quotes-from: rig     the documentation's quotes of this session were taken on architectural KVM (the nested
#                          rig), not on kvm_pvm: they are checked where CPL0 code is not emulated
#   # kernel: bzimage|pvh  no example guest: Debian's cloud kernel from scripts/kernel-gdb.sh's cache (KERNEL_GDB,
#                          else that script's output) — its bzImage as shipped, or the ELF inside it entered at its
#                          PVH note — with the cache's initramfs (rig/kernel-init.sh); gdb reads the -dbg vmlinux
#                          and sources lib/kernel.py; KERNEL_GDB and KVMSTUB_SERIAL are in gdb's environment
#   # cmdline: TEXT        the kernel's command line (kvmstub run --cmdline TEXT)
#   # memory: SIZE         kvmstub run --memory SIZE
#   # timeout: N           seconds gdb may take (default 120)
#   # disk: FILE           a copy of examples/build/FILE is the guest's ATA disk (kvmstub run --disk); with
#                          --real-mode the machine boots from its sector 0 (no image); KVMSTUB_DISK names the copy
#                          in gdb's environment
#   # boot-again: TEXT     with a disk: once gdb and kvmstub are done, boot the same disk again without gdb; its
#                          serial output (appended to the first run's, for the quoted sessions) contains TEXT and
#                          it exits with `# exit:` (any number of these lines)
# and it fails on any "FAIL:" line, on "Error in sourced command file", or when it checks nothing.
# Every block of README.md, examples/README.md and examples/*/LESSON.md marked `<!-- session: NAME -->` must
# be what the script NAME.gdb ran and printed, command by command (gdb-scripts/lib/quoted.py): gdb runs such a
# script with `set trace-commands on` ("+CMD" before each command's output); `# expect:` lines are looked for
# in the output without those trace lines. The quotes are this host's (kvm_pvm): elsewhere they are not checked.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
kvmstub=${KVMSTUB:-$root/.build/debug/kvmstub}
gdb=${GDB:-gdb}
[ -x "$kvmstub" ] || { echo "run.sh: $kvmstub is not built (swift build)" >&2; exit 2; }
command -v "$gdb" >/dev/null || { echo "run.sh: $gdb is not installed" >&2; exit 2; }

# A parent may have blocked or ignored signals (a test runner's thread does); gdb then never sees the
# SIGINT a script sends to interrupt the guest, and timeout's SIGTERM never lands. Start each program
# with a clean signal state.
# It execs, so `clean_signals … &` leaves $! naming the program itself (a kill reaches it); call it in the
# foreground only inside ( ).
clean_signals() {
    exec python3 -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_SETMASK, [])
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

scripts=("$@")
for i in "${!scripts[@]}"; do  # absolute: gdb runs in the repository's root
    scripts[i]=$(cd "$(dirname "${scripts[i]}")" && pwd)/$(basename "${scripts[i]}")
done
[ ${#scripts[@]} -gt 0 ] || scripts=("$here"/*.gdb)
passed=0
failed=0
# The TCP ports kvmstub may listen on: KVMSTUB_PORTS=LO-HI (default 20000-59999), e.g. one range per student
# when a class shares a machine. A port found taken is skipped: parallel runs do not collide.
IFS=- read -r port_lo port_hi <<<"${KVMSTUB_PORTS:-20000-59999}"
if ! [[ "$port_lo" =~ ^[0-9]+$ && "$port_hi" =~ ^[0-9]+$ ]] || [ "$port_lo" -gt "$port_hi" ] || [ "$port_hi" -gt 65535 ]; then
    echo "run.sh: KVMSTUB_PORTS=${KVMSTUB_PORTS:-} is not LO-HI (e.g. 21000-21099)" >&2
    exit 2
fi
pick_port() { echo $((port_lo + (RANDOM * 32768 + RANDOM) % (port_hi - port_lo + 1))); }
quoted_sessions=$(python3 "$here/lib/quoted.py" --list "$root")
# The quoted sessions were taken on kvm_pvm (examples/LESSONS.md): on another KVM (the nested rig's) what
# depends on the host differs, so they are checked only where kvmstub finds CPL0 code emulated.
# A script whose quotes were taken on architectural KVM (`# quotes-from: rig`: the kernel lesson, which needs
# data breakpoints and a boot kvm_pvm takes many minutes over) is checked where kvmstub finds CPL0 code run on the CPU.
"$kvmstub" info 2>/dev/null | grep -q "CPL0 code is emulated" && emulated=yes || emulated=

header() { sed -n "s/^# $1: //p" "$2"; }

# The example guests, unless every script serves a fake kernel (no guest at all); the arm64 ones
# (`# guest: arm64/NAME`, examples/arm64/) when a script names one.
for script in "${scripts[@]}"; do
    [ -n "$(header fake-target "$script")" ] && continue
    "$root/examples/build.sh" >/dev/null || { echo "run.sh: examples/build.sh failed" >&2; exit 2; }
    break
done
for script in "${scripts[@]}"; do
    case "$(header guest "$script")" in arm64/*) ;; *) continue ;; esac
    "$root/examples/arm64/build.sh" >/dev/null || { echo "run.sh: examples/arm64/build.sh failed" >&2; exit 2; }
    break
done

for script in "${scripts[@]}"; do
    name=$(basename "$script" .gdb)
    tmp=$(mktemp -d)
    guest=$(header guest "$script")
    want_exit=$(header exit "$script")
    wait_flag=--wait
    run_flags=()
    image_suffix=elf
    for w in $(header run "$script"); do
        case "$w" in
        --no-wait) wait_flag= ;;
        --real-mode) image_suffix=bin; run_flags+=("$w") ;;
        *) run_flags+=("$w") ;;
        esac
    done
    cpus=$(header cpus "$script")
    fake=($(header fake-target "$script"))
    script_gdb=$(header gdb "$script")
    script_gdb=${script_gdb:-$gdb}
    sources=()
    kernel=$(header kernel "$script")
    if [ -n "$kernel" ] && [ -z "${KERNEL_GDB:-}" ]; then
        KERNEL_GDB=$(bash "$root/scripts/kernel-gdb.sh" | tail -1) || { echo "run.sh: scripts/kernel-gdb.sh failed" >&2; exit 2; }
    fi
    [ -n "$kernel" ] && sources+=(-ex "source $here/lib/kernel.py")
    while IFS= read -r f; do [ -n "$f" ] && sources+=(-ex "source $here/$f"); done < <(header source "$script")
    cmdline=$(header cmdline "$script")
    disk=$(header disk "$script")
    if [ -n "$disk" ]; then
        cp "$root/examples/build/$disk" "$tmp/disk.img"
        run_flags+=(--disk "$tmp/disk.img")
    fi
    memory=$(header memory "$script")
    if [ -n "$kernel" ]; then
        case "$kernel" in
        bzimage) kernel_image=$KERNEL_GDB/bzImage ;;
        pvh) kernel_image=$KERNEL_GDB/vmlinux.pvh ;;
        *) echo "run.sh: $name: # kernel: $kernel (bzimage or pvh)" >&2; exit 2 ;;
        esac
        serve=(run --kernel "$kernel_image" --initrd "$KERNEL_GDB/initramfs.cpio" ${cmdline:+--cmdline "$cmdline"}
            ${memory:+--memory $memory} $wait_flag ${cpus:+--cpus $cpus} "${run_flags[@]}" --serial "$tmp/serial")
        image=("$KERNEL_GDB/vmlinux")
    elif [ ${#fake[@]} -gt 0 ]; then
        serve=(fake-target --arch "${fake[0]}" ${fake[1]:+--sve-vl "${fake[1]}"})
        image=()
    else
        boot_image=("$root/examples/build/$guest.$image_suffix")
        [ -n "$disk" ] && [ "$image_suffix" = bin ] && boot_image=()  # --real-mode --disk: the disk's sector 0
        serve=(run "${boot_image[@]}" $wait_flag ${cpus:+--cpus $cpus} "${run_flags[@]}" --serial "$tmp/serial")
        image=("$root/examples/build/$guest.elf")
        [ "$(header symbols "$script")" = none ] && image=()
    fi
    pid=
    for attempt in $(seq 20); do
        port=$(pick_port)
        clean_signals "$kvmstub" "${serve[@]}" --gdb "127.0.0.1:$port" >"$tmp/stdout" 2>"$tmp/stderr" &
        pid=$!
        for _ in $(seq $((${KVMSTUB_START_TIMEOUT:-30} * 20))); do
            grep -q "waiting for gdb" "$tmp/stderr" 2>/dev/null && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        grep -q "waiting for gdb" "$tmp/stderr" && break
        # Most likely the port was taken (another run, another student): another one.
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        pid=
    done
    problems=()
    if ! command -v "$script_gdb" >/dev/null; then
        problems+=("$script_gdb is not installed")
        [ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null; }
    elif [ -z "$pid" ]; then
        problems+=("kvmstub did not start: $(cat "$tmp/stderr")")
    else
        running=$(header running "$script")
        if [ -n "$running" ] && [ ! -e "$tmp/serial" ]; then
            sleep 1  # a kvmstub that hands its serial output over only at the end (rig/kvmstub-remote)
        elif [ -n "$running" ]; then  # let the guest get somewhere before gdb attaches
            for _ in $(seq 1200); do
                grep -qF -- "$running" "$tmp/serial" 2>/dev/null && break
                sleep 0.05
            done
            grep -qF -- "$running" "$tmp/serial" 2>/dev/null ||
                problems+=("the guest had not printed \"$running\" 60 s after it started")
        fi
        # Traced only where the documentation quotes the session: a trace line would also land in what a
        # script captures with gdb.execute(…, to_string=True).
        trace=off
        # The name the documentation uses: the script's path under gdb-scripts/ (kernel/lesson-9-linux).
        qname=${script#"$here"/}
        qname=${qname%.gdb}
        grep -qF -x -e "$qname" -e "$qname serial" <<<"$(sed 's/^[^ ]* //' <<<"$quoted_sessions")" && trace=on
        quotes_host=
        if [ "$(header quotes-from "$script")" = rig ]; then [ -z "$emulated" ] && quotes_host=yes
        else [ -n "$emulated" ] && quotes_host=yes; fi
        (cd "$root" && KERNEL_GDB=${KERNEL_GDB:-} KVMSTUB_SERIAL=$tmp/serial KVMSTUB_DISK=$tmp/disk.img clean_signals timeout -k 5 "$(header timeout "$script" | grep . || echo "${KVMSTUB_GDB_TIMEOUT:-120}")" "$script_gdb" -batch -nx -ex "set confirm off" \
            -ex "source $here/lib/check.gdb" "${sources[@]}" -ex "set trace-commands $trace" \
            -ex "target remote 127.0.0.1:$port" -x "$script" "${image[@]}") >"$tmp/gdb.trace" 2>&1
        gdb_status=$?
        grep -v '^+' "$tmp/gdb.trace" >"$tmp/gdb.out"
        status=
        for _ in $(seq 200); do
            kill -0 "$pid" 2>/dev/null || { wait "$pid"; status=$?; break; }
            sleep 0.05
        done
        if [ -z "$status" ]; then
            kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
            problems+=("kvmstub was still running 10 s after gdb left")
        elif [ -n "$want_exit" ] && [ "$status" != "$want_exit" ]; then
            problems+=("kvmstub exited with $status, expected $want_exit")
        fi
        [ "$gdb_status" = 0 ] || problems+=("gdb exited with $gdb_status")
        if [ -n "$disk" ] && [ -n "$(header boot-again "$script")" ]; then
            # The same disk, booted again without gdb: what the first run wrote must be there.
            boot_image=("$root/examples/build/$guest.$image_suffix")
            [ "$image_suffix" = bin ] && boot_image=()
            (clean_signals timeout -k 5 60 "$kvmstub" run "${boot_image[@]}" "${run_flags[@]}" --serial "$tmp/serial2" \
                >"$tmp/stdout2" 2>"$tmp/stderr2")
            again=$?
            [ -n "$want_exit" ] && [ "$again" != "$want_exit" ] &&
                problems+=("booted again, kvmstub exited with $again, expected $want_exit: $(head -3 "$tmp/stderr2")")
            while IFS= read -r text; do
                [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/serial2" && problems+=("booted again, the serial output lacks: $text")
            done < <(header boot-again "$script")
        fi
        grep -q "^FAIL:" "$tmp/gdb.out" && problems+=("$(grep '^FAIL:' "$tmp/gdb.out" | head -5)")
        grep -q "Error in sourced command file" "$tmp/gdb.out" && problems+=("$(grep -A1 'Error in sourced command file' "$tmp/gdb.out" | head -3)")
        while IFS= read -r text; do
            [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/serial" && problems+=("serial output lacks: $text")
        done < <(header serial "$script")
        while IFS= read -r text; do
            [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/gdb.out" && problems+=("gdb output lacks: $text")
        done < <(header expect "$script")
        [ -e "$tmp/serial2" ] && cat "$tmp/serial2" >>"$tmp/serial"  # the second boot's, after the first's
        if [ "$trace" = on ] && [ -n "$quotes_host" ]; then
            while IFS= read -r line; do
                [ -n "$line" ] && problems+=("$line")
            done < <(python3 "$here/lib/quoted.py" "$root" "$qname" "$tmp/gdb.trace" "$tmp/serial" "$script")
        fi
        checks=$(grep -c "^PASS:" "$tmp/gdb.out")
        expects=$(header expect "$script" | grep -c .)
        [ "$checks" -gt 0 ] || [ "$expects" -gt 0 ] || problems+=("the script checked nothing")
    fi
    if [ ${#problems[@]} -eq 0 ]; then
        echo "ok   $name ($checks checks, $expects expected lines, exit ${status:-?})"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        printf '     %s\n' "${problems[@]}"
        echo "     --- gdb output ---"; [ -e "$tmp/gdb.out" ] && sed 's/^/     /' "$tmp/gdb.out" | tail -40
        echo "     --- kvmstub stderr ---"; sed 's/^/     /' "$tmp/stderr" | tail -10
        failed=$((failed + 1))
    fi
    [ "${KEEP:-}" = 1 ] && echo "     logs in $tmp" || rm -rf "$tmp"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# The register tables against real kernels (issue 19): in the arm64 rig, the arm64 kvmstub prints its table
# without SVE and at every SVE vector length from 128 to 2048 bits, and rig/probes/onereg-probe reads, writes
# back and pattern-checks every ONE_REG ID of each on real arm64 KVM; in the ppc64 rig the same probe runs the
# ppc64 table (printed by this host's kvmstub: there is no Swift for ppc64el) on real POWER KVM-HV. Both also
# answer `onereg-probe --rules`, which must match rig/probes/{arm64,ppc64}.rules line for line: those files
# are what the fake kernel's tests hold the fake to, so a kernel that changes its answers shows here.
#
# In the same arm64 boot the arm64 kvmstub also runs `kvmstub info` against the real KVM and serves
# `kvmstub fake-target --arch arm64 --sve-vl 2048` to gdb-multiarch on this host (user networking, hostfwd on
# 127.0.0.1), which runs gdb-scripts/multiarch/arm64-sve-2048.gdb through it: the arm64 binary's own gdb stub.
#
# usage: rig/probe.sh [arm64] [ppc64]     (both by default); exit status 0 when every check passed
# env:   KVMSTUB (default .build/debug/kvmstub, built if missing): the host's kvmstub, for the ppc64 listing;
#        the arm64 kvmstub comes from .build-arm64 (bash scripts/build-arm64.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(arm64 ppc64)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

# compare_rules ARCH LOG: the rule lines the kernel printed against the recorded ones.
compare_rules() {
    grep -a '^rule ' "$here/probes/$1.rules" >"$work/$1.want"
    grep -a '^rule ' "$2" | tr -d '\r' >"$work/$1.got" || true
    if diff -u "$work/$1.want" "$work/$1.got" >"$work/$1.diff"; then
        echo "probe: $1 rules: the real kernel answers all $(wc -l <"$work/$1.want") as rig/probes/$1.rules records"
    else
        echo "probe: $1 rules: the real kernel's answers differ from rig/probes/$1.rules (- recorded, + now):" >&2
        sed 's/^/  /' "$work/$1.diff" >&2
        status=1
    fi
}

for arch in "${archs[@]}"; do
    case "$arch" in
    arm64)
        [ -x .build-arm64/kvmstub ] || { echo "probe: no .build-arm64/kvmstub: run bash scripts/build-arm64.sh" >&2; exit 1; }
        cat >"$work/arm64-job.sh" <<'JOB'
s=0
/rig/onereg-probe --rules
kvmstub regs --arch arm64 >nosve.listing || s=1
onereg-probe nosve.listing | grep -v '^note' || s=1
for vl in 128 256 384 512 640 768 896 1024 1152 1280 1408 1536 1664 1792 1920 2048; do
    kvmstub regs --arch arm64 --sve-vl $vl >sve.listing || s=1
    onereg-probe --sve-vl $vl sve.listing | grep -v '^note' || s=1
done
echo "--- kvmstub info"
kvmstub info || s=1
echo "---"
kvmstub fake-target --arch arm64 --sve-vl 2048 --gdb 0.0.0.0:1234 || s=1
exit $s
JOB
        # gdb-multiarch through the forwarded port, as gdb-scripts/run.sh runs a fake-target script.
        port=$((20000 + RANDOM % 40000))
        sdir=$top/gdb-scripts
        cat >"$work/gdb.sh" <<GDB
timeout -k 5 300 gdb-multiarch -batch -nx -ex "set confirm off" -ex "set remotetimeout 60" \\
    -ex "source $sdir/lib/check.gdb" -ex "source $sdir/lib/roundtrip.py" -ex "source $sdir/lib/aarch64-sve.gdb" \\
    -ex "target remote 127.0.0.1:$port" -x "$sdir/multiarch/arm64-sve-2048.gdb" >"$work/gdb.out" 2>&1
GDB
        command -v gdb-multiarch >/dev/null || apt-get install -y -qq gdb-multiarch >/dev/null
        log=$work/arm64.log
        # sve-max-vq=16: every vector length from 128 to 2048 bits (sve2048=on alone offers the powers of two).
        if QUIET=1 bash "$here/arm64.sh" --cpu max,sve=on,sve-max-vq=16 --log "$log" --gdb-port "$port" \
            --then "bash $work/gdb.sh" "$work/arm64-job.sh"; then :; else
            echo "probe: arm64 job failed (status $?); its console:" >&2
            grep -a -E '^(FAIL|probe|RIG|kvmstub)' "$log" | sed 's/^/  /' >&2
            status=1
        fi
        grep -a -E '^probe ' "$log" | tr -d '\r' | sed 's/^/probe: /'
        [ "$(grep -ac '^probe arm64' "$log")" = 17 ] || { echo "probe: expected 17 arm64 probe runs" >&2; status=1; }
        compare_rules arm64 "$log"
        echo "probe: kvmstub info on real arm64 KVM (in the rig):"
        sed -n '/^--- kvmstub info/,/^---$/p' "$log" | tr -d '\r' | sed '1d;$d;s/^/  /'
        passes=$(grep -c '^PASS:' "$work/gdb.out" || true)
        if grep -q '^FAIL:' "$work/gdb.out" || ! grep -q 'g packet: 9020 bytes' "$work/gdb.out" || [ "$passes" = 0 ]; then
            echo "probe: gdb-multiarch against the arm64 kvmstub's fake-target (SVE 2048) failed:" >&2
            tail -30 "$work/gdb.out" | sed 's/^/  /' >&2
            status=1
        else
            echo "probe: gdb-multiarch on this host against the arm64 kvmstub's fake-target (SVE 2048) in the rig: $passes checks passed"
        fi
        ;;
    ppc64)
        kvmstub=${KVMSTUB:-.build/debug/kvmstub}
        [ -x "$kvmstub" ] || swift build --product kvmstub >/dev/null
        "$kvmstub" regs --arch ppc64 >"$work/ppc64.listing"
        printf '/rig/onereg-probe --rules\n/rig/onereg-probe /rig/ppc64.listing\n' >"$work/ppc64-job.sh"
        log=$work/ppc64.log
        if QUIET=1 bash "$here/ppc64.sh" --log "$log" "$work/ppc64-job.sh" "$work/ppc64.listing"; then :; else
            echo "probe: ppc64 job failed; its console:" >&2
            grep -a -E '^(FAIL|probe|RIG)' "$log" | sed 's/^/  /' >&2
            status=1
        fi
        grep -a -E '^probe ' "$log" | tr -d '\r' | sed 's/^/probe: /'
        compare_rules ppc64 "$log"
        ;;
    *) echo "probe: unknown architecture $arch (arm64, ppc64)" >&2; exit 1 ;;
    esac
done
exit $status

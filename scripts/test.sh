#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing (gdb, gdb-multiarch, lldb-16, the arm64
# and ppc64 kernel headers), builds the example guests, runs the whole `swift test`, then the gdb scripts again
# in the nested SVM rig (scripts/rig-x86.sh), and says how many tests
# ran and how many were skipped. Under CI (CI=true) a skipped test is a failure: CI has /dev/kvm and gdb.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v gdb >/dev/null || need+=(gdb)
command -v gdb-multiarch >/dev/null || need+=(gdb-multiarch)
# lldb-16 (with python3-lldb-16) for lldb-scripts/; objcopy (binutils) rebuilds a kernel's symbols for it.
command -v lldb-16 >/dev/null || need+=(lldb-16)
command -v objcopy >/dev/null || need+=(binutils)
command -v gcc >/dev/null || need+=(gcc)
# Cross compilers: CKVM's header is compiled for arm64 and ppc64le by a test, and the rigs' probes are C.
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
command -v powerpc64le-linux-gnu-gcc >/dev/null || need+=(gcc-powerpc64le-linux-gnu)
command -v python3 >/dev/null || need+=(python3)
[ -e /usr/aarch64-linux-gnu/include/asm/kvm.h ] || need+=(linux-libc-dev-arm64-cross)
[ -e /usr/powerpc64le-linux-gnu/include/asm/kvm.h ] || need+=(linux-libc-dev-ppc64el-cross)
# Debian's cloud kernel (~26 MB) for the Linux-boot tests; lz4 decompresses its payload (extract-vmlinux.sh).
compgen -G '/boot/vmlinuz-*-cloud-amd64' >/dev/null || need+=(linux-image-cloud-amd64)
command -v lz4 >/dev/null || need+=(lz4)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# A kernel with the MP-table parser for LinuxSMPTests.twoCPUsFromTheMPTable (Debian's cloud kernel has none):
# the generic image of the same ABI, unpacked (not installed: no initramfs hooks) into .build-kernels.
if [ -z "${KVMSTUB_MPPARSE_KERNEL:-}" ] && ! ls /boot/vmlinuz-*-amd64 2>/dev/null | grep -qv -- '-cloud-amd64$'; then
    cloud=$(ls /boot/vmlinuz-*-cloud-amd64 | sort | tail -1)
    abi=${cloud#/boot/vmlinuz-}
    abi=${abi%-cloud-amd64}
    dir=.build-kernels/$abi
    if [ ! -e "$dir/boot/vmlinuz-$abi-amd64" ]; then
        echo "downloading linux-image-$abi-amd64-unsigned (unpacked into $dir, for the MP-table test)"
        mkdir -p "$dir"
        fetch() { (cd "$dir" && apt-get download -qq "linux-image-$abi-amd64-unsigned" >/dev/null 2>&1); }
        fetch || { apt-get update -qq && fetch; }
        dpkg-deb -x "$dir"/linux-image-*.deb "$dir" && rm -f "$dir"/linux-image-*.deb
    fi
    export KVMSTUB_MPPARSE_KERNEL=$PWD/$dir/boot/vmlinuz-$abi-amd64
fi

# The kernel sessions' cache (gdb-scripts/kernel/, KernelGDBScriptTests): the -dbg vmlinux, vmlinux-gdb.py built
# from Debian's source, an initramfs; in /var/cache/kvmstub/kernel-gdb, built once (~420 MB of downloads).
KERNEL_GDB=$(bash scripts/kernel-gdb.sh | tail -1) || { echo "scripts/kernel-gdb.sh failed" >&2; exit 1; }
export KERNEL_GDB

bash examples/build.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test 2>&1 | tee "$log" | grep -vE '^(◇|\[[0-9]+/[0-9]+\])' || status=$?
[ "${PIPESTATUS[0]}" = 0 ] || status=1
# Swift Testing's closing line has the count; its per-test lines interleave under parallel runs, so counting
# them undercounts.
ran=$(sed -n 's/^✔ Test run with \([0-9]*\) tests.*/\1/p' "$log" | tail -1)
[ -n "$ran" ] || ran=$(grep -E '^✔ Test .*(passed|with [0-9]+ test cases passed)' "$log" | grep -vc '^✔ Test run with' || true)
failed=$(grep -cE '^✘ Test .* failed' "$log" || true)
skipped=$(grep -cE '^➜ (Test|Suite) .* skipped' "$log" || true)
echo
echo "swift test: $ran tests passed, $failed failed, $skipped skipped (parameterised tests count once)"
if [ "$skipped" -gt 0 ]; then
    grep -E '^➜ (Test|Suite) .* skipped' "$log" | sed 's/^/  /'
    if [ "${CI:-}" = true ]; then
        echo "CI has /dev/kvm, gdb, gdb-multiarch and lldb-16: nothing may be skipped here" >&2
        status=1
    fi
fi
# CI only (docs/bad-input.md): the codec and the session under the address sanitizer, then the fuzzers for a
# bounded time. A few minutes on 2 cores: an ASan build, a fuzzer build, FUZZ_SECONDS (60) of fuzzing.
if [ "${CI:-}" = true ]; then
    echo
    asan_log=$(mktemp)
    if LSAN_OPTIONS=suppressions=$PWD/scripts/lsan-suppressions.txt swift test --sanitize=address \
        --scratch-path .build-asan --filter 'RSPTests|GDBStubTests' >"$asan_log" 2>&1; then
        echo "asan: RSPTests and GDBStubTests pass under -sanitize=address"
    else
        grep -E '^✘|ERROR: (Address|Leak)Sanitizer|SUMMARY:|error:' "$asan_log" | head -20 | sed 's/^/  /'
        echo "asan: RSPTests and GDBStubTests FAILED under -sanitize=address" >&2
        status=1
    fi
    rm -f "$asan_log"
    bash scripts/fuzz.sh || status=1
fi
# The nested rig (scripts/rig-x86.sh): every gdb script again, and the kernel sessions (gdb-scripts/kernel/:
# Debian's kernel to a shell prompt, the kernel's gdb scripts, a module, two vCPUs, lesson 9; ~7 min of the rig's
# time), on architectural KVM (AMD SVM under QEMU's TCG),
# where int3 is intercepted and data breakpoints fire as on users' hosts. It builds what it needs (QEMU once,
# cached in /var/cache/kvmstub; a release kvmstub; L1's initramfs) and says which step failed and which log to
# read. Here and on a developer's machine alike.
echo
rig_start=$SECONDS
echo "nested rig (scripts/rig-x86.sh test): architectural KVM in L1"
if bash scripts/rig-x86.sh test; then
    echo "nested rig: passed in $((SECONDS - rig_start)) s"
else
    echo "nested rig: FAILED after $((SECONDS - rig_start)) s (logs: .build-rig/x86/)" >&2
    status=1
fi
# arm64 and POWER (issue 19): kvmstub built for arm64 from these sources (Debian trixie's Swift 6.0 in an arm64
# root under qemu-user, cached in /var/cache/kvmstub), then the register tables probed on real arm64 and POWER
# KVM nested in QEMU (rig/probe.sh), with the arm64 binary's `info` and a gdb-multiarch session through it, and
# the arm64 VMM's gdb-multiarch sessions in the arm64 rig (scripts/rig-arm64.sh test).
# Needs root (chroot, binfmt_misc); CI is root. First run on a machine: ~20 min for the root, ~10 for the build.
echo
if [ "$(id -u)" = 0 ]; then
    t0=$(date +%s)
    if bash scripts/build-arm64.sh; then
        t1=$(date +%s)
        echo "arm64 build: $((t1 - t0)) s"
        bash rig/probe.sh || status=1
        echo "arm64/ppc64 probes: $(($(date +%s) - t1)) s"
        # The arm64 VMM on real arm64 KVM: gdb-multiarch sessions against the arm64 example guests in the rig
        # (one boot for all of gdb-scripts/arm64/*.gdb, among them SVE at 2048 bits).
        t2=$(date +%s)
        if bash scripts/rig-arm64.sh test; then
            echo "arm64 rig sessions: passed in $(($(date +%s) - t2)) s"
        else
            echo "arm64 rig sessions: FAILED after $(($(date +%s) - t2)) s (logs: .build-rig/arm64/)" >&2
            status=1
        fi
    else
        echo "arm64 build FAILED ($(($(date +%s) - t0)) s)" >&2
        status=1
    fi
elif [ "${CI:-}" = true ]; then
    echo "the arm64 build and the rigs need root, and CI is root" >&2
    status=1
else
    echo "not root: the arm64 build (scripts/build-arm64.sh) and the rigs (rig/probe.sh) were not run"
fi
exit $status

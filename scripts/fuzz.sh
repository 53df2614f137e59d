#!/usr/bin/env bash
# Builds kvmstub's libFuzzer targets (the Fuzz/ package, with the toolchain's -sanitize=fuzzer,address over every
# module, RSP and GDBStub included) and runs each for a bounded time, starting from the recorded gdb traffic in
# Fuzz/corpus/. Exits non-zero on a crash, a timeout or a leak, and prints how to reproduce it.
#
#   scripts/fuzz.sh                      # ~60 s in all (the fuzzers run side by side on 2+ cores)
#   FUZZ_SECONDS=3600 scripts/fuzz.sh    # longer
#   FUZZERS=FuzzSession scripts/fuzz.sh  # one of them
#
# The corpus each run grows is kept in .build-fuzz/corpus/NAME (so the next run starts where this one ended);
# crashing inputs go to .build-fuzz/crashes/NAME/. Reproduce one with: .build-fuzz/release/NAME CRASH-FILE
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
scratch=.build-fuzz
read -r -a fuzzers <<<"${FUZZERS:-FuzzRSPChannel FuzzSession}"

echo "fuzz: building ${fuzzers[*]} (Fuzz/, -sanitize=fuzzer,address) in $scratch"
# `-Xswiftc -sanitize=fuzzer,address` puts both sanitizers on every swiftc call, one flag: SwiftPM's own
# `--sanitize fuzzer --sanitize address` hands the compiler two flags in an order that changes from run to run, and
# the compiler keeps only one of them (a rebuild then silently loses coverage or ASan). `--sanitize fuzzer` is still
# given so SwiftPM links the executables for libFuzzer's `main`. gold warns about every ASan symbol it cannot
# export: the build output is shown only on failure.
# Release: -O (overflow and bounds checks stay on) runs about twice as many inputs a second as a debug build.
build=(swift build --package-path Fuzz --scratch-path "$scratch" -c release --sanitize fuzzer
    -Xswiftc -sanitize=fuzzer,address)
if ! out=$("${build[@]}" 2>&1); then
    echo "$out" | grep -vE '^\[[0-9]+/[0-9]+\]|Cannot export local symbol' | tail -40
    echo "fuzz: the build failed" >&2
    exit 2
fi
bin=$("${build[@]}" --show-bin-path)

# Side by side when there are cores for it, each for the whole time; otherwise one after another, sharing it.
if [ "$(nproc)" -ge "${#fuzzers[@]}" ]; then each=$seconds; parallel=1; else each=$((seconds / ${#fuzzers[@]})); parallel=0; fi
[ "$each" -ge 1 ] || each=1

run_one() {
    local name=$1
    mkdir -p "$scratch/corpus/$name" "$scratch/crashes/$name"
    # The Swift backtracer would race ASan's and libFuzzer's own crash reports (and read ASan's shadow gap).
    # Short allocation stacks in reports (most of ASan's cost here is recording them); a reproducer run without
    # ASAN_OPTIONS prints the whole stack. Inputs up to 1 KiB: several packets, and past every PacketSize the
    # fuzzers pick but 4096 and 16384 (the bounds tests cover those).
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=4} \
        "$bin/$name" -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 -max_len=1024 \
        -dict=Fuzz/rsp.dict -print_final_stats=1 -print_pcs=0 -artifact_prefix="$scratch/crashes/$name/" \
        "$scratch/corpus/$name" Fuzz/corpus/gdb Fuzz/corpus/regressions >"$scratch/$name.log" 2>&1
}

declare -A pids
status=0
for name in "${fuzzers[@]}"; do
    [ -x "$bin/$name" ] || { echo "fuzz: no fuzzer $name in $bin" >&2; exit 2; }
    rm -f "$scratch/crashes/$name"/* 2>/dev/null
    echo "fuzz: $name for ${each}s"
    if [ "$parallel" = 1 ]; then run_one "$name" & pids[$name]=$!; else run_one "$name"; pids[$name]=$?; fi
done
for name in "${fuzzers[@]}"; do
    if [ "$parallel" = 1 ]; then wait "${pids[$name]}"; rc=$?; else rc=${pids[$name]}; fi
    log=$scratch/$name.log
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
    crashes=$(find "$scratch/crashes/$name" -type f | wc -l)
    echo "fuzz: $name: ${runs:-?} runs, ${speed:-?} exec/s, corpus ${corpus:-?} (files/bytes), $crashes crashing inputs"
    if [ "$rc" != 0 ] || [ "$crashes" -gt 0 ]; then
        status=1
        grep -E 'INVARIANT BROKEN|Fatal error|ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|SUMMARY' "$log" | head -5 |
            sed 's/^/    /'
        for crash in "$scratch/crashes/$name"/*; do
            [ -f "$crash" ] && echo "    reproduce: SWIFT_BACKTRACE=enable=no $bin/$name $crash"
        done
        echo "    full log: $log"
    fi
done
[ "$status" = 0 ] && echo "fuzz: no crashes" || echo "fuzz: FAILED" >&2
exit $status

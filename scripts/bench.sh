#!/usr/bin/env bash
# The benchmark of issue 5: builds kvmstub and kvmstub-bench in release mode (in .build-release, so no
# debug build is disturbed) and runs it. The report goes to stdout, the build's chatter to stderr.
#
#   scripts/bench.sh            # about a minute and a half: 5 runs per figure, 10 s of idle watching
#   scripts/bench.sh --quick    # about 20 s
#   scripts/bench.sh --no-qemu --only abc
#
# Needs /dev/kvm; QEMU (qemu-system-x86_64, Debian's qemu-system-x86) is compared with when installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scratch=.build-release
swift build -c release --scratch-path "$scratch" --product kvmstub >&2
swift build -c release --scratch-path "$scratch" --product kvmstub-bench >&2
bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"
exec "$bin/kvmstub-bench" --kvmstub "$bin/kvmstub" "$@"

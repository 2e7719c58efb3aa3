#!/usr/bin/env bash
# Sets everything up, builds, and runs every test (CAF unit tests, the integration tests
# with real clients, and each fuzzer for 60 s) through ctest. `--asan` / `--tsan` run them
# on a sanitizer build (without the fuzzers).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh" --test
bash "$root/scripts/build.sh" "$@"
# The fuzzers run (60 s each) in the plain run only; they are built with clang apart.
if [ $# -eq 0 ]; then
  bash "$root/scripts/build.sh" --fuzz
fi
dir="$root/build"
case "${1:-}" in
  --asan) dir="$root/build-asan" ;;
  --tsan) dir="$root/build-tsan" ;;
esac
cd "$dir"
export TSAN_OPTIONS="suppressions=$root/tests/tsan.supp history_size=7 ${TSAN_OPTIONS:-}"
# libmongoc's counters in memory, not /dev/shm/mongoc-PID: tests SIGKILL servers, whose
# files stay behind and make a later process with the same pid warn on stderr.
export MONGOC_DISABLE_SHM=1
export UBSAN_OPTIONS="print_stacktrace=1 ${UBSAN_OPTIONS:-}"
ctest --output-on-failure -j 2 --timeout 300

#!/usr/bin/env bash
# Sets everything up, builds, and runs every test (CAF unit tests and the integration
# tests with real clients) through ctest. `--asan` / `--tsan` run them on a sanitizer build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh" --test
bash "$root/scripts/build.sh" "$@"
dir="$root/build"
case "${1:-}" in
  --asan) dir="$root/build-asan" ;;
  --tsan) dir="$root/build-tsan" ;;
esac
cd "$dir"
export TSAN_OPTIONS="suppressions=$root/tests/tsan.supp history_size=7 ${TSAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1 ${UBSAN_OPTIONS:-}"
ctest --output-on-failure -j 2 --timeout 300

#!/usr/bin/env bash
# Runs the libFuzzer targets for longer than the test run's 60 s:
#   scripts/fuzz.sh [seconds per target, default 3600] [target...]   (default: all)
# Builds build-fuzz/ first, then runs FUZZ_JOBS targets at a time (default: one per core),
# at low priority. Each target's corpus grows in build-fuzz/corpus/<target>/ (seeded from
# tests/fuzz/corpus/<target>/, kept between runs); a finding's input is written to
# build-fuzz/artifacts/<target>/ and its log to build-fuzz/fuzz-<target>.log.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-3600}"
[ $# -gt 0 ] && shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$root"/tests/fuzz/*.cpp; do
    targets+=("$(basename "$src" .cpp)")
  done
fi
bash "$root/scripts/build.sh" --fuzz
dir="$root/build-fuzz"
jobs="${FUZZ_JOBS:-$(nproc)}"

run() {
  local t="$1"
  if nice "$root/tests/fuzz/run.sh" "$dir/tests/fuzz/fuzz_$t" "$root/tests/fuzz/corpus/$t" "$seconds" \
    "$dir/artifacts/$t" "$dir/corpus/$t" >"$dir/fuzz-$t.log" 2>&1; then
    echo "fuzz.$t: no finding in ${seconds} s"
  else
    echo "fuzz.$t: FINDING, see $dir/fuzz-$t.log and $dir/artifacts/$t/"
    return 1
  fi
}

failed=0
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  echo "fuzz.$t: running for ${seconds} s"
  run "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"

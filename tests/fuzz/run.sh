#!/usr/bin/env bash
# Runs one libFuzzer target for a while on a copy of its seed corpus:
#   run.sh <fuzzer> <seed dir> <seconds> <artifact dir> [corpus dir]
# New inputs go to the corpus dir (a temporary one, removed afterwards, when none is
# given), so the seeds in the tree stay as they are. A crash, leak, timeout or broken
# invariant fails the run; its input is kept in the artifact dir.
set -euo pipefail
fuzzer="$1" seeds="$2" seconds="$3" artifacts="$4" corpus="${5:-}"
if [ ! -x "$fuzzer" ]; then
  echo "run.sh: no fuzzer at $fuzzer: build it with scripts/build.sh --fuzz" >&2
  exit 1
fi
if [ -z "$corpus" ]; then
  corpus="$(mktemp -d)"
  trap 'rm -rf "$corpus"' EXIT
fi
mkdir -p "$corpus" "$artifacts"
cp -n "$seeds"/* "$corpus"/
# -timeout: one input may take 10 s at most; -rss_limit_mb: the process 1 GB.
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$corpus"

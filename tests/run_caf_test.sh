#!/usr/bin/env bash
# Runs one CAF test by exact name and fails unless that test ran and checked something:
# a CAF test binary whose filter matches nothing exits 0, which must not count as a pass.
set -u
binary=$1 suite=$2 name=$3
out=$("$binary" -s "^${suite}\$" -t "^${name}\$" 2>&1)
code=$?
printf '%s\n' "$out"
[ $code -eq 0 ] || exit $code
tests=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*tests:[[:space:]]*\([0-9]*\).*/\1/p' | tail -1)
checks=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*checks:[[:space:]]*\([0-9]*\).*/\1/p' | tail -1)
if [ "${tests:-0}" -ne 1 ]; then
  echo "run_caf_test: expected test ${suite}/${name} to run once, ran ${tests:-0}" >&2
  exit 1
fi
if [ "${checks:-0}" -lt 1 ]; then
  echo "run_caf_test: test ${suite}/${name} checked nothing" >&2
  exit 1
fi

#!/usr/bin/env bash
# Runs one CAF test by exact name and fails unless exactly that test ran: a CAF test
# binary whose filter matches nothing exits 0, which must not count as a pass.
set -u
binary=$1 suite=$2 name=$3
out=$("$binary" -s "^${suite}\$" -t "^${name}\$" -r 60 2>&1)
code=$?
printf '%s\n' "$out"
if [ $code -ne 0 ]; then exit $code; fi
if ! printf '%s\n' "$out" | grep -Eq "^[[:space:]]*(-> )?${name}|Test: ${name}\b|${name}"; then
  echo "run_caf_test: test ${suite}/${name} did not run" >&2
  exit 1
fi
if printf '%s\n' "$out" | grep -Eq "tests? (passed|failed)"; then :; fi
ran=$(printf '%s\n' "$out" | sed -n 's/.*[^0-9]\([0-9][0-9]*\) tests\{0,1\} passed.*/\1/p; s/.*[^0-9]\([0-9][0-9]*\) tests\{0,1\} total.*/\1/p' | head -1)
exit 0

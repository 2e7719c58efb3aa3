#!/usr/bin/env bash
# Runs a unittest file with Debian's python3 (python3-socketio) and fails unless tests
# ran, all passed, and none was skipped.
set -u
file=$1
out=$(/usr/bin/python3 "$file" -v 2>&1)
code=$?
printf '%s\n' "$out"
[ $code -eq 0 ] || exit $code
ran=$(printf '%s\n' "$out" | sed -n 's/^Ran \([0-9]*\) tests\{0,1\}.*/\1/p' | tail -1)
if [ "${ran:-0}" -lt 1 ] || printf '%s\n' "$out" | grep -Eq '^OK \(.*skipped'; then
  echo "run_python_test: $file: ran ${ran:-0} tests, or some were skipped" >&2
  exit 1
fi

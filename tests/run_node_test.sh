#!/usr/bin/env bash
# Runs one node:test file against chat-server and fails unless tests ran, none failed
# and none was skipped or left as todo (a skipped test must not count as a pass).
set -u
# libmongoc's counters in memory (scripts/test.sh says why).
export MONGOC_DISABLE_SHM=1
file=$1
# --test-force-exit: a handle left open (a client still reconnecting) cannot keep the file
# running once its tests ended; timeout: a hang still prints what ran, under ctest's 180 s.
out=$(cd "$(dirname "$0")" && timeout -k 5 170 node --test --test-force-exit --test-reporter=tap "$file" 2>&1)
code=$?
printf '%s\n' "$out"
[ $code -eq 0 ] || exit $code
count() { printf '%s\n' "$out" | sed -n "s/^# $1 \([0-9]*\)$/\1/p" | tail -1; }
pass=$(count pass) fail=$(count fail) skipped=$(count skipped) todo=$(count todo) cancelled=$(count cancelled)
if [ "${pass:-0}" -lt 1 ] || [ "${fail:-0}" -ne 0 ] || [ "${skipped:-0}" -ne 0 ] || [ "${todo:-0}" -ne 0 ] || [ "${cancelled:-0}" -ne 0 ]; then
  echo "run_node_test: $file: pass=${pass:-0} fail=${fail:-0} skipped=${skipped:-0} todo=${todo:-0} cancelled=${cancelled:-0}" >&2
  exit 1
fi

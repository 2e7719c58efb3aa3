#!/usr/bin/env bash
# with_congo.sh CMD [ARGS...]
# Starts a throw-away MongoDB-wire-compatible server (CongoServer from
# @push.rocks/smartmongo, in memory; see congo_server.mjs) on a free port of 127.0.0.1,
# runs CMD with CHAT_TEST_MONGO_URI=mongodb://127.0.0.1:PORT/chat_test_<pid> exported,
# then stops the server and exits with CMD's exit code. Fails (exit 1, with a message on
# stderr) if the server does not come up within CONGO_START_TIMEOUT seconds (default 15).
# Needs node on PATH and tests/node_modules (scripts/setup.sh --test).
set -uo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
timeout_s="${CONGO_START_TIMEOUT:-15}"
[[ "$timeout_s" =~ ^[0-9]+$ ]] || { echo "with_congo.sh: CONGO_START_TIMEOUT must be whole seconds" >&2; exit 2; }

if ! command -v node >/dev/null 2>&1; then
  echo "with_congo.sh: node not found on PATH" >&2
  exit 1
fi
if [ ! -d "$here/../node_modules/@push.rocks/smartmongo" ]; then
  echo "with_congo.sh: tests/node_modules/@push.rocks/smartmongo missing (run scripts/setup.sh --test)" >&2
  exit 1
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/with_congo.XXXXXX")"
server_pid=""
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  exec 3>&-
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The server's stdin is a FIFO that only this shell holds open (fd 3): when this shell
# exits, however it dies, the server sees end-of-file and stops by itself.
mkfifo "$tmp/stdin"
exec 3<>"$tmp/stdin"
: >"$tmp/stdout"
node "$here/congo_server.mjs" 0 <"$tmp/stdin" >"$tmp/stdout" 2>"$tmp/stderr" &
server_pid=$!

port=""
tries=$((timeout_s * 10))
while [ -z "$port" ]; do
  if read -r word value <"$tmp/stdout" && [ "$word" = "listening" ] && [[ "$value" =~ ^[0-9]+$ ]]; then
    port="$value"
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "with_congo.sh: the Congo server exited before listening; its stderr:" >&2
    sed 's/^/  /' "$tmp/stderr" >&2
    exit 1
  fi
  if [ "$tries" -le 0 ]; then
    echo "with_congo.sh: the Congo server did not report listening within ${timeout_s}s; its stderr:" >&2
    sed 's/^/  /' "$tmp/stderr" >&2
    exit 1
  fi
  tries=$((tries - 1))
  sleep 0.1
done

export CHAT_TEST_MONGO_URI="mongodb://127.0.0.1:${port}/chat_test_$$"
echo "with_congo.sh: Congo server (pid $server_pid) on 127.0.0.1:$port" >&2

"$@" 3>&-
exit $?

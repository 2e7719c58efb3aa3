#!/usr/bin/env bash
# chat-server with an admin console tailing everything, for measuring what a tail costs:
#   /usr/bin/python3 bench/ab.py bench/with_tail.sh --rounds 3 --only "fanout-100,fanout-1000,rooms-1000/100,ack"
# ("old" is the server with the tail, "new" without). The console (chat-admin -c tail)
# runs on core 1 with the load generator, prints to /dev/null, and ends with the server's
# process group. CHAT_SERVER_BIN / CHAT_ADMIN_BIN: the binaries (default: build/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
server="${CHAT_SERVER_BIN:-$root/build/chat-server}"
admin="${CHAT_ADMIN_BIN:-$root/build/chat-admin}"
token="bench-tail-token-0123456789"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(
  for _ in $(seq 100); do
    if "$admin" --connect "127.0.0.1:$port" --token "$token" -c nodes >/dev/null 2>&1; then
      exec taskset -c 1 "$admin" --connect "127.0.0.1:$port" --token "$token" -c tail >/dev/null 2>&1
    fi
    sleep 0.1
  done
) &
exec "$server" "$@" --admin-token "$token" --admin-listen "127.0.0.1:$port"

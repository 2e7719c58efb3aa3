#!/usr/bin/env bash
# chat-server with socket.io's Admin UI attached (an admin socket of socket.io-client 4, in
# development mode, taking every event the UI would), for measuring what the Admin UI costs:
#   /usr/bin/python3 bench/ab.py bench/with_admin_ui.sh --rounds 3 --only "fanout-100,fanout-1000,rooms-1000/100"
# ("old" is the server with the UI, "new" without). The admin client runs on core 1 with
# the load generator and ends with the server's process group. CHAT_SERVER_BIN: the binary
# (default: build/). Needs tests/node_modules (scripts/setup.sh --test).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
server="${CHAT_SERVER_BIN:-$root/build/chat-server}"
# socket.io admin-ui's README hash: the password is "changeit".
hash='$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS'
# The admin client must know the port: one is picked here in place of bench/run.py's 0.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
args=()
prev=""
for arg in "$@"; do
  if [ "$prev" = "--port" ]; then arg="$port"; fi
  args+=("$arg")
  prev="$arg"
done
(
  cd "$root/tests"
  exec taskset -c 1 node -e '
    const { io } = require("socket.io-client");
    const s = io(`http://127.0.0.1:${process.argv[1]}/socket-admin`, {
      auth: { username: "admin", password: "changeit" }, transports: ["websocket"],
      reconnectionDelay: 100, reconnectionDelayMax: 200 });
    let n = 0;
    s.onAny(() => ++n);
    process.on("SIGTERM", () => process.exit(0));
  ' "$port" >/dev/null 2>&1
) &
exec "$server" "${args[@]}" --admin-ui true --admin-ui-password-hash "$hash"

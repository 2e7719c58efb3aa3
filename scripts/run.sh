#!/usr/bin/env bash
# Sets everything up, builds, and starts chat-server on its defaults (port 3001).
# Extra arguments go to chat-server (try --help).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
exec "$root/build/chat-server" --config "$root/etc/chat-server.conf" "$@"

#!/usr/bin/env bash
# Sets up, builds, and runs the benchmark against chat-server and the Node reference.
# Arguments go to bench/run.py (e.g. --passes 1, --only fanout-1000, --json out.json).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh" --bench
bash "$root/scripts/build.sh"
exec /usr/bin/python3 "$root/bench/run.py" "$@"

#!/usr/bin/env bash
# Installs everything the project needs on a Debian 12 machine: the build toolchain and
# libraries (apt), the test clients (Debian python3-socketio, Debian chromium for the web
# page's end-to-end test, npm packages pinned by tests/package-lock.json). Idempotent,
# and quiet when everything is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

apt_packages=(
  build-essential cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev
  libcaf-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libboost-program-options1.81-dev libboost-system1.81-dev
  libsqlitecpp-dev libsqlite3-dev sqlite3
  libspdlog-dev libfmt-dev libssl-dev libedit-dev libjwt-dev
  python3 python3-socketio python3-requests python3-websocket
  curl procps util-linux linux-perf
  chromium
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages, exactly as locked: the test clients, and the benchmark's reference server.
for dir in tests bench/reference; do
  if [ ! -d "$root/$dir/node_modules" ] || [ "$root/$dir/package-lock.json" -nt "$root/$dir/node_modules/.package-lock.json" ]; then
    echo "setup: installing npm packages from $dir/package-lock.json"
    (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done

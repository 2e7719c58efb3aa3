#!/usr/bin/env bash
# Installs what the project needs on a Debian 12 machine. Idempotent, and quiet when
# everything is already there.
#   setup.sh          what building and running the server needs: the toolchain and
#                     libraries (apt), and the Socket.IO client bundle and the Admin UI page
#                     the server serves (npm, pinned by apps/chat-server/vendor/package-lock.json)
#   setup.sh --test   also the test tools: Debian python3-socketio, chromium for the web
#                     page's end-to-end test, clang's libFuzzer, the npm test clients
#                     (tests/package-lock.json)
#   setup.sh --bench  also the benchmark's tools: perf and the Node reference server
#                     (bench/reference/package-lock.json)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${1:-}"
case "$mode" in
  ""|--test|--bench) ;;
  *) echo "usage: $0 [--test|--bench]" >&2; exit 2 ;;
esac

apt_packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libcaf-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libboost-program-options1.81-dev libboost-system1.81-dev
  libsqlitecpp-dev libsqlite3-dev sqlite3
  libspdlog-dev libfmt-dev libssl-dev libedit-dev libjwt-dev prometheus-cpp-dev libcrypt-dev
  zlib1g-dev libsystemd-dev libmongoc-dev
  curl procps util-linux
)
npm_dirs=(apps/chat-server/vendor)
case "$mode" in
  --test)
    apt_packages+=(python3 python3-socketio python3-requests python3-websocket chromium clang libclang-rt-14-dev openssl nginx)
    npm_dirs+=(tests) ;;
  --bench)
    apt_packages+=(python3 linux-perf)
    npm_dirs+=(bench/reference) ;;
esac

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

# msgpack-cxx (the Socket.IO msgpack parser, header-only): Debian's libmsgpack-cxx-dev
# depends on libboost-dev (1.74), which cannot be installed beside libboost1.81-dev, so its
# headers are unpacked from the Debian package into .deps/ (used with MSGPACK_NO_BOOST).
msgpack_dir="$root/.deps/msgpack-cxx"
if [ ! -f "$msgpack_dir/usr/include/msgpack.hpp" ]; then
  echo "setup: unpacking libmsgpack-cxx-dev into .deps/"
  tmp="$(mktemp -d)"
  if ! (cd "$tmp" && apt-get download libmsgpack-cxx-dev >/dev/null 2>&1); then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    (cd "$tmp" && apt-get download libmsgpack-cxx-dev >/dev/null)
  fi
  mkdir -p "$msgpack_dir"
  dpkg-deb -x "$tmp"/libmsgpack-cxx-dev_*.deb "$msgpack_dir"
  rm -rf "$tmp"
fi

# npm packages, exactly as locked.
for dir in "${npm_dirs[@]}"; do
  if [ ! -d "$root/$dir/node_modules" ] || [ "$root/$dir/package-lock.json" -nt "$root/$dir/node_modules/.package-lock.json" ]; then
    echo "setup: installing npm packages from $dir/package-lock.json"
    (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done

#!/usr/bin/env bash
# Configures and builds into build/ (or build-asan/, build-tsan/ with --asan / --tsan, or
# the libFuzzer targets with clang into build-fuzz/ with --fuzz).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/build" flags=()
case "${1:-}" in
  --asan) dir="$root/build-asan" flags=(-DSIO_SANITIZE=ON) ;;
  --tsan) dir="$root/build-tsan" flags=(-DSIO_TSAN=ON) ;;
  --fuzz) dir="$root/build-fuzz" flags=(-DSIO_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++) ;;
  "") ;;
  *) echo "usage: $0 [--asan|--tsan|--fuzz]" >&2; exit 2 ;;
esac
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${flags[@]}" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"

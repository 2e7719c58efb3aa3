#!/usr/bin/env bash
# Run one of the official socket.io protocol test suites against chat-server --app echo.
#
#   run.sh <eio4|sio5|eio3> [runs]
#
# Each run starts a fresh chat-server (--app echo, port 0, 127.0.0.1, a temporary
# SQLite file), runs the suite's test-suite.js (a copy whose URL constant points at that
# server) with mocha, stops the server, and prints the passing/failing counts and the
# failing tests. At the end: one summary line for the suite (runs, runs where every test
# passed, failures tallied by test name).
#
# Environment:
#   CHAT_SERVER   the binary (default: ../../build/chat-server from this script)
#   SUITES_DIR    where the suites were extracted (default: this script's directory;
#                 the suites are under SUITES_DIR/docs/..., see README.md)
#   RESULTS_DIR   per-run server logs and mocha JSON (default: SUITES_DIR/results)
#   MOCHA_TIMEOUT seconds one mocha run may take before it is killed (default 120)
#   VERBOSE=1     also print each failure's error message and the suite line it failed on
#   REFERENCE=1   run the suite against the reference Node socket.io server instead
#                 (tests/integration/reference-echo.js, the same fixture; REFERENCE_ECHO
#                 overrides its path). It does not enable Engine.IO v3 (allowEIO3), so
#                 eio3 is not meaningful there.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=${1:-}
runs=${2:-1}

case "$suite" in
  eio4) rel=docs/engine.io-protocol/v4-test-suite ;;
  sio5) rel=docs/socket.io-protocol/v5-test-suite ;;
  eio3) rel=docs/engine.io-protocol/v3-test-suite ;;
  *) echo "usage: $0 <eio4|sio5|eio3> [runs]" >&2; exit 2 ;;
esac
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "runs must be a positive integer" >&2; exit 2; }

if [[ -z "${CHAT_SERVER:-}" ]]; then
  if [[ -x "$here/../../build/chat-server" ]]; then CHAT_SERVER="$here/../../build/chat-server"
  else echo "build chat-server first (bash scripts/build.sh) or set CHAT_SERVER" >&2; exit 2; fi
fi
SUITES_DIR=${SUITES_DIR:-$here}
RESULTS_DIR=${RESULTS_DIR:-$SUITES_DIR/results}
MOCHA_TIMEOUT=${MOCHA_TIMEOUT:-120}
dir="$SUITES_DIR/$rel"

[[ "${REFERENCE:-0}" == 1 || -x "$CHAT_SERVER" ]] || { echo "no chat-server binary at $CHAT_SERVER" >&2; exit 2; }
[[ -f "$dir/test-suite.js" ]] || { echo "no suite at $dir (see README.md)" >&2; exit 2; }
[[ -d "$dir/node_modules" ]] || { echo "run 'npm ci --no-audit --no-fund' in $dir first" >&2; exit 2; }

# Every suite expects pingInterval 300 / pingTimeout 200 in the handshake and
# maxPayload 1000000 (the default max-http-buffer-size). eio4 and eio3 use the raw
# Engine.IO endpoint /engine.io/, sio5 uses /socket.io/ with the namespaces / and
# /custom. sio5's "should close the connection if no handshake is received" needs the
# connect timeout below mocha's 2000 ms test timeout.
common_args=(--app echo --host 127.0.0.1 --port 0
             --ping-interval 300 --ping-timeout 200 --connect-timeout 1000
             --cors-origin '*')
if [[ "${REFERENCE:-0}" == 1 ]]; then
  if [[ -z "${REFERENCE_ECHO:-}" ]]; then
    REFERENCE_ECHO="$here/../integration/reference-echo.js"
  fi
  [[ -f "$REFERENCE_ECHO" ]] || { echo "no reference server at $REFERENCE_ECHO" >&2; exit 2; }
  label="$suite-reference"
else
  label=$suite
fi

copy="$dir/.test-suite.run.js"   # next to the original: same node_modules and imports
server_pid=
tmp=
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  server_pid=
  rm -f "$copy"
  [[ -n "$tmp" ]] && rm -rf "$tmp"
  tmp=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$RESULTS_DIR"
tally="$RESULTS_DIR/$label.tally"
: > "$tally"
all_pass=0

for ((i = 1; i <= runs; i++)); do
  tmp=$(mktemp -d)
  out="$RESULTS_DIR/$label-run$i"
  mkdir -p "$out"
  rm -f "$out/mocha.json"

  # the server prints "listening on http://127.0.0.1:PORT" once it listens
  if [[ "${REFERENCE:-0}" == 1 ]]; then
    cmd=(node "$REFERENCE_ECHO" "${common_args[@]}")
  else
    cmd=("$CHAT_SERVER" "${common_args[@]}" --db "$tmp/echo.db" --log-level "${LOG_LEVEL:-info}")
  fi
  if [[ "${REFERENCE:-0}" == 1 ]]; then
    server_id="reference $REFERENCE_ECHO"
  else  # which build this run tested (the binary may be rebuilt between runs)
    server_id="$(sha256sum "$CHAT_SERVER" | cut -c1-12) $(date -u -r "$CHAT_SERVER" '+%F %T') UTC"
  fi
  timeout -s TERM $((MOCHA_TIMEOUT + 30)) "${cmd[@]}" > "$out/server.log" 2>&1 &
  server_pid=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]\+\).*|\1|p' "$out/server.log" | head -n1)
    [[ -n "$port" ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$port" ]]; then
    echo "$label run $i: the server did not start (see $out/server.log)"
    echo "(server did not start)" >> "$tally"
    cleanup
    continue
  fi

  sed -e "s|^const URL = \"http://localhost:3000\";|const URL = \"http://127.0.0.1:$port\";|" \
    "$dir/test-suite.js" > "$copy"
  grep -q "^const URL = \"http://127.0.0.1:$port\";" "$copy" \
    || { echo "could not set the URL constant in $copy" >&2; exit 2; }

  (cd "$dir" && timeout -s KILL "$MOCHA_TIMEOUT" npx --no-install mocha --exit \
     --reporter json --reporter-option "output=$out/mocha.json" .test-suite.run.js \
     > "$out/mocha.out" 2>&1)
  rc=$?
  cleanup

  if [[ ! -s "$out/mocha.json" ]]; then
    echo "$label run $i: mocha gave no result (exit $rc, see $out/mocha.out)"
    echo "(mocha gave no result)" >> "$tally"
    continue
  fi
  VERBOSE=${VERBOSE:-0} node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const [suite, run, tally] = process.argv.slice(2);
    const s = r.stats;
    console.log(`${suite} run ${run}: ${s.passes} passing, ${s.failures} failing, ${s.pending} pending` +
                ` [${process.argv[5]}]`);
    const names = [];
    for (const f of r.failures) {
      names.push(f.fullTitle);
      console.log(`  FAIL ${f.fullTitle}`);
      if (process.env.VERBOSE === "1" && f.err) {
        const at = ((f.err.stack || "").match(/test-suite\.run\.js:(\d+)/) || [])[1];
        console.log("       " + (f.err.message || "").split("\n")[0] +
                    (at ? ` (test-suite.js line ${at})` : ""));
      }
    }
    require("fs").appendFileSync(tally, names.map((n) => n + "\n").join(""));
    process.exit(s.failures === 0 && s.passes > 0 ? 0 : 1);
  ' "$out/mocha.json" "$label" "$i" "$tally" "$server_id" && all_pass=$((all_pass + 1))
done

echo "== $label: $runs runs, $all_pass all-pass"
if [[ -s "$tally" ]]; then
  sort "$tally" | uniq -c | sort -rn | sed 's/^ */   /; s/^\(   [0-9]*\) /\1x /'
fi
[[ "$all_pass" -eq "$runs" ]]

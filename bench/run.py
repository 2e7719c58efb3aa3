#!/usr/bin/python3
"""Runs every benchmark scenario against chat-server and the Node socket.io reference in
the same run and prints both servers' figures with their ratios.

Each server runs alone on core 0 (taskset), the load generator on core 1; the two servers
take turns scenario by scenario, a fresh server process per run, three passes, and the
table shows the median of the passes. Then chat-server on both cores against itself on
one. Everything listens on 127.0.0.1 on ports the servers pick themselves.

The kernel's floor: each pass also runs bench/floor (writer on the server's core, reader on
the load generator's), the CPU that writing the same frames over loopback TCP costs with
nothing else, at 1, 2, 8 and 16 frames per write and paced at 20 rounds a second. After the
passes, one more run of each fanout and rooms scenario per server counts the server's write
syscalls (loadgen --count-writes, perf stat: needs root), in runs of their own because
tracing syscalls costs a little on each; the table then shows each server's CPU per
delivered message as a multiple of the floor at the frames per write it reached.

    bash bench/run.sh            # setup + build + this script
    /usr/bin/python3 bench/run.py [--passes 3] [--only fanout-100,ack] [--json out.json]

Variants: --server-args "..." go to chat-server (not to Node), --loadgen-args "..." to every
load generator run (an option a scenario already sets, e.g. --text-bytes, takes the given
value instead). --tls runs chat-server over TLS (a self-signed certificate made once per
run) and loadgen --tls; Node is skipped then, as with --no-node. permessage-deflate, with
messages of 1 KiB so that they pass the server's 1024-byte threshold (the scenarios' own
are ~165 bytes; --text-fill words compresses like prose, the default x ~8x):

    /usr/bin/python3 bench/run.py --only fanout-1000 --no-node --server-args "--per-message-deflate true" \
        --loadgen-args "--deflate --text-bytes 1024"
"""
import argparse
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
# CHAT_SERVER: another binary to measure (an older build, to compare in the same hour).
CHAT_SERVER = os.environ.get("CHAT_SERVER", os.path.join(BUILD, "chat-server"))
LOADGEN = os.path.join(BUILD, "bench", "loadgen")
FLOOR = os.path.join(BUILD, "bench", "floor")
REFERENCE = os.path.join(ROOT, "bench", "reference", "server.js")

# Variants (main's --server-args, --loadgen-args, --tls; bench/ab.py sets them too):
# arguments added to chat-server's command line, to loadgen's, and (cert, key) for TLS.
SERVER_ARGS = []
LOADGEN_ARGS = []
TLS = None

SERVER_CORE = "0"
LOADGEN_CORE = "1"

# name, loadgen arguments, figures shown (key, label, better: "low" | "high")
THROUGHPUT = [("delivered_per_s", "delivered msg/s", "high"),
              ("server_cpu_us_per_msg", "server CPU µs/msg", "low"),
              ("p50_us", "p50 µs", "low"),
              ("p99_us", "p99 µs", "low")]
SCENARIOS = [
    ("fanout-100", ["--scenario", "fanout", "--clients", "100", "--senders", "4", "--duration", "5"], THROUGHPUT),
    ("fanout-1000", ["--scenario", "fanout", "--clients", "1000", "--senders", "4", "--duration", "5"], THROUGHPUT),
    # 2 broadcasts in flight: each broadcast mostly its own write to each client, the
    # kernel's dearest case (with 4 senders, 8 in flight, frames to a client coalesce).
    ("fanout-1000 1 sender", ["--scenario", "fanout", "--clients", "1000", "--senders", "1", "--window", "2",
                               "--duration", "5"], THROUGHPUT),
    # Every connect broadcasts user-connected to all: 12.5 M frames before the measurement,
    # which takes Node minutes.
    ("fanout-5000", ["--scenario", "fanout", "--clients", "5000", "--senders", "4", "--duration", "5",
                     "--timeout", "500", "--connect-timeout", "300"], THROUGHPUT),
    ("fanout-1000 @ 20 msg/s", ["--scenario", "fanout", "--clients", "1000", "--senders", "1", "--rate", "20",
                                "--duration", "10"],
     [("p50_us", "p50 µs", "low"), ("p99_us", "p99 µs", "low"), ("max_us", "max µs", "low"),
      ("server_cpu_us_per_msg", "server CPU µs/msg", "low")]),
    ("rooms-1000/100", ["--scenario", "rooms", "--clients", "1000", "--rooms", "100", "--duration", "5"],
     THROUGHPUT),
    ("connect-10000", ["--scenario", "connect", "--clients", "10000", "--nsp", "/chat", "--timeout", "400"],
     [("connects_per_s", "connects/s", "high"), ("rss_per_conn_bytes", "RSS bytes/idle conn", "low"),
      ("server_cpu_us_per_connect", "server CPU µs/connect", "low")]),
    ("ack", ["--scenario", "ack", "--clients", "10", "--duration", "5"],
     [("delivered_per_s", "round trips/s", "high"), ("p50_us", "p50 µs", "low"), ("p99_us", "p99 µs", "low"),
      ("server_cpu_us_per_msg", "server CPU µs/ack", "low")]),
    # 1 KiB texts, so that the stuck client's backlog passes the kernel's buffers and the
    # 1 MiB cap within the window.
    ("fanout-1000 1KiB, 1 slow client", ["--scenario", "fanout", "--clients", "1000", "--senders", "4",
                                         "--duration", "12", "--slow-clients", "1", "--text-bytes", "1024"],
     [("p99_us", "healthy p99 µs", "low"), ("server_rss_kb_max", "server max RSS kB", "low"),
      ("slow_closed_by_server", "slow clients dropped (of 1)", "high")]),
]
SCALING_FIGURES = [("delivered_per_s", "delivered msg/s", "high"), ("server_cpu_pct", "server CPU %", "high"),
                   ("server_cpu_us_per_msg", "server CPU µs/msg", "low"), ("p99_us", "p99 µs", "low")]
ARGS = {name: args for name, args, _ in SCENARIOS}
SCALING = [("fanout-1000", ARGS["fanout-1000"], SCALING_FIGURES),
           ("rooms-1000/100", ARGS["rooms-1000/100"], SCALING_FIGURES),
           ("fanout-1000 @ 20 msg/s", ARGS["fanout-1000 @ 20 msg/s"],
            [("p50_us", "p50 µs", "low"), ("p99_us", "p99 µs", "low")])]

# The floor: 1000 loopback TCP pairs, frames of a fanout frame's size (the load generator's
# receive-message is 165 bytes on the wire from either server), written flat out at 1, 2,
# 8 and 16 frames per write (rooms reach ~14), and paced like the 20 msg/s scenario (every
# write then wakes a sleeping reader, which costs more).
FRAME_BYTES = 165
FLOOR_RUNS = {"flat": ["--pairs", "1000", "--frame-bytes", str(FRAME_BYTES), "--frames-per-write", "1,2,8,16",
                       "--seconds", "2"],
              "paced": ["--pairs", "1000", "--frame-bytes", str(FRAME_BYTES), "--frames-per-write", "1",
                        "--rate", "20", "--seconds", "3"]}
# The scenarios whose CPU per delivery is set against the floor, and which floor.
FLOOR_OF = {"fanout-100": "flat", "fanout-1000": "flat", "fanout-1000 1 sender": "flat", "fanout-5000": "flat",
            "fanout-1000 @ 20 msg/s": "paced", "rooms-1000/100": "flat"}
COUNT_DURATION = "3"  # seconds of a write-counting run


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Server:
    """A server process started on its own port; stop() ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, kind, cores, tmp, threads=1, extra_args=()):
        self.kind = kind
        if kind == "ours":
            db = os.path.join(tmp, "bench-%d.db" % time.monotonic_ns())
            cmd = [CHAT_SERVER, "--host", "127.0.0.1", "--port", "0", "--db", db,
                   "--rate-limit", "1000000000", "--io-threads", str(threads), "--actor-threads", str(threads),
                   "--max-queue-bytes", "1048576", "--max-connections-per-address", "0"] + list(extra_args)
            if TLS:
                cmd += ["--tls-cert", TLS[0], "--tls-key", TLS[1]]
        else:
            cmd = ["node", REFERENCE, "--host", "127.0.0.1", "--port", "0"]
        self.proc = subprocess.Popen(["taskset", "-c", cores] + cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL if kind == "node" else open(os.path.join(tmp, "ours.err"), "ab"),
                                     text=True, start_new_session=True)
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(r"listening on https?://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("%s did not start: %r" % (kind, line))

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def merge_args(args, extra):
    """A scenario's loadgen arguments with extra ones: an option given in both takes extra's
    value (once), the rest of extra is appended. An option's value is the token after it
    unless that starts with --, or after = in --name=value."""
    args, extra = list(args), list(extra)
    i = 0
    while i < len(extra):
        name, value = extra[i], None
        if "=" in name:
            name, value = name.split("=", 1)
        elif i + 1 < len(extra) and not extra[i + 1].startswith("--"):
            value = extra[i + 1]
            i += 1
        i += 1
        if name in args:
            if value is not None:
                args[args.index(name) + 1] = value
        else:
            args += [name] if value is None else [name, value]
    return args


def glue_values(argv, suffix="-args"):
    """--x-args VALUE as --x-args=VALUE, so that argparse takes a VALUE like "--deflate"
    (one option, no space) as the value, not as an unknown option."""
    out, i = [], 0
    while i < len(argv):
        if argv[i].startswith("--") and argv[i].endswith(suffix) and "=" not in argv[i] and i + 1 < len(argv):
            out.append(argv[i] + "=" + argv[i + 1])
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def make_tls_cert(directory):
    """A self-signed certificate for 127.0.0.1, good for a day: (cert, key) paths."""
    cert, key = os.path.join(directory, "tls-cert.pem"), os.path.join(directory, "tls-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def run_loadgen(server, args, cores, extra=None):
    args = merge_args(args, LOADGEN_ARGS if extra is None else extra)
    if TLS and server.kind == "ours":
        args = merge_args(args, ["--tls"])
    cmd = ["taskset", "-c", cores, LOADGEN, "--port", str(server.port), "--server-pid", str(server.proc.pid)] + args
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=700)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError("loadgen printed no result (exit %d): %s" % (out.returncode, out.stderr[-2000:]))
    result = json.loads(lines[-1])
    result["exit"] = out.returncode
    return result


def one_run(kind, args, tmp, server_cores=SERVER_CORE, loadgen_cores=LOADGEN_CORE, threads=1, server_args=None,
            loadgen_args=None):
    """server_args, loadgen_args: instead of SERVER_ARGS, LOADGEN_ARGS (bench/ab.py's variants)."""
    server = Server(kind, server_cores, tmp, threads, SERVER_ARGS if server_args is None else server_args)
    try:
        return run_loadgen(server, args, loadgen_cores, loadgen_args)
    finally:
        server.stop()


def run_floor(mode):
    cmd = [FLOOR, "--writer-core", SERVER_CORE, "--reader-core", LOADGEN_CORE] + FLOOR_RUNS[mode]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError("floor failed (exit %d): %s" % (out.returncode, out.stderr[-2000:]))
    return json.loads(out.stdout.splitlines()[-1])


def floor_medians(runs):
    """{frames per write: median µs per write} over the passes' floor runs."""
    per_write = {}
    for r in runs:
        for m in r.get("modes", []):
            per_write.setdefault(m["frames_per_write"], []).append(m["cpu_us_per_write"])
    return {k: statistics.median(v) for k, v in per_write.items()}


def floor_at(per_write, k):
    """µs per frame at k frames per write (k need not be whole): the floor's cost per write
    interpolated linearly between the measured frames per write (beyond them, the nearest
    segment's line), divided by k."""
    if not per_write or k is None:
        return None
    k = max(k, 1.0)  # acks and the like can pull deliveries/writes a little below 1
    points = sorted(per_write.items())
    if len(points) == 1:
        (k0, c0), = points
        return c0 / k0 if abs(k - k0) < 0.5 else None
    i = 1
    while i < len(points) - 1 and points[i][0] < k:
        i += 1
    (k0, c0), (k1, c1) = points[i - 1], points[i]
    return (c0 + (c1 - c0) * (k - k0) / (k1 - k0)) / k


def counted_args(args):
    """A scenario's loadgen arguments for a write-counting run: a shorter window, perf on."""
    args = list(args)
    if "--duration" in args:
        args[args.index("--duration") + 1] = COUNT_DURATION
    return args + ["--count-writes"]


def median(runs, key):
    values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return statistics.median(values) if values else None


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return "{:,.0f}".format(v)
    return "{:.2f}".format(v)


def ratio(ours, node, better):
    if not ours or not node:
        return "n/a"
    return "{:.1f}x".format(node / ours if better == "low" else ours / node)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--json", help="also write every run's figures here")
    ap.add_argument("--no-scaling", action="store_true", help="skip the 2-core against 1-core runs")
    ap.add_argument("--no-count-writes", action="store_true",
                    help="skip the runs that count the servers' write syscalls (perf stat)")
    ap.add_argument("--server-args", default="", help="more chat-server arguments, e.g. \"--per-message-deflate true\"")
    ap.add_argument("--loadgen-args", default="",
                    help="more loadgen arguments, e.g. \"--deflate --text-bytes 1024\"")
    ap.add_argument("--tls", action="store_true",
                    help="chat-server over TLS (self-signed certificate), loadgen --tls; no Node runs")
    ap.add_argument("--no-node", action="store_true", help="chat-server only, no Node reference runs")
    opts = ap.parse_args(glue_values(sys.argv[1:]))
    global SERVER_ARGS, LOADGEN_ARGS, TLS
    SERVER_ARGS, LOADGEN_ARGS = shlex.split(opts.server_args), shlex.split(opts.loadgen_args)
    kinds = ("ours",) if opts.tls or opts.no_node else ("ours", "node")
    for path in (CHAT_SERVER, LOADGEN, FLOOR) + (() if len(kinds) == 1 else (REFERENCE,)):
        if not os.path.exists(path):
            sys.exit("missing %s: run bash bench/run.sh (it sets up and builds first)" % path)
    if os.cpu_count() < 2:
        sys.exit("needs two cores: one for the server, one for the load generator")
    # A comma followed by a space is part of a name ("fanout-1000 1KiB, 1 slow client").
    only = set(re.split(r",(?! )", opts.only)) if opts.only else None
    scenarios = [s for s in SCENARIOS if not only or s[0] in only]

    results = {name: {"ours": [], "node": []} for name, _, _ in scenarios}
    floor_runs = {mode: [] for mode in FLOOR_RUNS}
    counted = {name: {} for name, _, _ in scenarios if name in FLOOR_OF}
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp:
        if opts.tls:
            TLS = make_tls_cert(tmp)
        for p in range(opts.passes):
            for mode in FLOOR_RUNS:
                log("pass %d/%d  floor, %s" % (p + 1, opts.passes, mode))
                try:
                    floor_runs[mode].append(run_floor(mode))
                    log("  " + json.dumps({m["frames_per_write"]: m["cpu_us_per_frame"]
                                           for m in floor_runs[mode][-1]["modes"]}))
                except Exception as e:  # noqa: BLE001 - reported in the table as n/a
                    log("  failed: %s" % e)
            for name, args, _ in scenarios:
                # Interleaved: the order of the two servers alternates pass by pass.
                for kind in (kinds if p % 2 == 0 else kinds[::-1]):
                    log("pass %d/%d  %-28s %s" % (p + 1, opts.passes, name, kind))
                    try:
                        r = one_run(kind, args, tmp)
                    except Exception as e:  # noqa: BLE001 - reported in the table as n/a
                        log("  failed: %s" % e)
                        r = {"error": str(e)}
                    results[name][kind].append(r)
                    log("  " + json.dumps({k: r.get(k) for k in ("delivered_per_s", "server_cpu_us_per_msg", "p50_us",
                                                                 "p99_us", "connects_per_s", "rss_per_conn_bytes",
                                                                 "compressed_messages", "error") if k in r}))
        if not opts.no_count_writes:
            for name, args, _ in scenarios:
                if name not in FLOOR_OF:
                    continue
                for kind in kinds:
                    log("write count  %-28s %s" % (name, kind))
                    try:
                        r = one_run(kind, counted_args(args), tmp)
                    except Exception as e:  # noqa: BLE001 - reported in the table as n/a
                        r = {"error": str(e)}
                    counted[name][kind] = r
                    log("  " + json.dumps({k: r.get(k) for k in ("frames_per_write", "server_write_syscalls",
                                                                 "server_cpu_us_per_msg", "error") if k in r}))
        scaling = {}
        if not opts.no_scaling and not only:
            for name, args, _ in SCALING:
                runs = {"1 core": [], "2 cores": []}
                for p in range(opts.passes):
                    log("scaling pass %d/%d  %s" % (p + 1, opts.passes, name))
                    runs["1 core"].append(one_run("ours", args, tmp, SERVER_CORE, LOADGEN_CORE, 1))
                    # Both cores for the server; the load generator has to share them.
                    runs["2 cores"].append(one_run("ours", args, tmp, "0,1", "0,1", 2))
                scaling[name] = runs

    print("Benchmark of %s: chat-server against Node socket.io 4.8.1 (bench/reference), median of %d passes."
          % (started, opts.passes))
    print("Each server alone on one core (taskset -c 0), the load generator on the other.")
    if opts.tls or SERVER_ARGS or LOADGEN_ARGS:
        print("Variant:%s%s%s" % (" TLS (chat-server only);" if opts.tls else "",
                                  " chat-server %s;" % " ".join(SERVER_ARGS) if SERVER_ARGS else "",
                                  " loadgen %s" % " ".join(LOADGEN_ARGS) if LOADGEN_ARGS else ""))
    print()
    print("| scenario | figure | chat-server | Node socket.io | ratio |")
    print("|---|---|---:|---:|---:|")
    for name, _, figures in scenarios:
        for key, label, better in figures:
            o, n = median(results[name]["ours"], key), median(results[name]["node"], key)
            print("| %s | %s | %s | %s | %s |" % (name, label, fmt(o), fmt(n), ratio(o, n, better)))
    floor_flat, floor_paced = floor_medians(floor_runs["flat"]), floor_medians(floor_runs["paced"])
    print("\nThe kernel's floor (bench/floor, median of %d): %s-byte frames written over loopback TCP to 1000"
          % (len(floor_runs["flat"]), FRAME_BYTES))
    print("sockets drained by a reader on the other core, nothing else; the writer's CPU:\n")
    print("| floor | µs per frame | µs per write |")
    print("|---|---:|---:|")
    for k in sorted(floor_flat):
        print("| %d frame%s per write | %s | %s |" % (k, "" if k == 1 else "s", fmt(floor_flat[k] / k),
                                                    fmt(floor_flat[k])))
    paced_rate = floor_runs["paced"][0]["rate"] if floor_runs["paced"] else None
    for k in sorted(floor_paced):
        print("| %d frame%s per write, %g rounds a second | %s | %s |" % (k, "" if k == 1 else "s", paced_rate,
                                                                        fmt(floor_paced[k] / k), fmt(floor_paced[k])))
    if counted:
        print("\nServer CPU per delivered message against the floor at the frames per write each server reached")
        print("(counted with perf stat in a run of its own; the floor's cost per write interpolated between the")
        print("frames per write it was measured at, divided by the frames; @ 20 msg/s against the paced floor):\n")
        print("| scenario | chat-server frames/write | floor µs | chat-server µs/msg | × floor "
              "| Node frames/write | floor µs | Node µs/msg | × floor |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name in counted:
            cells = []
            for kind in ("ours", "node"):
                k = counted[name].get(kind, {}).get("frames_per_write")
                floor = floor_at(floor_paced if FLOOR_OF[name] == "paced" else floor_flat, k)
                cpu = median(results[name][kind], "server_cpu_us_per_msg")
                cells += [fmt(k), fmt(floor), fmt(cpu), "%.1fx" % (cpu / floor) if cpu and floor else "n/a"]
            print("| %s | %s |" % (name, " | ".join(cells)))
    if scaling:
        print("\nchat-server on two cores against one (load generator sharing the two cores):\n")
        print("| scenario | figure | 1 core | 2 cores | ratio |")
        print("|---|---|---:|---:|---:|")
        for name, _, figures in SCALING:
            runs = scaling[name]
            for key, label, better in figures:
                a, b = median(runs["1 core"], key), median(runs["2 cores"], key)
                r = "{:.2f}x".format(b / a) if a and b and better == "high" else (
                    "{:.2f}x".format(a / b) if a and b else "n/a")
                print("| %s | %s | %s | %s | %s |" % (name, label, fmt(a), fmt(b), r))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"started": started, "tls": opts.tls, "server_args": SERVER_ARGS, "loadgen_args": LOADGEN_ARGS,
                       "results": results, "scaling": scaling, "floor": floor_runs,
                       "write_counts": counted}, f, indent=1)


if __name__ == "__main__":
    main()

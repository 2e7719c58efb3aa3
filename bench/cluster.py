#!/usr/bin/env python3
"""The cluster benchmark: the fanout and rooms scenarios of bench/run.py against 1, 2 and 3
chat-server nodes on this machine (README, "Running several nodes"), clients spread
evenly over the nodes (client i on node i mod n), in the same run so that the hour's noise
hits every size alike.

Every node runs on core 0 (taskset), so the nodes share the one core a single server gets
in bench/run.py and the load generator keeps core 1: the server CPU per delivery, summed
over the nodes, is then what clustering costs for the same work. The cost of one
cross-node room broadcast is the extra server CPU per broadcast against one node, divided
by the number of other nodes a broadcast reaches (rooms-1000/100: each room has members
on every node, so a broadcast goes to every other node).

    python3 bench/cluster.py [--passes 3] [--nodes 1,2,3] [--json out.json]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: scenarios, loadgen, medians)

SCENARIOS = [("fanout-1000", run.ARGS["fanout-1000"]), ("rooms-1000/100", run.ARGS["rooms-1000/100"])]
FIGURES = [("delivered_per_s", "delivered msg/s"), ("server_cpu_us_per_msg", "server CPU µs/msg (sum)"),
           ("p50_us", "p50 µs"), ("p99_us", "p99 µs"), ("server_cpu_us_per_broadcast", "server CPU µs/broadcast")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """n chat-server nodes, each with its own store, joined into one cluster."""

    def __init__(self, n, tmp):
        self.servers = []
        cports = [free_port() for _ in range(n)]
        seeds = ",".join("127.0.0.1:%d" % p for p in cports)
        extra = []
        try:
            for i in range(n):
                if n > 1:
                    extra = ["--node-id", "n%d" % i, "--cluster-listen", "127.0.0.1:%d" % cports[i],
                             "--cluster-seeds", seeds, "--cluster-secret", "bench"]
                self.servers.append(run.Server("ours", run.SERVER_CORE, tmp, extra_args=extra))
            if n > 1:
                self.wait_formed(n)
        except Exception:
            self.stop()
            raise

    def wait_formed(self, n):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            sizes = []
            for s in self.servers:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/health" % s.port, timeout=2) as r:
                        sizes.append(len(json.load(r).get("cluster", {}).get("members", [])))
                except OSError:
                    sizes.append(0)
            if all(size == n for size in sizes):
                return
            time.sleep(0.2)
        raise RuntimeError("the %d nodes did not form a cluster" % n)

    def stop(self):
        for s in self.servers:
            s.stop()


def one_run(n, args, tmp):
    cluster = Cluster(n, tmp)
    try:
        ports = ",".join(str(s.port) for s in cluster.servers)
        pids = ",".join(str(s.proc.pid) for s in cluster.servers)
        cmd = ["taskset", "-c", run.LOADGEN_CORE, run.LOADGEN, "--ports", ports, "--server-pids", pids] + args
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=700)
        lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
        if not lines:
            raise RuntimeError("loadgen printed no result (exit %d): %s" % (out.returncode, out.stderr[-2000:]))
        r = json.loads(lines[-1])
        cpu, sent = r.get("server_cpu_s"), r.get("sent")
        if isinstance(cpu, (int, float)) and sent:
            r["server_cpu_us_per_broadcast"] = cpu * 1e6 / sent
        return r
    finally:
        cluster.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--nodes", default="1,2,3")
    ap.add_argument("--json")
    opts = ap.parse_args()
    sizes = [int(x) for x in opts.nodes.split(",")]
    for path in (run.CHAT_SERVER, run.LOADGEN):
        if not os.path.exists(path):
            sys.exit("missing %s: run bash bench/run.sh first (it sets up and builds)" % path)
    results = {name: {n: [] for n in sizes} for name, _ in SCENARIOS}
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="chat-cluster-bench-") as tmp:
        for p in range(opts.passes):
            for name, args in SCENARIOS:
                order = sizes if p % 2 == 0 else list(reversed(sizes))
                for n in order:
                    run.log("pass %d/%d  %-16s %d node(s)" % (p + 1, opts.passes, name, n))
                    try:
                        r = one_run(n, args, tmp)
                    except Exception as e:  # noqa: BLE001 - reported as n/a
                        run.log("  failed: %s" % e)
                        r = {"error": str(e)}
                    results[name][n].append(r)
                    run.log("  " + json.dumps({k: r.get(k) for k, _ in FIGURES + [("error", "")] if k in r}))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(results, f, indent=1)
    print("Cluster benchmark of %s, median of %d passes: every node on core 0, the load generator on core 1,"
          % (started, opts.passes))
    print("clients spread evenly over the nodes.\n")
    print("| scenario | figure | " + " | ".join("%d node%s" % (n, "s" if n > 1 else "") for n in sizes) + " |")
    print("|---|---|" + "---:|" * len(sizes))
    for name, _ in SCENARIOS:
        for key, label in FIGURES:
            row = [run.fmt(run.median(results[name][n], key)) for n in sizes]
            print("| %s | %s | %s |" % (name, label, " | ".join(row)))
    if 1 in sizes:
        name = "rooms-1000/100"
        one = run.median(results[name][1], "server_cpu_us_per_broadcast")
        for n in sizes:
            v = run.median(results[name][n], "server_cpu_us_per_broadcast")
            if n > 1 and one and v:
                print("\n%s, %d nodes: one cross-node room broadcast costs %.1f µs of server CPU (extra per "
                      "broadcast %.1f µs over %d other node(s))" % (name, n, (v - one) / (n - 1), v - one, n - 1))


if __name__ == "__main__":
    main()

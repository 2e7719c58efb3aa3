#!/usr/bin/env python3
"""A/B of two chat-server builds in one loop (chat-server only, no Node runs).

    /usr/bin/python3 bench/ab.py OLD_BINARY [--new build/chat-server] [--rounds 3]
                                 [--only "fanout-1000,ack"] [--json ab.json]

Runs each scenario of bench/run.py on both binaries, alternating which goes first from
round to round, and prints each figure's median per build. This VM's speed moves 10-30 %
from hour to hour, so builds are compared in the same loop, not against the README's table.
"""
import argparse
import importlib.util
import json
import os
import statistics
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("bench_run", os.path.join(HERE, "run.py"))
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)

FIGURES = ["server_cpu_us_per_msg", "p50_us", "p99_us", "delivered_per_s", "rss_per_conn_bytes",
           "server_cpu_us_per_connect", "connects_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("--new", default=os.path.join(run.BUILD, "chat-server"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="fanout-100,fanout-1000,fanout-1000 1 sender,fanout-5000,"
                                      "fanout-1000 @ 20 msg/s,rooms-1000/100,connect-10000,ack")
    ap.add_argument("--json")
    args = ap.parse_args()
    scenarios = {s[0]: s for s in run.SCENARIOS}
    names = [n for n in scenarios if n in args.only.split(",")]
    bins = {"new": args.new, "old": args.old}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            order = ["new", "old"] if rnd % 2 == 0 else ["old", "new"]
            for name in names:
                for which in order:
                    run.CHAT_SERVER = bins[which]
                    r = run.one_run("ours", scenarios[name][1], tmp)
                    results.setdefault(name, {}).setdefault(which, []).append(r)
                    run.log("round %d  %-24s %s" % (rnd + 1, name, which))
    for name in names:
        for key in FIGURES:
            old = [r[key] for r in results[name]["old"] if r.get(key) is not None]
            new = [r[key] for r in results[name]["new"] if r.get(key) is not None]
            if not old or not new:
                continue
            mo, mn = statistics.median(old), statistics.median(new)
            change = 100 * (mn - mo) / mo if mo else 0
            print("%-24s %-26s old %12.3f  new %12.3f  %+6.1f %%" % (name, key, mo, mn, change))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A/B of two chat-server builds in one loop (chat-server only, no Node runs).

    /usr/bin/python3 bench/ab.py OLD_BINARY [--new build/chat-server] [--rounds 3]
                                 [--only "fanout-1000,ack"] [--json ab.json]
                                 [--server-args "..."] [--loadgen-args "..."] [--tls]
                                 [--old-server-args "..."] [--new-server-args "..."]
                                 [--old-loadgen-args "..."] [--new-loadgen-args "..."]

Runs each scenario of bench/run.py on both binaries, alternating which goes first from
round to round, and prints each figure's median per build. This VM's speed moves 10-30 %
from hour to hour, so builds are compared in the same loop, not against the README's table.

--server-args / --loadgen-args go to both builds' runs (as in bench/run.py), then
--old-... / --new-... to one side's: the same binary twice compares two settings.
permessage-deflate against plain, 1 KiB messages (the server compresses from 1024 bytes;
the scenarios' own are ~165):

    /usr/bin/python3 bench/ab.py build/chat-server --only fanout-1000 --loadgen-args "--text-bytes 1024" \
        --new-server-args "--per-message-deflate true" --new-loadgen-args --deflate

--tls: both builds over TLS (a self-signed certificate made once), loadgen --tls.
"""
import argparse
import importlib.util
import json
import os
import shlex
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("bench_run", os.path.join(HERE, "run.py"))
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)

FIGURES = ["server_cpu_us_per_msg", "compressed_messages", "p50_us", "p99_us", "delivered_per_s", "rss_per_conn_bytes",
           "server_cpu_us_per_connect", "connects_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("--new", default=os.path.join(run.BUILD, "chat-server"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="fanout-100,fanout-1000,fanout-1000 1 sender,fanout-5000,"
                                      "fanout-1000 @ 20 msg/s,rooms-1000/100,connect-10000,ack")
    ap.add_argument("--json")
    ap.add_argument("--server-args", default="", help="more chat-server arguments, both builds")
    ap.add_argument("--loadgen-args", default="", help="more loadgen arguments, both builds' runs")
    for side in ("old", "new"):
        ap.add_argument("--%s-server-args" % side, default="", help="more chat-server arguments, %s only" % side)
        ap.add_argument("--%s-loadgen-args" % side, default="", help="more loadgen arguments, %s only" % side)
    ap.add_argument("--tls", action="store_true", help="chat-server over TLS (self-signed), loadgen --tls")
    args = ap.parse_args(run.glue_values(sys.argv[1:]))
    server_args = {side: shlex.split(args.server_args) + shlex.split(getattr(args, side + "_server_args"))
                   for side in ("old", "new")}
    loadgen_args = {side: shlex.split(args.loadgen_args) + shlex.split(getattr(args, side + "_loadgen_args"))
                    for side in ("old", "new")}
    scenarios = {s[0]: s for s in run.SCENARIOS}
    names = [n for n in scenarios if n in args.only.split(",")]
    bins = {"new": args.new, "old": args.old}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.tls:
            run.TLS = run.make_tls_cert(tmp)
        for rnd in range(args.rounds):
            order = ["new", "old"] if rnd % 2 == 0 else ["old", "new"]
            for name in names:
                for which in order:
                    run.CHAT_SERVER = bins[which]
                    r = run.one_run("ours", scenarios[name][1], tmp, server_args=server_args[which],
                                    loadgen_args=loadgen_args[which])
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

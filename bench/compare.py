#!/usr/bin/env python3
"""Throughput of sonic next to redis-server, measured with redis-benchmark.

Starts redis-server and sonic on free ports, runs

    redis-benchmark -t set,get,incr,mset,ping -c 50 -n N -P P --csv

against each (P = 1 and 16), and prints requests per second and the
sonic/redis ratio per test.  The issues' targets are checked at the end:
GET/SET at -P 1 at least 50% of redis-server's rate, at -P 16 at least 30%;
the collection commands (``--suite collections``: lpush, rpush, lpop, rpop,
sadd, hset, spop, zadd, lrange_100, lrange_600) at least 50% at -P 1.

    python bench/compare.py                       # strings, N = 100000
    python bench/compare.py --suite collections   # the collection commands
    python bench/compare.py --quick    # N = 20000
    python bench/compare.py --twistd --repeat 3 -n 200000

On a 2-core machine the benchmark client, the server and (for sonic) the
Python interpreter share the cores, so figures vary by some percent between
runs; --repeat keeps each test's best run (the two servers take turns), and
the machine's load average before and after is printed with the figures.
"""

import argparse
import csv
import io
import os
import subprocess
import sys

from _common import require, start_redis, start_sonic

SUITES = {
    "core": "set,get,incr,mset,ping",
    "collections": "lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,lrange_600",
}
SUITES["all"] = SUITES["core"] + "," + SUITES["collections"]

#: (test name as redis-benchmark prints it, pipeline depth) -> the issues' floor.
TARGETS = {("GET", 1): 0.50, ("SET", 1): 0.50, ("GET", 16): 0.30, ("SET", 16): 0.30}
for _name in ("LPUSH", "RPUSH", "LPOP", "RPOP", "SADD", "HSET", "SPOP", "ZADD",
              "LRANGE_100 (first 100 elements)", "LRANGE_600 (first 600 elements)"):
    TARGETS[_name, 1] = 0.50


def benchmark(port, tests, clients, requests, pipeline):
    """requests/s per test name (redis-benchmark --csv), e.g. {"SET": 51234.0, "MSET (10 keys)": ...}.

    Each test runs in its own redis-benchmark so one the server fails
    (an error reply) is reported as 0 without losing the others.
    """
    rates = {}
    for test in tests.split(","):
        out = subprocess.run(
            [require("redis-benchmark"), "-p", str(port), "-t", test, "-c", str(clients),
             "-n", str(requests), "-P", str(pipeline), "--csv", "-q"],
            capture_output=True, text=True, timeout=3600)
        rows = [row for row in csv.reader(io.StringIO(out.stdout)) if row]
        if out.returncode != 0 or len(rows) < 2:
            last = ((out.stderr or out.stdout).strip().splitlines() or [""])[-1]
            sys.stderr.write("redis-benchmark -t %s on port %d failed: %s\n" % (test, port, last[:120]))
            rates[test.upper()] = 0.0
            continue
        rps = rows[0].index("rps")
        for row in rows[1:]:
            rates[row[0]] = float(row[rps])
    return rates


def best(runs):
    """Per test, the best rate over several runs."""
    out = {}
    for run in runs:
        for name, rate in run.items():
            out[name] = max(rate, out.get(name, 0.0))
    return out


def interpreter(python):
    """The interpreter's path and version, for the report (its build matters: see bench/README)."""
    version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    return "%s (Python %s)" % (os.path.realpath(python), version)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="20000 requests per test")
    p.add_argument("-n", "--requests", type=int, help="requests per test (default 100000)")
    p.add_argument("-c", "--clients", type=int, default=50)
    p.add_argument("--suite", choices=sorted(SUITES), default="core",
                   help="which tests: core (strings), collections, all")
    p.add_argument("-t", "--tests", help="redis-benchmark -t list (overrides --suite)")
    p.add_argument("-P", "--pipelines", default="1,16", help="comma-separated pipeline depths")
    p.add_argument("--repeat", type=int, default=1, help="runs per test; the best is kept")
    p.add_argument("--twistd", action="store_true", help="run sonic with twistd -n sonic")
    p.add_argument("--python", help="interpreter to run sonic with (it needs sonic's dependencies, "
                   "e.g. a venv's bin/python); default: the one running this script")
    p.add_argument("--sonic-arg", action="append", default=[],
                   help="extra sonic-server argument, e.g. --sonic-arg=--hiredis-parser --sonic-arg=no")
    args = p.parse_args()
    requests = args.requests or (20000 if args.quick else 100000)
    if not args.tests:
        args.tests = SUITES[args.suite]
    pipelines = [int(x) for x in args.pipelines.split(",")]

    sonic = start_sonic("--save", "", *args.sonic_arg, twistd=args.twistd, python=args.python)
    redis = start_redis()
    results = {}
    load_before = os.getloadavg()
    try:
        for pipeline in pipelines:
            runs = {sonic.name: [], redis.name: []}
            # The servers take turns test by test, so a change in the
            # machine's speed (other processes or virtual machines on the
            # cores; it moves in steps lasting seconds) weighs on both alike.
            for test in args.tests.split(","):
                for _ in range(args.repeat):
                    for server in (sonic, redis):
                        server.command("FLUSHALL")
                        runs[server.name].append(
                            benchmark(server.port, test, args.clients, requests, pipeline))
            for name, rates in runs.items():
                results[name, pipeline] = best(rates)
    finally:
        sonic.stop()
        redis.stop()
    load_after = os.getloadavg()

    print("redis-benchmark -t %s -c %d -n %d (best of %d); requests per second"
          % (args.tests, args.clients, requests, args.repeat))
    print("sonic runs on %s" % interpreter(args.python or sys.executable))
    print("load average (1, 5, 15 min): %.2f %.2f %.2f before, %.2f %.2f %.2f after"
          % (load_before + load_after))
    print("%-16s %4s %14s %14s %8s" % ("test", "-P", "redis-server", "sonic", "sonic/redis"))
    failed = []
    for pipeline in pipelines:
        r, s = results["redis", pipeline], results["sonic", pipeline]
        for name in r:
            if not r[name]:
                continue
            ratio = s.get(name, 0.0) / r[name] if r[name] else 0.0
            print("%-16s %4d %14s %14s %7.0f%%" % (
                name, pipeline, "{:,.0f}".format(r[name]), "{:,.0f}".format(s.get(name, 0.0)),
                ratio * 100))
            floor = TARGETS.get((name, pipeline))
            if floor is not None and ratio < floor:
                failed.append("%s -P %d at %.0f%% (target %.0f%%)" % (name, pipeline, ratio * 100,
                                                                    floor * 100))
    print()
    if failed:
        print("below target: " + "; ".join(failed))
    else:
        print("targets met (GET/SET: -P 1 >= 50%, -P 16 >= 30%; collections: -P 1 >= 50%)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""EVALSHA of small scripts: sonic next to redis-server, measured with redis-benchmark.

Loads each script with SCRIPT LOAD on both servers (started on free ports),
then runs

    redis-benchmark -c 50 -n N -P P EVALSHA <sha> 1 key:__rand_int__ [arg]

and prints requests per second and the sonic/redis ratio per script, with
plain GET as the yardstick of what the dispatcher alone costs.

    python bench/script_bench.py              # N = 50000, -P 1 and 16
    python bench/script_bench.py -n 20000 -P 1

On a 2-core machine the benchmark client and the server share the cores, so
figures vary by some percent between runs.
"""

import argparse
import csv
import io
import subprocess
import sys

from _common import require, start_redis, start_sonic

#: (name, script, key pattern, extra arguments after the key)
SCRIPTS = [
    ("get", "return redis.call('GET', KEYS[1])", "key:__rand_int__", []),
    ("set", "return redis.call('SET', KEYS[1], ARGV[1])", "key:__rand_int__", ["v"]),
    ("incr+expire", "local n = redis.call('INCR', KEYS[1]) redis.call('EXPIRE', KEYS[1], 60) return n",
     "counter:__rand_int__", []),
    ("return table", "return {KEYS[1], ARGV[1], 1, 2, 3}", "key:__rand_int__", ["x"]),
]


def run(port, words, clients, requests, pipeline):
    """requests/s of one redis-benchmark run of the command C{words}."""
    out = subprocess.run(
        [require("redis-benchmark"), "-p", str(port), "-c", str(clients), "-n", str(requests),
         "-P", str(pipeline), "-r", "100000", "--csv", "-q"] + words,
        capture_output=True, text=True, timeout=600)
    rows = [row for row in csv.reader(io.StringIO(out.stdout)) if row]
    if out.returncode != 0 or len(rows) < 2:
        sys.stderr.write("redis-benchmark %s failed: %s\n" % (words[:2], (out.stderr or out.stdout)[-200:]))
        return 0.0
    return float(rows[1][rows[0].index("rps")])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--requests", type=int, default=50000)
    p.add_argument("-c", "--clients", type=int, default=50)
    p.add_argument("-P", "--pipelines", default="1,16")
    args = p.parse_args()
    pipelines = [int(x) for x in args.pipelines.split(",")]
    sonic = start_sonic("--save", "")
    redis = start_redis()
    results = {}
    try:
        for server in (sonic, redis):
            server.command("FLUSHALL")
            for pipeline in pipelines:
                results[server.name, "GET (plain)", pipeline] = run(
                    server.port, ["GET", "key:__rand_int__"], args.clients, args.requests, pipeline)
                for name, script, key, extra in SCRIPTS:
                    sha = server.command("SCRIPT", "LOAD", script)
                    results[server.name, name, pipeline] = run(
                        server.port, ["EVALSHA", sha, "1", key] + extra,
                        args.clients, args.requests, pipeline)
    finally:
        sonic.stop()
        redis.stop()
    print("redis-benchmark -c %d -n %d EVALSHA <sha> 1 key:__rand_int__ ...; requests per second"
          % (args.clients, args.requests))
    print("%-14s %4s %14s %14s %8s" % ("script", "-P", "redis-server", "sonic", "sonic/redis"))
    for pipeline in pipelines:
        for name in ["GET (plain)"] + [s[0] for s in SCRIPTS]:
            r = results["redis", name, pipeline]
            s = results["sonic", name, pipeline]
            print("%-14s %4d %14s %14s %7.0f%%" % (name, pipeline, "{:,.0f}".format(r),
                                                 "{:,.0f}".format(s), 100.0 * s / r if r else 0))


if __name__ == "__main__":
    main()

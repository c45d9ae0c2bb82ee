"""Writing past maxmemory: sonic and redis-server side by side, same limit and policy.

    python bench/eviction.py [--maxmemory 100mb] [--policy allkeys-lru] [-n 600000] [-P 16]

Each server gets ``--maxmemory`` and ``--maxmemory-policy``; redis-benchmark
then writes ``-n`` SETs of 100-byte values over 100,000,000 random keys (so
nearly every write adds a key and, once full, evicts one).  Printed per
server: requests/s, keys left, evicted_keys, used_memory minus what is not
counted for eviction (what maxmemory limits), and RSS before and after; then
sonic/redis ratios.  sonic's start-up memory (~45 MB) is not counted against
maxmemory (INFO mem_not_counted_for_evict); its RSS after the run is
compared with start-up RSS + maxmemory.
"""

import argparse
import csv
import io
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import fmt_bytes, fmt_rate, require, start_redis, start_sonic  # noqa: E402


def info(server, section):
    out = {}
    for line in server.command("INFO", section).splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def run(server, n, pipeline, clients):
    rss0 = server.rss()
    out = subprocess.run(
        [require("redis-benchmark"), "-p", str(server.port), "-t", "set", "-n", str(n),
         "-r", "100000000", "-d", "100", "-P", str(pipeline), "-c", str(clients), "--csv", "-q"],
        capture_output=True, text=True, timeout=3600)
    rows = [row for row in csv.reader(io.StringIO(out.stdout)) if row]
    rate = float(rows[1][rows[0].index("rps")]) if len(rows) > 1 else 0.0
    mem = info(server, "memory")
    stats = info(server, "stats")
    counted = int(mem["used_memory"]) - int(mem.get("mem_not_counted_for_evict", 0))
    return {"rate": rate, "keys": int(server.command("DBSIZE")), "evicted": int(stats["evicted_keys"]),
            "counted": counted, "rss0": rss0, "rss": server.rss()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--maxmemory", default="100mb")
    p.add_argument("--policy", default="allkeys-lru")
    p.add_argument("-n", "--requests", type=int, default=600000)
    p.add_argument("-P", "--pipeline", type=int, default=16)
    p.add_argument("-c", "--clients", type=int, default=50)
    args = p.parse_args()
    results = {}
    for name, start in (("redis-server", start_redis), ("sonic", start_sonic)):
        server = start("--maxmemory", args.maxmemory, "--maxmemory-policy", args.policy)
        try:
            results[name] = run(server, args.requests, args.pipeline, args.clients)
        finally:
            server.stop()
    print("SET -n %d -d 100 -r 1e8 -P %d -c %d, maxmemory %s, %s"
          % (args.requests, args.pipeline, args.clients, args.maxmemory, args.policy))
    print("%-13s %10s %9s %9s %12s %10s %10s" % ("server", "SET/s", "keys", "evicted", "counted mem",
                                               "RSS start", "RSS end"))
    for name, r in results.items():
        print("%-13s %10s %9d %9d %12s %10s %10s" % (
            name, fmt_rate(r["rate"]), r["keys"], r["evicted"], fmt_bytes(r["counted"]),
            fmt_bytes(r["rss0"]), fmt_bytes(r["rss"])))
    s, r = results["sonic"], results["redis-server"]
    if r["rate"]:
        print("sonic/redis: SET/s %.0f%%, keys kept %.0f%%, RSS growth %.0f%%" % (
            100.0 * s["rate"] / r["rate"], 100.0 * s["keys"] / max(r["keys"], 1),
            100.0 * (s["rss"] - s["rss0"]) / max(r["rss"] - r["rss0"], 1)))


if __name__ == "__main__":
    main()

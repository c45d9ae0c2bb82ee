#!/usr/bin/env python3
"""Why the keyspace is sharded: the worst pause while loading millions of keys.

A Python dict grows by allocating a new table and moving every entry in one
go; with all keys in one dict that stall grows with the keyspace (hundreds of
milliseconds at millions of keys) and every client waits.  Split into 16
shards per database, each dict is a sixteenth of the size and so is each
stall.

The script loads 5,000,000 keys (SET, batches of 100 on 4 connections) into
sonic started with C{--shards 1} and then with the default 16, while a
separate process sends PING every millisecond on its own connection and
records each round trip.  It prints the worst PING latency and high
percentiles for both, plus the load rate.

    python bench/shard_pause.py            # 5,000,000 keys
    python bench/shard_pause.py --quick    # 1,000,000 keys
    python bench/shard_pause.py --keys 3000000 --shards 1,4,16

On this 2-core machine the loader, the server and the pinger share the
cores, so single PINGs can wait a few milliseconds for the scheduler; the
dict-resize stalls stand out above that.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time

from _common import batch_load, set_batches, start_sonic


def pinger(port, interval):
    """Child process: PING every C{interval} s until stdin closes; print latencies (JSON)."""
    import selectors
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sel = selectors.DefaultSelector()
    sel.register(sys.stdin, selectors.EVENT_READ)
    latencies = []
    worst_at = 0.0
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        s.sendall(b"PING\r\n")
        got = b""
        while len(got) < 7:
            got += s.recv(64)
        rtt = time.perf_counter() - t0
        if not latencies or rtt > max(latencies):
            worst_at = t0 - start
        latencies.append(rtt)
        if sel.select(timeout=interval):
            break
    latencies.sort()
    n = len(latencies)
    print(json.dumps({
        "count": n, "max_ms": latencies[-1] * 1e3, "worst_at_s": worst_at,
        "p50_ms": latencies[n // 2] * 1e3, "p99_ms": latencies[int(n * 0.99)] * 1e3,
        "p999_ms": latencies[int(n * 0.999)] * 1e3,
        "over_50ms": sum(1 for x in latencies if x > 0.05),
    }))


def run(shards, keys, interval, twistd):
    server = start_sonic("--save", "", "--shards", shards, twistd=twistd)
    try:
        child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--pinger",
                                  str(server.port), "--interval", str(interval)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        seconds = batch_load(server, set_batches(keys, 100))
        child.stdin.close()
        result = json.loads(child.stdout.read())
        child.wait()
        dbsize = int(server.command("DBSIZE"))
        rss = server.rss()
    finally:
        server.stop()
    result.update(shards=shards, keys=dbsize, load_s=seconds, rss=rss)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keys", type=int, help="keys to load (default 5000000)")
    p.add_argument("--quick", action="store_true", help="1,000,000 keys")
    p.add_argument("--shards", default="1,16", help="comma-separated shard counts to compare")
    p.add_argument("--interval", type=float, default=0.001, help="seconds between PINGs")
    p.add_argument("--twistd", action="store_true", help="run sonic with twistd -n sonic")
    p.add_argument("--pinger", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.pinger:
        return pinger(args.pinger, args.interval)
    keys = args.keys or (1000000 if args.quick else 5000000)
    rows = [run(int(n), keys, args.interval, args.twistd) for n in args.shards.split(",")]
    print("Loading %s keys (SET, 100-byte values, batches of 100 on 4 connections); "
          "PING every %g ms on another connection" % ("{:,}".format(keys), args.interval * 1e3))
    print("%7s %10s %10s %10s %10s %10s %9s %9s %10s" % (
        "shards", "max ms", "p99 ms", "p99.9 ms", "p50 ms", ">50ms", "pings", "load s", "SET/s"))
    for r in rows:
        print("%7d %10.1f %10.2f %10.2f %10.2f %10d %9d %9.1f %10s" % (
            r["shards"], r["max_ms"], r["p99_ms"], r["p999_ms"], r["p50_ms"], r["over_50ms"],
            r["count"], r["load_s"], "{:,.0f}".format(r["keys"] / r["load_s"])))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""PUBLISH throughput with 100 subscribers connected, sonic next to redis-server.

Starts redis-server and sonic on free ports.  For each server a separate
subscriber process opens S connections (default 100), SUBSCRIBEs each to
one channel and reads everything it is sent (asyncio, counting bytes); then

    redis-benchmark -c C -n N -P P PUBLISH bench:pubsub <payload>

publishes to that channel.  Printed per server and pipeline depth: the
PUBLISH rate redis-benchmark measured, the delivery rate (messages
received by all subscribers together per second, from the first PUBLISH to
the last byte received) and PUBLISH commands per second of the server's own
CPU time (user + system, from /proc: the figure least disturbed by a busy
machine), with the sonic/redis ratios.

    python bench/pubsub_bench.py                 # N = 20000, -P 1 and 16
    python bench/pubsub_bench.py -n 5000 --subscribers 100 -P 1

On a 2-core machine the server, redis-benchmark and the subscriber process
share the cores, so the figures are comparative, not absolute.
"""

import argparse
import asyncio
import csv
import io
import os
import subprocess
import sys
import time

from _common import require, resp_command, start_redis, start_sonic

CHANNEL = b"bench:pubsub"


def _frame_size(payload):
    """Bytes of one RESP2 message push for CHANNEL and C{payload}."""
    return len(b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
               % (len(CHANNEL), CHANNEL, len(payload), payload))


async def _subscribe_and_count(port, subscribers, expected_bytes, idle):
    """Child process body: S subscribers; print 'ready', then received bytes and seconds."""
    conns = []
    confirm = len(b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(CHANNEL), CHANNEL))
    for _ in range(subscribers):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(resp_command(b"SUBSCRIBE", CHANNEL))
        await writer.drain()
        await reader.readexactly(confirm)
        conns.append((reader, writer))
    print("ready", flush=True)
    received = [0]
    first = [None]
    last = [None]

    async def drain(reader):
        while received[0] < expected_bytes:
            try:
                chunk = await asyncio.wait_for(reader.read(1 << 18), idle)
            except asyncio.TimeoutError:
                return
            if not chunk:
                return
            now = time.perf_counter()
            if first[0] is None:
                first[0] = now
            last[0] = now
            received[0] += len(chunk)

    await asyncio.gather(*(drain(r) for r, _ in conns))
    for _, w in conns:
        w.close()
    span = (last[0] - first[0]) if first[0] is not None else 0.0
    print("%d %.6f" % (received[0], span), flush=True)


def _cpu_seconds(pid):
    """User plus system CPU seconds a process has used (/proc/<pid>/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def publish_round(server, subscribers, requests, clients, pipeline, payload):
    """One measurement: (publish rate, delivered messages, delivery rate, PUBLISH per server CPU second)."""
    port = server.port
    expected = subscribers * requests * _frame_size(payload)
    child = subprocess.Popen(
        [sys.executable, __file__, "--_subscriber", str(port), str(subscribers), str(expected)],
        stdout=subprocess.PIPE, text=True)
    try:
        if child.stdout.readline().strip() != "ready":
            sys.exit("subscriber process failed on port %d" % port)
        cpu = _cpu_seconds(server.pid)
        out = subprocess.run(
            [require("redis-benchmark"), "-p", str(port), "-c", str(clients), "-n", str(requests),
             "-P", str(pipeline), "--csv", "-q", "PUBLISH", CHANNEL.decode(), payload.decode()],
            capture_output=True, text=True, timeout=3600)
        rows = [row for row in csv.reader(io.StringIO(out.stdout)) if row]
        rate = float(rows[-1][1]) if out.returncode == 0 and len(rows) >= 2 else 0.0
        line = child.stdout.readline().split()
        cpu = _cpu_seconds(server.pid) - cpu
        child.wait(60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    received, span = int(line[0]), float(line[1])
    delivered = received // _frame_size(payload)
    return rate, delivered, delivered / max(span, 1e-9), requests / max(cpu, 1e-9)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--_subscriber":
        port, subscribers, expected = (int(x) for x in sys.argv[2:5])
        asyncio.run(_subscribe_and_count(port, subscribers, expected, idle=3.0))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--requests", type=int, default=20000, help="PUBLISH commands per run")
    p.add_argument("-c", "--clients", type=int, default=10, help="publishing connections")
    p.add_argument("--subscribers", type=int, default=100)
    p.add_argument("-P", "--pipelines", default="1,16", help="comma-separated pipeline depths")
    p.add_argument("--size", type=int, default=16, help="message payload bytes")
    p.add_argument("--repeat", type=int, default=1, help="runs per case; the best is kept")
    p.add_argument("--twistd", action="store_true", help="run sonic with twistd -n sonic")
    args = p.parse_args()
    payload = b"x" * args.size
    pipelines = [int(x) for x in args.pipelines.split(",")]

    sonic = start_sonic("--save", "", twistd=args.twistd)
    redis = start_redis()
    results = {}
    try:
        for pipeline in pipelines:
            for server in (sonic, redis):
                runs = [publish_round(server, args.subscribers, args.requests, args.clients,
                                      pipeline, payload) for _ in range(args.repeat)]
                results[server.name, pipeline] = max(runs, key=lambda r: r[0])
    finally:
        sonic.stop()
        redis.stop()

    print("PUBLISH to %d subscribers: redis-benchmark -c %d -n %d, %d-byte messages (best of %d)"
          % (args.subscribers, args.clients, args.requests, args.size, args.repeat))
    print("%4s %-22s %14s %14s %8s" % ("-P", "figure", "redis-server", "sonic", "sonic/redis"))
    for pipeline in pipelines:
        r, s = results["redis", pipeline], results["sonic", pipeline]
        for label, i in (("PUBLISH/s", 0), ("messages delivered/s", 2),
                         ("PUBLISH/server CPU s", 3)):
            ratio = s[i] / r[i] if r[i] else 0.0
            print("%4d %-22s %14s %14s %7.0f%%" % (pipeline, label, "{:,.0f}".format(r[i]),
                                                   "{:,.0f}".format(s[i]), ratio * 100))
        expected = args.subscribers * args.requests
        for name, res in (("redis-server", r), ("sonic", s)):
            if res[1] != expected:
                print("     %s delivered %d of %d messages" % (name, res[1], expected))


if __name__ == "__main__":
    main()

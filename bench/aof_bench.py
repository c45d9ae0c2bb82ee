#!/usr/bin/env python3
"""Append-only file throughput: C{redis-benchmark -t set -P 16} against sonic and redis-server.

Both servers run with C{appendonly yes} and the same C{appendfsync} (everysec
by default; C{--fsync always} or C{no} too), each in its own temporary
directory, on free ports; prints requests per second of each and the ratio
sonic / redis-server, plus the same for sonic without the AOF (its cost).

    python bench/aof_bench.py
    python bench/aof_bench.py --fsync always --requests 100000

The benchmark client and the servers share the machine's cores.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait(port, proc):
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit("server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def start(kind, directory, args):
    port = free_port()
    if kind == "redis":
        cmd = ["redis-server", "--port", str(port), "--dir", directory, "--save", ""]
    else:
        cmd = [sys.executable, "-m", "sonic.cli", "--port", str(port), "--dir", directory,
               "--bind", "127.0.0.1", "--save", ""]
    proc = subprocess.Popen(cmd + args, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait(port, proc)
    return proc, port


def bench(port, requests, pipeline, clients):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-P", str(pipeline),
                          "-n", str(requests), "-c", str(clients), "-r", "100000", "-q"],
                         capture_output=True, text=True).stdout
    m = re.findall(r"([\d.]+) requests per second", out)
    return float(m[-1]) if m else 0.0


def run(kind, args, opts):
    d = tempfile.mkdtemp(prefix="aof-bench-")
    proc, port = start(kind, d, args)
    try:
        rps = bench(port, opts.requests, opts.pipeline, opts.clients)
        size = 0
        aofdir = os.path.join(d, "appendonlydir")
        if os.path.isdir(aofdir):
            size = sum(os.path.getsize(os.path.join(aofdir, f)) for f in os.listdir(aofdir))
        return rps, size
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fsync", default="everysec", choices=("always", "everysec", "no"))
    ap.add_argument("--requests", type=int, default=500000)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--clients", type=int, default=50)
    opts = ap.parse_args()
    aof = ["--appendonly", "yes", "--appendfsync", opts.fsync]
    sonic_plain, _ = run("sonic", [], opts)
    sonic, ssize = run("sonic", aof, opts)
    redis_, rsize = run("redis", aof, opts)
    print("redis-benchmark -t set -P %d -c %d -n %d, appendfsync %s"
          % (opts.pipeline, opts.clients, opts.requests, opts.fsync))
    print("  sonic, appendonly no:   %10.0f req/s" % sonic_plain)
    print("  sonic, appendonly yes:  %10.0f req/s  (AOF %.1f MB; %.0f%% of appendonly no)"
          % (sonic, ssize / 1e6, 100.0 * sonic / sonic_plain if sonic_plain else 0))
    print("  redis-server, yes:      %10.0f req/s  (AOF %.1f MB)" % (redis_, rsize / 1e6))
    print("  ratio sonic / redis-server: %.2f" % (sonic / redis_ if redis_ else 0))


if __name__ == "__main__":
    main()

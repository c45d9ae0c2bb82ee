#!/usr/bin/env python3
"""sonic as a master: full-sync pauses and time, and replication lag under load.

  1. In process (a Server on a task.Clock, no sockets): N string keys, then
     a PSYNC ? -1 on a StringTransport; prints how long the PSYNC handler
     held the reactor (the snapshot: shallow copies of the shard dicts), the
     RDB's size and build time, and the longest slice of RDB writing.
  2. End to end: a sonic process filled with N keys, a redis-server 7.0
     started as its replica; prints the full-sync time and the worst PING
     round trip on sonic meanwhile; then C{redis-benchmark -t set -P 16}
     on sonic while sampling master_repl_offset - slave_repl_offset.

    python bench/replication_master.py              # 1,000,000 keys
    python bench/replication_master.py --keys 200000

On a 2-core machine the benchmark, sonic and the replica share the cores.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def in_process(n):
    from tests.helpers import connect, make_server
    from sonic.replication.master import get_master
    server = make_server()
    db = server.store.dbs[0]
    for i in range(n):
        db.set(b"key:%d" % i, b"value-%d" % i)
    proto, transport = connect(server)
    t = time.perf_counter()
    proto.dataReceived(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
    pause = time.perf_counter() - t
    master = get_master(server)
    sync = master.last_sync
    while master.syncs:
        server.clock.advance(0)
    print("in process, %d keys: PSYNC handler (snapshot) %.0f ms; RDB %.1f MB written in %.2f s, "
          "longest slice %.1f ms" % (n, pause * 1000, len(transport.value()) / 1e6, sync.seconds,
                                     sync.longest_step * 1000))


def end_to_end(n):
    import redis
    from tests.conftest import free_port, start_sonic, stop, wait_for_port
    proc, port, _ = start_sonic()
    workdir = tempfile.mkdtemp(prefix="sonic-bench-repl-")
    rp = None
    try:
        s = redis.Redis(port=port)
        pipe = s.pipeline(transaction=False)
        for i in range(0, n, 1000):
            pipe.execute_command("MSET", *[w for j in range(i, min(n, i + 1000))
                                           for w in (b"key:%d" % j, b"value-%d" % j)])
            if not i % 50000:
                pipe.execute()
        pipe.execute()
        rport = free_port()
        t = time.time()
        rp = subprocess.Popen(["redis-server", "--port", str(rport), "--save", "", "--dir", workdir,
                               "--replicaof", "127.0.0.1", str(port)], stdout=subprocess.DEVNULL)
        wait_for_port(rport, rp)
        r = redis.Redis(port=rport)
        worst = 0.0
        while True:
            t0 = time.time()
            s.ping()
            worst = max(worst, time.time() - t0)
            if r.info("replication")["master_link_status"] == "up" and r.dbsize() == n:
                break
            time.sleep(0.01)
        print("end to end, %d keys sonic -> redis-server: full sync %.2f s, worst PING on sonic "
              "meanwhile %.0f ms" % (n, time.time() - t, worst * 1000))
        bench = subprocess.Popen(["redis-benchmark", "-p", str(port), "-t", "set", "-P", "16",
                                  "-n", "500000", "-r", "100000", "-q"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lags = []
        while bench.poll() is None:
            lags.append(s.info("replication")["master_repl_offset"]
                        - r.info("replication")["slave_repl_offset"])
            time.sleep(0.1)
        out = bench.stdout.read().decode().strip().splitlines()
        lags.sort()
        print("redis-benchmark -t set -P 16 on sonic with the replica: %s" % (out[-1] if out else "?"))
        if lags:
            print("replication lag (bytes), sampled every 100 ms: median %d, max %d"
                  % (lags[len(lags) // 2], lags[-1]))
    finally:
        if rp is not None:
            stop(rp)
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1000000)
    args = parser.parse_args()
    in_process(args.keys)
    if shutil.which("redis-server") and shutil.which("redis-benchmark"):
        end_to_end(args.keys)


if __name__ == "__main__":
    main()

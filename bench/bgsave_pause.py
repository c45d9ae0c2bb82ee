#!/usr/bin/env python3
"""BGSAVE of N keys: the longest pause clients see, the save's duration and peak memory, sonic vs redis-server.

For each server (a sonic process and a redis-server 7.0, each in its own
temporary directory with C{save ""}): N string keys are loaded with
C{redis-cli --pipe}, then a probe thread sends PINGs back to back while
BGSAVE runs; the script prints the worst PING round trip during the save,
the save's duration, the file's size, and the peak memory of the server
and its children (proportional set size, so pages a forked child shares
with its parent are counted once) sampled every 20 ms.

    python bench/bgsave_pause.py                 # 1,000,000 keys
    python bench/bgsave_pause.py --keys 200000
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def pss_kb(pid):
    """Proportional set size (kB) of C{pid} and its children."""
    total = 0
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def fill(port, n):
    lines = []
    for i in range(n):
        k = b"key:%d" % i
        v = b"value-%d" % i
        lines.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=b"".join(lines),
                   stdout=subprocess.DEVNULL, check=True)


def measure(name, port, pid, n, workdir):
    import redis
    r = redis.Redis(port=port, socket_timeout=60)
    fill(port, n)
    assert r.dbsize() == n
    time.sleep(1)
    before = pss_kb(pid)
    worst = [0.0]
    peak = [before]
    done = threading.Event()

    def probe():
        p = redis.Redis(port=port, socket_timeout=60)
        while not done.is_set():
            t = time.perf_counter()
            p.ping()
            worst[0] = max(worst[0], time.perf_counter() - t)

    def sampler():
        while not done.is_set():
            peak[0] = max(peak[0], pss_kb(pid))
            time.sleep(0.02)

    threads = [threading.Thread(target=probe), threading.Thread(target=sampler)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    baseline = worst[0]
    worst[0] = 0.0
    start = time.perf_counter()
    r.execute_command("BGSAVE")
    while True:
        info = r.info("persistence")
        if not info["rdb_bgsave_in_progress"] and info["rdb_saves"]:
            break
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    time.sleep(0.1)
    done.set()
    for t in threads:
        t.join()
    size = os.path.getsize(os.path.join(workdir, "dump.rdb"))
    print("%-12s %d keys: BGSAVE %.2f s, worst PING %.1f ms (%.1f ms before), file %.1f MB, "
          "memory %.0f MB before, peak %.0f MB (+%.0f MB), status %s"
          % (name, n, seconds, worst[0] * 1000, baseline * 1000, size / 1e6, before / 1024.0,
             peak[0] / 1024.0, (peak[0] - before) / 1024.0, info["rdb_last_bgsave_status"]))


def run_sonic(n):
    from tests.conftest import start_sonic, stop
    workdir = tempfile.mkdtemp(prefix="sonic-bench-bgsave-")
    proc, port, _ = start_sonic("--dir", workdir, "--save", "")
    try:
        measure("sonic", port, proc.pid, n, workdir)
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def run_redis(n):
    from tests.conftest import free_port, stop, wait_for_port
    workdir = tempfile.mkdtemp(prefix="redis-bench-bgsave-")
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir, "--logfile",
                             os.path.join(workdir, "redis.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
        measure("redis-server", port, proc.pid, n, workdir)
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1000000)
    parser.add_argument("--only", choices=("sonic", "redis"))
    args = parser.parse_args()
    if args.only != "redis":
        run_sonic(args.keys)
    if args.only != "sonic" and shutil.which("redis-server"):
        run_redis(args.keys)


if __name__ == "__main__":
    main()

"""How fast sonic writes RDB files, and how fast a keyspace goes out and back in.

    python bench/rdb_write_speed.py                  # 1,000,000 strings + 30,000 collections
    python bench/rdb_write_speed.py --keys 200000    # smaller
    python bench/rdb_write_speed.py --verify         # also load the file into redis-server

Fills an in-process sonic server (no sockets: the store is filled through
its own API and the collection commands) with C{--keys} strings
("key:N" -> "value:N", as DEBUG POPULATE makes them) plus lists, hashes,
sets and sorted sets in their small and big encodings, then times:

  - save_to: the whole file (snapshot, encoding, CRC-64, fsync, rename);
  - the writer alone, from entries already taken (RdbWriter.entry);
  - entries_of alone (the snapshot of the store as Entry records);
  - entries_of + load_entries: the keyspace out and back in, as a
    full sync from sonic to sonic would do it without the socket;

and prints MB/s and keys/s for each.  C{--verify} runs redis-check-rdb on
the file and starts Debian's redis-server on it to check its key count.
"""

import argparse
import gc
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sonic.rdb.keyspace import entries_of, load_entries, save_to  # noqa: E402
from sonic.rdb.writer import RdbWriter  # noqa: E402
from tests.helpers import Client, call, make_server  # noqa: E402
from twisted.internet import task  # noqa: E402


def fill(server, keys, extra):
    """C{keys} strings and C{extra} collections (a quarter of each type, one in ten big)."""
    db = server.store.dbs[0]
    for i in range(keys):
        db.set(b"key:%d" % i, b"value:%d" % i)
    c = Client(server)
    for i in range(extra // 4):
        big = i % 10 == 0
        size = 200 if big else 10
        call(c, "RPUSH", b"list:%d" % i, *[b"element-%d" % j for j in range(size)])
        call(c, "HSET", b"hash:%d" % i, *[w for j in range(size * (3 if big else 1))
                                          for w in (b"field-%d" % j, b"value-%d" % j)])
        call(c, "SADD", b"set:%d" % i, *[(b"%d" % j) if not big else b"m-%d" % j
                                         for j in range(size)])
        call(c, "ZADD", b"zset:%d" % i, *[w for j in range(size)
                                          for w in (b"%d.5" % j, b"member-%d" % j)])
    # Some deadlines, so EXPIRETIME_MS records are part of the work.
    for i in range(0, keys, 10):
        db.set_expire(b"key:%d" % i, server.store.now + 3600_000)


def rate(nbytes, nkeys, seconds):
    return "%7.2f s  %7.1f MB/s  %9.0f keys/s" % (seconds, nbytes / seconds / 1e6, nkeys / seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--extra", type=int, default=30_000, help="collections")
    parser.add_argument("--verify", action="store_true", help="check the file with redis")
    args = parser.parse_args()

    # The clock reads the real time, so the deadlines written are in the
    # future for the redis-server that --verify starts on the file.
    clock = task.Clock()
    clock.advance(time.time() - 1_700_000_000)
    server = make_server(clock=clock)
    started = time.perf_counter()
    fill(server, args.keys, args.extra)
    total = len(server.store.dbs[0])
    print("filled %d keys in %.1f s" % (total, time.perf_counter() - started))

    directory = tempfile.mkdtemp(prefix="rdb-write-")
    path = os.path.join(directory, "dump.rdb")
    try:
        t = time.perf_counter()
        keys, size = save_to(server, path)
        elapsed = time.perf_counter() - t
        print("file: %d keys, %.1f MB" % (keys, size / 1e6))
        print("save_to (snapshot + write + fsync)   " + rate(size, keys, elapsed))

        t = time.perf_counter()
        for _ in entries_of(server):
            pass
        snap = time.perf_counter() - t
        print("entries_of alone (streamed)          " + rate(size, keys, snap))

        gc.disable()  # as write_keyspace does: a million Entry records, no cycles
        entries = list(entries_of(server))
        gc.enable()

        sink = io.BytesIO()
        t = time.perf_counter()
        w = RdbWriter(sink)
        w.header()
        w.select_db(0, len(entries), 0)
        gc.disable()
        for e in entries:
            w.entry(e)
        w.finish()
        gc.enable()
        print("writer alone (to memory)             "
              + rate(w.bytes_written, keys, time.perf_counter() - t))

        del entries
        clock2 = task.Clock()
        clock2.advance(time.time() - 1_700_000_000)
        other = make_server(clock=clock2)
        t = time.perf_counter()
        loaded = load_entries(other, entries_of(server), other.store.now)
        print("entries_of + load_entries round trip " + rate(size, loaded,
                                                           time.perf_counter() - t))
        assert loaded == keys

        if args.verify:
            out = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True)
            print("redis-check-rdb:", "OK" if "RDB looks OK" in out.stdout else out.stdout)
            from bench._common import start_redis
            shutil.copyfile(path, os.path.join(directory, "copy.rdb"))
            redis_server = start_redis("--dir", directory, "--dbfilename", "copy.rdb")
            while "LOADING" in redis_server.command("PING"):
                time.sleep(0.1)
            print("redis-server loaded %s keys" % redis_server.command("DBSIZE"))
            redis_server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

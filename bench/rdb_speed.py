"""How fast sonic reads RDB files that redis-server wrote.

    python bench/rdb_speed.py                 # 1,000,000 strings + 30,000 collections
    python bench/rdb_speed.py --keys 200000   # smaller
    python bench/rdb_speed.py --file dump.rdb # an existing file

Starts Debian's redis-server on a free port (with --enable-debug-command),
fills it with DEBUG POPULATE (strings "key:N" -> "value:N") plus lists,
hashes, sets and sorted sets in their small and big encodings, SAVEs, stops
it, then times:
  - CRC-64 over the whole file (sonic.rdb.format.crc64),
  - iter_rdb over the file (4 MB reads), entries dropped as they come,
  - list(iter_rdb(...)), every entry held (as a replica's load does),
  - RdbParser fed 16 KB chunks (as a replica reads a full-sync payload),
and prints MB/s and keys/s for each.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import pipe_load, resp_command, start_redis  # noqa: E402
from sonic.rdb.format import crc64  # noqa: E402
from sonic.rdb.reader import RdbParser, iter_rdb  # noqa: E402


def collections(n):
    """RESP commands building C{n} keys of each collection type, small and big."""
    for i in range(n):
        big = i % 10 == 0
        size = 200 if big else 10
        yield resp_command(b"RPUSH", b"list:%d" % i, *[b"element-%d" % j for j in range(size)])
        yield resp_command(b"HSET", b"hash:%d" % i,
                           *[w for j in range(size * (3 if big else 1))
                             for w in (b"field-%d" % j, b"value-%d" % j)])
        yield resp_command(b"SADD", b"set:%d" % i,
                           *[(b"%d" % j) if not big else b"m-%d" % j for j in range(size)])
        yield resp_command(b"ZADD", b"zset:%d" % i,
                           *[w for j in range(size) for w in (b"%d.5" % j, b"member-%d" % j)])


def make_file(keys, extra):
    server = start_redis("--enable-debug-command", "yes")
    started = time.perf_counter()
    server.command("DEBUG", "POPULATE", keys)
    if extra:
        pipe_load(server, (b"".join(list(collections(extra // 4))),))
    server.command("SAVE")
    # The server's directory goes when it stops: keep the file aside.
    fd, path = tempfile.mkstemp(prefix="rdb-speed-", suffix=".rdb")
    os.close(fd)
    shutil.copyfile(os.path.join(server.workdir, "dump.rdb"), path)
    print("redis-server wrote %s (%d keys) in %.1f s" % (
        path, int(server.command("DBSIZE")), time.perf_counter() - started))
    server.stop()
    return path


def rate(label, size, keys, seconds):
    print("%-34s %7.2f s  %7.1f MB/s  %10s keys/s" % (
        label, seconds, size / 1e6 / seconds, "{:,.0f}".format(keys / seconds) if keys else "-"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=1000000, help="DEBUG POPULATE count")
    parser.add_argument("--collections", type=int, default=30000,
                        help="lists+hashes+sets+zsets added (a quarter each)")
    parser.add_argument("--file", help="read this RDB file instead of making one")
    args = parser.parse_args()
    path = args.file or make_file(args.keys, args.collections)
    try:
        run(path)
    finally:
        if not args.file:
            os.unlink(path)


def run(path):
    with open(path, "rb") as f:
        data = f.read()
    size = len(data)
    print("file: %s bytes" % "{:,}".format(size))

    t = time.perf_counter()
    crc64(data)
    rate("crc64", size, 0, time.perf_counter() - t)

    t = time.perf_counter()
    with open(path, "rb") as f:
        n = sum(1 for _ in iter_rdb(f))
    rate("iter_rdb (file, 4 MB reads)", size, n, time.perf_counter() - t)

    t = time.perf_counter()
    with open(path, "rb") as f:
        entries = list(iter_rdb(f))
    rate("list(iter_rdb(file)) (all held)", size, len(entries), time.perf_counter() - t)
    del entries

    t = time.perf_counter()
    p = RdbParser()
    m = 0
    view = memoryview(data)
    for i in range(0, size, 16384):
        m += len(p.feed(view[i:i + 16384]))
    m += len(p.close())
    rate("RdbParser.feed (16 KB chunks)", size, m, time.perf_counter() - t)
    assert m == n


if __name__ == "__main__":
    main()

"""Inspect an RDB file without a server.

    python -m sonic.rdb dump.rdb          # a summary: version, AUX fields, keys per db and type
    python -m sonic.rdb --json dump.rdb   # one JSON object per key

JSON values are strings when the bytes are UTF-8, else {"base64": "..."};
hashes and sorted sets are lists of [field, value] / [member, score] pairs
(scores as numbers, or "inf"/"-inf"/"nan").
"""

import argparse
import base64
import json
import math
import sys
import time

from sonic.rdb import RdbError
from sonic.rdb.reader import iter_rdb


def _text(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(b).decode("ascii")}


def _score(f):
    return f if math.isfinite(f) else repr(f)


def _json_value(kind, value):
    if kind == "string":
        return _text(value)
    if kind in ("list", "set"):
        return [_text(v) for v in value]
    if kind == "hash":
        return [[_text(f), _text(v)] for f, v in value]
    return [[_text(m), _score(s)] for m, s in value]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sonic.rdb", description=__doc__.split("\n")[0])
    parser.add_argument("file", help="the RDB file ('-' for standard input)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per key")
    args = parser.parse_args(argv)
    f = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
    out = sys.stdout
    started = time.perf_counter()
    counts = {}  # db -> kind -> count
    expires = {}
    reader = iter_rdb(f)
    try:
        for e in reader:
            if args.json:
                out.write(json.dumps({
                    "db": e.db, "key": _text(e.key), "type": e.kind, "encoding": e.encoding,
                    "expire_ms": e.expire_ms, "value": _json_value(e.kind, e.value),
                }) + "\n")
            else:
                per = counts.setdefault(e.db, {})
                per[e.kind] = per.get(e.kind, 0) + 1
                if e.expire_ms is not None:
                    expires[e.db] = expires.get(e.db, 0) + 1
    except RdbError as e:
        sys.stderr.write("%s: %s\n" % (args.file, e))
        return 1
    finally:
        if f is not sys.stdin.buffer:
            f.close()
    if args.json:
        return 0
    elapsed = time.perf_counter() - started
    print("RDB version %d, %d bytes, checksum %s" % (
        reader.version, reader.offset,
        "%016x" % reader.checksum if reader.checksum else "not stored"))
    for k, v in reader.aux.items():
        print("aux %s = %s" % (_text(k), _text(v)))
    total = 0
    for db in sorted(counts):
        n = sum(counts[db].values())
        total += n
        kinds = ", ".join("%s %d" % (k, c) for k, c in sorted(counts[db].items()))
        print("db%d: %d keys (%d with a TTL): %s" % (db, n, expires.get(db, 0), kinds))
    if reader.functions:
        print("%d function libraries (not loaded by sonic)" % len(reader.functions))
    for what, n in sorted(reader.skipped.items()):
        print("skipped: %d %s" % (n, what))
    print("%d keys in %.3f s" % (total, elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())

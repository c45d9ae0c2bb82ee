#!/usr/bin/env python3
"""Memory (RSS) of sonic next to redis-server for four data sets.

  - small: 1,000,000 keys with 100-byte values (below the compression
    threshold, so this is the cost of the keyspace itself);
  - hash / zset: 1,000,000 hash fields, and 1,000,000 sorted-set members,
    each both in one key (Redis' hashtable / skiplist encodings) and 100 per
    key (Redis' compact listpack encoding);
  - json: 100,000 keys with ~2 KB JSON documents (pretty-printed customer
    records with orders, which zlib level 1 compresses about 3x), for sonic
    with compression on (the default, gzip), sonic with C{compression none},
    and redis-server.

Each case starts a fresh server, reads its RSS from /proc/<pid>/statm
(baseline), loads the keys (batches of pipelined SETs on 4 connections), waits a second and reads
RSS again.  The table shows both the absolute RSS and the growth (RSS minus
baseline), and each sonic case as a ratio of redis-server's.  The issue's
target: the json set with compression takes at most half of redis-server's
RSS.

    python bench/memory.py            # full sizes
    python bench/memory.py --quick    # a tenth of the keys
"""

import argparse
import json
import random
import time
import zlib

from _common import batch_load, fmt_bytes, resp_command, set_batches, start_redis, start_sonic

BATCH = 100

# Vocabularies for realistic-looking JSON: repeated field names and values
# from small sets (as in real records), plus ids, prices and dates.
FIRST = ["Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Isabel", "Jack",
         "Karen", "Liam", "Maria", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Tina"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Martinez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore"]
CITIES = [("Lisbon", "PT"), ("Berlin", "DE"), ("Paris", "FR"), ("Madrid", "ES"), ("Rome", "IT"),
          ("Austin", "US"), ("Toronto", "CA"), ("Osaka", "JP"), ("Sydney", "AU"), ("Dublin", "IE")]
STREETS = ["Main Street", "Oak Avenue", "Rua Augusta", "Hauptstrasse", "Rue de Rivoli",
           "Calle Mayor", "Via Roma", "Elm Road"]
PRODUCTS = ["wireless mouse", "mechanical keyboard", "USB-C hub", "27-inch monitor",
            "laptop stand", "noise-cancelling headphones", "webcam", "desk lamp",
            "ergonomic chair", "external SSD 1TB", "phone charger", "HDMI cable"]
TAGS = ["premium", "newsletter", "beta-tester", "early-adopter", "wholesale", "returning",
        "mobile", "gift-buyer", "eco", "vip"]
STATUS = ["delivered", "shipped", "processing", "cancelled", "returned"]


def json_document(rng):
    """One customer record as pretty-printed JSON (bytes) with an C{"__ID__"} placeholder."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city, country = rng.choice(CITIES)
    orders = []
    for _ in range(3):
        items = [{"sku": "SKU-%05d" % rng.randint(0, 99999), "name": rng.choice(PRODUCTS),
                  "quantity": rng.randint(1, 4), "unit_price": round(rng.uniform(5, 400), 2)}
                 for _ in range(rng.randint(1, 3))]
        orders.append({
            "order_id": "ord_%08d" % rng.randint(0, 10 ** 8),
            "created_at": "2024-%02d-%02dT%02d:%02d:%02dZ" % (
                rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
                rng.randint(0, 59)),
            "status": rng.choice(STATUS), "currency": "EUR", "items": items,
            "shipping": {"method": rng.choice(["standard", "express", "pickup"]),
                         "cost": round(rng.uniform(0, 20), 2)}})
    record = {
        "id": "__ID__", "type": "customer", "uuid": "%032x" % rng.getrandbits(128),
        "name": {"first": first, "last": last},
        "email": "%s.%s%d@example.com" % (first.lower(), last.lower(), rng.randint(1, 999)),
        "phone": "+%d %03d %03d %04d" % (rng.randint(1, 99), rng.randint(0, 999),
                                         rng.randint(0, 999), rng.randint(0, 9999)),
        "address": {"street": "%d %s" % (rng.randint(1, 300), rng.choice(STREETS)),
                    "city": city, "country": country, "postal_code": "%05d" % rng.randint(0, 99999)},
        "created_at": "2023-%02d-%02dT10:00:00Z" % (rng.randint(1, 12), rng.randint(1, 28)),
        "active": rng.random() < 0.9, "tags": rng.sample(TAGS, 3),
        "preferences": {"language": rng.choice(["en", "pt", "de", "fr"]),
                        "newsletter": rng.random() < 0.5, "theme": rng.choice(["light", "dark"])},
        "orders": orders,
        "loyalty": {"tier": rng.choice(["bronze", "silver", "gold"]), "points": rng.randint(0, 20000)},
    }
    return json.dumps(record, indent=2).encode()


def json_pool(size=2000, seed=1):
    """C{size} distinct documents; key i gets document i % size with its own id."""
    rng = random.Random(seed)
    return [json_document(rng) for _ in range(size)]


def small_commands(count):
    """SET key:<n> <100 bytes> for n < count, in batches."""
    return set_batches(count, BATCH, b"key:", 100)


def json_commands(count, pool):
    """SET doc:<n> <JSON document> for n < count, in batches."""
    step = max(1, BATCH // 10)
    for start in range(0, count, step):
        cmds = [resp_command(b"SET", b"doc:%d" % n,
                             pool[n % len(pool)].replace(b'"__ID__"', b"%d" % n, 1))
                for n in range(start, min(count, start + step))]
        yield b"".join(cmds), len(cmds)


def collection_commands(kind, items, per_key):
    """Batches that put C{items} hash fields or zset members into keys of C{per_key} each.

    Fields are C{field:<n>} with 8-byte values; members are C{member:<n>}
    with pseudo-random scores.  Each command carries 100 items.
    """
    rng = random.Random(7)
    chunk = 100
    n = 0
    while n < items:
        cmds = []
        replies = []
        for _ in range(10):
            if n >= items:
                break
            key = b"%s:%d" % (kind.encode(), n // per_key)
            m = min(chunk, items - n, per_key - n % per_key)
            if kind == "hash":
                words = [b"HSET", key]
                for i in range(n, n + m):
                    words += [b"field:%d" % i, b"%08d" % i]
            else:
                words = [b"ZADD", key]
                for i in range(n, n + m):
                    words += [b"%.6f" % (rng.random() * 1e6), b"member:%d" % i]
            cmds.append(resp_command(*words))
            replies.append(b":%d\r\n" % m)
            n += m
        yield b"".join(cmds), len(cmds), b"".join(replies)


def measure(label, server, commands, count, items=None):
    """Load C{commands} into C{server} (C{count} keys expected); a result row (dict).

    @param items: what B/item divides by (default: the keys).
    """
    server.command("PING")
    time.sleep(0.5)
    baseline = server.rss()
    seconds = batch_load(server, commands)
    keys = int(server.command("DBSIZE"))
    if keys != count:
        raise SystemExit("%s: DBSIZE %d, expected %d" % (label, keys, count))
    time.sleep(1.0)
    after = server.rss()
    info = server.command("INFO", "compression") if server.name == "sonic" else ""
    server.stop()
    return {"case": label, "baseline": baseline, "rss": after, "growth": after - baseline,
            "keys": items or keys, "load_s": seconds, "info": info}


def report(title, rows, reference):
    print(title)
    print("%-24s %12s %12s %12s %10s %9s %9s %8s" % (
        "server", "baseline", "RSS", "growth", "B/item", "RSS/redis", "grow/redis", "load s"))
    ref = next(r for r in rows if r["case"] == reference)
    for r in rows:
        print("%-24s %12s %12s %12s %10.0f %8.0f%% %9.0f%% %8.1f" % (
            r["case"], fmt_bytes(r["baseline"]), fmt_bytes(r["rss"]), fmt_bytes(r["growth"]),
            r["growth"] / float(r["keys"]), 100.0 * r["rss"] / ref["rss"],
            100.0 * r["growth"] / ref["growth"], r["load_s"]))
    for r in rows:
        if "compressed_keys" in r["info"]:
            stats = dict(line.split(":", 1) for line in r["info"].splitlines() if ":" in line)
            print("  %s INFO compression: %s" % (r["case"], ", ".join(
                "%s=%s" % (k, stats[k].strip()) for k in
                ("compressed_keys", "raw_bytes", "stored_bytes", "ratio") if k in stats)))
    print()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a tenth of the keys")
    p.add_argument("--small", type=int, help="keys in the 100-byte set (default 1000000)")
    p.add_argument("--json", type=int, help="keys in the JSON set (default 100000)")
    p.add_argument("--only", choices=("small", "json", "hash", "zset"), help="run one data set")
    p.add_argument("--items", type=int, help="hash fields / zset members (default 1000000)")
    p.add_argument("--twistd", action="store_true", help="run sonic with twistd -n sonic")
    args = p.parse_args()
    scale = 10 if args.quick else 1
    n_small = args.small or 1000000 // scale
    n_json = args.json or 100000 // scale

    if args.only in (None, "small"):
        rows = [
            measure("redis-server", start_redis(), small_commands(n_small), n_small),
            measure("sonic", start_sonic("--save", "", twistd=args.twistd),
                    small_commands(n_small), n_small),
        ]
        report("%s keys, 100-byte values" % "{:,}".format(n_small), rows, "redis-server")

    if args.only in (None, "json"):
        pool = json_pool()
        sizes = [len(d) for d in pool]
        ratio = sum(sizes) / float(sum(len(zlib.compress(d, 1)) for d in pool))
        rows = [
            measure("redis-server", start_redis(), json_commands(n_json, pool), n_json),
            measure("sonic (gzip)", start_sonic("--save", "", twistd=args.twistd),
                    json_commands(n_json, pool), n_json),
            measure("sonic (compression none)",
                    start_sonic("--save", "", "--compression", "none", twistd=args.twistd),
                    json_commands(n_json, pool), n_json),
        ]
        report("%s keys, JSON values of %d bytes on average (%d-%d), zlib level 1 ratio %.2fx" % (
            "{:,}".format(n_json), sum(sizes) / len(sizes), min(sizes), max(sizes), ratio),
            rows, "redis-server")
        share = 100.0 * rows[1]["rss"] / rows[0]["rss"]
        print("Target (JSON set with compression at most 50%% of redis-server's RSS): %s (%.1f%%)\n"
              % ("met" if share <= 50.0 else "NOT met", share))

    n_items = args.items or 1000000 // scale
    for kind in ("hash", "zset"):
        if args.only not in (None, kind):
            continue
        what = "hash fields" if kind == "hash" else "sorted-set members"
        for per_key, shape in ((n_items, "in one key"), (100, "100 per key")):
            keys = -(-n_items // per_key)
            rows = [
                measure("redis-server", start_redis(),
                        collection_commands(kind, n_items, per_key), keys, n_items),
                measure("sonic", start_sonic("--save", "", twistd=args.twistd),
                        collection_commands(kind, n_items, per_key), keys, n_items),
            ]
            report("%s %s, %s" % ("{:,}".format(n_items), what, shape), rows, "redis-server")


if __name__ == "__main__":
    main()

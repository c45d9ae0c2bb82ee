"""DUMP and RDB files from sonic, read by the real redis-server 7.0.

 - DUMP parity: for values Redis holds the same way (strings, lists,
   listpack hashes, intsets, listpack and skiplist sorted sets) sonic's
   payload is redis-server's, byte for byte.
 - Every type and encoding sonic DUMPs is RESTOREd by redis-server into the
   same value, with the encoding redis-server gives its own DUMP of the same
   value.
 - A whole file written by sonic (sonic.rdb.keyspace.save_to) passes
   redis-check-rdb and, loaded by a redis-server started on it, holds every
   key of sonic with the same type, contents, encoding and deadline.
"""

import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis
from twisted.internet import task

from sonic.rdb.keyspace import entries_of, entry_to_value, save_to
from sonic.store.keyspace import ENCODERS
from tests.conftest import _real_unavailable, free_port, stop, wait_for_port
from tests.helpers import Client, call, make_server


def _commands():
    """Commands building keys of every type and encoding (some values shrunk after converting)."""
    cmds = [
        ("SET", "s:short", "hello"), ("SET", "s:int", "12345"), ("SET", "s:neg", "-70000"),
        ("SET", "s:wide", "99999999999"), ("SET", "s:empty", ""), ("SET", "s:zero", "0"),
        ("SET", "s:lzf", "a" * 46), ("SET", "s:big", "abcdefgh" * 2000),
        ("SET", "s:random", bytes(range(256)) * 3), ("SET", "s:lead0", "007"),
        ("APPEND", "s:appended", "123"),
        ("RPUSH", "l:small", "a", "b", "1", "-5", "300", "70000", "10000000000", "x" * 70),
        ("RPUSH", "l:nodes", *[b"element-%d" % i for i in range(3000)]),
        ("RPUSH", "l:bigelems", "z" * 9000, "a", "b" * 20000, "c"),
        ("LPUSH", "l:ints", *[str(i) for i in range(-3000, 3000, 7)]),
        ("HSET", "h:small", "f", "v", "n", "5", "neg", "-100000"),
        ("HSET", "h:longval", "f", "v" * 100),
        ("HSET", "h:many", *[x for i in range(600) for x in (b"f%d" % i, b"%d" % i)]),
        ("HSET", "h:shrunk", *[x for i in range(600) for x in (b"f%d" % i, b"v")]),
        ("SADD", "i:16", "1", "-5", "32767"), ("SADD", "i:32", "1", "70000", "-2147483648"),
        ("SADD", "i:64", "1", "-9223372036854775808", "9223372036854775807"),
        ("SADD", "set:strs", "a", "b", "c"),
        ("SADD", "set:bigints", *[str(i) for i in range(600)]),
        ("SADD", "set:mixed", "1", "2", "x"),
        ("ZADD", "z:small", "1", "a", "0.1", "b", "-2.5", "c", "1e17", "d", "inf", "e", "5e18", "f"),
        ("ZADD", "z:negzero", "-0", "a", "0", "b"),
        ("ZADD", "z:big", *[x for i in range(300) for x in (b"%d.25" % (i * 7 % 300), b"m%d" % i)]),
        ("ZADD", "z:longmember", "1", "m" * 100, "2", "short"),
    ]
    for i in range(595):
        cmds.append(("HDEL", "h:shrunk", b"f%d" % i))
    for i in range(597):
        cmds.append(("SREM", "set:bigints", str(i)))
    cmds.append(("ZREMRANGEBYRANK", "z:big", "0", "296"))
    cmds.append(("ZADD", "z:bignegzero", *[x for i in range(200) for x in ("-0", b"n%d" % i)]))
    return cmds


def _read(r, key):
    """(type, contents, encoding) of a key through redis-py, contents order-free where the type is."""
    t = r.type(key).decode()
    enc = r.object("encoding", key)
    if t == "string":
        v = r.get(key)
    elif t == "list":
        v = r.lrange(key, 0, -1)
    elif t == "set":
        v = sorted(r.smembers(key))
    elif t == "hash":
        v = sorted(r.hgetall(key).items())
    elif t == "zset":
        v = r.zrange(key, 0, -1, withscores=True)
    else:
        v = None
    return t, v, enc


@pytest.fixture
def clients(sonic_port, real_port):
    """redis-py clients on flushed sonic and redis-server, both filled by L{_commands}."""
    s = redis.Redis(port=sonic_port)
    r = redis.Redis(port=real_port)
    s.flushall()
    r.flushall()
    for cmd in _commands():
        s.execute_command(*cmd)
        r.execute_command(*cmd)
    yield s, r
    s.flushall()
    r.flushall()
    s.close()
    r.close()


#: Keys whose payload is byte-identical: everything but hashtable sets and
#: hashes, whose members Redis lists in its own hash-table order.
_UNORDERED = {"h:longval", "h:many", "h:shrunk", "set:strs", "set:bigints", "set:mixed"}


def test_dump_bytes_equal_redis_for_ordered_encodings(clients):
    """For strings, lists, listpacks, intsets and sorted sets, sonic's DUMP is redis-server's."""
    s, r = clients
    keys = sorted(k.decode() for k in r.keys())
    assert sorted(k.decode() for k in s.keys()) == keys
    checked = 0
    for key in keys:
        if key in _UNORDERED:
            continue
        assert s.dump(key) == r.dump(key), key
        checked += 1
    assert checked >= 20


def test_every_sonic_dump_restores_identically_on_redis(clients):
    """redis-server RESTOREs each sonic payload into the value and encoding its own DUMP gives."""
    s, r = clients
    for key in sorted(k.decode() for k in r.keys()):
        r.restore("from-sonic:" + key, 0, s.dump(key))
        r.restore("from-redis:" + key, 0, r.dump(key))
        got = _read(r, "from-sonic:" + key)
        assert got == _read(r, "from-redis:" + key), key
        assert got[:2] == _read(r, key)[:2], key
        assert got[:2] == _read(s, key)[:2], key


def test_dump_missing_key_and_arity(parity):
    """DUMP of a missing key is a null bulk; a wrong argument count is Redis' arity error."""
    parity(("DUMP", "nosuchkey"), ("DUMP",), ("DUMP", "a", "b"))


def test_dump_parity_small_values_resp2_and_resp3(parity):
    """Raw DUMP replies of small values match in RESP2 and RESP3 (a bulk string in both)."""
    parity(("SET", "a", "1"), ("RPUSH", "l", "x", "2"), ("HSET", "h", "f", "1"),
           ("SADD", "s", "5", "-1"), ("ZADD", "z", "1.5", "m"))
    for key in ("a", "l", "h", "s", "z"):
        parity(("DUMP", key))
    parity.resp3()
    for key in ("a", "l", "h", "s", "z"):
        parity(("DUMP", key))


def test_dump_counts_keyspace_hits_and_misses(sonic_port):
    """DUMP reads as lookupKeyRead: a hit for a key, a miss for none."""
    s = redis.Redis(port=sonic_port)
    s.flushall()
    s.config_resetstat()
    s.set("k", "v")
    s.dump("k")
    s.dump("missing")
    info = s.info("stats")
    assert (info["keyspace_hits"], info["keyspace_misses"]) == (1, 1)
    s.flushall()


def test_dump_respects_rdbcompression(sonic_port):
    """With rdbcompression no, long strings are written raw, as Redis does."""
    s = redis.Redis(port=sonic_port)
    s.set("k", "a" * 46)
    try:
        s.config_set("rdbcompression", "no")
        assert s.dump("k")[:3] == b"\x00\x2eaa"[:3]
    finally:
        s.config_set("rdbcompression", "yes")
        s.delete("k")
    assert s.dump("nothing") is None


# -- whole files ----------------------------------------------------------------------


def _start_redis_on(directory, filename):
    binary = shutil.which("redis-server")
    if binary is None:
        _real_unavailable("no redis-server binary")
    port = free_port()
    log = os.path.join(directory, "redis.log")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", directory, "--dbfilename", filename, "--daemonize", "no", "--logfile", log],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc, log=log)
        # The port opens after the file is loaded; PING confirms it answers.
        redis.Redis(port=port).ping()
    except Exception:
        stop(proc)
        raise
    return proc, port


def _sonic_filled():
    """An in-process sonic server (clock at the real time) holding every type, encoding and TTL."""
    clock = task.Clock()
    clock.advance(time.time() - 1_700_000_000)
    server = make_server(clock=clock)
    c = Client(server)
    for cmd in _commands():
        assert not hasattr(call(c, *cmd), "message"), cmd
    call(c, "PEXPIRE", "s:short", "3600000")
    call(c, "EXPIRE", "l:small", "86400")
    call(c, "EXPIREAT", "h:small", str(int(time.time()) + 7200))
    call(c, "SELECT", "3")
    call(c, "SET", "db3:key", "in db 3")
    call(c, "SET", "db3:ttl", "v", "PX", "600000")
    call(c, "SELECT", "15")
    call(c, "RPUSH", "db15:list", "x")
    return server


def test_sonic_rdb_file_loads_into_redis_server():
    """A file sonic writes passes redis-check-rdb and redis-server loads every key as sonic held it."""
    server = _sonic_filled()
    directory = tempfile.mkdtemp(prefix="sonic-rdb-")
    path = os.path.join(directory, "sonic.rdb")
    keys, size = save_to(server, path)
    entries = list(entries_of(server))
    assert keys == len(entries) > 30
    if shutil.which("redis-check-rdb"):
        out = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True)
        assert "RDB looks OK" in out.stdout and "Checksum OK" in out.stdout, out.stdout
    proc, port = _start_redis_on(directory, "sonic.rdb")
    try:
        seen = 0
        for dbnum in sorted({e.db for e in entries}):
            r = redis.Redis(port=port, db=dbnum)
            mine = [e for e in entries if e.db == dbnum]
            assert r.dbsize() == len(mine)
            sonic_client = Client(server)
            call(sonic_client, "SELECT", str(dbnum))
            for e in mine:
                t, v, enc = _read(r, e.key)
                assert t == e.kind, e.key
                if e.kind in ("set", "hash"):
                    assert v == sorted(e.value), e.key
                elif e.kind == "zset":
                    assert v == [(m, float(sc)) for m, sc in e.value], e.key
                else:
                    assert v == e.value, e.key
                # The encoding redis-server chose is the one sonic's loader models.
                expected = ENCODERS[type(entry_to_value(server, e))](entry_to_value(server, e),
                                                                      server)
                assert enc.decode() == expected, e.key
                deadline = r.pexpiretime(e.key)
                assert deadline == (e.expire_ms if e.expire_ms is not None else -1), e.key
                seen += 1
        assert seen == len(entries)
    finally:
        stop(proc)
        shutil.rmtree(directory, ignore_errors=True)


def test_uncompressed_unchecksummed_file_loads_too():
    """With rdbcompression and rdbchecksum off the file still loads into redis-server."""
    server = _sonic_filled()
    server.config.rdbcompression = False
    server.config.rdbchecksum = False
    directory = tempfile.mkdtemp(prefix="sonic-rdb-")
    path = os.path.join(directory, "plain.rdb")
    save_to(server, path)
    assert open(path, "rb").read()[-8:] == bytes(8)
    proc, port = _start_redis_on(directory, "plain.rdb")
    try:
        r = redis.Redis(port=port)
        assert r.get("s:big") == b"abcdefgh" * 2000
        assert r.llen("l:nodes") == 3000
    finally:
        stop(proc)
        shutil.rmtree(directory, ignore_errors=True)

"""RESTORE against redis-server 7.0: payloads from redis-server's DUMP and from sonic's.

 - Parity: each payload redis-server DUMPs (every type and encoding) is
   RESTOREd into both servers, and the key reads the same (type, encoding,
   contents, TTL) with byte-identical replies.
 - Every error RESTORE can give, in Redis' order of checks.
 - Round trip: sonic's DUMP -> RESTORE on redis-server -> redis-server's
   DUMP -> RESTORE on sonic gives back the value sonic started with.
 - Unit tests (no processes): TTL arithmetic, replicas keeping already
   expired keys, WATCH.
"""

import struct
import time

import pytest
import redis

from sonic.rdb.format import crc64
from sonic.resp import NULL_ARRAY, Error
from tests.helpers import Client, call, make_server


def _build():
    """Commands building keys of every type and encoding on a server."""
    return [
        ("SET", "s:short", "hello"), ("SET", "s:int", "12345"), ("SET", "s:wide", "12345678901"),
        ("SET", "s:neg", "-2147483648"), ("SET", "s:embstr", "x" * 44), ("SET", "s:raw", "x" * 45),
        ("SET", "s:lzf", "abc" * 200), ("SET", "s:bin", bytes(range(256))),
        ("SET", "s:lead0", "007"),
        ("SET", "s:empty", ""),
        ("RPUSH", "l:small", "a", "1", "-5", "300", "70000", "10000000000", "x" * 70),
        ("RPUSH", "l:big", *[b"element-%d" % i for i in range(3000)]),
        ("RPUSH", "l:huge", "z" * 9000, "a", "b" * 20000),
        ("HSET", "h:small", "f", "v", "n", "5", "neg", "-100000"),
        ("HSET", "h:long", "f", "v" * 100),
        ("HSET", "h:many", *[x for i in range(600) for x in (b"f%d" % i, b"%d" % i)]),
        ("SADD", "i:16", "1", "-5", "32767"), ("SADD", "i:64", "1", "-9223372036854775808"),
        ("SADD", "set:strs", "a", "b", "c"),
        ("SADD", "set:many", *[str(i) for i in range(600)]),
        ("ZADD", "z:small", "1", "a", "0.1", "b", "-2.5", "c", "inf", "e", "-0", "f"),
        ("ZADD", "z:big", *[x for i in range(300) for x in (b"%d.25" % (i * 7 % 300), b"m%d" % i)]),
        ("ZADD", "z:long", "1", "m" * 100, "2", "short"),
    ]


def _reads(kind, key):
    """Commands reading a key whose replies are ordered the same on both servers."""
    cmds = [("TYPE", key), ("OBJECT", "ENCODING", key), ("PTTL", key), ("EXISTS", key)]
    if kind == "string":
        cmds += [("GET", key), ("STRLEN", key)]
    elif kind == "list":
        cmds += [("LRANGE", key, "0", "-1"), ("LLEN", key)]
    elif kind == "hash":
        cmds += [("HLEN", key), ("HGET", key, "f"), ("HGET", key, "f599")]
    elif kind == "set":
        cmds += [("SCARD", key), ("SISMEMBER", key, "a"), ("SISMEMBER", key, "1")]
    elif kind == "zset":
        cmds += [("ZRANGE", key, "0", "-1", "WITHSCORES"), ("ZCARD", key)]
    return cmds


def _contents(c, key):
    """(type, order-free contents) of a key through redis-py."""
    t = c.type(key).decode()
    if t == "string":
        return t, c.get(key)
    if t == "list":
        return t, c.lrange(key, 0, -1)
    if t == "hash":
        return t, sorted(c.hgetall(key).items())
    if t == "set":
        return t, sorted(c.smembers(key))
    return t, c.zrange(key, 0, -1, withscores=True)


@pytest.fixture
def real(real_port):
    c = redis.Redis(port=real_port)
    yield c
    c.close()


@pytest.fixture
def sonic(sonic_port):
    c = redis.Redis(port=sonic_port)
    yield c
    c.close()


def test_restore_of_every_redis_dump_matches(parity, real):
    """Each redis-server DUMP payload RESTOREs on sonic as on redis-server: same reads and encoding."""
    keys = []
    for cmd in _build():
        real.execute_command(*cmd)
        keys.append(cmd[1])
    payloads = {key: real.dump(key) for key in keys}
    real.flushall()
    for key, payload in payloads.items():
        kind = {"s": "string", "l": "list", "h": "hash", "i": "set", "set": "set",
                "z": "zset"}[key.split(":")[0]]
        parity(("RESTORE", key, "0", payload), *_reads(kind, key))


def test_unordered_contents_match(parity, real, sonic):
    """Hashtable hashes and sets RESTOREd from redis-server's DUMP hold the same members on both."""
    for cmd in _build():
        real.execute_command(*cmd)
    for key in ("h:many", "h:long", "set:strs", "set:many", "h:small"):
        payload = real.dump(key)
        parity(("RESTORE", "r:" + key, "0", payload))
        assert _contents(sonic, "r:" + key) == _contents(real, "r:" + key) == _contents(real, key)


def test_ttl_absttl_and_expired(parity, real, sonic):
    """Relative and absolute TTLs set the same deadline; already-expired ones store nothing."""
    real.set("src", "value")
    payload = real.dump("src")
    parity(("RESTORE", "abs", "4102444800123", payload, "ABSTTL"), ("PEXPIRETIME", "abs"),
           ("RESTORE", "gone", "1", payload, "ABSTTL"), ("EXISTS", "gone"),
           ("SET", "old", "x"), ("RESTORE", "old", "1", payload, "ABSTTL", "REPLACE"),
           ("EXISTS", "old"),
           ("RESTORE", "wrap", "9223372036854775807", payload), ("EXISTS", "wrap"),
           ("RESTORE", "zero", "0", payload, "ABSTTL"), ("PTTL", "zero"))
    parity(("RESTORE", "rel", "100000", payload))
    for c in (real, sonic):
        assert 99000 <= c.pttl("rel") <= 100000


def test_replace_and_busykey(parity, real):
    """An existing key is BUSYKEY unless REPLACE, which swaps type and clears the old TTL."""
    real.rpush("src", "a", "b")
    payload = real.dump("src")
    parity(("SET", "k", "x", "EX", "100"), ("RESTORE", "k", "0", payload),
           ("RESTORE", "k", "0", payload, "replace"), ("TYPE", "k"), ("TTL", "k"),
           ("LRANGE", "k", "0", "-1"),
           ("SET", "gone", "x", "PX", "1"))
    time.sleep(0.01)
    parity(("RESTORE", "gone", "0", payload), ("LLEN", "gone"))


def test_errors_in_redis_order(parity, real):
    """Option, TTL, BUSYKEY, payload footer and payload data errors, each as Redis gives it."""
    real.set("src", "hello")
    good = real.dump("src")
    real.delete("src")

    def payload(value, version=10):
        body = value + struct.pack("<H", version)
        return body + struct.pack("<Q", crc64(body))

    parity(
        ("SET", "busy", "x"),
        ("RESTORE", "k", "0"), ("RESTORE", "k"),
        ("RESTORE", "k", "0", good, "FOO"), ("RESTORE", "k", "abc", good, "FOO"),
        ("RESTORE", "k", "abc", good), ("RESTORE", "k", "-0", good), ("RESTORE", "k", "+5", good),
        ("RESTORE", "k", "9223372036854775808", good),
        ("RESTORE", "k", "-1", good), ("RESTORE", "busy", "-1", b"bad"),
        ("RESTORE", "busy", "0", good), ("RESTORE", "k", "-1", b"bad", "REPLACE"),
        ("RESTORE", "k", "0", good, "IDLETIME"), ("RESTORE", "k", "0", good, "FREQ"),
        ("RESTORE", "k", "0", good, "IDLETIME", "-1"), ("RESTORE", "k", "0", good, "IDLETIME", "x"),
        ("RESTORE", "k", "0", good, "IDLETIME", "-1", "FOO"),
        ("RESTORE", "k", "0", good, "FOO", "IDLETIME", "-1"),
        ("RESTORE", "k", "0", good, "FREQ", "256"), ("RESTORE", "k", "0", good, "FREQ", "-1"),
        ("RESTORE", "k", "0", good, "FREQ", "x"),
        ("RESTORE", "k", "0", good, "FREQ", "5", "IDLETIME", "5"),
        ("RESTORE", "k", "0", good, "IDLETIME", "5", "FREQ", "x"),
        ("RESTORE", "k", "0", good, "FREQ", "x", "IDLETIME", "5"),
        ("RESTORE", "k", "0", good, "FREQ", "300", "IDLETIME", "5"),
        ("RESTORE", "k", "0", b""), ("RESTORE", "k", "0", b"abc"),
        ("RESTORE", "k", "0", good[:-1] + bytes([good[-1] ^ 1])),
        ("RESTORE", "k", "0", good[:-10] + b"\x0b\x00" + good[-8:]),
        ("RESTORE", "k", "0", payload(b"\x00\x05hello", 11)),
        ("RESTORE", "k", "0", good[:-8] + b"\0" * 8),
        ("RESTORE", "k", "0", payload(b"\x12\x00")),  # an empty list
        ("RESTORE", "k", "0", payload(b"\x63abc")),  # an unknown type
        ("RESTORE", "k", "0", payload(b"\x00\x10hel")),  # a cut string
        ("RESTORE", "k", "0", payload(b"")),
        ("EXISTS", "k"),
    )


def test_accepted_oddities(parity):
    """Older RDB versions, trailing bytes, repeated options and IDLETIME/FREQ are accepted."""
    def payload(value, version=10):
        body = value + struct.pack("<H", version)
        return body + struct.pack("<Q", crc64(body))

    parity(
        ("RESTORE", "v9", "0", payload(b"\x00\x05hello", 9)), ("GET", "v9"),
        ("RESTORE", "trail", "0", payload(b"\x00\x05hello trailing")), ("GET", "trail"),
        ("RESTORE", "idle", "0", payload(b"\x00\x01x"), "IDLETIME", "5", "IDLETIME", "99999999999"),
        ("RESTORE", "freq", "0", payload(b"\x00\x01x"), "replace", "absttl", "freq", "0"),
        ("RESTORE", "freq", "0", payload(b"\x00\x01y"), "REPLACE", "FREQ", "255"), ("GET", "freq"),
        ("RESTORE", "intset", "0",
         payload(b"\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x07\x00")),
        ("SMEMBERS", "intset"), ("OBJECT", "ENCODING", "intset"),
        # A quicklist with an empty listpack node: the node is skipped...
        ("RESTORE", "emptynode", "0", payload(b"\x12\x02\x02\x07" + _EMPTY_LP + b"\x02\x09"
                                              + _A_LP)),
        ("LRANGE", "emptynode", "0", "-1"),
        # ...but a list of nothing else is bad data.
        ("RESTORE", "onlyempty", "0", payload(b"\x12\x01\x02\x07" + _EMPTY_LP)),
    )


#: Listpacks: no elements, and one element "a".
_EMPTY_LP = b"\x07\x00\x00\x00\x00\x00\xff"
_A_LP = b"\x09\x00\x00\x00\x01\x00\x81a\x02\xff"


def test_sonic_dump_round_trips_through_redis(real, sonic):
    """sonic's DUMP RESTOREs on redis-server, whose DUMP RESTOREs back on sonic as the same value."""
    sonic.flushall()
    real.flushall()
    keys = []
    for cmd in _build():
        sonic.execute_command(*cmd)
        keys.append(cmd[1])
    for key in keys:
        real.restore(key, 0, sonic.dump(key))
        sonic.restore("back:" + key, 0, real.dump(key))
        assert _contents(sonic, "back:" + key) == _contents(sonic, key) == _contents(real, key)
        assert sonic.object("encoding", "back:" + key) == real.object("encoding", key), key
    sonic.flushall()
    real.flushall()


def test_restore_in_multi(parity, real):
    """RESTORE queues in MULTI and runs at EXEC like any write."""
    real.set("src", "v")
    payload = real.dump("src")
    parity(("MULTI",), ("RESTORE", "m", "0", payload), ("GET", "m"), ("EXEC",))


# --- unit tests ----------------------------------------------------------------------------

def _payload(value):
    body = value + b"\x0a\x00"
    return body + struct.pack("<Q", crc64(body))


def test_relative_ttl_is_from_the_command_time():
    """A relative TTL is added to the command's time snapshot; the key expires with the clock."""
    server = make_server()
    c = Client(server)
    assert call(c, "RESTORE", "k", "1500", _payload(b"\x00\x01v")) == b"OK"
    assert call(c, "PTTL", "k") == 1500
    server.clock.advance(1.6)
    assert call(c, "EXISTS", "k") == 0


def test_a_replica_keeps_already_expired_keys():
    """On a replica an already-expired RESTORE still stores the key (its master will DEL it)."""
    server = make_server()
    c = Client(server)
    server.store.replica = True
    try:
        assert call(c, "RESTORE", "k", "1", _payload(b"\x00\x01v"), "ABSTTL") == b"OK"
    finally:
        server.store.replica = False
    assert c.db.get_expire(b"k") == 1


def test_restore_touches_watched_keys():
    """RESTORE REPLACE of a watched key makes the watcher's EXEC fail."""
    server = make_server()
    a, b = Client(server), Client(server)
    call(a, "SET", "k", "x")
    call(a, "WATCH", "k")
    assert call(b, "RESTORE", "k", "0", _payload(b"\x00\x01v"), "REPLACE") == b"OK"
    call(a, "MULTI")
    call(a, "GET", "k")
    assert call(a, "EXEC") is NULL_ARRAY


def test_streams_are_bad_data_on_sonic():
    """A stream payload (a type sonic cannot hold) is refused as bad data."""
    server = make_server()
    c = Client(server)
    reply = call(c, "RESTORE", "k", "0", _payload(b"\x13\x00"))
    assert reply == Error("ERR Bad data format")


def test_lzf_length_bomb_is_bad_data_not_a_crash(parity):
    """A string payload claiming LZF data of 100 GB answers Redis' "Bad data format" (python-lzf
    would crash the server allocating it); the same payload with its true length restores."""
    def payload(ulen):
        body = b"\x00\xc3\x02\x81" + struct.pack(">Q", ulen) + b"\x00a" + b"\x0a\x00"
        return body + struct.pack("<Q", crc64(body))
    parity(("RESTORE", "bomb", "0", payload(10 ** 11)), ("EXISTS", "bomb"),
           ("RESTORE", "bomb", "0", payload(1)), ("GET", "bomb"), ("PING",))

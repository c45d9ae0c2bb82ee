"""The RDB reader against files and payloads written by a real redis-server 7.0.

 - A redis-server started here (its own port and directory) is filled with
   every type in every encoding it writes, SAVEs, and iter_rdb must return
   exactly what was written (values, encodings hints, TTLs, databases, AUX).
 - Older encodings Redis 7.0 no longer writes (linked lists, ziplists,
   quicklists of ziplists, zipmaps, string-double zsets, EXPIRETIME in
   seconds) are built by hand here, checked by redis-check-rdb and by a
   redis-server started on the file, then read.
 - Truncated, bit-flipped and unsupported files raise RdbError with an offset.
 - DUMP payloads from redis-server parse to the same values.
No binary fixture is committed: every file is made by the test.
"""

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import pytest
import redis

from sonic.rdb import RdbError
from sonic.rdb.format import (
    crc64, decode_length, encode_length, lzf_compress, lzf_decompress, _crc64_python,
    _lzf_decompress_python, _make_table)
from sonic.rdb import format as rdb_format
from sonic.rdb.reader import (
    DumpPayloadError, RdbParser, iter_rdb, parse_dump_payload, read_object)
from tests.conftest import _real_unavailable, free_port, stop, wait_for_port


# --- a redis-server of our own ----------------------------------------------------------

class Redis(object):
    """A redis-server on a free port in its own directory; C{save()} returns the RDB bytes."""

    def __init__(self, *args):
        binary = shutil.which("redis-server")
        if binary is None:
            _real_unavailable("no redis-server binary")
        self.dir = tempfile.mkdtemp(prefix="rdb-reader-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--enable-debug-command", "yes",
             "--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log")] + list(args),
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc)
        self.client = redis.Redis(port=self.port)

    def save(self):
        self.client.save()
        with open(os.path.join(self.dir, "dump.rdb"), "rb") as f:
            return f.read()

    def close(self):
        self.client.close()
        stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def real():
    """A redis-server for this module (flushed by each test that fills it)."""
    server = Redis()
    yield server
    server.close()


def _entries(data):
    return list(iter_rdb(io.BytesIO(data)))


def _by_key(entries):
    out = {}
    for e in entries:
        assert (e.db, e.key) not in out
        out[(e.db, e.key)] = e
    return out


def _norm(kind, value):
    """Order-free form of a value where the type is unordered."""
    if kind in ("set",):
        return sorted(value)
    if kind == "hash":
        return sorted(value)
    if kind == "zset":
        return sorted(value, key=lambda p: (p[1], p[0]))
    return value


# --- every type and encoding redis-server 7.0 writes ------------------------------------

_INTS = [0, 1, 12, 13, 127, 128, -1, -64, 4095, 4096, -4096, -4097, 32767, 32768, -32768,
         -32769, 8388607, 8388608, -8388608, -8388609, 2147483647, 2147483648, -2147483648,
         -2147483649, 2 ** 63 - 1, -2 ** 63]
_STRS = [b"", b"a", b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096, bytes(range(256)),
         b"007", b"-0", b"1e5", b" 1"]


def _fill(c):
    """Keys of every type and encoding, with their expected (kind, value, encoding hint, ttl)."""
    want = {}

    def put(db, key, kind, value, enc, ttl=None):
        want[(db, key)] = (kind, value, enc, ttl)

    # Strings: int-encoded (8/16/32 bit), wide ints, short, embstr, raw, LZF, binary.
    for i, n in enumerate(_INTS):
        key = b"s:int:%d" % i
        c.set(key, b"%d" % n)
        put(0, key, "string", b"%d" % n, "int" if -2 ** 31 <= n < 2 ** 31 else None)
    for i, s in enumerate(_STRS + [b"abc" * 100, b"q" * 20, b"q" * 21, os.urandom(500)]):
        key = b"s:str:%d" % i
        c.set(key, s)
        put(0, key, "string", s, None)
    # Lists: one listpack node, many nodes, ints of every width, plain nodes.
    small = [b"%d" % n for n in _INTS] + _STRS
    c.rpush(b"l:small", *small)
    put(0, b"l:small", "list", small, "quicklist")
    big = [b"element-%d" % i for i in range(5000)]
    c.rpush(b"l:big", *big)
    put(0, b"l:big", "list", big, "quicklist")
    c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100")
    plain = [b"a", b"p" * 200, b"b", b"c", b"P" * 5000, b"d"]
    c.rpush(b"l:plain", *plain)
    put(0, b"l:plain", "list", plain, "quicklist")
    c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1073741824")
    # Sets: intsets of each width, hashtables (strings, many ints).
    for name, members in ((b"i:16", [1, -5, 32767]), (b"i:32", [1, 70000, -2 ** 31]),
                          (b"i:64", [1, -2 ** 63, 2 ** 63 - 1])):
        c.sadd(name, *members)
        put(0, name, "set", [b"%d" % m for m in members], "intset")
    c.sadd(b"set:strs", b"a", b"b", b"c", b"")
    put(0, b"set:strs", "set", [b"a", b"b", b"c", b""], "hashtable")
    many = [b"%d" % i for i in range(1000)]
    c.sadd(b"set:many", *many)
    put(0, b"set:many", "set", many, "hashtable")
    # Hashes: listpack (ints and strings), hashtable by count and by value length.
    pairs = [(b"f", b"v"), (b"n", b"5"), (b"neg", b"-100000"), (b"big", b"%d" % 2 ** 62),
             (b"", b"empty"), (b"e", b"")]
    c.hset(b"h:small", mapping=dict(pairs))
    put(0, b"h:small", "hash", pairs, "listpack")
    pairs = [(b"f%d" % i, b"%d" % i) for i in range(600)]
    c.hset(b"h:many", mapping=dict(pairs))
    put(0, b"h:many", "hash", pairs, "hashtable")
    c.hset(b"h:long", mapping={b"f": b"v" * 100})
    put(0, b"h:long", "hash", [(b"f", b"v" * 100)], "hashtable")
    # Sorted sets: listpack (int and float scores, inf), skiplist by count and length.
    zs = [(b"a", 1.0), (b"b", 0.1), (b"c", -2.5), (b"d", 1e17), (b"e", float("inf")),
          (b"f", float("-inf")), (b"g", 5e18), (b"h", -0.0), (b"i", 1 / 3)]
    c.zadd(b"z:small", dict(zs))
    put(0, b"z:small", "zset", zs, "listpack")
    zs = [(b"m%d" % i, i / 7) for i in range(300)] + [(b"inf", float("inf"))]
    c.zadd(b"z:big", dict(zs))
    put(0, b"z:big", "zset", zs, "skiplist")
    c.zadd(b"z:long", {b"m" * 100: 1, b"s": 2})
    put(0, b"z:long", "zset", [(b"m" * 100, 1.0), (b"s", 2.0)], "skiplist")
    # TTLs in ms, in several databases.
    c.set(b"ttl:a", b"1", px=123456789)
    c.rpush(b"ttl:l", b"x")
    c.pexpireat(b"ttl:l", 4102444800123)
    put(0, b"ttl:l", "list", [b"x"], "quicklist", 4102444800123)
    other = redis.Redis(port=c.connection_pool.connection_kwargs["port"], db=5)
    other.set(b"db5", b"five")
    other.pexpireat(b"db5", 4102444800999)
    put(5, b"db5", "string", b"five", None, 4102444800999)
    other.close()
    return want


def test_every_type_and_encoding_redis_writes(real):
    """iter_rdb returns every key redis-server SAVEd: value, encoding hint, TTL and database."""
    c = real.client
    c.flushall()
    want = _fill(c)
    data = real.save()
    reader = iter_rdb(io.BytesIO(data))
    got = _by_key(reader)
    ttl_a = got.pop((0, b"ttl:a"))
    assert ttl_a.value == b"1" and ttl_a.expire_ms > 123456789
    assert set(got) == set(want)
    for k, (kind, value, enc, ttl) in want.items():
        e = got[k]
        assert e.kind == kind, k
        assert _norm(kind, e.value) == _norm(kind, value), k
        assert e.encoding == enc, k
        assert e.expire_ms == ttl, k
    assert reader.aux[b"redis-ver"].startswith(b"7.")
    assert reader.version == 10
    assert reader.resize[0][0] == len([k for k in got if k[0] == 0]) + 1
    assert reader.checksum == struct.unpack("<Q", data[-8:])[0] != 0
    c.flushall()


def test_scores_keep_their_exact_doubles(real):
    """Scores come back bit for bit, from listpack strings and skiplist binary doubles alike."""
    c = real.client
    c.flushall()
    scores = [0.1, 1 / 3, 2 ** -1074, 1.7976931348623157e308, -123456.789e-300, 3.0, 2 ** 53 + 1]
    c.zadd(b"lp", {b"m%d" % i: s for i, s in enumerate(scores)})
    c.zadd(b"sl", {b"m%d" % i: s for i, s in enumerate(scores * 30) if True})
    c.zadd(b"sl", {b"x%d" % i: i + 0.5 for i in range(200)})
    got = _by_key(_entries(real.save()))
    for key in (b"lp", b"sl"):
        assert dict(got[(0, key)].value) == {m: float(s) for m, s in c.zrange(key, 0, -1,
                                                                                withscores=True)}
    c.flushall()


def test_rdbcompression_no_and_rdbchecksum_no():
    """Files without LZF and with a zero checksum (rdbchecksum no) load the same."""
    server = Redis("--rdbcompression", "no", "--rdbchecksum", "no")
    try:
        c = server.client
        c.set(b"s", b"abc" * 100)
        c.rpush(b"l", *[b"element-%d" % i for i in range(500)])
        data = server.save()
    finally:
        server.close()
    assert data[-8:] == b"\0" * 8
    assert b"abc" * 100 in data  # stored raw, not LZF
    reader = iter_rdb(io.BytesIO(data))
    got = _by_key(reader)
    assert got[(0, b"s")].value == b"abc" * 100
    assert got[(0, b"l")].value == [b"element-%d" % i for i in range(500)]
    assert reader.checksum == 0


def test_an_empty_server_saves_an_empty_file(real):
    """A file with no keys reads as no entries, with its AUX fields."""
    real.client.flushall()
    reader = iter_rdb(io.BytesIO(real.save()))
    assert list(reader) == []
    assert b"redis-bits" in reader.aux


def test_feeding_any_chunk_size_gives_the_same_entries(real):
    """RdbParser fed 1, 7 or 4096 bytes at a time yields what iter_rdb yields."""
    c = real.client
    c.flushall()
    _fill(c)
    data = real.save()
    expected = _entries(data)
    for size in (1, 7, 4096):
        p = RdbParser()
        got = []
        for i in range(0, len(data), size):
            got += p.feed(data[i:i + size])
        got += p.close()
        assert got == expected, size
        assert p.done and p.offset == len(data)
    c.flushall()


def test_iter_rdb_small_reads(real):
    """iter_rdb with tiny reads (as from a pipe) still reads everything."""
    c = real.client
    c.flushall()
    c.rpush(b"l", *[b"x" * 100] * 300)
    data = real.save()
    assert list(iter_rdb(io.BytesIO(data), chunk=10)) == _entries(data)
    c.flushall()


# --- corrupt, truncated and unsupported files ---------------------------------------

@pytest.fixture(scope="module")
def saved(real):
    """An RDB file of every type (bytes)."""
    real.client.flushall()
    _fill(real.client)
    data = real.save()
    real.client.flushall()
    return data


def test_every_truncation_raises_with_an_offset(saved):
    """A file cut anywhere raises RdbError naming an offset, never returns partly."""
    step = max(1, len(saved) // 400)
    for cut in list(range(0, 64)) + list(range(64, len(saved), step)) + [len(saved) - 1]:
        with pytest.raises(RdbError, match="offset"):
            _entries(saved[:cut])


def test_bit_flips_raise(saved):
    """A flipped bit anywhere in the file is found (by the structure or the CRC-64)."""
    step = max(1, len(saved) // 300)
    for pos in range(0, len(saved), step):
        for bit in (0, 5):
            bad = bytearray(saved)
            bad[pos] ^= 1 << bit
            with pytest.raises(RdbError):
                _entries(bytes(bad))


def test_checksum_mismatch_message(saved):
    """A payload byte changed under the structure's radar is caught by the CRC-64."""
    i = saved.index(b"set:strs")
    bad = saved[:i] + b"set:strz" + saved[i + 8:]
    with pytest.raises(RdbError, match="checksum mismatch"):
        _entries(bad)


def test_not_an_rdb_file():
    """Wrong magic and unsupported versions are refused at offset 0/5."""
    with pytest.raises(RdbError, match="no REDIS magic"):
        _entries(b"HELLO0010\xff" + b"\0" * 8)
    with pytest.raises(RdbError, match="unsupported RDB version 99"):
        _entries(b"REDIS0099\xff" + b"\0" * 8)
    with pytest.raises(RdbError, match="end of file"):
        _entries(b"")


def test_stream_keys_are_refused_by_name(real):
    """A stream key stops the load with an error naming the type and the key."""
    c = real.client
    c.flushall()
    c.set(b"a", b"1")
    c.xadd(b"mystream", {b"f": b"v"})
    data = real.save()
    c.flushall()
    with pytest.raises(RdbError, match=r"stream values are not supported.*mystream.*offset"):
        _entries(data)


def test_stream_keys_can_be_skipped(real):
    """With skip_unsupported, streams of every shape (groups, PELs, consumers) are stepped over."""
    c = real.client
    c.flushall()
    c.set(b"a", b"1")
    for i in range(300):
        c.xadd(b"s1", {b"f": b"v%d" % i, b"n": i})
    c.xadd(b"s2", {b"x": b"y"})
    c.xgroup_create(b"s1", b"g1", id="0")
    c.xgroup_create(b"s1", b"g2", id="$")
    c.xreadgroup(b"g1", b"alice", {b"s1": ">"}, count=5)
    c.xreadgroup(b"g1", b"bob", {b"s1": ">"}, count=3)
    c.xack(b"s1", b"g1", c.xrange(b"s1", count=1)[0][0])
    c.xadd(b"empty", {b"f": b"v"})
    c.xtrim(b"empty", maxlen=0)
    c.rpush(b"l", b"after")
    c.pexpireat(b"s2", 4102444800000)
    c.set(b"z", b"2")
    data = real.save()
    c.flushall()
    reader = iter_rdb(io.BytesIO(data), skip_unsupported=True)
    got = {e.key: (e.value, e.expire_ms) for e in reader}
    assert got == {b"a": (b"1", None), b"l": ([b"after"], None), b"z": (b"2", None)}
    assert reader.skipped == {"stream key": 3}
    p = RdbParser(skip_unsupported=True)
    assert [e.key for i in range(len(data)) for e in p.feed(data[i:i + 1])] + \
        [e.key for e in p.close()] == [e.key for e in _entries_skipping(data)]


def _entries_skipping(data):
    return list(iter_rdb(io.BytesIO(data), skip_unsupported=True))


def test_function_libraries_are_skipped_and_kept(real):
    """FUNCTION2 records do not stop a load; their code is kept on the reader."""
    c = real.client
    c.flushall()
    c.function_flush()
    code = "#!lua name=mylib\nredis.register_function('f', function() return 1 end)"
    c.function_load(code)
    c.set(b"k", b"v")
    data = real.save()
    c.function_flush()
    c.flushall()
    reader = iter_rdb(io.BytesIO(data))
    assert [(e.key, e.value) for e in reader] == [(b"k", b"v")]
    assert reader.functions == [code.encode()]


# --- older encodings, built by hand and checked by redis itself -----------------------------

def _s(b):
    """An RDB string (length-prefixed)."""
    return encode_length(len(b)) + b


def _ziplist(items):
    """A ziplist of byte strings / ints, in the layout Redis <= 6 writes."""
    body = b""
    prev = 0
    for it in items:
        if isinstance(it, int):
            if 0 <= it <= 12:
                enc = bytes((0xF1 + it,))
            elif -128 <= it < 128:
                enc = b"\xfe" + struct.pack("<b", it)
            elif -32768 <= it < 32768:
                enc = b"\xc0" + struct.pack("<h", it)
            elif -2 ** 23 <= it < 2 ** 23:
                enc = b"\xf0" + struct.pack("<i", it)[:3]
            elif -2 ** 31 <= it < 2 ** 31:
                enc = b"\xd0" + struct.pack("<i", it)
            else:
                enc = b"\xe0" + struct.pack("<q", it)
        elif len(it) < 64:
            enc = bytes((len(it),)) + it
        elif len(it) < 16384:
            enc = bytes((0x40 | (len(it) >> 8), len(it) & 0xFF)) + it
        else:
            enc = b"\x80" + struct.pack(">I", len(it)) + it
        prevlen = bytes((prev,)) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
        entry = prevlen + enc
        tail = 10 + len(body)
        body += entry
        prev = len(entry)
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, tail if items else 10, len(items)) + body + b"\xff"


def _zipmap(pairs):
    out = bytes((len(pairs),))
    for f, v in pairs:
        out += bytes((len(f),)) + f + bytes((len(v),)) + b"\x00" + v
    return out + b"\xff"


def _old_score(f):
    if f == float("inf"):
        return b"\xfe"
    if f == float("-inf"):
        return b"\xff"
    r = repr(f).encode()
    return bytes((len(r),)) + r


def _old_file():
    """A version-9 file of the encodings Redis 7.0 reads but no longer writes, and what it holds."""
    zl = [b"a", 5, -3, 300, 70000, 2 ** 40, b"x" * 100, 12, 0, -2 ** 20]
    zl_bytes = [x if isinstance(x, bytes) else b"%d" % x for x in zl]
    body = b"REDIS0009" + b"\xfa" + _s(b"redis-ver") + _s(b"5.0.0")
    body += b"\xfe\x00\xfb\x09\x01"
    body += b"\x01" + _s(b"linked") + encode_length(3) + _s(b"a") + _s(b"bb") + b"\xc0\x07"
    body += b"\x0a" + _s(b"zlist") + _s(_ziplist(zl))
    body += b"\x0e" + _s(b"qlist") + encode_length(2) + _s(_ziplist(zl)) + _s(_ziplist([b"end"]))
    body += b"\x0d" + _s(b"zhash") + _s(_ziplist([b"f", b"v", b"n", 7]))
    body += b"\x0c" + _s(b"zzset") + _s(_ziplist([b"o", b"-inf", b"m", b"1.5", b"n", 3]))
    body += b"\x09" + _s(b"zipmap") + _s(_zipmap([(b"f", b"v"), (b"g", b"")]))
    body += b"\x03" + _s(b"oldz") + encode_length(3) + _s(b"a") + _old_score(1.5) + _s(b"b") \
        + _old_score(float("inf")) + _s(b"c") + _old_score(-0.25)
    body += b"\xfd" + struct.pack("<i", 2000000000) + b"\x00" + _s(b"secs") + _s(b"v")
    body += b"\xf8" + encode_length(100) + b"\x00" + _s(b"idle") + _s(b"v")
    body += b"\xf9\x05\x00" + _s(b"freq") + _s(b"v")
    body += b"\xff"
    data = body + struct.pack("<Q", crc64(body))
    want = {
        b"linked": ("list", [b"a", b"bb", b"7"]),
        b"zlist": ("list", zl_bytes),
        b"qlist": ("list", zl_bytes + [b"end"]),
        b"zhash": ("hash", [(b"f", b"v"), (b"n", b"7")]),
        b"zzset": ("zset", [(b"o", float("-inf")), (b"m", 1.5), (b"n", 3.0)]),
        b"zipmap": ("hash", [(b"f", b"v"), (b"g", b"")]),
        b"oldz": ("zset", [(b"a", 1.5), (b"b", float("inf")), (b"c", -0.25)]),
        b"secs": ("string", b"v"),
        b"idle": ("string", b"v"),
        b"freq": ("string", b"v"),
    }
    return data, want


def test_old_encodings_are_read():
    """Linked lists, ziplists, quicklists of them, zipmaps, string-double zsets, EXPIRETIME in s."""
    data, want = _old_file()
    reader = iter_rdb(io.BytesIO(data))
    got = {e.key: e for e in reader}
    assert {k: (e.kind, e.value) for k, e in got.items()} == want
    assert got[b"secs"].expire_ms == 2000000000000
    assert reader.version == 9


def test_old_encodings_are_what_redis_loads(tmp_path):
    """redis-check-rdb accepts the hand-built old file; a redis-server started on it holds the same."""
    data, want = _old_file()
    (tmp_path / "dump.rdb").write_bytes(data)
    check = shutil.which("redis-check-rdb")
    if check:
        out = subprocess.run([check, str(tmp_path / "dump.rdb")], capture_output=True, text=True)
        assert "RDB looks OK" in out.stdout, out.stdout
    binary = shutil.which("redis-server")
    if binary is None:
        _real_unavailable("no redis-server binary")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", str(tmp_path), "--daemonize", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
        c = redis.Redis(port=port)
        for key, (kind, value) in want.items():
            assert c.type(key).decode() == kind, key
            if kind == "list":
                assert c.lrange(key, 0, -1) == value
            elif kind == "hash":
                assert sorted(c.hgetall(key).items()) == sorted(value)
            elif kind == "zset":
                assert c.zrange(key, 0, -1, withscores=True) == sorted(value, key=lambda p: p[1])
            else:
                assert c.get(key) == value
        assert c.expiretime(b"secs") == 2000000000
        c.close()
    finally:
        stop(proc)


def test_empty_collections_are_skipped():
    """An empty list in a file is skipped (as Redis skips empty keys) and counted."""
    body = b"REDIS0010\xfe\x00" + b"\x12" + _s(b"empty") + encode_length(0) \
        + b"\x00" + _s(b"k") + _s(b"v") + b"\xff"
    reader = iter_rdb(io.BytesIO(body + struct.pack("<Q", crc64(body))))
    assert [e.key for e in reader] == [b"k"]
    assert reader.skipped == {"empty key": 1}


def test_module_values_are_refused_with_the_module_name():
    """A module-typed key names the 9-character module type in the error."""
    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    mid = 0
    for ch in "ReJSON-RL":
        mid = (mid << 6) | charset.index(ch)
    mid = (mid << 10) | 3
    body = b"REDIS0010\xfe\x00\x07" + _s(b"doc") + b"\x81" + struct.pack(">Q", mid) + b"\xff"
    with pytest.raises(RdbError, match="module ReJSON-RL.*doc"):
        _entries(body + struct.pack("<Q", crc64(body)))
    # A module-2 value is self-describing (opcodes up to EOF): it can be skipped.
    body = b"REDIS0010\xfe\x00\x07" + _s(b"doc") + b"\x81" + struct.pack(">Q", mid) \
        + encode_length(5) + _s(b"{}") + encode_length(2) + encode_length(7) + encode_length(0) \
        + b"\x00" + _s(b"k") + _s(b"v") + b"\xff"
    data = body + struct.pack("<Q", crc64(body))
    reader = iter_rdb(io.BytesIO(data), skip_unsupported=True)
    assert [e.key for e in reader] == [b"k"]
    assert reader.skipped == {"module key": 1}


def test_module_aux_is_skipped():
    """MODULE_AUX data (self-describing opcodes) is skipped and counted."""
    aux = encode_length(1234) + encode_length(2) + encode_length(2) \
        + encode_length(5) + _s(b"state") + encode_length(1) + encode_length(9) \
        + encode_length(4) + struct.pack("<d", 1.5) + encode_length(3) + b"\0\0\0\0" \
        + encode_length(0)
    body = b"REDIS0010\xf7" + aux + b"\xfe\x00\x00" + _s(b"k") + _s(b"v") + b"\xff"
    reader = iter_rdb(io.BytesIO(body + struct.pack("<Q", crc64(body))))
    assert [e.key for e in reader] == [b"k"]
    assert reader.skipped == {"module aux": 1}


# --- DUMP payloads ------------------------------------------------------------------------

def test_dump_payloads_of_every_key_parse(real):
    """parse_dump_payload of redis-server's DUMP of each key gives the value iter_rdb reads."""
    c = real.client
    c.flushall()
    _fill(c)
    from_file = _by_key(_entries(real.save()))
    for (db, key), e in from_file.items():
        if db != 0:
            continue
        kind, value, enc = parse_dump_payload(c.dump(key))
        assert (kind, _norm(kind, value), enc) == (e.kind, _norm(e.kind, e.value), e.encoding), key
    c.flushall()


def test_dump_payload_footer_errors():
    """Short payloads, newer versions and bad CRCs are DumpPayloadError; bad data is RdbError."""
    body = b"\x00\x05hello\x0a\x00"
    good = body + struct.pack("<Q", crc64(body))
    assert parse_dump_payload(good) == ("string", b"hello", None)
    assert parse_dump_payload(good[:-10] + b"\x09\x00" + struct.pack(
        "<Q", crc64(good[:-10] + b"\x09\x00"))) == ("string", b"hello", None)
    for bad in (b"", b"abc", good[:-1] + b"x", b"\x00\x05hello\x0b\x00" + struct.pack(
            "<Q", crc64(b"\x00\x05hello\x0b\x00")), body + b"\0" * 8):
        with pytest.raises(DumpPayloadError):
            parse_dump_payload(bad)
    for value in (b"\x12\x00", b"\x63abc", b"\x00\x10hel", b""):
        payload = value + b"\x0a\x00"
        with pytest.raises(RdbError) as info:
            parse_dump_payload(payload + struct.pack("<Q", crc64(payload)))
        assert not isinstance(info.value, DumpPayloadError)


def test_read_object_reports_the_offset():
    """read_object on a cut value names the type and offset."""
    with pytest.raises(RdbError, match="list_quicklist_2 value at offset 1"):
        read_object(18, b"\x12\x02\x02\x05abc", 1)


# --- format primitives ----------------------------------------------------------------------

def test_crc64_is_redis_jones_and_chains():
    """crc64 gives Redis' check value, chains across pieces, and the pure-Python fallback agrees."""
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64(b"6789", crc64(b"12345")) == 0xE9C6D914C4B8D9CA
    assert crc64(b"") == 0
    if rdb_format._TABLE is None:
        rdb_format._TABLE = _make_table()
    data = os.urandom(3000)
    assert _crc64_python(data) == crc64(data)
    assert _crc64_python(data[1000:], crc64(data[:1000])) == crc64(data)


def test_lzf_round_trip_and_corruption():
    """LZF data decompresses (library and fallback alike); bad data or lengths raise RdbError."""
    data = b"abcabcabcabc-hello-hello-hello" * 50 + os.urandom(50)
    packed = lzf_compress(data)
    assert packed is not None and len(packed) < len(data) - 4
    assert lzf_decompress(packed, len(data)) == data
    assert _lzf_decompress_python(packed, len(data)) == data
    assert lzf_compress(os.urandom(100)) is None
    with pytest.raises(RdbError):
        lzf_decompress(packed, len(data) + 1)
    with pytest.raises(RdbError):
        lzf_decompress(b"\x1f" + packed[1:], len(data))
    with pytest.raises(RdbError):
        _lzf_decompress_python(packed[:-3], len(data))
    # A length no data could expand to is refused before python-lzf sees it:
    # it allocates the claimed length first and crashes when that fails.
    with pytest.raises(RdbError):
        lzf_decompress(b"\x00a", 10 ** 11)


def test_length_encoding_round_trips():
    """Lengths of every width encode and decode; special encodings are flagged."""
    for n in (0, 63, 64, 16383, 16384, 2 ** 32 - 1, 2 ** 32, 2 ** 64 - 1):
        enc = encode_length(n)
        assert decode_length(enc, 0) == (n, False, len(enc))
    assert decode_length(b"\xc3", 0) == (3, True, 1)
    with pytest.raises(RdbError):
        decode_length(b"\x80\x00", 0)


# --- python -m sonic.rdb -------------------------------------------------------------------

def test_command_line_summary_and_json(tmp_path):
    """python -m sonic.rdb prints a summary, --json one object per key."""
    data, want = _old_file()
    path = tmp_path / "old.rdb"
    path.write_bytes(data)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    out = subprocess.run([sys.executable, "-m", "sonic.rdb", str(path)], capture_output=True,
                         text=True, env=env, check=True).stdout
    assert "RDB version 9" in out and "db0: 10 keys (1 with a TTL)" in out
    assert "aux redis-ver = 5.0.0" in out
    out = subprocess.run([sys.executable, "-m", "sonic.rdb", "--json", str(path)],
                         capture_output=True, text=True, env=env, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["key"] for r in rows} == {k.decode() for k in want}
    oldz = [r for r in rows if r["key"] == "oldz"][0]
    assert oldz["value"] == [["a", 1.5], ["b", "inf"], ["c", -0.25]]
    bad = tmp_path / "bad.rdb"
    bad.write_bytes(data[:-20])
    res = subprocess.run([sys.executable, "-m", "sonic.rdb", str(bad)], capture_output=True,
                         text=True, env=env)
    assert res.returncode == 1 and "offset" in res.stderr


def test_newer_redis_slot_info_and_types():
    """RDB 12's SLOT_INFO hints are skipped; its hash-with-field-TTL types are refused by name."""
    body = b"REDIS0012\xfe\x00\xf4\x05\x01\x00" + b"\x00" + _s(b"k") + _s(b"v") + b"\xff"
    assert [e.key for e in _entries(body + struct.pack("<Q", crc64(body)))] == [b"k"]
    body = b"REDIS0012\xfe\x00\x19" + _s(b"h") + b"\x00\xff"
    with pytest.raises(RdbError, match="hash_listpack_ex values .* not supported: key b'h'"):
        _entries(body + struct.pack("<Q", crc64(body)))


def test_redis_cli_rdb_snapshot(real, tmp_path):
    """A snapshot fetched with redis-cli --rdb (a replica-style sync) reads like SAVE's file."""
    cli = shutil.which("redis-cli")
    if cli is None:
        _real_unavailable("no redis-cli binary")
    c = real.client
    c.flushall()
    c.config_set("repl-diskless-sync-delay", 0)  # else the snapshot waits 5 s for more replicas
    want = _fill(c)
    path = tmp_path / "snap.rdb"
    subprocess.run([cli, "-p", str(real.port), "--rdb", str(path)], check=True,
                   capture_output=True, timeout=60)
    got = _by_key(_entries(path.read_bytes()))
    got.pop((0, b"ttl:a"))
    assert {k: (e.kind, _norm(e.kind, e.value)) for k, e in got.items()} == \
        {k: (v[0], _norm(v[0], v[1])) for k, v in want.items()}
    c.flushall()


def test_a_big_value_fed_in_small_chunks_is_linear():
    """A 20 MB value fed 16 KB at a time is parsed once whole, without re-copying per chunk."""
    big = os.urandom(20 << 20)
    body = b"REDIS0010\xfe\x00\x00" + _s(b"k") + encode_length(len(big)) + big \
        + b"\x00" + _s(b"a") + _s(b"b") + b"\xff"
    data = body + struct.pack("<Q", crc64(body))
    p = RdbParser()
    out = []
    copies = 0
    keep = p._keep

    def counting_keep(chunk):
        nonlocal copies
        copies += 1
        keep(chunk)
    p._keep = counting_keep
    for i in range(0, len(data), 16384):
        out += p.feed(data[i:i + 16384])
    out += p.close()
    assert [(e.key, e.value == big or e.value) for e in out] == [(b"k", True), (b"a", b"b")]
    assert copies < 40  # the buffer grows by doubling, not once per 16 KB chunk


def _fix_crc(data):
    return data[:-8] + struct.pack("<Q", crc64(data[:-8]))


def test_mutations_under_a_valid_checksum_raise_only_rdb_error(saved):
    """Random corruption under a fixed-up CRC-64 gives RdbError or a clean read, nothing else."""
    import random
    rng = random.Random(4)
    for _ in range(300):
        bad = bytearray(saved)
        for _ in range(rng.choice((1, 1, 2, 5))):
            pos = rng.randrange(9, len(bad) - 9)
            bad[pos] = rng.randrange(256)
        try:
            _entries(_fix_crc(bytes(bad)))
        except RdbError:
            pass


def test_random_dump_payloads_raise_only_rdb_error(real):
    """Mutated DUMP payloads with a valid footer parse or raise RdbError, never anything else."""
    import random
    c = real.client
    c.flushall()
    _fill(c)
    payloads = [c.dump(k) for k in c.keys()]
    c.flushall()
    rng = random.Random(7)
    for _ in range(6000):
        p = bytearray(rng.choice(payloads))
        for _ in range(rng.choice((1, 2, 3))):
            p[rng.randrange(0, max(1, len(p) - 10))] = rng.randrange(256)
        if rng.random() < 0.2:
            cut = rng.randrange(1, len(p) - 9)
            p = p[:cut] + p[-10:]
        try:
            parse_dump_payload(_fix_crc(bytes(p)))
        except RdbError:
            pass

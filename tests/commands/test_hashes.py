"""Hashes (t_hash.c) against Redis 7.0: replies, errors, encodings, RESP3 shapes, random fields.

Small hashes (listpack in Redis) reply in insertion order in both servers,
so the plain C{parity(...)} cases use them.  A hashtable-encoded hash
replies in its hash table's order, which a Python dict does not reproduce:
those replies are compared as sorted members (L{same_members}).  HRANDFIELD
is random: parity covers its deterministic cases (missing key, count 0,
counts past the size, one-field hashes, errors, reply shapes) and property
checks cover the rest.  The session's sonic compresses values of 1 KB and
more, so the cases with L{BIG} prove that compression changes no reply;
unit tests lower the threshold to check every read path decompresses.
"""

import random
import time

import pytest

from sonic.commands.containers import MAX_RANDOM_REPLY
from sonic.commands.hashes import Hash
from sonic.resp import NULL_ARRAY, PONG, Error
from sonic.store.compression import Compressed
from sonic.util import format_ld, string2ld
from tests.helpers import Client, call, make_server

WRONGTYPE = Error("WRONGTYPE Operation against a key holding the wrong kind of value")

#: ~5 KB of repetitive JSON-like text: stored compressed by sonic.
BIG = "".join('{"id": %d, "name": "user%d", "tags": ["a", "b"]}\n' % (i, i) for i in range(100))

F64 = "f" * 64
F65 = "f" * 65


# -- helpers -------------------------------------------------------------------------

def decode(raw, pos=0):
    """(value, next position) of one raw RESP2/RESP3 reply; aggregates become (type byte, list)."""
    t = raw[pos:pos + 1]
    end = raw.index(b"\r\n", pos)
    head = raw[pos + 1:end]
    pos = end + 2
    if t in (b"$", b"="):
        n = int(head)
        if n < 0:
            return None, pos
        return raw[pos:pos + n], pos + n + 2
    if t in (b"*", b"~", b"%"):
        n = int(head) * (2 if t == b"%" else 1)
        if n < 0:
            return None, pos
        items = []
        for _ in range(n):
            item, pos = decode(raw, pos)
            items.append(item)
        return (t, items), pos
    if t == b":":
        return int(head), pos
    return (t, head), pos


def value(raw):
    """The decoded value of one raw reply."""
    return decode(raw)[0]


def pairs_of(flat):
    """[(field, value), ...] from a flat RESP2 field/value list."""
    return list(zip(flat[0::2], flat[1::2]))


def canon(v, paired):
    """A reply made order-free: aggregates sorted (flat field/value lists as pairs when C{paired})."""
    if isinstance(v, tuple) and isinstance(v[1], list):
        items = v[1]
        if paired and len(items) % 2 == 0 and all(not isinstance(i, tuple) for i in items):
            items = pairs_of(items)
        return (v[0], sorted(repr(canon(i, paired)) for i in items))
    return v


def same_members(parity, *commands, paired=True):
    """Run each command on both servers; assert the replies hold the same items, in any order."""
    for cmd in commands:
        expected = parity.real.call(*cmd)
        got = parity.sonic.call(*cmd)
        assert canon(value(got), paired) == canon(value(expected), paired), (
            "%r: sonic %r != redis %r" % (cmd, got[:300], expected[:300]))


def both(parity, *cmd):
    """Send one command to both servers; return (sonic reply, redis reply), decoded."""
    return value(parity.sonic.call(*cmd)), value(parity.real.call(*cmd))


def fill(parity, key, n, prefix="f", val="v"):
    """Give C{key} C{n} fields on both servers, in one HSET."""
    args = []
    for i in range(n):
        args += ["%s%d" % (prefix, i), "%s%d" % (val, i)]
    parity(("HSET", key) + tuple(args))


# -- HSET, HGET, HMSET, HSETNX -------------------------------------------------------

def test_hset_hget(parity):
    """HSET counts new fields only; HGET reads them; binary and empty fields and values work."""
    parity(("HSET", "h", "a", "1"), ("HSET", "h", "a", "2", "b", "3"), ("HGET", "h", "a"),
           ("HGET", "h", "b"), ("HGET", "h", "nope"), ("HGET", "missing", "a"),
           ("HSET", "h", "", ""), ("HGET", "h", ""), ("HSET", "h", b"\x00\xff\r\n", b"\r\n\x00"),
           ("HGET", "h", b"\x00\xff\r\n"), ("HSET", "h", "c", "1", "c", "2"), ("HGET", "h", "c"),
           ("HLEN", "h"))


def test_hset_arity(parity):
    """An odd number of field/value words is an arity error naming the command, and changes nothing."""
    parity(("HSET", "h"), ("HSET", "h", "f"), ("HSET", "h", "f", "v", "g"), ("EXISTS", "h"),
           ("HMSET", "h", "f"), ("HMSET", "h", "f", "v", "g"), ("EXISTS", "h"),
           ("HSETNX", "h", "f"), ("HSETNX", "h", "f", "v", "x"), ("HGET", "h"), ("HGET", "h", "f", "g"),
           ("HMGET", "h"), ("HDEL", "h"), ("HLEN",), ("HLEN", "h", "x"), ("HSTRLEN", "h"),
           ("HEXISTS", "h"), ("HKEYS",), ("HVALS",), ("HGETALL",), ("HINCRBY", "h", "f"),
           ("HINCRBYFLOAT", "h", "f"), ("HRANDFIELD",), ("HSCAN", "h"))


def test_hmset_hsetnx(parity):
    """HMSET answers OK; HSETNX writes only a new field and answers 1/0."""
    parity(("HMSET", "h", "a", "1", "b", "2"), ("HGETALL", "h"), ("HMSET", "h", "a", "3"),
           ("HGET", "h", "a"), ("HSETNX", "h", "a", "9"), ("HGET", "h", "a"),
           ("HSETNX", "h", "c", "9"), ("HGETALL", "h"), ("HSETNX", "new", "f", "v"), ("HGETALL", "new"))


def test_hmget(parity):
    """HMGET answers nil for missing fields and for a missing key."""
    parity(("HSET", "h", "a", "1", "b", "2"), ("HMGET", "h", "a", "x", "b", "a"),
           ("HMGET", "missing", "a", "b"))


def test_order_follows_listpack(parity):
    """A small hash keeps insertion order; an update keeps its place, delete-and-set moves to the end."""
    parity(("HSET", "h", "c", "1", "a", "2", "b", "3"), ("HSET", "h", "c", "4"), ("HGETALL", "h"),
           ("HDEL", "h", "c"), ("HSET", "h", "c", "5"), ("HKEYS", "h"), ("HVALS", "h"),
           ("HINCRBY", "h", "a", "1"), ("HGETALL", "h"), ("HSCAN", "h", "0"))


# -- HDEL, HEXISTS, HLEN, HSTRLEN ----------------------------------------------------------

def test_hdel(parity):
    """HDEL counts what it removed (a field named twice counts once); an emptied hash disappears."""
    parity(("HSET", "h", "a", "1", "b", "2", "c", "3"), ("HDEL", "h", "a", "a", "x"), ("HLEN", "h"),
           ("HDEL", "h", "x"), ("HDEL", "h", "b", "c"), ("EXISTS", "h"), ("TYPE", "h"),
           ("HDEL", "missing", "a"), ("HLEN", "h"), ("HGETALL", "h"))


def test_hexists_hlen_hstrlen(parity):
    """HEXISTS 1/0, HLEN, and HSTRLEN of strings, integers and missing fields."""
    parity(("HSET", "h", "s", "hello", "i", "-12345", "z", "00", "e", "", "n", "9223372036854775807"),
           ("HEXISTS", "h", "s"), ("HEXISTS", "h", "x"), ("HEXISTS", "missing", "s"),
           ("HLEN", "h"), ("HLEN", "missing"), ("HSTRLEN", "h", "s"), ("HSTRLEN", "h", "i"),
           ("HSTRLEN", "h", "z"), ("HSTRLEN", "h", "e"), ("HSTRLEN", "h", "n"), ("HSTRLEN", "h", "x"),
           ("HSTRLEN", "missing", "s"))


def test_hkeys_hvals_hgetall_missing(parity):
    """HKEYS, HVALS and HGETALL of a missing key are empty."""
    parity(("HKEYS", "missing"), ("HVALS", "missing"), ("HGETALL", "missing"))


# -- HINCRBY / HINCRBYFLOAT ---------------------------------------------------------------

def test_hincrby(parity):
    """HINCRBY creates, adds, refuses non-integer values and arguments, and detects overflow."""
    parity(("HINCRBY", "h", "n", "5"), ("HINCRBY", "h", "n", "-7"), ("HGET", "h", "n"),
           ("HSET", "h", "max", "9223372036854775807", "min", "-9223372036854775808", "s", "abc",
            "f", "1.5", "e", "", "sp", " 1", "z", "01", "neg0", "-0"),
           ("HINCRBY", "h", "max", "1"), ("HINCRBY", "h", "max", "-1"), ("HINCRBY", "h", "min", "-1"),
           ("HINCRBY", "h", "min", "9223372036854775807"), ("HINCRBY", "h", "s", "1"),
           ("HINCRBY", "h", "f", "1"), ("HINCRBY", "h", "e", "1"), ("HINCRBY", "h", "sp", "1"),
           ("HINCRBY", "h", "z", "1"), ("HINCRBY", "h", "neg0", "1"),
           ("HINCRBY", "h", "n", "x"), ("HINCRBY", "h", "n", "1.0"), ("HINCRBY", "h", "n", " 1"),
           ("HINCRBY", "h", "n", "9223372036854775808"),
           ("HINCRBY", "h", "new", "-9223372036854775808"), ("HINCRBY", "h", "new", "-1"),
           ("HGETALL", "h"))


def test_hincrby_bad_increment_creates_nothing(parity):
    """A bad increment is refused before the key is looked up: no key is created, WRONGTYPE comes later."""
    parity(("HINCRBY", "h", "f", "x"), ("HINCRBYFLOAT", "h", "f", "x"), ("HINCRBYFLOAT", "h", "f", ""),
           ("EXISTS", "h"), ("SET", "s", "1"), ("HINCRBY", "s", "f", "x"),
           ("HINCRBYFLOAT", "s", "f", "inf"), ("HINCRBY", "s", "f", "1"), ("HINCRBYFLOAT", "s", "f", "1"))


@pytest.mark.parametrize("start,incr", [
    (None, "10.5"), ("10.5", "0.1"), ("3.0", "1.0e1"), ("1.5", "-1.5"), ("0", "-0.0"),
    ("5", "0x10"), ("1e400", "1"), ("9223372036854775806", "1"), ("1", "1e-20"),
    ("0.1", "0.2"), ("-0", "0"), ("1e-4950", "0"), ("1.23456789012345678901", "0"),
    ("1.18e4932", "1.18e4932"), ("inf", "1"), ("1", "-inf"), ("1", "nan"), ("1", "1e4933"),
    ("abc", "1"), ("", "1"), (" 1", "1"), ("1 ", "1"), ("1", "1 "), ("1", "1.19e4932"),
    ("5", "1e64"), ("5", "9e64"), ("100", "-100.000000000000001"),
])
def test_hincrbyfloat(parity, start, incr):
    """HINCRBYFLOAT in long double with %.17Lf formatting, and its NaN/Infinity and parse errors."""
    if start is not None:
        parity(("HSET", "h", "f", start))
    parity(("HINCRBYFLOAT", "h", "f", incr), ("HGET", "h", "f"), ("OBJECT", "ENCODING", "h"))


def test_hincrbyfloat_huge_compressed_value(parity):
    """A 2001-digit value (compressed at rest by sonic) is read back and added to in long double."""
    parity(("HSET", "h", "f", "1" + "0" * 2000, "g", "x"), ("HSTRLEN", "h", "f"),
           ("HINCRBY", "h", "f", "1"), ("HINCRBYFLOAT", "h", "f", "1.5"), ("HSTRLEN", "h", "f"),
           ("HGET", "h", "f"))


# -- WRONGTYPE ----------------------------------------------------------------------------

def test_wrongtype_everywhere(parity):
    """Every hash command refuses a key of another type; the hash commands' wrong type for others."""
    parity(("SET", "s", "x"), ("RPUSH", "l", "x"))
    for key in ("s", "l"):
        parity(("HSET", key, "f", "v"), ("HMSET", key, "f", "v"), ("HSETNX", key, "f", "v"),
               ("HGET", key, "f"), ("HMGET", key, "f"), ("HDEL", key, "f"), ("HEXISTS", key, "f"),
               ("HLEN", key), ("HSTRLEN", key, "f"), ("HKEYS", key), ("HVALS", key),
               ("HGETALL", key), ("HINCRBY", key, "f", "1"), ("HINCRBYFLOAT", key, "f", "1"),
               ("HRANDFIELD", key), ("HRANDFIELD", key, "2"), ("HRANDFIELD", key, "-2", "WITHVALUES"),
               ("HSCAN", key, "0"), ("HSCAN", key, "0", "FOO"))
    parity(("HSET", "h", "f", "v"), ("GET", "h"), ("LPUSH", "h", "x"), ("SADD", "h", "x"),
           ("INCR", "h"), ("TYPE", "h"))


# -- encodings ------------------------------------------------------------------------------

def test_encoding_by_entries(parity):
    """512 fields stay a listpack, the 513th makes a hashtable, which deletes never undo."""
    fill(parity, "h", 512)
    parity(("OBJECT", "ENCODING", "h"), ("HSET", "h", "f0", "again"), ("OBJECT", "ENCODING", "h"),
           ("HSET", "h", "extra", "1"), ("OBJECT", "ENCODING", "h"), ("HDEL", "h", "extra", "f0", "f1"),
           ("OBJECT", "ENCODING", "h"), ("HLEN", "h"))
    fill(parity, "one", 513)
    parity(("OBJECT", "ENCODING", "one"), ("TYPE", "one"))


def test_encoding_by_length(parity):
    """A field or value longer than 64 bytes, by any write, makes a hashtable; 64 bytes does not."""
    parity(("HSET", "a", F64, F64), ("OBJECT", "ENCODING", "a"),
           ("HSET", "a", "x", F65), ("OBJECT", "ENCODING", "a"),
           ("HSET", "b", F65, "1"), ("OBJECT", "ENCODING", "b"),
           ("HSET", "c", "x", "1"), ("HSETNX", "c", "x", F65), ("OBJECT", "ENCODING", "c"),
           ("HSETNX", "c", "y", F65), ("OBJECT", "ENCODING", "c"),
           ("HINCRBY", "d", F64, "1"), ("OBJECT", "ENCODING", "d"),
           ("HINCRBY", "d", F65, "1"), ("OBJECT", "ENCODING", "d"),
           ("HINCRBYFLOAT", "e", F65, "1"), ("OBJECT", "ENCODING", "e"),
           ("HINCRBYFLOAT", "g", "x", "1e63"), ("OBJECT", "ENCODING", "g"),
           ("HINCRBYFLOAT", "g", "x", "1e64"), ("OBJECT", "ENCODING", "g"),
           ("HSET", "i", "a", "1", "b", F65), ("HDEL", "i", "b"), ("OBJECT", "ENCODING", "i"))


def test_encoding_config(parity):
    """hash-max-listpack-entries/-value are read at each write; 0 entries means any hash is a hashtable."""
    try:
        parity(("CONFIG", "SET", "hash-max-listpack-entries", "2"), ("HSET", "h", "a", "1", "b", "2"),
               ("OBJECT", "ENCODING", "h"), ("HSET", "h", "c", "3"), ("OBJECT", "ENCODING", "h"),
               ("CONFIG", "SET", "hash-max-listpack-entries", "0"), ("HSET", "z", "a", "1"),
               ("OBJECT", "ENCODING", "z"), ("CONFIG", "SET", "hash-max-listpack-entries", "512"),
               ("CONFIG", "SET", "hash-max-ziplist-value", "3"), ("HSET", "v", "abc", "def"),
               ("OBJECT", "ENCODING", "v"), ("HSET", "v", "abcd", "1"), ("OBJECT", "ENCODING", "v"))
    finally:
        parity(("CONFIG", "SET", "hash-max-listpack-entries", "512"),
               ("CONFIG", "SET", "hash-max-listpack-value", "64"))


def test_copy_rename_keep_encoding(parity):
    """COPY and RENAME keep a hash's contents and encoding; SCAN's TYPE filter sees hashes."""
    parity(("HSET", "small", "a", "1", "b", "2"), ("HSET", "big", "a", F65),
           ("COPY", "small", "c1"), ("COPY", "big", "c2"), ("OBJECT", "ENCODING", "c1"),
           ("OBJECT", "ENCODING", "c2"), ("HGETALL", "c1"), ("HSET", "c1", "a", "changed"),
           ("HGET", "small", "a"), ("RENAME", "small", "r"), ("HGETALL", "r"), ("OBJECT", "ENCODING", "r"),
           ("DEL", "big", "c1", "c2"), ("SCAN", "0", "TYPE", "hash"), ("SCAN", "0", "TYPE", "string"))


# -- compression ----------------------------------------------------------------------------

def test_big_values_read_back(parity):
    """Values past compression-threshold read back exactly through every read command."""
    parity(("HSET", "one", "f", BIG), ("HGET", "one", "f"), ("HSTRLEN", "one", "f"),
           ("HMGET", "one", "f", "x"), ("HVALS", "one"), ("HGETALL", "one"),
           ("HRANDFIELD", "one", "1", "WITHVALUES"), ("HRANDFIELD", "one", "-3", "WITHVALUES"),
           ("HRANDFIELD", "one", "5", "WITHVALUES"), ("HSCAN", "one", "0"),
           ("HINCRBY", "one", "f", "1"), ("HINCRBYFLOAT", "one", "f", "1"),
           ("HSETNX", "one", "f", "x"), ("HGET", "one", "f"), ("OBJECT", "ENCODING", "one"))
    parity(("HSET", "two", "a", BIG, "b", BIG + "x", "c", "small"))
    same_members(parity, ("HGETALL", "two"), ("HSCAN", "two", "0"), ("HRANDFIELD", "two", "10", "WITHVALUES"))
    same_members(parity, ("HVALS", "two"), ("HKEYS", "two"), paired=False)
    parity(("HMGET", "two", "a", "b", "c"))
    parity(("HSTRLEN", "two", "b"), ("HDEL", "two", "a"), ("HGET", "two", "b"))


# -- HRANDFIELD -----------------------------------------------------------------------------

def test_hrandfield_deterministic(parity):
    """Missing key, count 0, counts past the size (the whole hash, in order), one-field hashes."""
    parity(("HRANDFIELD", "missing"), ("HRANDFIELD", "missing", "3"), ("HRANDFIELD", "missing", "-3"),
           ("HRANDFIELD", "missing", "0", "WITHVALUES"),
           ("HRANDFIELD", "missing", "-9223372036854775807"),
           ("HSET", "h", "a", "1", "b", "2", "c", "3"), ("HRANDFIELD", "h", "0"),
           ("HRANDFIELD", "h", "0", "WITHVALUES"), ("HRANDFIELD", "h", "3"), ("HRANDFIELD", "h", "4"),
           ("HRANDFIELD", "h", "9223372036854775807"), ("HRANDFIELD", "h", "3", "WITHVALUES"),
           ("HRANDFIELD", "h", "100", "withvalues"),
           ("HSET", "one", "f", "v"), ("HRANDFIELD", "one"), ("HRANDFIELD", "one", "1"),
           ("HRANDFIELD", "one", "-1"), ("HRANDFIELD", "one", "-5"),
           ("HRANDFIELD", "one", "-5", "WITHVALUES"),
           ("HRANDFIELD", "one", "1", "WITHVALUES"))


def test_hrandfield_errors(parity):
    """The count's integer and range errors, WITHVALUES' tighter range, and syntax errors, in Redis' order."""
    parity(("HSET", "h", "a", "1"), ("HRANDFIELD", "h", "x"), ("HRANDFIELD", "h", "1.5"),
           ("HRANDFIELD", "h", "-9223372036854775808"), ("HRANDFIELD", "h", "9223372036854775808"),
           ("HRANDFIELD", "h", "1", "WITHVALUE"), ("HRANDFIELD", "h", "1", "WITHVALUES", "x"),
           ("HRANDFIELD", "h", "x", "FOO"), ("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"),
           ("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"),
           ("HRANDFIELD", "h", "-4611686018427387903", "FOO"),
           ("HRANDFIELD", "missing", "4611686018427387904", "WITHVALUES"),
           ("HRANDFIELD", "h", "4611686018427387903", "WITHVALUES"),
           ("HRANDFIELD", "h", b"1\x00", "WITHVALUES"), ("HRANDFIELD", "h", "1", b"withvalues\x00"))


@pytest.mark.parametrize("size", [5, 100, 600])
@pytest.mark.parametrize("count", [1, 2, 4, 40, 150, -1, -7, -700])
def test_hrandfield_properties(parity, size, count):
    """Random picks: right length, fields of the hash, values matching, distinct for positive counts."""
    fill(parity, "h", size)
    fields = {b"f%d" % i: b"v%d" % i for i in range(size)}
    for withvalues in (False, True):
        cmd = ("HRANDFIELD", "h", str(count)) + (("WITHVALUES",) if withvalues else ())
        got, expected = both(parity, *cmd)
        assert got[0] == expected[0] == b"*"
        assert len(got[1]) == len(expected[1])
        items = pairs_of(got[1]) if withvalues else got[1]
        want = min(count, size) if count > 0 else -count
        assert len(items) == want
        if withvalues:
            assert all(fields[f] == v for f, v in items)
            names = [f for f, _ in items]
        else:
            names = items
        assert set(names) <= set(fields)
        if count > 0:
            assert len(set(names)) == len(names)


def test_hrandfield_resp3_shapes(parity):
    """In RESP3, WITHVALUES replies [field, value] pairs, whatever the case; nil is RESP3's null."""
    parity.resp3()
    parity(("HRANDFIELD", "missing"), ("HRANDFIELD", "missing", "2", "WITHVALUES"),
           ("HSET", "h", "a", "1", "b", "2"), ("HRANDFIELD", "h", "5", "WITHVALUES"),
           ("HSET", "one", "f", "v"), ("HRANDFIELD", "one", "-3", "WITHVALUES"),
           ("HRANDFIELD", "one", "1", "WITHVALUES"), ("HRANDFIELD", "one", "-2"))
    fill(parity, "big", 600)
    for count in ("3", "500", "-4"):
        got, expected = both(parity, "HRANDFIELD", "big", count, "WITHVALUES")
        assert got[0] == expected[0] == b"*" and len(got[1]) == len(expected[1])
        assert all(p[0] == b"*" and len(p[1]) == 2 for p in got[1])


def test_hrandfield_small_hash_keeps_listpack_order(parity):
    """A listpack hash answers distinct random fields in the hash's own order (lpRandomPairsUnique)."""
    fill(parity, "h", 50)
    order = [b"f%d" % i for i in range(50)]
    for _ in range(5):
        got, expected = both(parity, "HRANDFIELD", "h", "10")
        for reply in (got, expected):
            positions = [order.index(f) for f in reply[1]]
            assert positions == sorted(positions)


# -- HSCAN ----------------------------------------------------------------------------------

def test_hscan_listpack(parity):
    """A listpack hash comes whole with cursor 0, whatever the cursor and COUNT; MATCH filters fields."""
    parity(("HSET", "h", "a", "1", "b", "2", "c", "3", "ab", "4"), ("HSCAN", "h", "0"),
           ("HSCAN", "h", "0", "COUNT", "1"), ("HSCAN", "h", "7"), ("HSCAN", "h", "0", "MATCH", "a*"),
           ("HSCAN", "h", "0", "MATCH", "[ab]", "COUNT", "2"), ("HSCAN", "h", "0", "MATCH", "z*"),
           ("HSCAN", "h", "0", "match", "*", "count", "100"))


def test_hscan_errors(parity):
    """Cursor errors come first, a missing key ignores bad options, WRONGTYPE precedes option errors."""
    parity(("HSCAN", "missing", "x"), ("HSCAN", "missing", "0", "FOO"),
           ("HSCAN", "missing", "0", "COUNT", "0"), ("SET", "s", "1"), ("HSCAN", "s", "x"),
           ("HSCAN", "s", "0", "FOO"), ("HSET", "h", "a", "1"), ("HSCAN", "h", "0", "COUNT", "0"),
           ("HSCAN", "h", "0", "COUNT", "-1"), ("HSCAN", "h", "0", "COUNT", "x"),
           ("HSCAN", "h", "0", "MATCH"), ("HSCAN", "h", "0", "NOVALUES"), ("HSCAN", "h", "-1"),
           ("HSCAN", "h", "18446744073709551616"), ("HSCAN", "h", " 1"))


def test_hscan_hashtable_full_iteration(parity):
    """A full HSCAN of a hashtable hash returns every field with its value, on both servers."""
    fill(parity, "h", 1000)
    results = []
    for client in (parity.sonic, parity.real):
        seen = {}
        cursor = b"0"
        calls = 0
        while True:
            reply = value(client.call("HSCAN", "h", cursor, "COUNT", "50"))
            cursor, items = reply[1][0], reply[1][1][1]
            seen.update(pairs_of(items))
            calls += 1
            if cursor == b"0":
                break
        assert calls > 1
        results.append(seen)
    assert results[0] == results[1] == {b"f%d" % i: b"v%d" % i for i in range(1000)}
    for reply in both(parity, "HSCAN", "h", "0", "MATCH", "f99*", "COUNT", "100000"):
        assert reply[1][0] == b"0"
        assert sorted(reply[1][1][1][0::2]) == sorted([b"f99"] + [b"f99%d" % i for i in range(10)])


# -- RESP3 ----------------------------------------------------------------------------------

def test_resp3_shapes(parity):
    """RESP3: HGETALL is a map, HMGET's missing fields are nulls, the rest as in RESP2."""
    parity.resp3()
    parity(("HGETALL", "missing"), ("HMGET", "missing", "a"), ("HGET", "missing", "a"),
           ("HSET", "h", "a", "1", "b", "2"), ("HGETALL", "h"), ("HMGET", "h", "a", "x"),
           ("HKEYS", "h"), ("HVALS", "h"), ("HINCRBYFLOAT", "h", "a", "1.5"), ("HINCRBY", "h", "b", "1"),
           ("HSCAN", "h", "0"), ("HLEN", "h"), ("HSTRLEN", "h", "a"), ("HEXISTS", "h", "a"),
           ("HMSET", "h", "c", "3"), ("HSETNX", "h", "c", "4"), ("HDEL", "h", "c"),
           ("HSET", "h", "x"), ("HGET", "h", "a"))


# -- unit tests (no redis-server) ----------------------------------------------------------

def test_compressed_values_every_read_path():
    """With a 16-byte threshold, values are held compressed and every read path gives the original bytes."""
    server = make_server(compression_threshold=16)
    c = Client(server)
    long_value = b"x" * 200
    number = b"1" + b"0" * 300
    assert call(c, "HSET", "h", "a", long_value, "n", number, "s", "short") == 3
    h = server.store.dbs[0].lookup(b"h")
    assert type(h[b"a"]) is Compressed and type(h[b"n"]) is Compressed and type(h[b"s"]) is bytes
    assert call(c, "HGET", "h", "a") == long_value
    assert call(c, "HMGET", "h", "a", "s") == [long_value, b"short"]
    assert call(c, "HGETALL", "h") == {b"a": long_value, b"n": number, b"s": b"short"}
    assert call(c, "HVALS", "h") == [long_value, number, b"short"]
    assert call(c, "HSTRLEN", "h", "a") == 200
    assert call(c, "HSTRLEN", "h", "n") == 301
    assert call(c, "HRANDFIELD", "h", "5", "WITHVALUES") == [b"a", long_value, b"n", number, b"s", b"short"]
    picks = call(c, "HRANDFIELD", "h", "-20", "WITHVALUES")
    everything = {b"a": long_value, b"n": number, b"s": b"short"}
    assert len(picks) == 40 and all(everything[f] == v for f, v in zip(picks[0::2], picks[1::2]))
    cursor, items = call(c, "HSCAN", "h", "0")
    assert cursor == b"0" and dict(zip(items[0::2], items[1::2])) == everything
    assert call(c, "HINCRBY", "h", "n", "1") == Error("ERR hash value is not an integer")
    assert call(c, "HINCRBYFLOAT", "h", "n", "1") == format_ld(string2ld(number) + 1)
    assert call(c, "HSETNX", "h", "b", long_value) == 1
    assert type(h[b"b"]) is Compressed
    assert call(c, "HGET", "h", "b") == long_value
    call(c, "HINCRBYFLOAT", "h", "f", "1e250")
    assert type(h[b"f"]) is Compressed
    assert call(c, "HINCRBYFLOAT", "h", "f", "1") == format_ld(string2ld(b"1e250") + 1)


def test_compressed_values_big_hash_scan_and_random():
    """A hashtable hash with compressed values: HSCAN and HRANDFIELD (sampler path) decompress."""
    server = make_server(compression_threshold=16)
    c = Client(server)
    for i in range(300):
        call(c, "HSET", "h", "f%d" % i, "v" * 100 + str(i))
    expect = {b"f%d" % i: b"v" * 100 + str(i).encode() for i in range(300)}
    assert call(c, "OBJECT", "ENCODING", "h") == b"hashtable"
    seen = {}
    cursor = b"0"
    while True:
        cursor, items = call(c, "HSCAN", "h", cursor)
        seen.update(zip(items[0::2], items[1::2]))
        if cursor == b"0":
            break
    assert seen == expect
    for count in ("-50", "20", "250"):
        items = call(c, "HRANDFIELD", "h", count, "WITHVALUES")
        assert all(expect[f] == v for f, v in zip(items[0::2], items[1::2]))


def test_compression_config_at_runtime():
    """CONFIG SET compression-threshold applies to the next hash writes."""
    server = make_server()
    c = Client(server)
    call(c, "HSET", "h", "a", "y" * 100)
    h = server.store.dbs[0].lookup(b"h")
    assert type(h[b"a"]) is bytes
    call(c, "CONFIG", "SET", "compression-threshold", "32")
    call(c, "HSET", "h", "b", "y" * 100)
    assert type(h[b"b"]) is Compressed
    assert call(c, "HGET", "h", "b") == b"y" * 100


def test_random_picks_are_uniform_and_skip_deleted():
    """The sampler of a big hash picks uniformly, never a deleted field, and lists a re-added field once."""
    random.seed(7)
    server = make_server()
    c = Client(server)
    fields = ["f%d" % i for i in range(200)]
    for f in fields:
        call(c, "HSET", "h", f, "1")
    call(c, "HRANDFIELD", "h")
    h = server.store.dbs[0].lookup(b"h")
    assert h.sampler is not None
    call(c, "HDEL", "h", *fields[:100])
    call(c, "HSET", "h", "f0", "again", "new", "1")
    counts = {}
    for f in call(c, "HRANDFIELD", "h", "-20000"):
        counts[f] = counts.get(f, 0) + 1
    live = {b"f0", b"new"} | {f.encode() for f in fields[100:]}
    assert set(counts) == live
    assert min(counts.values()) > 20000 / len(live) * 0.5
    assert max(counts.values()) < 20000 / len(live) * 1.6
    listed = [f for f in h.sampler.fields if f in h]
    assert sorted(listed) == sorted(h)


def _sampled_hash(n):
    """A client and the hash "h" of C{n} fields f0..f<n-1>, whose sampler a first HRANDFIELD built."""
    server = make_server()
    c = Client(server)
    call(c, "HSET", "h", *[x for i in range(n) for x in ("f%d" % i, "v")])
    call(c, "HRANDFIELD", "h")
    return c, server.store.dbs[0].lookup(b"h")


def test_one_field_hset_keeps_the_sampler_in_step():
    """One-field HSETs on a sampled hash list a new field once and give a deleted field its old slot back."""
    c, h = _sampled_hash(100)
    call(c, "HDEL", "h", "f0")
    assert call(c, "HSET", "h", "f0", "again") == 1
    assert call(c, "HSET", "h", "f1", "again") == 0
    assert call(c, "HSET", "h", "new", "1") == 1
    assert sorted(h.sampler.fields) == sorted(h)
    assert not h.sampler.stale


def test_sampler_dropped_when_mostly_stale():
    """Deleting most of a sampled hash drops the sampler; the next pick rebuilds it from live fields."""
    c, h = _sampled_hash(500)
    call(c, "HDEL", "h", *["f%d" % i for i in range(400)])
    assert h.sampler is None
    assert call(c, "HRANDFIELD", "h") in h
    assert len(h.sampler.fields) == 100


def test_hrandfield_huge_negative_count_refused():
    """A negative count whose reply could not be built is refused (Redis would exhaust memory)."""
    server = make_server()
    c = Client(server)
    call(c, "HSET", "h", "a", "1")
    reply = call(c, "HRANDFIELD", "h", str(-(MAX_RANDOM_REPLY + 1)))
    assert isinstance(reply, Error) and "count is out of range" in reply.message
    assert call(c, "HRANDFIELD", "missing", "-9223372036854775807") == []


def test_million_fields_stay_fast():
    """On a 1,000,000-field hash, HSET, HGET, HDEL, HRANDFIELD and small HSCAN steps take microseconds."""
    server = make_server()
    c = Client(server)
    h = Hash((b"f%d" % i, b"v") for i in range(1000000))
    h.big = True
    server.store.dbs[0].set(b"h", h)
    ops = [("HSET", "h", "new%d", "1"), ("HGET", "h", "f%d"), ("HEXISTS", "h", "f%d"),
           ("HRANDFIELD", "h"), ("HRANDFIELD", "h", "5", "WITHVALUES"), ("HRANDFIELD", "h", "-5"),
           ("HINCRBY", "h", "n%d", "1"), ("HDEL", "h", "f%d"), ("HSTRLEN", "h", "f%d")]
    call(c, "HRANDFIELD", "h")  # builds the sampler once (O(n), as a first pick)
    for op in ops:
        start = time.perf_counter()
        for i in range(1000):
            call(c, *[a % i if "%d" in a else a for a in op])
        per_call = (time.perf_counter() - start) / 1000
        assert per_call < 0.0005, "%s took %.0f us" % (op[0], per_call * 1e6)
    assert call(c, "HLEN", "h") == 1000000 + 1000 + 1000 - 1000


def test_watch_and_keyspace_stats():
    """Writes that change a hash break a WATCH; no-op HDEL/HSETNX do not; reads count hits and misses."""
    server = make_server()
    a, b = Client(server), Client(server)
    call(a, "HSET", "h", "f", "1")

    def watched_exec(*cmd):
        call(a, "WATCH", "h")
        call(b, *cmd)
        call(a, "MULTI")
        call(a, "PING")
        return call(a, "EXEC")

    for cmd in (("HDEL", "h", "nope"), ("HSETNX", "h", "f", "2"), ("HINCRBY", "h", "f", "x"),
                ("HGET", "h", "f"), ("HRANDFIELD", "h", "-3")):
        assert watched_exec(*cmd) == [PONG], cmd
    for cmd in (("HSET", "h", "g", "1"), ("HINCRBY", "h", "f", "1"), ("HINCRBYFLOAT", "h", "f", "1"),
                ("HSETNX", "h", "new", "1"), ("HMSET", "h", "f", "3"), ("HDEL", "h", "g"),
                ("HDEL", "h", "f", "new")):
        assert watched_exec(*cmd) is NULL_ARRAY, cmd
    assert call(a, "EXISTS", "h") == 0
    call(a, "HSET", "h", "f", "1")
    hits, misses = server.stat_keyspace_hits, server.stat_keyspace_misses
    call(a, "HGET", "h", "f")
    call(a, "HGET", "missing", "f")
    call(a, "HRANDFIELD", "h")
    assert (server.stat_keyspace_hits, server.stat_keyspace_misses) == (hits + 2, misses + 1)


def test_memory_usage_type_encoding():
    """MEMORY USAGE grows with the hash; TYPE is hash; DEBUG OBJECT names the encoding."""
    server = make_server()
    c = Client(server)
    call(c, "HSET", "small", "a", "1")
    call(c, "HSET", "big", *[x for i in range(2000) for x in ("field%d" % i, "value%d" % i)])
    small, big = call(c, "MEMORY", "USAGE", "small"), call(c, "MEMORY", "USAGE", "big")
    assert 0 < small < big and big > 2000 * 50
    assert call(c, "TYPE", "big") == b"hash"
    assert b"encoding:hashtable" in bytes(call(c, "DEBUG", "OBJECT", "big"))
    assert b"encoding:listpack" in bytes(call(c, "DEBUG", "OBJECT", "small"))


# -- randomised parity ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_random_commands_match_redis(parity, seed):
    """Random writes and reads on small hashes (listpack: a known order) reply byte for byte as Redis."""
    rng = random.Random(seed)
    keys = ["h1", "h2"]
    fields = ["f%d" % i for i in range(12)] + ["", "n"]
    values = ["", "0", "1", "-7", "9223372036854775806", "1.5", "abc", "1e3", " 2"]

    def f():
        return rng.choice(fields)

    for _ in range(250):
        k = rng.choice(keys)
        roll = rng.randrange(14)
        if roll < 3:
            n = rng.randrange(1, 4)
            cmd = ("HSET", k) + tuple(x for _ in range(n) for x in (f(), rng.choice(values)))
        elif roll == 3:
            cmd = ("HSETNX", k, f(), rng.choice(values))
        elif roll == 4:
            cmd = ("HDEL", k) + tuple(f() for _ in range(rng.randrange(1, 4)))
        elif roll == 5:
            cmd = ("HINCRBY", k, f(), rng.choice(["1", "-3", "100", "x"]))
        elif roll == 6:
            cmd = ("HINCRBYFLOAT", k, f(), rng.choice(["0.1", "-2.5", "1e2", "x"]))
        elif roll == 7:
            cmd = ("HMGET", k, f(), f())
        elif roll == 8:
            cmd = ("HGETALL", k)
        elif roll == 9:
            cmd = ("HKEYS", k) if rng.random() < 0.5 else ("HVALS", k)
        elif roll == 10:
            cmd = ("HSCAN", k, "0", "MATCH", rng.choice(["*", "f1*", "n"]))
        elif roll == 11:
            cmd = ("HRANDFIELD", k, str(rng.choice([20, 50])), "WITHVALUES")
        elif roll == 12:
            cmd = ("HSTRLEN", k, f())
        else:
            cmd = ("HLEN", k) if rng.random() < 0.5 else ("EXISTS", k)
        parity(cmd)


def test_redis_py_client(r):
    """redis-py's hash helpers work unchanged against sonic and redis-server alike."""
    assert r.hset("h", mapping={"a": "1", "b": "x" * 3000}) == 2
    assert r.hgetall("h") == {b"a": b"1", b"b": b"x" * 3000}
    assert r.hincrby("h", "a", 5) == 6
    assert r.hincrbyfloat("h", "a", 0.5) == 6.5
    assert r.hmget("h", ["a", "zz"]) == [b"6.5", None]
    assert r.hstrlen("h", "b") == 3000
    assert sorted(r.hkeys("h")) == [b"a", b"b"]
    assert r.hexists("h", "a") and not r.hexists("h", "zz")
    assert set(r.hrandfield("h", 5)) == {b"a", b"b"}
    cursor, items = r.hscan("h", 0)
    assert cursor == 0 and items == {b"a": b"6.5", b"b": b"x" * 3000}
    assert r.hdel("h", "a", "b") == 2 and not r.exists("h")

"""SORT and SORT_RO (sort.c) against Redis 7.0: orders, patterns, LIMIT, STORE, errors.

Lists keep their order and SORT's comparisons are total orders except for
ALPHA with BY (equal weights), where Redis' stable qsort or its own pqsort
decides; lists make those cases deterministic, so they are compared byte
for byte, including randomised ones (L{test_random_sorts_match_redis}).
Sets that are not intsets and sorted sets iterate in hash-table order in
Redis, so ties among their elements are not compared.

Redis reads numeric weights with strtod and tests errno without clearing
it: after an ERANGE, a later SORT on the same server may fail until some
system call resets errno (a new connection does).  Each parity test uses
new connections, and the out-of-range weights are tested one per test.
"""

import random
import time

import pytest

from sonic.commands.sort import _pqsort, strtod_weight
from sonic.resp import NULL_ARRAY, PONG, Error, encode
from sonic.store.compression import Compressed
from tests.helpers import Client, call, make_server

#: ~5 KB of repetitive text: compressed at rest by sonic (list elements, strings, hash values).
BIG = "".join('{"id": %d, "name": "user%d"}\n' % (i, i) for i in range(150))

NOT_DOUBLE = "One or more scores can't be converted into double"


# -- numeric sorts -------------------------------------------------------------------------

def test_numeric_list(parity):
    """Numbers in every strtod form sort by value; equal values are ordered by their bytes."""
    parity(("RPUSH", "l", "3", "-1", "10", "2.5", "1e1", "0x10", " 7", "+4", ".5", "5.", "inf",
            "-inf", "", "010", "1.0", "1", "-0", "0", "\t\n9", "0X1P3", "-0x.8", b"6\x00junk"),
           ("SORT", "l"), ("SORT", "l", "DESC"), ("SORT", "l", "ASC"), ("SORT_RO", "l"),
           ("SORT", "l", "desc", "asc"), ("SORT", "l", "LIMIT", "3", "4"),
           ("SORT", "l", "DESC", "LIMIT", "0", "5"))


@pytest.mark.parametrize("bad", ["abc", "1 ", "  ", "nan", "-nan", "1e", "0x", "inf1", "1,5", "1_0",
                                 "infinit", "0x1p", "1e+"])
def test_numeric_refused(parity, bad):
    """A weight strtod cannot read completely, or NaN, fails the whole SORT (nothing is stored)."""
    parity(("RPUSH", "l", "1", bad, "2"), ("SET", "dst", "keep"), ("SORT", "l"),
           ("SORT", "l", "STORE", "dst"), ("GET", "dst"), ("SORT", "l", "LIMIT", "0", "0"),
           ("SORT", "l", "ALPHA"))


@pytest.mark.parametrize("weight", ["1e-310", "1e-400", "1e309", "-1e400", "4e-320", "0x1.8p-1074",
                                    "2.2250738585072011e-308"])
def test_numeric_out_of_range(parity, weight):
    """A weight that overflows or underflows (ERANGE, an inexact subnormal included) fails the SORT."""
    parity(("RPUSH", "l", weight), ("SORT", "l"))


@pytest.mark.parametrize("weight", ["0x1p-1074", "0e-400", "-0.0e-999", "2.2250738585072014e-308",
                                    "1.7976931348623157e308"])
def test_numeric_edge_values_accepted(parity, weight):
    """Exact subnormals, zeros with huge exponents and the extreme normals are read without ERANGE."""
    parity(("RPUSH", "l", weight, "1", "-1"), ("SORT", "l"), ("SORT", "l", "DESC"))


def test_numeric_sets_and_zsets(parity):
    """Sets (intset or not) and sorted sets sort their members by numeric value."""
    parity(("SADD", "i", "5", "-3", "100", "0"), ("SORT", "i"), ("SORT", "i", "DESC"),
           ("SADD", "s", "1.5", "-2", "1e3", "0x10", "7"), ("SORT", "s"),
           ("SORT", "s", "DESC", "LIMIT", "1", "3"),
           ("ZADD", "z", "1", "30", "2", "-5", "3", "2.5"), ("SORT", "z"), ("SORT", "z", "DESC"),
           ("ZADD", "zs", "1", "a"), ("SORT", "zs"))


# -- ALPHA ---------------------------------------------------------------------------------

def test_alpha_byte_order(parity):
    """ALPHA orders by bytes (Redis' C.UTF-8 strcoll), DESC reverses, and STORE agrees."""
    parity(("RPUSH", "l", "B", "a", b"\xff", "\xe9", "A", "", "10", "9", "Z", "z", "\x7f", b"\xc3",
            b"\xc3\xa8\xff", "\u20ac", "\U0001f600", "b", "ab", "abc", "a"),
           ("SORT", "l", "ALPHA"), ("SORT", "l", "ALPHA", "DESC"), ("SORT", "l", "ALPHA", "LIMIT", "2", "3"),
           ("SORT", "l", "ALPHA", "STORE", "dst"), ("LRANGE", "dst", "0", "-1"),
           ("SORT", "l", "ALPHA", "DESC", "STORE", "dst"), ("LRANGE", "dst", "0", "-1"))


def test_alpha_nul_bytes(parity):
    """Replies compare up to a NUL (strcoll; ties keep list order), STORE compares every byte."""
    parity(("RPUSH", "l", b"a\x00z", b"a\x00b", "a", b"a\x00", b"b\x00a", b"a\x00c"),
           ("SORT", "l", "ALPHA"), ("SORT", "l", "ALPHA", "DESC"),
           ("SORT", "l", "ALPHA", "STORE", "dst"), ("LRANGE", "dst", "0", "-1"),
           ("SORT", "l", "ALPHA", "DESC", "STORE", "dst"), ("LRANGE", "dst", "0", "-1"))


def test_alpha_sets_and_zsets(parity):
    """ALPHA over a set and a sorted set (distinct members: a total order)."""
    parity(("SADD", "s", "b", "a", "10", "9", "c"), ("SORT", "s", "ALPHA"), ("SORT", "s", "ALPHA", "DESC"),
           ("ZADD", "z", "3", "a", "1", "10", "2", "2", "2", "b"), ("SORT", "z", "ALPHA"),
           ("SORT", "z", "ALPHA", "DESC", "LIMIT", "1", "2"))


# -- LIMIT ---------------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [("0", "3"), ("2", "2"), ("-5", "2"), ("3", "100"), ("9", "1"), ("6", "1"),
                                   ("5", "1"), ("2", "-3"), ("2", "0"), ("0", "-1"),
                                   ("-9223372036854775808", "9223372036854775807"),
                                   ("9223372036854775807", "9223372036854775807"),
                                   ("0", "-9223372036854775808")])
def test_limit_windows(parity, limit):
    """LIMIT clamps its offset and count as sort.c does, sorted or not, for every type."""
    parity(("RPUSH", "l", "5", "3", "9", "1", "7", "2"), ("SADD", "s", "5", "3", "9", "1", "7", "2"),
           ("ZADD", "z", "5", "a", "3", "b", "9", "c", "1", "d", "7", "e", "2", "f"),
           ("MSET", "w_5", "1", "w_3", "2", "w_9", "3", "w_a", "b", "w_b", "a", "w_c", "d", "w_d", "c",
            "w_e", "f", "w_f", "e"))
    # Sorted-set members all have distinct weights: Redis walks them in hash
    # table order, so ties among them would not be comparable.
    for key in ("l", "s", "z", "missing"):
        for extra in ((), ("DESC",), ("BY", "nosort"), ("BY", "nosort", "DESC"), ("ALPHA",), ("BY", "w_*"),
                      ("BY", "w_*", "ALPHA", "DESC"), ("GET", "#", "GET", "w_*")):
            parity(("SORT", key, "LIMIT") + limit + extra)
        parity(("SORT", key, "LIMIT") + limit + ("STORE", "dst"), ("LRANGE", "dst", "0", "-1"))


def test_limit_errors(parity):
    """LIMIT needs two integers; a bad one gives the integer error, a missing one a syntax error."""
    parity(("RPUSH", "l", "1"), ("SORT", "l", "LIMIT"), ("SORT", "l", "LIMIT", "1"),
           ("SORT", "l", "LIMIT", "a", "1"), ("SORT", "l", "LIMIT", "1", "b"),
           ("SORT", "l", "LIMIT", "1.5", "1"),
           ("SORT", "l", "LIMIT", "9223372036854775808", "1"),
           ("SORT", "l", "LIMIT", "0", "1", "LIMIT", "x", "1"),
           ("SORT", "l", "LIMIT", "0", "1", "LIMIT", "1", "1"), ("SORT", "l", "LIMIT", " 1", "1"))


# -- BY nosort -------------------------------------------------------------------------------

def test_nosort_keeps_native_order(parity):
    """BY without *: a list keeps its order and a zset its score order (DESC reverses); an intset ascends."""
    parity(("RPUSH", "l", "c", "a", "b", "a"), ("ZADD", "z", "3", "a", "1", "10", "2", "2", "2", "b"),
           ("SADD", "i", "5", "3", "10", "1", "-7"))
    for key in ("l", "z", "i"):
        parity(("SORT", key, "BY", "nosort"), ("SORT", key, "BY", "nosort", "DESC"),
               ("SORT", key, "BY", "nosort", "LIMIT", "1", "2"),
               ("SORT", key, "BY", "nosort", "DESC", "LIMIT", "1", "2"),
               ("SORT", key, "BY", "nosort", "ALPHA"), ("SORT", key, "BY", "constant_key", "GET", "#"),
               ("SORT_RO", key, "BY", "nosort", "DESC"), ("SORT", key, "BY", b"x\x00*"),
               ("SORT", key, "BY", "w_*", "BY", "nosort"), ("SORT", key, "BY", "nosort", "BY", "w_*"))


def test_nosort_store_sorts_sets(parity):
    """With STORE a set is sorted ALPHA even BY nosort (DESC honoured); lists and zsets keep their order."""
    parity(("SADD", "i", "5", "3", "10", "1"), ("SORT", "i", "BY", "nosort", "STORE", "d"),
           ("LRANGE", "d", "0", "-1"),
           ("SORT", "i", "BY", "nosort", "DESC", "STORE", "d"), ("LRANGE", "d", "0", "-1"),
           ("SORT", "i", "BY", "nosort", "LIMIT", "1", "2", "STORE", "d"), ("LRANGE", "d", "0", "-1"),
           ("SADD", "s", "b", "c", "a", "B"), ("SORT", "s", "BY", "nosort", "STORE", "d"),
           ("LRANGE", "d", "0", "-1"),
           ("ZADD", "z", "2", "x", "1", "y"), ("SORT", "z", "BY", "nosort", "STORE", "d"),
           ("LRANGE", "d", "0", "-1"),
           ("RPUSH", "l", "b", "a"), ("SORT", "l", "BY", "nosort", "DESC", "STORE", "d"),
           ("LRANGE", "d", "0", "-1"))


def test_sort_converts_zset_to_skiplist(parity):
    """Sorting a small sorted set (SORT or SORT_RO, any options) turns it into a skiplist, as Redis does."""
    parity(("ZADD", "z", "1", "a"), ("OBJECT", "ENCODING", "z"), ("SORT", "z", "ALPHA"),
           ("OBJECT", "ENCODING", "z"), ("ZADD", "z2", "1", "1"), ("SORT_RO", "z2", "BY", "nosort"),
           ("OBJECT", "ENCODING", "z2"), ("ZADD", "z3", "1", "x"), ("SORT", "z3"),
           ("OBJECT", "ENCODING", "z3"))


# -- BY and GET patterns -----------------------------------------------------------------------

def test_by_string_weights(parity):
    """BY reads each element's weight key; missing and non-string keys weigh 0, or sort first with ALPHA."""
    parity(("RPUSH", "l", "3", "1", "2", "4", "5"), ("MSET", "w_1", "30", "w_2", "10", "w_3", "-1"),
           ("RPUSH", "w_5", "x"), ("SORT", "l", "BY", "w_*"), ("SORT", "l", "BY", "w_*", "DESC"),
           ("SORT", "l", "BY", "w_*", "ALPHA"), ("SORT", "l", "BY", "w_*", "ALPHA", "DESC"),
           ("SORT", "l", "BY", "w_*", "LIMIT", "1", "2"),
           ("SORT", "l", "BY", "w_*", "ALPHA", "LIMIT", "0", "3"),
           ("SET", "w_4", "abc"), ("SORT", "l", "BY", "w_*"), ("SORT", "l", "BY", "w_*", "ALPHA"),
           ("SORT", "l", "BY", "#"), ("SORT", "l", "BY", "*"))


def test_by_and_get_hash_fields(parity):
    """key->field reads a hash field; the first -> after the * splits; a trailing -> is part of the key."""
    parity(("RPUSH", "l", "3", "1", "2"), ("HSET", "h_1", "f", "b", "g", "x1", "f->g", "FG"),
           ("HSET", "h_2", "f", "a", "g", "x2"), ("HSET", "h_3", "f", "a", "g", "x3"),
           ("MSET", "w_1", "30", "w_2", "10"),
           ("SORT", "l", "BY", "h_*->f", "ALPHA", "GET", "#", "GET", "h_*->g", "GET", "w_*"),
           ("SORT", "l", "BY", "h_*->f", "ALPHA", "DESC", "GET", "h_*->g"),
           ("SORT", "l", "BY", "h_*->f", "ALPHA", "DESC", "GET", "h_*->g", "LIMIT", "0", "2"),
           ("SORT", "l", "BY", "h_*->f", "GET", "h_*->g"),
           ("SORT", "l", "BY", "h_*->nofield", "GET", "h_*->g"),
           ("SORT", "l", "GET", "h_*->nofield", "GET", "h_*"), ("SORT", "l", "GET", "w_*->f"),
           ("SORT", "l", "GET", "h_*->f->g"), ("SORT", "l", "GET", "h_*->"), ("SET", "w_*->", "z"),
           ("SORT", "l", "GET", "w_*->"), ("SORT", "l", "GET", "*->f"), ("SORT", "l", "GET", "->*"),
           ("SET", "h_1*", "S"), ("SORT", "l", "GET", "h_**"), ("SORT", "l", "GET", "h_**->f"),
           ("SORT", "l", "GET", "nostar"), ("SORT", "l", "GET", "#", "GET", "#"), ("SORT", "l", "GET", "##"),
           ("SET", b"p\x00q1", "nul"), ("SORT", "l", "GET", b"p\x00q*"), ("SORT", "l", "GET", b"#\x00x"),
           ("SORT", "l", "GET", b"*\x00q"), ("SET", b"1\x00q", "after-nul"), ("SORT", "l", "GET", b"*\x00q"),
           ("HSET", "hx_1", b"a\x00b", "fieldnul"), ("SORT", "l", "GET", b"hx_*->a\x00b"))


def test_by_hash_numeric(parity):
    """Numeric BY over hash fields, with a missing field (weight 0) and a non-number (error)."""
    parity(("RPUSH", "l", "a", "b", "c", "d"), ("HSET", "h_a", "n", "5"), ("HSET", "h_b", "n", "-2.5"),
           ("HSET", "h_c", "n", "5"), ("SORT", "l", "BY", "h_*->n"), ("SORT", "l", "BY", "h_*->n", "DESC"),
           ("SORT", "l", "BY", "h_*->n", "LIMIT", "1", "2", "GET", "h_*->n"), ("HSET", "h_d", "n", "x"),
           ("SORT", "l", "BY", "h_*->n"))


def test_get_store(parity):
    """STORE with GET stores each lookup, missing ones as empty strings; the reply counts them."""
    parity(("RPUSH", "l", "2", "1", "3"), ("MSET", "v_1", "one", "v_3", "three"), ("HSET", "h_2", "f", "two"),
           ("SORT", "l", "GET", "v_*", "GET", "h_*->f", "GET", "#", "STORE", "dst"),
           ("LRANGE", "dst", "0", "-1"),
           ("SORT", "l", "GET", "nostar", "STORE", "dst"), ("LRANGE", "dst", "0", "-1"), ("TYPE", "dst"),
           ("OBJECT", "ENCODING", "dst"))


def test_get_from_other_dbs_and_expired(parity):
    """GET and BY read the current database, and an expired weight key is missing."""
    parity(("RPUSH", "l", "1", "2"), ("SET", "v_1", "a"), ("SET", "v_2", "b", "PX", "1"),
           ("SELECT", "1"), ("SET", "v_1", "other"), ("RPUSH", "l", "1"), ("SORT", "l", "GET", "v_*"),
           ("SELECT", "0"))
    time.sleep(0.01)
    parity(("SORT", "l", "GET", "v_*"), ("SORT", "l", "BY", "v_*", "ALPHA"))


# -- STORE -----------------------------------------------------------------------------------

def test_store(parity):
    """STORE writes a list (replacing any type, clearing the TTL) and answers its length."""
    parity(("RPUSH", "l", "3", "1", "2"), ("SET", "dst", "x", "EX", "100"), ("SORT", "l", "STORE", "dst"),
           ("LRANGE", "dst", "0", "-1"), ("TTL", "dst"), ("HSET", "h", "a", "1"),
           ("SORT", "l", "DESC", "STORE", "h"),
           ("TYPE", "h"), ("LRANGE", "h", "0", "-1"), ("SORT", "l", "STORE", "l"), ("LRANGE", "l", "0", "-1"),
           ("SORT", "l", "LIMIT", "0", "1", "store", "one"), ("LRANGE", "one", "0", "-1"),
           ("SORT", "l", "STORE", "a", "STORE", "b"), ("EXISTS", "a"), ("LRANGE", "b", "0", "-1"))


def test_store_empty_deletes(parity):
    """An empty result deletes the destination (answering 0), whatever it held."""
    parity(("SET", "dst", "x"), ("SORT", "missing", "STORE", "dst"), ("EXISTS", "dst"),
           ("RPUSH", "l", "1"), ("HSET", "dst", "a", "b"), ("SORT", "l", "LIMIT", "5", "1", "STORE", "dst"),
           ("EXISTS", "dst"), ("SORT", "l", "LIMIT", "0", "0", "STORE", "dst"),
           ("SORT", "missing", "STORE", "nothing"))


def test_sort_ro(parity):
    """SORT_RO sorts like SORT but refuses STORE as a syntax error."""
    parity(("RPUSH", "l", "2", "1"), ("SORT_RO", "l"), ("SORT_RO", "l", "DESC", "GET", "#"),
           ("SORT_RO", "l", "STORE", "x"), ("EXISTS", "x"), ("SORT_RO", "l", "ALPHA", "LIMIT", "0", "1"),
           ("SORT_RO",), ("SORT_RO", "missing"))


# -- errors ----------------------------------------------------------------------------------

def test_syntax_errors_and_wrongtype(parity):
    """Options are parsed before the key is looked up: syntax errors first, then WRONGTYPE."""
    parity(("SET", "str", "x"), ("HSET", "h", "a", "1"), ("RPUSH", "l", "1"),
           ("SORT", "str"), ("SORT", "h"), ("SORT", "str", "FOO"), ("SORT", "str", "LIMIT", "x", "1"),
           ("SORT", "h", "LIMIT", "0", "1", "GET", "#", "ASC", "DESC", "STORE", "d"), ("EXISTS", "d"),
           ("SORT", "l", "FOO"), ("SORT", "l", "GET"), ("SORT", "l", "BY"), ("SORT", "l", "STORE"),
           ("SORT", "l", "ASC", "ALPHA", "GET"), ("SORT", "l", b"alpha\x00x"), ("SORT", "l", b"desc\x00"),
           ("SORT",), ("SORT", "l", "DESCX"), ("SORT", "missing", "FOO"))


def test_missing_key(parity):
    """A missing key sorts as an empty list."""
    parity(("SORT", "missing"), ("SORT", "missing", "BY", "nosort", "DESC", "GET", "#"),
           ("SORT_RO", "missing", "ALPHA"))


def test_resp3(parity):
    """In RESP3 GET's missing lookups are nulls; the rest has RESP2's shapes."""
    parity.resp3()
    parity(("RPUSH", "l", "2", "1"), ("SET", "v_1", "a"), ("SORT", "l", "GET", "#", "GET", "v_*"),
           ("SORT", "l", "STORE", "d"), ("SORT", "missing"), ("SORT", "l", "BY", "nosort"))


# -- compressed values -------------------------------------------------------------------------

def test_big_elements_and_lookups(parity):
    """Elements, weights and GET values compressed at rest by sonic read back exactly."""
    parity(("RPUSH", "l", BIG + "b", "1", BIG + "a"), ("SORT", "l", "ALPHA"),
           ("SORT", "l", "ALPHA", "DESC", "LIMIT", "0", "1"),
           ("SORT", "l", "BY", "nosort", "DESC"), ("SET", "w_1", BIG), ("HSET", "h_1", "f", BIG + "h"),
           ("SORT", "l", "ALPHA", "GET", "w_*", "GET", "h_*->f", "GET", "#"),
           ("SORT", "l", "ALPHA", "STORE", "dst"), ("LRANGE", "dst", "0", "-1"),
           ("SORT", "l", "ALPHA", "GET", "h_*->f", "STORE", "dst"), ("LRANGE", "dst", "0", "-1"),
           ("SET", "w_1", "1" + "0" * 1500), ("SORT", "l", "BY", "w_*", "DESC"),
           ("SORT", "l", "BY", "w_*", "ALPHA", "GET", "#"))


# -- randomised parity ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
def test_random_sorts_match_redis(parity, seed):
    """Random lists, weights with many ties, LIMIT windows and options: replies equal Redis' byte for byte."""
    # ALPHA with BY and a LIMIT window goes through Redis' unstable pqsort:
    # equal weights must land exactly where Redis puts them.
    rng = random.Random(seed)
    n = rng.choice([5, 8, 30, 45, 120, 300])
    elements = ["e%d" % rng.randrange(n * 2) for _ in range(n)]
    parity(("RPUSH", "l") + tuple(elements))
    weights = []
    for e in set(elements):
        roll = rng.random()
        if roll < 0.8:
            weights += ["w_" + e, rng.choice(["a", "b", "c", "10", "9", "-1", "2.5"])]
        elif roll < 0.9:
            weights += ["w_" + e, rng.choice(["", "zz"])]
    parity(("MSET",) + tuple(weights))
    for _ in range(25):
        cmd = ["SORT", "l"]
        if rng.random() < 0.9:
            cmd += ["BY", "w_*"]
        if rng.random() < 0.8:
            cmd.append("ALPHA")
        if rng.random() < 0.5:
            cmd.append("DESC")
        if rng.random() < 0.7:
            cmd += ["LIMIT", str(rng.randrange(-2, n + 2)), str(rng.randrange(-2, n + 2))]
        if rng.random() < 0.3:
            cmd += ["GET", "#", "GET", "w_*"]
        if rng.random() < 0.2:
            cmd += ["STORE", "dst"]
            parity(tuple(cmd), ("LRANGE", "dst", "0", "-1"))
        else:
            parity(tuple(cmd))


# -- unit tests (no redis-server) ----------------------------------------------------------------

def test_strtod_weight_table():
    """strtod_weight reads what C's strtod reads completely, and refuses NaN and ERANGE."""
    table = {b"": 0.0, b"  ": None, b" 1": 1.0, b"1 ": None, b"0x10": 16.0, b"-Infinity": float("-inf"),
             b"nan": None, b"1e-310": None, b"0e-400": 0.0, b"0x1p-1074": 5e-324, b"5\x00abc": 5.0,
             b"1e309": None, b".5": 0.5, b"5.": 5.0, b"0x": None, b"1e": None, b"1_0": None, b"\t7": 7.0}
    for text, expected in table.items():
        assert strtod_weight(text) == expected, text


@pytest.mark.parametrize("seed", range(20))
def test_pqsort_sorts_the_window(seed):
    """pqsort puts in positions lrange..rrange exactly what a full sort puts there (distinct keys)."""
    rng = random.Random(seed)
    n = rng.choice([3, 7, 8, 41, 100, 1000])
    data = rng.sample(range(n * 10), n)
    lo = rng.randrange(n)
    hi = rng.randrange(lo, n)
    a = list(data)
    _pqsort(a, 0, n, lambda x, y: (x > y) - (x < y), lo, hi)
    assert a[lo:hi + 1] == sorted(data)[lo:hi + 1]
    assert sorted(a) == sorted(data)


def test_store_compresses_and_signals():
    """STORE packs big elements like the list commands, wakes WATCH, and deleting nothing signals nothing."""
    server = make_server(compression_threshold=64)
    a, b = Client(server), Client(server)
    big = b"y" * 500
    call(a, "RPUSH", "l", big, b"x")
    call(a, "WATCH", "dst")
    assert call(b, "SORT", "l", "ALPHA", "STORE", "dst") == 2
    call(a, "MULTI")
    call(a, "PING")
    assert call(a, "EXEC") is NULL_ARRAY
    stored = server.store.dbs[0].lookup(b"dst")
    assert type(stored[1]) is Compressed
    reply = call(a, "LRANGE", "dst", "0", "-1")
    assert reply == [b"x", big] or bytes(reply) == encode([b"x", big])
    call(a, "WATCH", "nothing")
    assert call(b, "SORT", "missing", "STORE", "nothing") == 0
    call(a, "MULTI")
    call(a, "PING")
    assert call(a, "EXEC") == [PONG]


def test_keyspace_stats_count_pattern_lookups():
    """SORT counts a hit or miss for its key and for every BY and GET lookup (lookupKeyRead)."""
    server = make_server()
    c = Client(server)
    call(c, "RPUSH", "l", "1", "2", "3")
    call(c, "SET", "w_1", "5")
    hits, misses = server.stat_keyspace_hits, server.stat_keyspace_misses
    call(c, "SORT", "l", "BY", "w_*", "GET", "w_*")
    assert server.stat_keyspace_hits - hits == 1 + 1 + 1
    assert server.stat_keyspace_misses - misses == 2 + 2


def test_big_collections_are_fast():
    """BY nosort with LIMIT reads only the window (1M zset, 1M list); a full numeric sort stays O(n log n)."""
    server = make_server()
    c = Client(server)
    from sonic.commands.lists import List
    from sonic.commands.zsets import ZSet
    db = server.store.dbs[0]
    zs = ZSet(big=True)
    zs.scores = {b"m%d" % i: float(i) for i in range(1000000)}
    from sortedcontainers import SortedList
    zs.order = SortedList((s, m) for m, s in zs.scores.items())
    db.set(b"z", zs)
    db.set(b"l", List(b"%d" % i for i in range(1000000)))
    start = time.perf_counter()
    for _ in range(100):
        window = call(c, "SORT", "z", "BY", "nosort", "DESC", "LIMIT", "10", "3")
        assert window == [b"m999989", b"m999988", b"m999987"]
        assert call(c, "SORT", "l", "BY", "nosort", "LIMIT", "10", "2") == [b"10", b"11"]
    assert (time.perf_counter() - start) / 200 < 0.002
    db.set(b"small", List(b"%d" % random.randrange(10 ** 9) for _ in range(100000)))
    start = time.perf_counter()
    out = call(c, "SORT", "small", "LIMIT", "0", "5")
    assert time.perf_counter() - start < 2.0 and [int(x) for x in out] == sorted(int(x) for x in out)


def test_wrongtype_and_errors_unit():
    """Error replies without a reference server: WRONGTYPE, the numeric error, LIMIT parsing."""
    server = make_server()
    c = Client(server)
    call(c, "SET", "s", "x")
    call(c, "RPUSH", "l", "a")
    assert call(c, "SORT", "s") == Error("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert call(c, "SORT", "l") == Error("ERR " + NOT_DOUBLE)
    assert call(c, "SORT", "l", "LIMIT", "x", "1") == Error("ERR value is not an integer or out of range")
    assert call(c, "SORT_RO", "l", "STORE", "d") == Error("ERR syntax error")


def test_redis_py_client(r):
    """redis-py's sort() with by, get, limit, desc, alpha and store works on sonic and redis-server alike."""
    r.rpush("ids", 3, 1, 2)
    r.mset({"w_1": 30, "w_2": 10, "w_3": 20})
    r.hset("u_1", "name", "ann")
    r.hset("u_2", "name", "bob")
    assert r.sort("ids") == [b"1", b"2", b"3"]
    assert r.sort("ids", by="w_*", desc=True) == [b"1", b"3", b"2"]
    assert r.sort("ids", by="w_*", get=["#", "u_*->name"]) == [b"2", b"bob", b"3", None, b"1", b"ann"]
    assert r.sort("ids", start=1, num=1, alpha=True) == [b"2"]
    assert r.sort("ids", by="nosort", store="out") == 3
    assert r.lrange("out", 0, -1) == [b"3", b"1", b"2"]
    assert r.sort_ro("ids", by="w_*") == [b"2", b"3", b"1"]

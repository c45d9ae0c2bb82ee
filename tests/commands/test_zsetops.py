"""The sorted-set algebra (ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD) against Redis 7.0.

Results are ordered by (score, member), so every reply is compared byte for
byte, scores included (RESP2 bulk strings, RESP3 doubles).  Inputs mix
sorted sets and plain sets, whose members score 1.
"""

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import Client, call, make_server


def setup(parity):
    """Two sorted sets, a plain set and a string, shared by several cases."""
    parity(("ZADD", "a", "1", "x", "2", "y", "3", "z"), ("ZADD", "b", "10", "y", "20", "z", "30", "w"),
           ("SADD", "s", "x", "w", "q"), ("SET", "str", "v"))


# -- results ------------------------------------------------------------------------------

def test_union(parity):
    """ZUNION sums scores by default, with plain sets scoring 1; WITHSCORES, missing keys, one key."""
    setup(parity)
    parity(("ZUNION", "2", "a", "b"), ("ZUNION", "2", "a", "b", "WITHSCORES"),
           ("ZUNION", "3", "a", "b", "s", "WITHSCORES"), ("ZUNION", "1", "a", "withscores"),
           ("ZUNION", "2", "a", "nokey", "WITHSCORES"), ("ZUNION", "1", "nokey"),
           ("ZUNION", "2", "nokey", "nokey2", "WITHSCORES"), ("ZUNION", "1", "s", "WITHSCORES"),
           ("ZUNION", "2", "a", "a", "WITHSCORES"))


def test_inter(parity):
    """ZINTER keeps members of every input, walking the smallest; the same key twice counts twice."""
    setup(parity)
    parity(("ZINTER", "2", "a", "b"), ("ZINTER", "2", "a", "b", "WITHSCORES"),
           ("ZINTER", "2", "b", "a", "WITHSCORES"), ("ZINTER", "3", "a", "b", "s", "WITHSCORES"),
           ("ZINTER", "2", "a", "s", "WITHSCORES"), ("ZINTER", "2", "a", "nokey", "WITHSCORES"),
           ("ZINTER", "1", "a", "WITHSCORES"), ("ZINTER", "2", "a", "a", "WITHSCORES"),
           ("ZINTER", "2", "s", "s", "WITHSCORES"), ("ZINTER", "1", "nokey"))


def test_diff(parity):
    """ZDIFF keeps the first input's members absent from the others, with the first input's scores."""
    setup(parity)
    parity(("ZDIFF", "2", "a", "b"), ("ZDIFF", "2", "a", "b", "WITHSCORES"),
           ("ZDIFF", "2", "b", "a", "WITHSCORES"), ("ZDIFF", "3", "b", "a", "s", "WITHSCORES"),
           ("ZDIFF", "2", "s", "a", "WITHSCORES"), ("ZDIFF", "1", "a", "WITHSCORES"),
           ("ZDIFF", "2", "a", "a"), ("ZDIFF", "2", "nokey", "a"), ("ZDIFF", "2", "a", "nokey", "WITHSCORES"),
           ("ZDIFF", "1", "s"))


def test_weights_and_aggregate(parity):
    """WEIGHTS multiply each input's scores (in the order the keys were given); AGGREGATE MIN/MAX/SUM, any case."""
    setup(parity)
    parity(("ZUNION", "2", "a", "b", "WEIGHTS", "2", "0.5", "WITHSCORES"),
           ("ZUNION", "2", "b", "a", "WEIGHTS", "2", "0.5", "WITHSCORES"),
           ("ZUNION", "3", "a", "b", "s", "WEIGHTS", "1", "-1", "7", "AGGREGATE", "MIN", "WITHSCORES"),
           ("ZUNION", "2", "a", "b", "AGGREGATE", "max", "WITHSCORES"),
           ("ZUNION", "2", "a", "b", "aggregate", "Sum", "WITHSCORES"),
           ("ZINTER", "2", "a", "b", "WEIGHTS", "-1", "1", "AGGREGATE", "MIN", "WITHSCORES"),
           ("ZINTER", "2", "a", "b", "AGGREGATE", "MAX", "WEIGHTS", "3", "1.5", "WITHSCORES"),
           ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "2", "WEIGHTS", "3", "4", "WITHSCORES"),
           ("ZUNION", "2", "a", "b", "AGGREGATE", "MIN", "AGGREGATE", "MAX", "WITHSCORES"),
           ("ZUNION", "2", "a", "b", "WITHSCORES", "WITHSCORES"),
           ("ZUNION", "2", "a", "s", "WEIGHTS", "0x10", "1e3", "WITHSCORES"),
           ("ZUNION", "2", "a", "b", "WEIGHTS", "0.1", "0.2", "WITHSCORES"))


def test_inf_and_nan_arithmetic(parity):
    """inf + -inf sums to 0, 0 * inf counts as 0 for the first score, MIN/MAX ignore a NaN product."""
    parity(("ZADD", "p", "1", "x"), ("ZADD", "zero", "0", "x"), ("SADD", "s", "x", "y"),
           ("ZADD", "i", "inf", "x", "-inf", "y"))
    for cmd in ("ZUNION", "ZINTER"):
        for agg in ("SUM", "MIN", "MAX"):
            for weights in (("inf", "-inf"), ("0", "inf"), ("inf", "0"), ("1", "inf"), ("-inf", "-inf")):
                for keys in (("p", "p"), ("p", "zero"), ("zero", "p"), ("p", "s"), ("i", "s"), ("i", "i")):
                    parity((cmd, "2") + keys + ("WEIGHTS",) + weights + ("AGGREGATE", agg, "WITHSCORES"))
    parity(("ZUNION", "1", "i", "WEIGHTS", "0", "WITHSCORES"), ("ZINTER", "1", "i", "WEIGHTS", "0", "WITHSCORES"),
           ("ZUNION", "1", "i", "WEIGHTS", "-1", "WITHSCORES"))


def test_sum_rounding_follows_cardinality_order(parity):
    """SUM adds inputs smallest first (Redis sorts them), whatever order the keys are given in."""
    parity(("ZADD", "k1", "1e16", "m"), ("ZADD", "k2", "1", "m", "5", "x", "6", "y"),
           ("ZADD", "k3", "1", "m", "7", "z"), ("ZADD", "k4", "1", "m", "8", "q"))
    for keys in (("k1", "k2", "k3"), ("k2", "k3", "k1"), ("k3", "k2", "k1"), ("k2", "k4", "k3", "k1")):
        parity(("ZUNION", str(len(keys))) + keys + ("WITHSCORES",),
               ("ZINTER", str(len(keys))) + keys + ("WITHSCORES",))
    parity(("ZUNION", "2", "k3", "k4", "WEIGHTS", "1e16", "1", "WITHSCORES"),
           ("ZADD", "t1", "0.1", "m"), ("ZADD", "t2", "0.2", "m", "1", "a"), ("ZADD", "t3", "0.3", "m", "1", "a", "2", "b"),
           ("ZUNION", "3", "t3", "t1", "t2", "WITHSCORES"), ("ZUNION", "3", "t1", "t2", "t3", "WITHSCORES"))


def test_ties_and_negative_zero(parity):
    """Equal scores order by member bytes; -0 results reply as -0 but are stored as 0 (listpack)."""
    parity(("ZADD", "a", "0", "m", "1", "n", "1", "b", "1", "a"), ("SADD", "s", "a", "b", "c", b"\x00", "B"),
           ("ZUNION", "2", "a", "s", "WITHSCORES"), ("ZUNION", "1", "a", "WEIGHTS", "-1", "WITHSCORES"),
           ("ZUNIONSTORE", "d", "1", "a", "WEIGHTS", "-1"), ("ZSCORE", "d", "m"),
           ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("ZINTER", "2", "a", "a", "WEIGHTS", "-1", "0", "WITHSCORES"))


# -- STORE forms ------------------------------------------------------------------------------

def test_store_forms(parity):
    """*STORE replies the size, overwrites any type, clears the TTL, and an empty result deletes the destination."""
    setup(parity)
    parity(("SET", "d", "x"), ("EXPIRE", "d", "100"), ("ZUNIONSTORE", "d", "3", "a", "b", "s"), ("TTL", "d"),
           ("TYPE", "d"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
           ("ZINTERSTORE", "d", "2", "a", "b", "WEIGHTS", "2", "3", "AGGREGATE", "MAX"),
           ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("ZDIFFSTORE", "d", "2", "b", "a"),
           ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("ZINTERSTORE", "d", "2", "a", "nokey"), ("EXISTS", "d"),
           ("SET", "d", "x"), ("ZDIFFSTORE", "d", "2", "a", "a"), ("EXISTS", "d"),
           ("SET", "d", "x"), ("ZUNIONSTORE", "d", "1", "nokey"), ("EXISTS", "d"),
           ("ZUNIONSTORE", "a", "2", "a", "b"), ("ZRANGE", "a", "0", "-1", "WITHSCORES"),
           ("ZINTERSTORE", "b", "2", "b", "s"), ("ZRANGE", "b", "0", "-1", "WITHSCORES"),
           ("ZDIFFSTORE", "s", "1", "s"), ("TYPE", "s"), ("ZRANGE", "s", "0", "-1", "WITHSCORES"))


def test_store_encodings(parity):
    """Stored results are listpack up to 128 members of at most 64 bytes, skiplist past either limit."""
    members = []
    for i in range(129):
        members += [str(i), "m%03d" % i]
    parity(("ZADD", "big", *members), ("ZADD", "small", "1", "a", "2", "b"), ("ZADD", "long", "1", "x" * 65),
           ("ZUNIONSTORE", "d1", "1", "big"), ("OBJECT", "ENCODING", "d1"),
           ("ZINTERSTORE", "d2", "2", "big", "big"), ("OBJECT", "ENCODING", "d2"),
           ("ZDIFFSTORE", "d3", "2", "big", "small"), ("OBJECT", "ENCODING", "d3"),
           ("ZREM", "big", "m000"), ("ZUNIONSTORE", "d4", "1", "big"), ("OBJECT", "ENCODING", "d4"),
           ("ZUNIONSTORE", "d5", "2", "small", "long"), ("OBJECT", "ENCODING", "d5"),
           ("ZINTERSTORE", "d6", "2", "small", "long"), ("EXISTS", "d6"),
           ("ZDIFFSTORE", "d7", "2", "long", "small"), ("OBJECT", "ENCODING", "d7"),
           ("ZUNIONSTORE", "d8", "1", "small"), ("OBJECT", "ENCODING", "d8"),
           ("SADD", "iset", "1", "2"), ("ZUNIONSTORE", "d9", "1", "iset"), ("OBJECT", "ENCODING", "d9"),
           ("ZRANGE", "d9", "0", "-1", "WITHSCORES"), ("ZRANGE", "d4", "0", "-1", "WITHSCORES"))


def test_zintercard(parity):
    """ZINTERCARD counts the intersection, stopping at LIMIT (0 means none)."""
    setup(parity)
    parity(("ZINTERCARD", "2", "a", "b"), ("ZINTERCARD", "2", "a", "b", "LIMIT", "1"),
           ("ZINTERCARD", "2", "a", "b", "limit", "0"), ("ZINTERCARD", "2", "a", "b", "LIMIT", "100"),
           ("ZINTERCARD", "3", "a", "b", "s"), ("ZINTERCARD", "1", "s"), ("ZINTERCARD", "2", "a", "nokey"),
           ("ZINTERCARD", "2", "a", "a", "LIMIT", "2"), ("ZINTERCARD", "1", "a", "LIMIT", "1", "LIMIT", "5"))


# -- errors -------------------------------------------------------------------------------------

def test_numkeys_errors(parity):
    """numkeys must be an integer of at least 1 (the message names the command) and not exceed the words left."""
    setup(parity)
    for cmd in ("ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD"):
        parity((cmd, "0", "a"), (cmd, "-1", "a"), (cmd, "x", "a"), (cmd, "1.5", "a"), (cmd, "3", "a", "b"),
               (cmd, "9223372036854775807", "a"), (cmd, "9223372036854775808", "a"), (cmd, "2147483648", "a"))
    for cmd in ("ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"):
        parity((cmd, "d", "0", "a"), (cmd, "d", "-5", "a"), (cmd, "d", "x", "a"), (cmd, "d", "2", "a"),
               ("EXISTS", "d"))


def test_option_errors(parity):
    """Bad WEIGHTS, AGGREGATE, WITHSCORES and LIMIT uses give Redis' errors."""
    setup(parity)
    parity(("ZUNION", "2", "a", "b", "WEIGHTS", "1"), ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"),
           ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "nan"), ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "1e400"),
           ("ZUNION", "2", "a", "b", "WEIGHTS", "1", " 1"), ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "1 "),
           ("ZUNION", "2", "a", "b", "WEIGHTS", "1", ""), ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "1e-400"),
           ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "2", "3"), ("ZUNION", "2", "a", "b", "AGGREGATE", "foo"),
           ("ZUNION", "2", "a", "b", "AGGREGATE"), ("ZUNION", "2", "a", "b", "foo"),
           ("ZUNION", "2", "a", "b", "LIMIT", "1"), ("ZINTER", "2", "a", "b", "WEIGHTS", "x", "1"),
           ("ZDIFF", "2", "a", "b", "WEIGHTS", "1", "1"), ("ZDIFF", "2", "a", "b", "AGGREGATE", "MAX"),
           ("ZDIFFSTORE", "d", "2", "a", "b", "WITHSCORES"), ("ZUNIONSTORE", "d", "2", "a", "b", "WITHSCORES"),
           ("ZINTERSTORE", "d", "2", "a", "b", "AGGREGATE", "avg"), ("EXISTS", "d"),
           ("ZINTERCARD", "2", "a", "b", "LIMIT", "-1"), ("ZINTERCARD", "2", "a", "b", "LIMIT", "x"),
           ("ZINTERCARD", "2", "a", "b", "LIMIT", "9223372036854775808"), ("ZINTERCARD", "2", "a", "b", "LIMIT"),
           ("ZINTERCARD", "2", "a", "b", "WEIGHTS", "1", "1"), ("ZINTERCARD", "2", "a", "b", "WITHSCORES"),
           ("ZINTERCARD", "2", "a", "b", "AGGREGATE", "SUM"))


def test_wrongtype(parity):
    """A key of another type (a plain set is fine) gives WRONGTYPE, even before a syntax or weight error."""
    setup(parity)
    parity(("ZUNION", "2", "a", "str"), ("ZINTER", "2", "nokey", "str"), ("ZDIFF", "2", "a", "str"),
           ("ZUNION", "2", "a", "str", "foo"), ("ZUNION", "2", "a", "str", "WEIGHTS", "x", "y"),
           ("ZINTERSTORE", "d", "1", "str", "WITHSCORES"), ("ZUNIONSTORE", "d", "2", "str", "a"),
           ("ZDIFFSTORE", "d", "2", "nokey", "str"), ("ZINTERCARD", "2", "a", "str"),
           ("ZINTERCARD", "1", "str", "LIMIT", "-1"), ("EXISTS", "d"),
           ("ZINTERSTORE", "str", "2", "a", "b"), ("TYPE", "str"))


def test_arity(parity):
    """Too few words give the arity error."""
    parity(("ZUNION", "1"), ("ZINTER", "1"), ("ZDIFF", "1"), ("ZUNIONSTORE", "d", "1"), ("ZINTERSTORE", "d", "0"),
           ("ZDIFFSTORE", "d"), ("ZINTERCARD", "1"), ("ZUNION",))


# -- RESP3 ----------------------------------------------------------------------------------------

def test_resp3_shapes(parity):
    """RESP3: members are an array, WITHSCORES nested [member, double] pairs; inf and -0 as doubles."""
    parity.resp3()
    setup(parity)
    parity(("ZUNION", "3", "a", "b", "s"), ("ZUNION", "3", "a", "b", "s", "WITHSCORES"),
           ("ZINTER", "2", "a", "b", "WITHSCORES"), ("ZDIFF", "2", "b", "a", "WITHSCORES"),
           ("ZDIFF", "1", "nokey", "WITHSCORES"), ("ZINTERCARD", "2", "a", "b"),
           ("ZUNIONSTORE", "d", "2", "a", "b"), ("ZUNION", "1", "a", "WEIGHTS", "inf", "WITHSCORES"),
           ("ZUNION", "1", "a", "WEIGHTS", "-0.0", "WITHSCORES"), ("ZUNION", "1", "a", "WEIGHTS", "0.1", "WITHSCORES"))


# -- properties ---------------------------------------------------------------------------------

_MEMBERS = st.sampled_from(["a", "b", "c", "d", "1", "2"])
_SCORES = st.sampled_from(["0", "1", "-1", "2.5", "0.1", "1e16", "inf", "-inf", "-0", "3"])
_KEYS = st.sampled_from(["z1", "z2", "z3", "s1", "nokey"])
_WEIGHTS = st.sampled_from(["1", "0", "-1", "0.5", "inf", "-inf", "3", "1e16"])


@st.composite
def _algebra_command(draw):
    cmd = draw(st.sampled_from(["ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE",
                                "ZINTERCARD"]))
    keys = draw(st.lists(_KEYS, min_size=1, max_size=4))
    words = [cmd] + (["dst"] if cmd.endswith("STORE") else []) + [str(len(keys))] + keys
    if cmd not in ("ZDIFF", "ZDIFFSTORE", "ZINTERCARD"):
        if draw(st.booleans()):
            words += ["WEIGHTS"] + [draw(_WEIGHTS) for _ in keys]
        if draw(st.booleans()):
            words += ["AGGREGATE", draw(st.sampled_from(["SUM", "MIN", "MAX"]))]
    if cmd == "ZINTERCARD" and draw(st.booleans()):
        words += ["LIMIT", draw(st.sampled_from(["0", "1", "2"]))]
    if not cmd.endswith("STORE") and cmd != "ZINTERCARD" and draw(st.booleans()):
        words.append("WITHSCORES")
    return tuple(words)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_SCORES, _MEMBERS), max_size=6), st.lists(st.tuples(_SCORES, _MEMBERS), max_size=6),
       st.lists(st.tuples(_SCORES, _MEMBERS), max_size=6), st.lists(_MEMBERS, max_size=4),
       st.lists(_algebra_command(), min_size=1, max_size=6))
def test_random_algebra_matches_redis(parity, z1, z2, z3, s1, commands):
    """Random inputs (infinities, -0, ties, plain sets) and random algebra commands give Redis' exact bytes."""
    parity(("DEL", "z1", "z2", "z3", "s1", "dst"))
    for key, pairs in (("z1", z1), ("z2", z2), ("z3", z3)):
        if pairs:
            parity(("ZADD", key) + tuple(w for pair in pairs for w in pair))
    if s1:
        parity(("SADD", "s1") + tuple(s1))
    for cmd in commands:
        parity(cmd)
        if cmd[0].endswith("STORE"):
            parity(("ZRANGE", "dst", "0", "-1", "WITHSCORES"), ("OBJECT", "ENCODING", "dst"))


# -- unit tests (sonic only) --------------------------------------------------------------------

def test_keyspace_stats():
    """Every input key is a read lookup (hits and misses counted), the STORE forms' too."""
    server = make_server()
    client = Client(server)
    call(client, "ZADD", "a", "1", "x")
    hits, misses = server.stat_keyspace_hits, server.stat_keyspace_misses
    call(client, "ZUNIONSTORE", "d", "2", "a", "nokey")
    call(client, "ZINTERCARD", "1", "a")
    assert (server.stat_keyspace_hits, server.stat_keyspace_misses) == (hits + 2, misses + 1)


def test_inter_walks_smallest_input():
    """ZINTER and ZINTERCARD with a huge and a tiny input cost about the tiny one's size."""
    server = make_server()
    client = Client(server)
    for i in range(0, 100000, 1000):
        call(client, "ZADD", "big", *[w for j in range(i, i + 1000) for w in (str(j), "m%d" % j)])
    call(client, "SADD", "tiny", "m1", "m2", "m3")
    start = time.perf_counter()
    for _ in range(50):
        assert call(client, "ZINTER", "2", "big", "tiny") == [b"m1", b"m2", b"m3"]
        assert call(client, "ZINTERCARD", "2", "tiny", "big") == 3
    assert time.perf_counter() - start < 0.5


def test_command_getkeys(parity):
    """COMMAND GETKEYS finds the numkeys-counted keys (and the destination) of every algebra command."""
    parity(("COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"),
           ("COMMAND", "GETKEYS", "ZINTER", "3", "a", "b", "c", "WITHSCORES"),
           ("COMMAND", "GETKEYS", "ZDIFFSTORE", "d", "1", "a"),
           ("COMMAND", "GETKEYS", "ZINTERCARD", "2", "a", "b", "LIMIT", "1"),
           ("COMMAND", "GETKEYSANDFLAGS", "ZINTERSTORE", "d", "2", "a", "b"),
           ("COMMAND", "GETKEYS", "ZUNION", "5", "a"))

"""Sets (t_set.c) against Redis 7.0: replies, errors, encodings, RESP3 shapes, random picks.

Redis replies a hashtable-encoded set in its hash table's order, which no
Python set reproduces, so those replies are compared as sorted lists
(L{same_members}).  Intset-encoded sets (small all-integer sets) reply in
ascending numeric order in Redis, and sonic matches that byte for byte: the
plain C{parity(...)} cases use them.  SPOP and SRANDMEMBER are random: their
parity cases compare shapes and sizes, and unit tests check the picks.
"""

import collections
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonic.commands.containers import MAX_RANDOM_REPLY
from sonic.commands import sets
from sonic.commands.sets import Set
from sonic.resp import NULL_ARRAY, Error, RSet
from tests.helpers import Client, call, make_server

WRONGTYPE = Error("WRONGTYPE Operation against a key holding the wrong kind of value")


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
    if t in (b"*", b"~", b">"):
        n = int(head)
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


def same_members(parity, *commands):
    """Run each command on both servers; assert the replies hold the same members in any order."""
    for cmd in commands:
        expected = parity.real.call(*cmd)
        got = parity.sonic.call(*cmd)
        assert canon(decode(got)[0]) == canon(decode(expected)[0]), (
            "%r: sonic %r != redis %r" % (cmd, got, expected))


def canon(value):
    """A decoded reply with every aggregate's items sorted (nested ones too)."""
    if isinstance(value, tuple) and isinstance(value[1], list):
        return (value[0], sorted((canon(v) for v in value[1]), key=repr))
    return value


def both(parity, *cmd):
    """The decoded replies of (sonic, redis) to one command."""
    return decode(parity.sonic.call(*cmd))[0], decode(parity.real.call(*cmd))[0]


def ints(lo, hi):
    """Integer members lo..hi-1 as strings, shuffled (Redis sorts an intset)."""
    members = [str(i) for i in range(lo, hi)]
    random.Random(hi).shuffle(members)
    return members


# -- SADD, SREM, SCARD, SISMEMBER, SMISMEMBER, SMEMBERS -------------------------------

def test_sadd_srem_counts(parity):
    """SADD counts new members only (duplicates too), SREM counts removed ones; an emptied set disappears."""
    parity(("SADD", "s", "1", "2", "2", "3"), ("SADD", "s", "3", "4"), ("SADD", "s", "4"),
           ("SCARD", "s"), ("SREM", "s", "1", "1", "9"), ("SREM", "s", "9"), ("SCARD", "s"),
           ("SREM", "s", "2", "3", "4", "5"), ("EXISTS", "s"), ("SCARD", "s"),
           ("SREM", "nokey", "a"), ("SCARD", "nokey"))


def test_membership(parity):
    """SISMEMBER and SMISMEMBER answer 1/0 per member, also for a missing key and empty or binary members."""
    parity(("SADD", "s", "a", "", b"\x00\xff", "1"),
           ("SISMEMBER", "s", "a"), ("SISMEMBER", "s", "b"), ("SISMEMBER", "s", ""),
           ("SISMEMBER", "s", b"\x00\xff"), ("SISMEMBER", "nokey", "a"),
           ("SMISMEMBER", "s", "a", "b", "", "a", "1"), ("SMISMEMBER", "nokey", "a", "b"),
           ("SMISMEMBER", "s", "zz"))


def test_smembers_intset_order(parity):
    """An intset answers SMEMBERS in ascending numeric order, 64-bit extremes included."""
    parity(("SADD", "s", "10", "-3", "2", "0", "9223372036854775807", "-9223372036854775808", "7"),
           ("SMEMBERS", "s"), ("OBJECT", "ENCODING", "s"), ("SADD", "s", *ints(-40, 40)),
           ("SMEMBERS", "s"), ("SMEMBERS", "nokey"))


def test_smembers_hashtable(parity):
    """A hashtable set answers SMEMBERS with the same members (order is the hash table's)."""
    parity(("SADD", "s", "a", "b", "c", "1", "x" * 100), ("OBJECT", "ENCODING", "s"))
    same_members(parity, ("SMEMBERS", "s"))
    parity(("SADD", "one", "hello"), ("SMEMBERS", "one"))


# -- encodings ------------------------------------------------------------------------

def test_intset_canonical_integers(parity):
    """Only canonical 64-bit integers (string2ll) keep a set an intset: -0, 01, +1, spaces and 2**63 do not."""
    cases = ["-0", "01", "+1", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1.0", "0x1", ""]
    for i, word in enumerate(cases):
        parity(("SADD", "k%d" % i, "5", word), ("OBJECT", "ENCODING", "k%d" % i))
    parity(("SADD", "n", "-9223372036854775808"), ("OBJECT", "ENCODING", "n"),
           ("SADD", "first", "a", "1"), ("OBJECT", "ENCODING", "first"))


def test_intset_limit_and_one_way(parity):
    """512 integers stay an intset, the 513th converts it, and shrinking never converts it back."""
    parity(("SADD", "s", *ints(0, 512)), ("OBJECT", "ENCODING", "s"), ("SADD", "s", "5"),
           ("OBJECT", "ENCODING", "s"), ("SADD", "s", "512"), ("OBJECT", "ENCODING", "s"),
           ("SREM", "s", *[str(i) for i in range(10, 513)]), ("SCARD", "s"),
           ("OBJECT", "ENCODING", "s"), ("SADD", "t", "1", "a"), ("SREM", "t", "a"),
           ("OBJECT", "ENCODING", "t"), ("SADD", "t", "2"), ("OBJECT", "ENCODING", "t"))
    same_members(parity, ("SMEMBERS", "s"))


def test_intset_entries_config(parity):
    """set-max-intset-entries decides the conversion at the next added member (0: never an intset)."""
    try:
        parity(("CONFIG", "SET", "set-max-intset-entries", "3"), ("SADD", "s", "1", "2", "3"),
               ("OBJECT", "ENCODING", "s"), ("SADD", "s", "4"), ("OBJECT", "ENCODING", "s"),
               ("SADD", "t", "1", "2", "3", "4"), ("OBJECT", "ENCODING", "t"),
               ("SADD", "u", "1", "2"), ("CONFIG", "SET", "set-max-intset-entries", "1"),
               ("OBJECT", "ENCODING", "u"), ("SADD", "u", "2"), ("OBJECT", "ENCODING", "u"),
               ("SADD", "u", "3"), ("OBJECT", "ENCODING", "u"),
               ("CONFIG", "SET", "set-max-intset-entries", "0"), ("SADD", "z", "1"),
               ("OBJECT", "ENCODING", "z"))
    finally:
        parity(("CONFIG", "SET", "set-max-intset-entries", "512"))


def test_store_result_encodings(parity):
    """*STORE results and SMOVE's new destination are encoded as new sets: intset iff all integers."""
    parity(("SADD", "m", "1", "2", "a"), ("SADD", "n", "1", "2", "b"),
           ("SINTERSTORE", "r1", "m", "n"), ("OBJECT", "ENCODING", "r1"), ("SMEMBERS", "r1"),
           ("SDIFFSTORE", "r2", "m", "n"), ("OBJECT", "ENCODING", "r2"),
           ("SUNIONSTORE", "r3", "m", "n"), ("OBJECT", "ENCODING", "r3"),
           ("SADD", "big", *ints(0, 600)), ("SREM", "big", *[str(i) for i in range(5, 600)]),
           ("OBJECT", "ENCODING", "big"), ("SUNIONSTORE", "r4", "big"), ("OBJECT", "ENCODING", "r4"),
           ("SMEMBERS", "r4"), ("SINTERSTORE", "r5", "big", "big"), ("OBJECT", "ENCODING", "r5"),
           ("SADD", "huge", *ints(0, 600)), ("SUNIONSTORE", "r6", "huge"), ("OBJECT", "ENCODING", "r6"),
           ("SADD", "src", "7", "x"), ("SMOVE", "src", "d1", "7"), ("OBJECT", "ENCODING", "d1"),
           ("SMOVE", "src", "d2", "x"), ("OBJECT", "ENCODING", "d2"),
           ("SADD", "d3", "1"), ("SADD", "src2", "y"), ("SMOVE", "src2", "d3", "y"),
           ("OBJECT", "ENCODING", "d3"))


def test_spop_rebuild_reencodes(parity):
    """SPOP taking most of a big set rebuilds it from the survivors, so all-integer survivors make an intset."""
    parity(("SADD", "s", *ints(0, 600)), ("OBJECT", "ENCODING", "s"))
    sonic, real = both(parity, "SPOP", "s", "590")
    assert len(sonic[1]) == len(real[1]) == 590 and len(set(sonic[1])) == 590
    parity(("OBJECT", "ENCODING", "s"), ("SCARD", "s"))
    parity(("SADD", "t", *ints(0, 600)))
    sonic, real = both(parity, "SPOP", "t", "400")  # few enough to pop one by one
    assert len(sonic[1]) == len(real[1]) == 400
    parity(("OBJECT", "ENCODING", "t"), ("SCARD", "t"))


def test_copy_keeps_encoding(parity):
    """COPY, RENAME and TYPE treat sets as Redis does; a copy keeps a shrunk hashtable's encoding."""
    parity(("SADD", "s", *ints(0, 513)), ("SREM", "s", *[str(i) for i in range(3, 513)]),
           ("COPY", "s", "c"), ("OBJECT", "ENCODING", "c"), ("TYPE", "c"),
           ("SADD", "c", "99"), ("SCARD", "s"), ("SCARD", "c"), ("RENAME", "c", "d"),
           ("TYPE", "d"), ("SADD", "i", "3", "1"), ("COPY", "i", "j"), ("OBJECT", "ENCODING", "j"),
           ("SMEMBERS", "j"))
    same_members(parity, ("SMEMBERS", "s"), ("SCAN", "0", "TYPE", "set", "COUNT", "100"))


# -- errors ------------------------------------------------------------------------------

def test_wrongtype_everywhere(parity):
    """Every set command refuses a string key, also as a later key of SINTER/SUNION/SDIFF and when an earlier key is missing."""
    parity(("SET", "str", "x"), ("SADD", "s", "1"),
           ("SADD", "str", "a"), ("SREM", "str", "a"), ("SMEMBERS", "str"), ("SISMEMBER", "str", "a"),
           ("SMISMEMBER", "str", "a"), ("SCARD", "str"), ("SPOP", "str"), ("SPOP", "str", "0"),
           ("SPOP", "str", "2"), ("SRANDMEMBER", "str"), ("SRANDMEMBER", "str", "0"),
           ("SRANDMEMBER", "str", "-2"), ("SMOVE", "str", "s", "a"), ("SMOVE", "s", "str", "1"),
           ("SINTER", "s", "str"), ("SINTER", "nokey", "str"), ("SINTER", "s", "nokey", "str"),
           ("SINTERSTORE", "d", "s", "str"), ("SINTERSTORE", "d", "nokey", "str"),
           ("SINTERCARD", "2", "s", "str"), ("SINTERCARD", "2", "nokey", "str"),
           ("SUNION", "s", "str"), ("SUNIONSTORE", "d", "s", "str"), ("SDIFF", "s", "str"),
           ("SDIFF", "nokey", "str"), ("SDIFFSTORE", "d", "nokey", "str"), ("SSCAN", "str", "0"),
           ("EXISTS", "d"), ("GET", "str"), ("SCARD", "s"))


def test_arity(parity):
    """Too few words give the arity error before anything else."""
    parity(("SADD", "s"), ("SREM", "s"), ("SMEMBERS",), ("SMEMBERS", "a", "b"), ("SISMEMBER", "s"),
           ("SMISMEMBER", "s"), ("SCARD",), ("SPOP",), ("SRANDMEMBER",), ("SMOVE", "a", "b"),
           ("SINTER",), ("SINTERSTORE", "d"), ("SINTERCARD",), ("SINTERCARD", "1"), ("SUNION",),
           ("SUNIONSTORE", "d"), ("SDIFF",), ("SDIFFSTORE", "d"), ("SSCAN", "s"))


def test_spop_count_errors(parity):
    """SPOP's count must be a non-negative integer ('must be positive'), checked before the key; more words are a syntax error."""
    parity(("SET", "str", "x"), ("SADD", "s", "a"),
           ("SPOP", "s", "-1"), ("SPOP", "nokey", "-1"), ("SPOP", "str", "-1"), ("SPOP", "s", "x"),
           ("SPOP", "s", "-0"), ("SPOP", "s", "1.5"), ("SPOP", "s", "9223372036854775808"),
           ("SPOP", "s", "1", "2"), ("SPOP", "str", "1", "2"), ("SCARD", "s"))


def test_srandmember_count_errors(parity):
    """SRANDMEMBER's count: not an integer, -0, or below -LONG_MAX give Redis' two errors, before the key."""
    parity(("SET", "str", "x"), ("SADD", "s", "a"),
           ("SRANDMEMBER", "s", "x"), ("SRANDMEMBER", "s", "-0"), ("SRANDMEMBER", "s", "1.0"),
           ("SRANDMEMBER", "s", "9223372036854775808"), ("SRANDMEMBER", "s", "-9223372036854775808"),
           ("SRANDMEMBER", "str", "-9223372036854775808"), ("SRANDMEMBER", "nokey", "x"),
           ("SRANDMEMBER", "s", "1", "2"), ("SRANDMEMBER", "str", "1", "2"))


def test_sintercard_errors(parity):
    """SINTERCARD's numkeys and LIMIT errors, checked before the keys are read."""
    parity(("SADD", "s", "1", "2", "3"), ("SADD", "t", "2", "3", "4"), ("SET", "str", "x"),
           ("SINTERCARD", "0", "s"), ("SINTERCARD", "-1", "s"), ("SINTERCARD", "x", "s"),
           ("SINTERCARD", "9223372036854775808", "s"), ("SINTERCARD", "3", "s", "t"),
           ("SINTERCARD", "2", "s", "t", "LIMIT", "-1"), ("SINTERCARD", "2", "s", "t", "limit", "x"),
           ("SINTERCARD", "2", "s", "t", "LIMIT", "9223372036854775808"),
           ("SINTERCARD", "2", "s", "t", "LIMIT"), ("SINTERCARD", "2", "s", "t", "foo"),
           ("SINTERCARD", "1", "s", "t"), ("SINTERCARD", "1", "str", "foo"),
           ("SINTERCARD", "1", "s", "LIMIT", "1", "LIMIT"), ("SINTERCARD", "1", "str", "LIMIT", "-1"))


def test_command_getkeys(parity):
    """COMMAND GETKEYS finds SINTERCARD's numkeys-counted keys and the destinations of SMOVE and the STORE forms."""
    parity(("COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b", "LIMIT", "1"),
           ("COMMAND", "GETKEYS", "SINTERCARD", "3", "a", "b"),
           ("COMMAND", "GETKEYSANDFLAGS", "SMOVE", "a", "b", "m"),
           ("COMMAND", "GETKEYSANDFLAGS", "SDIFFSTORE", "d", "a", "b"),
           ("COMMAND", "GETKEYS", "SUNION", "a", "b", "c"))


# -- SPOP and SRANDMEMBER -------------------------------------------------------------------

def test_spop_deterministic_cases(parity):
    """Count 0, a missing key, and counts covering the whole set (huge ones too) are deterministic."""
    parity(("SADD", "s", "3", "1", "2"), ("SPOP", "s", "0"), ("SPOP", "nokey", "0"), ("SPOP", "nokey", "5"),
           ("SPOP", "nokey"), ("SPOP", "s", "3"), ("EXISTS", "s"),
           ("SADD", "s", "5", "-1"), ("SPOP", "s", "9223372036854775807"), ("EXISTS", "s"),
           ("SADD", "one", "x"), ("SPOP", "one"), ("EXISTS", "one"), ("SADD", "one", "y"),
           ("SPOP", "one", "1"), ("EXISTS", "one"),
           # A shrunk hashtable of integers still pops everything in ascending order.
           ("SADD", "h", *ints(0, 600)), ("SREM", "h", *[str(i) for i in range(8, 600)]),
           ("OBJECT", "ENCODING", "h"), ("SPOP", "h", "8"), ("EXISTS", "h"))


def test_spop_random_cases(parity):
    """SPOP with a count below the size pops that many distinct members, and the rest stays."""
    for cmd in (("SPOP", "s", "2"), ("SPOP", "s")):
        parity(("DEL", "s"), ("SADD", "s", "a", "b", "c", "d", "1"))
        sonic, real = both(parity, *cmd)
        if len(cmd) == 3:
            assert sonic[0] == real[0] == b"*" and len(sonic[1]) == len(real[1]) == 2
            popped = sonic[1]
        else:
            popped = [sonic]
        assert len(set(popped)) == len(popped)
        members = decode(parity.sonic.call("SMEMBERS", "s"))[0][1]
        assert sorted(members + popped) == sorted([b"a", b"b", b"c", b"d", b"1"])
        parity(("SCARD", "s"))


def test_srandmember_deterministic_cases(parity):
    """Count 0, a missing key and counts covering an intset answer the same bytes (intsets in ascending order)."""
    parity(("SADD", "s", "30", "-1", "2"), ("SRANDMEMBER", "s", "0"), ("SRANDMEMBER", "s", "3"),
           ("SRANDMEMBER", "s", "1000"), ("SRANDMEMBER", "s", "9223372036854775807"),
           ("SRANDMEMBER", "nokey"), ("SRANDMEMBER", "nokey", "0"), ("SRANDMEMBER", "nokey", "5"),
           ("SRANDMEMBER", "nokey", "-5"), ("SADD", "one", "x"), ("SRANDMEMBER", "one"),
           ("SRANDMEMBER", "one", "-3"), ("SRANDMEMBER", "one", "1"), ("SCARD", "s"))


def test_srandmember_random_cases(parity):
    """Positive counts give distinct members, negative counts exactly that many (with repeats)."""
    members = [b"a", b"b", b"c", b"d", b"1"]
    parity(("SADD", "s", *members))
    for count in ("2", "4", "-3", "-20", "5", "6"):
        sonic, real = both(parity, "SRANDMEMBER", "s", count)
        assert sonic[0] == real[0] == b"*"
        assert len(sonic[1]) == len(real[1])
        assert set(sonic[1]) <= set(members)
        if not count.startswith("-"):
            assert len(set(sonic[1])) == len(sonic[1])
    sonic, real = both(parity, "SRANDMEMBER", "s")
    assert sonic in members and real in members


# -- SMOVE ----------------------------------------------------------------------------------

def test_smove(parity):
    """SMOVE moves one member, deletes an emptied source, creates the destination, keeps its TTL."""
    parity(("SADD", "s", "1", "2"), ("SMOVE", "s", "s", "1"), ("SMOVE", "s", "s", "9"),
           ("SMOVE", "s", "d", "9"), ("SMOVE", "s", "d", "1"), ("SMEMBERS", "s"), ("SMEMBERS", "d"),
           ("SADD", "d", "2"), ("SMOVE", "s", "d", "2"), ("EXISTS", "s"), ("SMEMBERS", "d"),
           ("SMOVE", "nokey", "d", "1"), ("SADD", "e", "5"), ("EXPIRE", "e", "100"),
           ("SADD", "f", "5"), ("SMOVE", "f", "e", "5"), ("TTL", "e"), ("EXISTS", "f"))


def test_smove_wrongtype(parity):
    """A missing source answers 0 even when the destination is of another type; otherwise WRONGTYPE."""
    parity(("SET", "str", "x"), ("SADD", "s", "1"), ("SMOVE", "nokey", "str", "1"),
           ("SMOVE", "s", "str", "1"), ("SMOVE", "s", "str", "9"), ("SMOVE", "str", "s", "1"),
           ("SMOVE", "str", "str", "1"), ("SMEMBERS", "s"))


# -- SINTER, SUNION, SDIFF and their STORE forms ------------------------------------------------

def test_algebra_on_intsets(parity):
    """Integer results come back in ascending order, for SINTER (smallest set an intset), SUNION and SDIFF."""
    parity(("SADD", "a", "5", "1", "3", "7", "9"), ("SADD", "b", "3", "9", "1", "11"),
           ("SADD", "c", "1", "3", "100"), ("SADD", "x", "a", "1", "3", "5"),
           ("SINTER", "a", "b"), ("SINTER", "a", "b", "c"), ("SINTER", "a"), ("SINTER", "a", "a"),
           ("SUNION", "a", "b", "c"), ("SUNION", "a", "nokey"),
           ("SDIFF", "a", "b"), ("SDIFF", "a", "b", "c"), ("SDIFF", "b", "a"), ("SDIFF", "a", "nokey"),
           ("SDIFF", "x", "a"), ("SDIFF", "x", "a", "x"), ("SINTER", "b", "x"), ("SINTER", "b", "x", "a"),
           ("SINTER", "a", "nokey"), ("SUNION", "nokey"), ("SDIFF", "nokey", "a"),
           ("SINTERCARD", "2", "a", "b"), ("SINTERCARD", "3", "a", "b", "c", "LIMIT", "1"),
           ("SINTERCARD", "1", "a", "LIMIT", "3"), ("SINTERCARD", "1", "a", "LIMIT", "0"),
           ("SINTERCARD", "2", "a", "nokey"))
    # Mixed results: a hashtable temporary set (Redis' order is its hash table's).
    same_members(parity, ("SUNION", "x", "a", "b"), ("SINTER", "x", "a", "b"), ("SINTER", "x", "b"),
                 ("SDIFF", "x", "b"))


def test_algebra_on_hashtables(parity):
    """Non-integer members: same results as Redis, compared without order."""
    parity(("SADD", "a", "x", "y", "z", "1"), ("SADD", "b", "y", "z", "w", "1"), ("SADD", "c", "z", "q"))
    same_members(parity, ("SINTER", "a", "b"), ("SINTER", "a", "b", "c"), ("SUNION", "a", "b", "c"),
                 ("SDIFF", "a", "b"), ("SDIFF", "a", "c", "b"), ("SINTER", "b", "a"))
    parity(("SINTERCARD", "2", "a", "b"), ("SINTERCARD", "2", "a", "b", "LIMIT", "2"),
           ("SINTERCARD", "3", "a", "b", "c"), ("SINTERSTORE", "d", "a", "b"), ("SCARD", "d"),
           ("SUNIONSTORE", "d", "a", "b", "c"), ("SCARD", "d"), ("SDIFFSTORE", "d", "a", "b"),
           ("SCARD", "d"), ("SDIFF", "c", "a"))
    same_members(parity, ("SMEMBERS", "d"))


def test_store_replaces_and_deletes(parity):
    """*STORE overwrites any type, clears the TTL, may name a source, and an empty result deletes the destination."""
    parity(("SADD", "a", "1", "2"), ("SADD", "b", "3"), ("SET", "d", "x"), ("EXPIRE", "d", "100"),
           ("SUNIONSTORE", "d", "a", "b"), ("TYPE", "d"), ("TTL", "d"), ("SMEMBERS", "d"),
           ("SINTERSTORE", "d", "a", "b"), ("EXISTS", "d"),
           ("SET", "d", "x"), ("SDIFFSTORE", "d", "a", "a"), ("EXISTS", "d"),
           ("SET", "d", "x"), ("SINTERSTORE", "d", "a", "nokey"), ("EXISTS", "d"),
           ("SET", "d", "x"), ("SUNIONSTORE", "d", "nokey"), ("EXISTS", "d"),
           ("SDIFFSTORE", "d", "nokey", "a"), ("SINTERSTORE", "a", "a", "b"), ("EXISTS", "a"),
           ("SADD", "a", "1", "2"), ("SUNIONSTORE", "a", "a", "b"), ("SMEMBERS", "a"),
           ("SDIFFSTORE", "a", "a", "b"), ("SMEMBERS", "a"))


# -- SSCAN --------------------------------------------------------------------------------------

def test_sscan_intset(parity):
    """An intset comes back whole with cursor 0, COUNT ignored, MATCH applied."""
    parity(("SADD", "s", *ints(0, 100)), ("SSCAN", "s", "0"), ("SSCAN", "s", "0", "COUNT", "1"),
           ("SSCAN", "s", "0", "MATCH", "1*"), ("SSCAN", "s", "0", "match", "*5", "count", "3"),
           ("SSCAN", "s", "7"), ("SSCAN", "nokey", "0"))


def test_sscan_errors(parity):
    """The cursor is checked first, then the key (a missing key answers before the options are read), then the options."""
    parity(("SADD", "s", "1"), ("SET", "str", "x"),
           ("SSCAN", "s", "x"), ("SSCAN", "nokey", "x"), ("SSCAN", "str", "x"), ("SSCAN", "s", "-1"),
           ("SSCAN", "nokey", "0", "COUNT", "0"), ("SSCAN", "nokey", "0", "FOO"),
           ("SSCAN", "s", "0", "COUNT", "0"), ("SSCAN", "s", "0", "COUNT", "x"), ("SSCAN", "s", "0", "FOO"),
           ("SSCAN", "s", "0", "MATCH"), ("SSCAN", "str", "0", "COUNT", "0"), ("SSCAN", "s", "0", "TYPE", "set"),
           ("SSCAN", "s", "0", "COUNT", "-1"), ("SSCAN", "s", "18446744073709551615"),
           ("SSCAN", "s", "18446744073709551616"), ("SSCAN", "s", "+0"))


def test_sscan_hashtable_full_iteration(parity):
    """A full SSCAN of a hashtable set returns every member at least once, with MATCH filtering."""
    members = ["m%d" % i for i in range(300)]
    parity(("SADD", "s", *members))
    for pattern in ("*", "m1*"):
        seen = {}
        for side, client in (("sonic", parity.sonic), ("real", parity.real)):
            cursor, found = b"0", set()
            while True:
                reply = decode(client.call("SSCAN", "s", cursor, "MATCH", pattern, "COUNT", "20"))[0][1]
                cursor = reply[0]
                found.update(reply[1][1])
                if cursor == b"0":
                    break
            seen[side] = found
        assert seen["sonic"] == seen["real"]


# -- RESP3 --------------------------------------------------------------------------------------

def test_resp3_shapes(parity):
    """RESP3: SMEMBERS, SINTER, SUNION, SDIFF and SPOP with a count are sets; SRANDMEMBER, SMISMEMBER, SSCAN arrays."""
    parity.resp3()
    parity(("SADD", "s", "3", "1", "2"), ("SADD", "t", "2", "3", "4"),
           ("SMEMBERS", "s"), ("SMEMBERS", "nokey"), ("SINTER", "s", "t"), ("SINTER", "s", "nokey"),
           ("SUNION", "s", "t"), ("SDIFF", "s", "t"), ("SDIFF", "nokey"), ("SMISMEMBER", "s", "1", "9"),
           ("SPOP", "s", "0"), ("SPOP", "nokey", "3"), ("SRANDMEMBER", "s", "0"),
           ("SRANDMEMBER", "s", "10"), ("SRANDMEMBER", "nokey", "3"), ("SRANDMEMBER", "nokey"),
           ("SPOP", "nokey"), ("SSCAN", "s", "0"), ("SSCAN", "nokey", "0"), ("SISMEMBER", "s", "1"),
           ("SINTERCARD", "2", "s", "t"), ("SPOP", "t", "5"), ("SCARD", "t"))
    sonic, real = both(parity, "SPOP", "s", "2")
    assert sonic[0] == real[0] == b"~" and len(sonic[1]) == 2
    sonic, real = both(parity, "SRANDMEMBER", "s", "-3")
    assert sonic[0] == real[0] == b"*" and len(sonic[1]) == 3


# -- properties against Redis -----------------------------------------------------------------

_MEMBERS = st.sampled_from(["1", "2", "3", "10", "-5", "a", "b", "c", "", "007"])
_KEYS = st.sampled_from(["k1", "k2", "k3", "str"])
_COMMANDS = st.one_of(
    st.tuples(st.just("SADD"), _KEYS, _MEMBERS, _MEMBERS),
    st.tuples(st.just("SREM"), _KEYS, _MEMBERS, _MEMBERS),
    st.tuples(st.just("SMOVE"), _KEYS, _KEYS, _MEMBERS),
    st.tuples(st.sampled_from(["SINTER", "SUNION", "SDIFF"]), _KEYS, _KEYS),
    st.tuples(st.sampled_from(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), _KEYS, _KEYS, _KEYS),
    st.tuples(st.just("SINTERCARD"), st.just("2"), _KEYS, _KEYS, st.just("LIMIT"),
              st.sampled_from(["0", "1", "2"])),
    st.tuples(st.sampled_from(["SMEMBERS", "SCARD"]), _KEYS),
    st.tuples(st.just("SISMEMBER"), _KEYS, _MEMBERS),
    st.tuples(st.just("OBJECT"), st.just("ENCODING"), _KEYS),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_COMMANDS, min_size=1, max_size=25))
def test_random_commands_match_redis(parity, commands):
    """Random sequences of set commands over a few keys (one a string) give Redis' replies, up to member order."""
    parity(("DEL", "k1", "k2", "k3", "str"), ("SET", "str", "x"))
    same_members(parity, *commands)


# -- unit tests (sonic only) ------------------------------------------------------------------

def test_srandmember_huge_negative_count_refused():
    """A negative count past MAX_RANDOM_REPLY is refused (Redis would try to build the reply and never finish)."""
    server = make_server()
    client = Client(server)
    call(client, "SADD", "s", "a")
    result = call(client, "SRANDMEMBER", "s", str(-(MAX_RANDOM_REPLY + 1)))
    assert isinstance(result, Error) and "out of range" in result.message
    assert len(call(client, "SRANDMEMBER", "s", "-1000")) == 1000


def test_random_picks_are_uniform_on_big_sets():
    """SRANDMEMBER and SPOP on a pooled (big) set pick every member about equally often, after SREM/SADD churn."""
    server = make_server()
    client = Client(server)
    members = ["m%d" % i for i in range(200)]
    call(client, "SADD", "s", *members)
    call(client, "SRANDMEMBER", "s")  # builds the pool
    for _ in range(50):  # churn: removed and re-added members must not be over-weighted
        call(client, "SREM", "s", "m1", "m2")
        assert len(call(client, "SRANDMEMBER", "s", "-100")) == 100  # meets stale slots
        call(client, "SADD", "s", "m1", "m2", "extra")
        call(client, "SREM", "s", "extra")
    counts = collections.Counter(call(client, "SRANDMEMBER", "s", "-40000"))
    assert set(counts) == {m.encode() for m in members}
    assert max(counts.values()) < 2 * 40000 / 200
    popped = [call(client, "SPOP", "s") for _ in range(200)]
    assert sorted(popped) == sorted(m.encode() for m in members)
    assert call(client, "EXISTS", "s") == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["sadd", "srem", "spop", "srandmember", "smove", "spopn"]),
                          st.lists(st.integers(0, 150), min_size=1, max_size=8)), max_size=60))
def test_model_with_random_ops(ops):
    """A random mix of adds, removals and random pops keeps the set equal to a model, encoding included."""
    server = make_server()
    client = Client(server)
    model = set()
    other = set()
    for op, nums in ops:
        words = [("x%d" % n if n % 3 == 0 else str(n)).encode() for n in nums]
        if op == "sadd":
            assert call(client, "SADD", "s", *words) == len(set(words) - model)
            model |= set(words)
        elif op == "srem":
            assert call(client, "SREM", "s", *words) == len(set(words) & model)
            model -= set(words)
        elif op == "spop":
            got = call(client, "SPOP", "s")
            if model:
                assert got in model
                model.discard(got)
            else:
                assert got is None
        elif op == "spopn":
            got = call(client, "SPOP", "s", str(nums[0]))
            assert type(got) is RSet and len(got) == min(nums[0], len(model))
            assert set(got) <= model and len(set(got)) == len(got)
            model -= set(got)
        elif op == "smove":
            moved = call(client, "SMOVE", "s", "o", words[0])
            assert moved == (1 if words[0] in model else 0)
            if moved:
                model.discard(words[0])
                other.add(words[0])
        else:
            got = call(client, "SRANDMEMBER", "s", str(-nums[0] - 1))
            assert set(got) <= model and len(got) == (nums[0] + 1 if model else 0)
        assert set(call(client, "SMEMBERS", "s")) == model
        assert set(call(client, "SMEMBERS", "o")) == other
    value = server.store.dbs[0].lookup(b"s")
    assert (value is None) == (not model)
    if value is not None:
        assert type(value) is Set
        if value.intset:
            assert all(sets.is_intset_member(m) for m in value) and len(value) <= 512


def test_keyspace_stats_and_watch():
    """Reads (SINTERSTORE's sources included) count keyspace hits/misses, SMOVE/SPOP do not; no-op writes leave WATCH alone."""
    server = make_server()
    a, b = Client(server), Client(server)
    call(a, "SADD", "s", "1")
    hits, misses = server.stat_keyspace_hits, server.stat_keyspace_misses
    call(a, "SINTERSTORE", "d", "s", "nokey")
    assert (server.stat_keyspace_hits, server.stat_keyspace_misses) == (hits + 1, misses + 1)
    call(a, "SMOVE", "s", "t", "1")
    call(a, "SPOP", "t")
    call(a, "SREM", "zz", "1")
    assert (server.stat_keyspace_hits, server.stat_keyspace_misses) == (hits + 1, misses + 1)
    call(a, "SADD", "w", "1")
    call(a, "WATCH", "w")
    call(b, "SADD", "w", "1")   # adds nothing: no signal
    call(b, "SREM", "w", "9")   # removes nothing: no signal
    call(a, "MULTI")
    call(a, "SCARD", "w")
    assert call(a, "EXEC") == [1]
    call(a, "WATCH", "w")
    call(b, "SADD", "w", "2")
    call(a, "MULTI")
    call(a, "SCARD", "w")
    assert call(a, "EXEC") is NULL_ARRAY


def test_memory_usage_and_type():
    """TYPE, OBJECT ENCODING and MEMORY USAGE know sets; memory grows with the members."""
    server = make_server()
    client = Client(server)
    call(client, "SADD", "small", "1")
    call(client, "SADD", "big", *["member-%d" % i for i in range(1000)])
    assert call(client, "TYPE", "big") == b"set"
    assert call(client, "OBJECT", "ENCODING", "small") == b"intset"
    assert call(client, "MEMORY", "USAGE", "big") > call(client, "MEMORY", "USAGE", "small") + 40000


@pytest.mark.parametrize("size", [10, 1000])
def test_sinter_walks_smallest_set(size):
    """SINTER probes from the smallest set: a huge set intersected with a tiny one costs little."""
    import time
    server = make_server()
    client = Client(server)
    call(client, "SADD", "big", *[str(i) for i in range(200000)])
    call(client, "SADD", "tiny", *[str(i) for i in range(size)])
    start = time.perf_counter()
    for _ in range(20):
        assert len(call(client, "SINTER", "big", "tiny")) == size
    assert time.perf_counter() - start < 0.5

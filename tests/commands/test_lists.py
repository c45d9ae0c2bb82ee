"""Parity of the list commands (t_list.c) with Redis 7.0, blocking pops included.

Every case runs on sonic and on redis-server and compares the raw reply
bytes.  The session's sonic server compresses values of 1 KB and more, so
the cases with L{BIG} elements show that compression at rest changes no
reply.  Blocking cases with several clients run the same scenario on both
servers over raw sockets (L{run_scenario}) and compare every reply.
"""

import time

import pytest

from tests.resp_reader import RawClient, encode_command

#: ~5 KB of repetitive text: kept compressed by sonic.
BIG = "".join("element %d of a big list member, repeated to compress well; " % i for i in range(80))
BIG2 = BIG.replace("element", "ELEMENT")

WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
LLONG_MAX = "9223372036854775807"
LLONG_MIN = "-9223372036854775808"


def test_arity(parity):
    """Every list command with too few (or, for fixed arity, too many) words."""
    parity(("LPUSH", "l"), ("RPUSHX", "l"), ("LPOP",), ("RPOP", "l", "1", "2"), ("LLEN",), ("LLEN", "l", "m"),
           ("LRANGE", "l", "0"), ("LINDEX", "l"), ("LSET", "l", "0"), ("LSET", "l", "0", "a", "b"),
           ("LINSERT", "l", "BEFORE", "p"), ("LINSERT", "l", "BEFORE", "p", "e", "x"), ("LREM", "l", "0"),
           ("LTRIM", "l", "0"), ("LTRIM", "l", "0", "1", "2"), ("LPOS", "l"), ("LMOVE", "a", "b", "LEFT"),
           ("LMOVE", "a", "b", "LEFT", "LEFT", "x"), ("RPOPLPUSH", "a"), ("RPOPLPUSH", "a", "b", "c"),
           ("LMPOP", "1", "l"), ("BLPOP", "l"), ("BRPOP", "l"), ("BLMOVE", "a", "b", "LEFT", "LEFT"),
           ("BRPOPLPUSH", "a", "b"), ("BRPOPLPUSH", "a", "b", "0", "x"), ("BLMPOP", "0", "1", "l"))


def test_huge_counts(parity):
    """Counts far past the list's length take what there is."""
    parity(("RPUSH", "l", "a", "b", "a"), ("LPOS", "l", "a", "COUNT", LLONG_MAX),
           ("LPOS", "l", "a", "MAXLEN", LLONG_MAX, "COUNT", "0"), ("LPOS", "l", "a", "COUNT", "99999999999999999999"),
           ("LREM", "l", LLONG_MAX, "zz"), ("LMPOP", "1", "l", "LEFT", "COUNT", LLONG_MAX), ("EXISTS", "l"),
           ("RPUSH", "l", "a", "b"), ("BLMPOP", "0", "1", "l", "RIGHT", "COUNT", LLONG_MAX),
           ("LMPOP", "1", "l", "LEFT", "COUNT", "99999999999999999999"))


# -- pushes ----------------------------------------------------------------------------

def test_push(parity):
    """LPUSH prepends in argument order, RPUSH appends; both answer the new length."""
    parity(("LPUSH", "l", "a"), ("LPUSH", "l", "b", "c", "d"), ("RPUSH", "l", "x", "y"),
           ("LRANGE", "l", "0", "-1"), ("RPUSH", "r", "1", "2", "3"), ("LRANGE", "r", "0", "-1"),
           ("LPUSH", "l", ""), ("RPUSH", "l", b"\x00\xff\r\n"), ("LRANGE", "l", "0", "-1"),
           ("LPUSH", "l", "a", "a", "a"), ("LLEN", "l"), ("TYPE", "l"), ("OBJECT", "ENCODING", "l"))


def test_pushx(parity):
    """LPUSHX and RPUSHX push only onto an existing list, else answer 0 and create nothing."""
    parity(("LPUSHX", "l", "a"), ("RPUSHX", "l", "a", "b"), ("EXISTS", "l"),
           ("RPUSH", "l", "m"), ("LPUSHX", "l", "x", "y"), ("RPUSHX", "l", "z"),
           ("LRANGE", "l", "0", "-1"))


def test_push_arity_and_wrongtype(parity):
    """The push commands need a key and an element, and refuse a string key."""
    parity(("LPUSH", "l"), ("RPUSH",), ("LPUSHX", "l"), ("RPUSHX",),
           ("SET", "s", "v"), ("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"),
           ("RPUSHX", "s", "a"), ("GET", "s"))


def test_push_keeps_ttl(parity):
    """Pushing onto a list with a TTL keeps the TTL; a recreated list has none."""
    parity(("RPUSH", "l", "a"), ("EXPIRE", "l", "100"), ("RPUSH", "l", "b"), ("TTL", "l"),
           ("LPOP", "l"), ("LPOP", "l"), ("RPUSH", "l", "c"), ("TTL", "l"))


# -- pops ----------------------------------------------------------------------------------

def test_pop(parity):
    """LPOP and RPOP take one element from each end; the emptied list disappears."""
    parity(("RPUSH", "l", "a", "b", "c"), ("LPOP", "l"), ("RPOP", "l"), ("LLEN", "l"),
           ("RPOP", "l"), ("EXISTS", "l"), ("LPOP", "l"), ("RPOP", "l"))


def test_pop_count(parity):
    """LPOP/RPOP with a count answer an array, in pop order, up to the list's length."""
    parity(("RPUSH", "l", "a", "b", "c", "d", "e"), ("LPOP", "l", "2"), ("RPOP", "l", "2"),
           ("LPOP", "l", "0"), ("RPOP", "l", "1"), ("EXISTS", "l"),
           ("RPUSH", "l", "a", "b", "c"), ("RPOP", "l", "100"), ("EXISTS", "l"),
           ("RPUSH", "l", "a", "b", "c"), ("LPOP", "l", LLONG_MAX), ("EXISTS", "l"))


def test_pop_count_errors(parity):
    """A negative, non-integer or too big count is out of range; a missing key answers a null array."""
    parity(("LPOP", "nokey", "0"), ("LPOP", "nokey", "1"), ("RPOP", "nokey", "5"), ("LPOP", "nokey"),
           ("RPUSH", "l", "a"), ("LPOP", "l", "-1"), ("RPOP", "l", "abc"), ("LPOP", "l", "1.5"),
           ("LPOP", "l", "99999999999999999999"), ("LPOP", "nokey", "-1"), ("LPOP", "l", ""),
           ("LPOP", "l", "1", "2"), ("RPOP", "l", "1", "2", "3"), ("LPOP",), ("LRANGE", "l", "0", "-1"))


def test_pop_wrongtype(parity):
    """A string key is WRONGTYPE for the pops, but a bad count is reported first."""
    parity(("SET", "s", "v"), ("LPOP", "s"), ("RPOP", "s"), ("LPOP", "s", "2"), ("RPOP", "s", "0"),
           ("LPOP", "s", "abc"), ("LPOP", "s", "-1"))


# -- reads ---------------------------------------------------------------------------------

def test_llen_lindex(parity):
    """LLEN counts; LINDEX reads by index from either end and answers nil out of range."""
    parity(("LLEN", "l"), ("RPUSH", "l", "a", "b", "c"), ("LLEN", "l"),
           ("LINDEX", "l", "0"), ("LINDEX", "l", "2"), ("LINDEX", "l", "3"), ("LINDEX", "l", "-1"),
           ("LINDEX", "l", "-3"), ("LINDEX", "l", "-4"), ("LINDEX", "l", LLONG_MAX),
           ("LINDEX", "l", LLONG_MIN), ("LINDEX", "nokey", "0"))


def test_lindex_errors(parity):
    """LINDEX looks the key up before parsing the index; LLEN/LINDEX refuse a string key."""
    parity(("LINDEX", "nokey", "abc"), ("RPUSH", "l", "a"), ("LINDEX", "l", "abc"),
           ("LINDEX", "l", "1.0"), ("LINDEX", "l", "99999999999999999999"),
           ("SET", "s", "v"), ("LINDEX", "s", "abc"), ("LINDEX", "s", "0"), ("LLEN", "s"),
           ("LLEN",), ("LLEN", "a", "b"), ("LINDEX", "l"), ("LINDEX", "l", "0", "1"))


RANGES = ["0", "1", "2", "4", "5", "6", "99", "-1", "-2", "-5", "-6", "-100", LLONG_MAX, LLONG_MIN]


@pytest.mark.parametrize("start", RANGES)
def test_lrange_matrix(parity, start):
    """LRANGE on a 5-element list for many start/stop pairs, negative and out of range."""
    parity(("RPUSH", "l", "1", "2", "3", "4", "5"),
           *[("LRANGE", "l", start, stop) for stop in RANGES])


def test_lrange_long_list(parity):
    """LRANGE on 1000 elements, from the head, the middle and the tail."""
    parity(("RPUSH", "l", *[str(i) for i in range(1000)]),
           ("LRANGE", "l", "0", "99"), ("LRANGE", "l", "0", "599"), ("LRANGE", "l", "-100", "-1"),
           ("LRANGE", "l", "900", "2000"), ("LRANGE", "l", "450", "550"), ("LRANGE", "l", "0", "-1"),
           ("LRANGE", "l", "-1000", "-990"), ("LRANGE", "l", "998", "-1"), ("LRANGE", "l", "63", "64"))


def test_lrange_errors(parity):
    """LRANGE parses its indexes before the lookup; a missing key is an empty array."""
    parity(("LRANGE", "nokey", "0", "-1"), ("LRANGE", "nokey", "abc", "1"), ("LRANGE", "nokey", "0", ""),
           ("SET", "s", "v"), ("LRANGE", "s", "0", "-1"), ("LRANGE", "s", "x", "1"),
           ("LRANGE", "l", "0"), ("LRANGE", "l", "0", "1", "2"), ("LRANGE", "l", " 1", "2"),
           ("LRANGE", "l", "+1", "2"), ("LRANGE", "l", "-0", "2"))


# -- LSET, LINSERT ----------------------------------------------------------------------------

def test_lset(parity):
    """LSET replaces by index from either end; out of range and a missing key are errors."""
    parity(("LSET", "nokey", "0", "a"), ("LSET", "nokey", "abc", "a"),
           ("RPUSH", "l", "a", "b", "c"), ("LSET", "l", "0", "A"), ("LSET", "l", "-1", "C"),
           ("LSET", "l", "1", ""), ("LRANGE", "l", "0", "-1"), ("LSET", "l", "3", "x"),
           ("LSET", "l", "-4", "x"), ("LSET", "l", LLONG_MAX, "x"), ("LSET", "l", "abc", "x"),
           ("SET", "s", "v"), ("LSET", "s", "0", "x"), ("LSET", "s", "abc", "x"),
           ("LSET", "l", "0"), ("LRANGE", "l", "0", "-1"))


def test_linsert(parity):
    """LINSERT puts the element before or after the first pivot; -1 without pivot, 0 without key."""
    parity(("LINSERT", "nokey", "BEFORE", "a", "x"), ("RPUSH", "l", "a", "b", "a"),
           ("LINSERT", "l", "BEFORE", "a", "0"), ("LINSERT", "l", "after", "a", "1"),
           ("LINSERT", "l", "AfTeR", "b", "2"), ("LINSERT", "l", "before", "zz", "3"),
           ("LRANGE", "l", "0", "-1"), ("LINSERT", "l", "before", "", "e"),
           ("LINSERT", "l", "middle", "a", "x"), ("LINSERT", "nokey", "middle", "a", "x"),
           ("LINSERT", "l", b"before\x00junk", "b", "nul"), ("LRANGE", "l", "0", "-1"),
           ("SET", "s", "v"), ("LINSERT", "s", "before", "a", "x"), ("LINSERT", "s", "x", "a", "x"),
           ("LINSERT", "l", "before", "a"))


# -- LREM, LTRIM ---------------------------------------------------------------------------------

@pytest.mark.parametrize("count", ["0", "1", "2", "-1", "-2", "100", "-100", LLONG_MIN, LLONG_MAX])
def test_lrem(parity, count):
    """LREM removes from the head (count > 0), from the tail (< 0) or all (0)."""
    parity(("RPUSH", "l", "a", "b", "a", "c", "a", "d", "a"), ("LREM", "l", count, "a"),
           ("LRANGE", "l", "0", "-1"), ("LREM", "l", count, "zz"), ("LREM", "l", count, "d"),
           ("LRANGE", "l", "0", "-1"))


def test_lrem_edges(parity):
    """LREM empties and deletes a list; parses its count before the lookup; refuses a string."""
    parity(("LREM", "nokey", "0", "a"), ("LREM", "nokey", "x", "a"), ("RPUSH", "l", "a", "a"),
           ("LREM", "l", "0", "a"), ("EXISTS", "l"), ("SET", "s", "v"), ("LREM", "s", "0", "a"),
           ("LREM", "s", "x", "a"), ("LREM", "l", "0"))


TRIMS = ["0", "1", "3", "4", "5", "-1", "-2", "-5", "-6", "100", LLONG_MIN, LLONG_MAX]


@pytest.mark.parametrize("start", TRIMS)
def test_ltrim_matrix(parity, start):
    """LTRIM keeps start..stop (Redis' clamping); an empty range deletes the key."""
    cmds = []
    for stop in TRIMS:
        cmds += [("DEL", "l"), ("RPUSH", "l", "1", "2", "3", "4", "5"), ("LTRIM", "l", start, stop),
                 ("LRANGE", "l", "0", "-1"), ("EXISTS", "l")]
    parity(*cmds)


def test_ltrim_long(parity):
    """LTRIM on a long list, keeping a little or nearly everything."""
    parity(("RPUSH", "l", *[str(i) for i in range(500)]), ("LTRIM", "l", "10", "-10"),
           ("LLEN", "l"), ("LTRIM", "l", "200", "210"), ("LRANGE", "l", "0", "-1"))


def test_ltrim_errors(parity):
    """LTRIM parses its indexes first, answers OK for a missing key, refuses a string."""
    parity(("LTRIM", "nokey", "0", "1"), ("LTRIM", "nokey", "a", "1"), ("SET", "s", "v"),
           ("LTRIM", "s", "0", "1"), ("LTRIM", "s", "x", "1"), ("LTRIM", "s", "0"))


# -- LPOS -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("opts", [
    (), ("RANK", "1"), ("RANK", "2"), ("RANK", "4"), ("RANK", "5"), ("RANK", "-1"), ("RANK", "-3"),
    ("RANK", LLONG_MAX), ("RANK", "-" + LLONG_MAX), ("RANK", LLONG_MIN),
    ("COUNT", "0"), ("COUNT", "1"), ("COUNT", "3"), ("COUNT", "100"),
    ("RANK", "2", "COUNT", "2"), ("RANK", "-2", "COUNT", "0"), ("RANK", LLONG_MIN, "COUNT", "2"),
    ("RANK", LLONG_MIN, "COUNT", "0"), ("MAXLEN", "0"), ("MAXLEN", "1"), ("MAXLEN", "3"),
    ("RANK", "2", "COUNT", "2", "MAXLEN", "3"), ("RANK", "-1", "MAXLEN", "2"),
    ("RANK", "-1", "COUNT", "0", "MAXLEN", "3"), ("RANK", "1", "COUNT", "1", "RANK", "3"),
    ("count", "0", "COUNT", "1"), ("rank", "1", "maxlen", "0", "count", "0"),
])
def test_lpos(parity, opts):
    """LPOS finds positions with RANK (from either end), COUNT and MAXLEN, as Redis' scan does."""
    parity(("RPUSH", "l", "a", "b", "a", "c", "a", "d", "a"), ("LPOS", "l", "a", *opts),
           ("LPOS", "l", "d", *opts), ("LPOS", "l", "zz", *opts), ("LPOS", "nokey", "a", *opts))


def test_lpos_errors(parity):
    """LPOS' option errors, in Redis' words, checked before the key."""
    parity(("RPUSH", "l", "a"), ("LPOS", "l", "a", "RANK", "0"), ("LPOS", "nokey", "a", "RANK", "0"),
           ("LPOS", "l", "a", "RANK", "abc"), ("LPOS", "l", "a", "COUNT", "-1"),
           ("LPOS", "l", "a", "COUNT", "abc"), ("LPOS", "l", "a", "MAXLEN", "-1"),
           ("LPOS", "l", "a", "MAXLEN", "x"), ("LPOS", "l", "a", "FOO", "1"), ("LPOS", "l", "a", "RANK"),
           ("LPOS", "l", "a", "COUNT"), ("LPOS", "l", "a", "COUNT", "1", "MAXLEN"),
           ("LPOS", "l", "a", b"rank\x00x", "1"), ("SET", "s", "v"), ("LPOS", "s", "a"),
           ("LPOS", "s", "a", "COUNT", "-1"), ("LPOS", "l"))


# -- LMOVE, RPOPLPUSH --------------------------------------------------------------------------------

@pytest.mark.parametrize("wherefrom", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("whereto", ["LEFT", "right"])
def test_lmove(parity, wherefrom, whereto):
    """LMOVE in each direction, onto a new and an existing list, until the source is gone."""
    parity(("RPUSH", "src", "a", "b", "c"), ("RPUSH", "dst", "x"),
           ("LMOVE", "src", "dst", wherefrom, whereto), ("LMOVE", "src", "new", wherefrom, whereto),
           ("LMOVE", "src", "dst", wherefrom, whereto), ("LMOVE", "src", "dst", wherefrom, whereto),
           ("EXISTS", "src"), ("LRANGE", "dst", "0", "-1"), ("LRANGE", "new", "0", "-1"))


def test_lmove_same_key(parity):
    """LMOVE of a list onto itself rotates it, a one-element list stays."""
    parity(("RPUSH", "l", "a", "b", "c"), ("LMOVE", "l", "l", "LEFT", "RIGHT"),
           ("LRANGE", "l", "0", "-1"), ("LMOVE", "l", "l", "RIGHT", "LEFT"), ("LMOVE", "l", "l", "LEFT", "LEFT"),
           ("RPOPLPUSH", "l", "l"), ("LRANGE", "l", "0", "-1"), ("RPUSH", "one", "x"),
           ("RPOPLPUSH", "one", "one"), ("LRANGE", "one", "0", "-1"))


def test_lmove_errors(parity):
    """Bad directions are syntax errors before the lookup; a string source or destination is WRONGTYPE."""
    parity(("LMOVE", "nokey", "d", "LEFT", "LEFT"), ("LMOVE", "nokey", "d", "UP", "LEFT"),
           ("RPUSH", "l", "a"), ("LMOVE", "l", "d", "LEFT", "DOWN"), ("LMOVE", "l", "d", "", "LEFT"),
           ("LMOVE", "l", "l", b"left\x00x", "RIGHT"), ("SET", "s", "v"),
           ("LMOVE", "l", "s", "LEFT", "LEFT"), ("LMOVE", "s", "l", "LEFT", "LEFT"),
           ("LMOVE", "nokey", "s", "LEFT", "LEFT"), ("RPOPLPUSH", "l", "s"), ("RPOPLPUSH", "s", "l"),
           ("RPOPLPUSH", "nokey", "s"), ("LRANGE", "l", "0", "-1"),
           ("LMOVE", "l", "d", "LEFT"), ("RPOPLPUSH", "l"))


def test_rpoplpush(parity):
    """RPOPLPUSH is LMOVE RIGHT LEFT; a missing source answers nil."""
    parity(("RPOPLPUSH", "src", "dst"), ("RPUSH", "src", "a", "b"), ("RPOPLPUSH", "src", "dst"),
           ("RPOPLPUSH", "src", "dst"), ("RPOPLPUSH", "src", "dst"), ("LRANGE", "dst", "0", "-1"),
           ("EXISTS", "src"))


def test_lmove_keeps_destination_ttl(parity):
    """Moving onto an existing list keeps its TTL."""
    parity(("RPUSH", "dst", "x"), ("EXPIRE", "dst", "100"), ("RPUSH", "src", "a"),
           ("LMOVE", "src", "dst", "LEFT", "LEFT"), ("TTL", "dst"))


# -- LMPOP ---------------------------------------------------------------------------------------

def test_lmpop(parity):
    """LMPOP pops from the first non-empty list of its keys, COUNT elements at most."""
    parity(("LMPOP", "1", "l", "LEFT"), ("RPUSH", "l", "a", "b", "c", "d"), ("RPUSH", "m", "x"),
           ("LMPOP", "2", "nokey", "l", "LEFT"), ("LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "2"),
           ("LMPOP", "3", "x", "m", "l", "left", "count", "10"), ("LMPOP", "2", "m", "l", "right", "COUNT", "10"),
           ("EXISTS", "l", "m"), ("LMPOP", "2", "l", "l", "LEFT"))


def test_lmpop_errors(parity):
    """LMPOP's numkeys, direction and COUNT errors, in Redis' order and words."""
    parity(("RPUSH", "l", "a"), ("LMPOP", "0", "l", "LEFT"), ("LMPOP", "-1", "l", "LEFT"),
           ("LMPOP", "abc", "l", "LEFT"), ("LMPOP", "2", "l", "LEFT"), ("LMPOP", "1", "l", "UP"),
           ("LMPOP", "1", "l", "LEFT", "COUNT", "0"), ("LMPOP", "1", "l", "LEFT", "COUNT", "-1"),
           ("LMPOP", "1", "l", "LEFT", "COUNT", "x"), ("LMPOP", "1", "l", "LEFT", "COUNT"),
           ("LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "1"), ("LMPOP", "1", "l", "LEFT", "FOO"),
           ("LMPOP", "1", "nokey", "LEFT", "COUNT", "0"), ("LMPOP", LLONG_MAX, "l", "LEFT"),
           ("LMPOP", "9223372036854775806", "l", "LEFT"), ("LMPOP", "1", "l"), ("LMPOP", "1"),
           ("LMPOP", "1", "l", b"left\x00", b"count\x00", "1"), ("LRANGE", "l", "0", "-1"))


def test_lmpop_wrongtype(parity):
    """LMPOP meets keys in order: a string before a non-empty list is WRONGTYPE, after it is not seen."""
    parity(("SET", "s", "v"), ("RPUSH", "l", "a", "b"), ("LMPOP", "2", "s", "l", "LEFT"),
           ("LMPOP", "2", "nokey", "s", "LEFT"), ("LMPOP", "2", "l", "s", "LEFT"), ("LLEN", "l"))


# -- blocking commands, immediate paths ------------------------------------------------------------

def test_blocking_pops_with_data(parity):
    """With data at hand the blocking pops act at once, trying keys in order."""
    parity(("RPUSH", "l", "a", "b", "c"), ("RPUSH", "m", "x"),
           ("BLPOP", "nokey", "l", "0"), ("BRPOP", "nokey", "l", "m", "0"), ("BLPOP", "m", "l", "1"),
           ("EXISTS", "m"), ("BLMOVE", "l", "d", "LEFT", "RIGHT", "0"), ("BRPOPLPUSH", "d", "l", "0"),
           ("BLMPOP", "0", "2", "nokey", "l", "RIGHT", "COUNT", "5"), ("EXISTS", "l"), ("LRANGE", "d", "0", "-1"))


def test_blocking_timeout_errors(parity):
    """Timeout errors: not a float, negative, infinite or overflowing; NaN is not a float."""
    cmds = []
    for t in ["abc", "-1", "inf", "-inf", "1e400", "nan", "", "1e30", "0x", "1 "]:
        cmds += [("BLPOP", "l", t), ("BRPOP", "l", "m", t), ("BLMOVE", "l", "d", "LEFT", "LEFT", t),
                 ("BRPOPLPUSH", "l", "d", t), ("BLMPOP", t, "1", "l", "LEFT")]
    parity(*cmds)


def test_blocking_argument_errors(parity):
    """Arity, direction and numkeys errors of the blocking pops, and which comes before the timeout's."""
    parity(("BLPOP", "l"), ("BRPOP",), ("BLMOVE", "l", "d", "LEFT", "LEFT"), ("BRPOPLPUSH", "l", "d"),
           ("BLMPOP", "0", "1", "l"), ("BLMOVE", "l", "d", "UP", "LEFT", "abc"),
           ("BLMOVE", "l", "d", "LEFT", "UP", "0"), ("BLMPOP", "abc", "0", "l", "LEFT"),
           ("BLMPOP", "0", "0", "l", "LEFT"), ("BLMPOP", "0", "2", "l", "LEFT"),
           ("BLMPOP", "0", "1", "l", "UP"), ("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "0"),
           ("BLMPOP", "0", "1", "l", "LEFT", "COUNT"), ("BLMPOP", "-1", "x", "l", "LEFT"),
           ("BLMPOP", "abc", "1", "l", "UP"), ("BLMPOP", "abc", "1", "l", "LEFT", "COUNT", "0"),
           ("BLMPOP", "abc", "2", "l", "LEFT"), ("SET", "s", "v"), ("BLMPOP", "abc", "1", "s", "LEFT"),
           ("BLPOP", "s", "abc"), ("BLMOVE", "s", "d", "LEFT", "LEFT", "abc"))


def test_blocking_wrongtype(parity):
    """The blocking pops give WRONGTYPE for a string met before a non-empty list; BLMOVE checks the destination."""
    parity(("SET", "s", "v"), ("RPUSH", "l", "a", "b"), ("BLPOP", "s", "0"), ("BLPOP", "nokey", "s", "l", "0"),
           ("BRPOP", "l", "s", "0"), ("BLMOVE", "s", "d", "LEFT", "LEFT", "0"),
           ("BLMOVE", "l", "s", "LEFT", "LEFT", "0"), ("BRPOPLPUSH", "l", "s", "0"),
           ("BLMPOP", "0", "2", "s", "l", "LEFT"), ("LRANGE", "l", "0", "-1"))


def test_blocking_short_timeouts(parity):
    """A short timeout answers a null array for every blocking pop, BLMOVE included; BLMOVE does not check its destination then."""
    parity(("SET", "s", "v"), ("BLPOP", "nokey", "0.01"), ("BRPOP", "a", "b", "0.02"),
           ("BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.01"), ("BRPOPLPUSH", "nokey", "d", "0.01"),
           ("BLMOVE", "nokey", "s", "LEFT", "LEFT", "0.01"), ("BLMPOP", "0.01", "2", "a", "b", "LEFT"),
           ("BLMPOP", "0.01", "1", "a", "RIGHT", "COUNT", "3"), ("EXISTS", "d"))


def test_blocking_in_multi(parity):
    """Inside MULTI the blocking pops never block: null array, or null bulk for BLMOVE and BRPOPLPUSH."""
    parity(("SET", "s", "v"), ("RPUSH", "l", "a"), ("MULTI",), ("BLPOP", "nokey", "0"),
           ("BLMOVE", "nokey", "x", "LEFT", "LEFT", "0"), ("BLMPOP", "0", "1", "nokey", "LEFT"),
           ("BRPOPLPUSH", "nokey", "x", "0"), ("BLPOP", "s", "0"), ("BRPOP", "nokey", "l", "0"),
           ("BRPOP", "nokey", "l", "0"), ("EXEC",), ("EXISTS", "l"))


def test_multi_push_then_blocking_pop(parity):
    """A push and a blocking pop in one transaction: the pop sees the pushed element."""
    parity(("MULTI",), ("RPUSH", "l", "a", "b"), ("BLPOP", "l", "0"), ("BLMOVE", "l", "d", "LEFT", "LEFT", "0"),
           ("BLMPOP", "0", "1", "l", "LEFT"), ("EXEC",), ("LRANGE", "d", "0", "-1"))


# -- RESP3 ------------------------------------------------------------------------------------------

def test_resp3_shapes(parity):
    """RESP3: nulls are _, arrays stay arrays (LPOP with count on a missing key, LMPOP, timeouts)."""
    parity.resp3()
    parity(("LPOP", "nokey"), ("LPOP", "nokey", "2"), ("RPOP", "nokey", "0"), ("LINDEX", "nokey", "0"),
           ("LPOS", "nokey", "a"), ("LPOS", "nokey", "a", "COUNT", "0"), ("LRANGE", "nokey", "0", "-1"),
           ("LMPOP", "1", "nokey", "LEFT"), ("RPOPLPUSH", "nokey", "d"),
           ("RPUSH", "l", "a", "b", "c"), ("LRANGE", "l", "0", "-1"), ("RPUSH", "m", "a", "bb", BIG),
           ("LRANGE", "m", "0", "-1"), ("LPOP", "l", "0"), ("LPOP", "l", "2"), ("LINDEX", "l", "5"),
           ("LPOS", "l", "zz"), ("LPOS", "l", "c", "COUNT", "0"), ("LMPOP", "1", "l", "RIGHT", "COUNT", "1"),
           ("RPUSH", "l", "x"), ("BLPOP", "l", "0"), ("BLPOP", "nokey", "0.01"),
           ("BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.01"), ("BLMPOP", "0.01", "1", "nokey", "LEFT"),
           ("MULTI",), ("BLMOVE", "nokey", "d", "LEFT", "LEFT", "0"), ("BLPOP", "nokey", "0"), ("EXEC",),
           ("LINSERT", "l", "BEFORE", "zz", "x"), ("LSET", "nokey", "0", "x"))


# -- compression at rest ----------------------------------------------------------------------------

def test_big_elements(parity):
    """Elements kept compressed by sonic read back, compare and move exactly as in Redis."""
    parity(("RPUSH", "l", BIG, "small", BIG2, BIG), ("LRANGE", "l", "0", "-1"), ("LINDEX", "l", "2"),
           ("LINDEX", "l", "-1"), ("LPOS", "l", BIG, "COUNT", "0"), ("LPOS", "l", BIG2),
           ("LPOS", "l", BIG[:-1]), ("LPOS", "l", BIG + "x"), ("LINSERT", "l", "AFTER", BIG2, BIG2),
           ("LINSERT", "l", "BEFORE", BIG[1:], "x"), ("LSET", "l", "1", BIG2), ("LRANGE", "l", "1", "2"),
           ("LREM", "l", "1", BIG2), ("LRANGE", "l", "0", "-1"), ("LMOVE", "l", "m", "LEFT", "LEFT"),
           ("LMOVE", "l", "m", "RIGHT", "RIGHT"), ("LRANGE", "m", "0", "-1"), ("RPOPLPUSH", "m", "l"),
           ("LPOP", "m"), ("RPOP", "l", "5"), ("LPUSHX", "l", BIG), ("RPUSH", "l", BIG), ("LREM", "l", "0", BIG),
           ("LTRIM", "m", "0", "0"), ("LRANGE", "m", "0", "-1"), ("STRLEN", "m"))


def test_big_elements_blocking_and_mpop(parity):
    """Big elements through the blocking pops and LMPOP come back whole."""
    parity(("RPUSH", "l", BIG, BIG2, "x", BIG), ("BLPOP", "l", "0"), ("BRPOP", "l", "0"),
           ("BLMOVE", "l", "m", "LEFT", "LEFT", "0"), ("LMPOP", "2", "l", "m", "LEFT", "COUNT", "5"),
           ("RPUSH", "l", BIG, BIG2), ("BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "2"), ("EXISTS", "l", "m"))


# -- keyspace integration ------------------------------------------------------------------------------

def test_type_encoding_copy_rename(parity):
    """TYPE, OBJECT ENCODING, COPY (independent), RENAME and SCAN TYPE see lists."""
    parity(("RPUSH", "l", "a", "b", BIG), ("TYPE", "l"), ("OBJECT", "ENCODING", "l"),
           ("COPY", "l", "c"), ("RPUSH", "c", "x"), ("LRANGE", "l", "0", "-1"), ("LRANGE", "c", "0", "-1"),
           ("RENAME", "c", "r"), ("LLEN", "r"), ("EXISTS", "l", "c", "r"), ("DEL", "r"), ("SET", "s", "v"),
           ("SCAN", "0", "TYPE", "list", "COUNT", "100"))  # one list left: SCAN's order is Redis' hash order


@pytest.mark.parametrize("change", [
    ("LPUSH", "l", "x"), ("RPUSHX", "l", "x"), ("LPOP", "l"), ("RPOP", "l", "0"), ("LSET", "l", "0", "x"),
    ("LINSERT", "l", "BEFORE", "b", "x"), ("LINSERT", "l", "BEFORE", "zz", "x"), ("LREM", "l", "0", "b"),
    ("LREM", "l", "0", "zz"), ("LTRIM", "l", "0", "-1"), ("LTRIM", "l", "1", "0"),
    ("LMOVE", "l", "l", "LEFT", "RIGHT"), ("LMOVE", "other", "l", "LEFT", "LEFT"), ("RPOPLPUSH", "l", "new"),
    ("LMPOP", "1", "l", "LEFT"), ("BLPOP", "l", "0"), ("LRANGE", "l", "0", "-1"), ("LPOS", "l", "a"),
])
def test_watch_signals(parity, change):
    """Which list commands invalidate a WATCH on the list (even by the watching client itself)."""
    parity(("RPUSH", "l", "a", "b", "c"), ("RPUSH", "other", "o"), ("WATCH", "l"), change, ("MULTI",),
           ("PING",), ("EXEC",))


def test_keyspace_stats(parity):
    """Read commands count keyspace hits and misses, write commands do not."""
    parity(("CONFIG", "RESETSTAT"), ("RPUSH", "l", "a"), ("LRANGE", "l", "0", "-1"), ("LRANGE", "x", "0", "-1"),
           ("LLEN", "l"), ("LINDEX", "x", "0"), ("LPOS", "l", "a"), ("LPOP", "x"), ("LSET", "l", "0", "b"),
           ("LMOVE", "x", "y", "LEFT", "LEFT"))
    got = [_stat(parity.sonic, name) for name in ("keyspace_hits", "keyspace_misses")]
    expected = [_stat(parity.real, name) for name in ("keyspace_hits", "keyspace_misses")]
    assert got == expected


def _stat(raw, name):
    text = raw.call("INFO", "stats").decode()
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return int(line.split(":")[1])
    raise AssertionError(name)


# -- blocking with several clients --------------------------------------------------------------------

class Waiter(object):
    """A placeholder for the client id of waiter C{index} in a scenario's commands."""

    def __init__(self, index):
        self.index = index


def _blocked(raw):
    text = raw.call("INFO", "clients").decode()
    for line in text.split("\r\n"):
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise AssertionError("no blocked_clients in INFO")


def _wait_blocked(raw, n, timeout=3.0):
    """Wait until C{n} clients are blocked on the server behind C{raw}."""
    deadline = time.time() + timeout
    while _blocked(raw) < n:
        if time.time() > deadline:
            raise AssertionError("clients did not block")
        time.sleep(0.005)


def run_scenario(port, waiters, actions, resp3=False):
    """Block each of C{waiters} (commands) in turn, run C{actions} on another client, collect every reply.

    An action that is a float is a pause (seconds), for waiters' timeouts.

    Returns the actions' replies, then each waiter's reply (read with a
    timeout), then the keys left.
    """
    ctl = RawClient(port, timeout=5)
    ctl.call("FLUSHALL")
    base = _blocked(ctl)
    clients = []
    try:
        for i, w in enumerate(waiters):
            c = RawClient(port, timeout=5)
            if resp3:
                c.call("HELLO", "3")
            c.id = c.call("CLIENT", "ID")[1:-2]
            c.send_raw(encode_command(w))
            clients.append(c)
            _wait_blocked(ctl, base + i + 1)
        out = []
        for a in actions:
            if isinstance(a, float):
                time.sleep(a)  # let a waiter's own timeout fire
                continue
            a = [clients[x.index].id if isinstance(x, Waiter) else x for x in a]
            out.append(ctl.call(*a))
        out += [c.read_reply() for c in clients]
        out.append(sorted(_keys(ctl)))
        out.append(_blocked(ctl) - base)
        return out
    finally:
        for c in clients:
            c.close()
        ctl.call("FLUSHALL")
        ctl.close()


def _keys(ctl):
    reply = ctl.call("KEYS", "*")
    return reply.split(b"\r\n")[:-1][2::2]


def scenario_parity(sonic_port, real_port, waiters, actions, resp3=False):
    """Run one scenario on both servers; assert identical replies; return them."""
    expected = run_scenario(real_port, waiters, actions, resp3)
    got = run_scenario(sonic_port, waiters, actions, resp3)
    assert got == expected
    return got


BLOCKING_SCENARIOS = {
    # Two BLPOP waiters, one LPUSH of three: after the whole push, the first
    # waiter gets c (the head), the second b.
    "lpush-two-blpop": ([("BLPOP", "k", "0"), ("BLPOP", "k", "0")],
                        [("LPUSH", "k", "a", "b", "c"), ("LRANGE", "k", "0", "-1")]),
    "rpush-two-brpop": ([("BRPOP", "k", "0"), ("BRPOP", "k", "0")],
                        [("RPUSH", "k", "a", "b", "c"), ("LRANGE", "k", "0", "-1")]),
    "fifo-three": ([("BLPOP", "k", "0"), ("BRPOP", "k", "0"), ("BLPOP", "k", "0")],
                   [("RPUSH", "k", "a"), ("RPUSH", "k", "b"), ("RPUSH", "k", "c", "d"), ("LRANGE", "k", "0", "-1")]),
    "multi-keys-first-ready": ([("BLPOP", "k1", "k2", "0")],
                               [("MULTI",), ("RPUSH", "k2", "y"), ("RPUSH", "k1", "x"), ("EXEC",)]),
    "blmove-chain": ([("BLMOVE", "src", "dst", "LEFT", "LEFT", "0"), ("BLPOP", "dst", "0")],
                     [("RPUSH", "src", "x", "y"), ("LRANGE", "src", "0", "-1")]),
    "blmove-ring": ([("BLMOVE", "a", "b", "RIGHT", "LEFT", "0"), ("BLMOVE", "b", "a", "RIGHT", "LEFT", "0")],
                    [("RPUSH", "a", "1"), ("LRANGE", "a", "0", "-1")]),
    "blmove-same-key": ([("BLMOVE", "k", "k", "LEFT", "RIGHT", "0"), ("BLPOP", "k", "0")],
                        [("RPUSH", "k", "a", "b")]),
    "brpoplpush": ([("BRPOPLPUSH", "k", "d", "0")], [("RPUSH", "k", "a", "b"), ("LRANGE", "d", "0", "-1")]),
    "blmove-wrong-destination": ([("BLMOVE", "src", "dst", "LEFT", "LEFT", "0")],
                                 [("SET", "dst", "s"), ("RPUSH", "src", "x"), ("LRANGE", "src", "0", "-1")]),
    "blmpop-counts": ([("BLMPOP", "0", "2", "a", "k", "LEFT", "COUNT", "2"), ("BLMPOP", "0", "1", "k", "RIGHT", "COUNT", "5")],
                      [("LPUSH", "k", "a", "b", "c")]),
    "blmpop-skips-string": ([("BLMPOP", "0", "2", "k1", "k2", "LEFT")], [("SET", "k1", "s"), ("RPUSH", "k2", "z")]),
    "string-then-list": ([("BLPOP", "k", "0")], [("SET", "k", "v"), ("DEL", "k"), ("RPUSH", "k", "z")]),
    "push-and-delete-in-multi": ([("BLPOP", "k", "0")],
                                 [("MULTI",), ("RPUSH", "k", "y"), ("DEL", "k"), ("EXEC",), ("RPUSH", "k", "q")]),
    "rename-into-key": ([("BLPOP", "k", "0")], [("RPUSH", "tmp", "v"), ("RENAME", "tmp", "k")]),
    # The waiter blocked on a missing key that later holds a string: a list
    # RENAMEd (or COPY REPLACEd) over that string serves it.
    "rename-over-string": ([("BLPOP", "k", "0")],
                           [("SET", "k", "s"), ("RPUSH", "tmp", "v"), ("RENAME", "tmp", "k")]),
    "copy-replace-over-string": ([("BLPOP", "k", "0")],
                                 [("SET", "k", "s"), ("RPUSH", "tmp", "v"), ("COPY", "tmp", "k", "REPLACE"),
                                  ("LRANGE", "tmp", "0", "-1")]),
    "lmove-onto-waited-key": ([("BLPOP", "dst", "0")], [("RPUSH", "src", "a"), ("LMOVE", "src", "dst", "LEFT", "LEFT")]),
    "unblock-timeout": ([("BLPOP", "k", "0"), ("BLMOVE", "k", "d", "LEFT", "LEFT", "0")],
                        [("CLIENT", "UNBLOCK", Waiter(0)), ("CLIENT", "UNBLOCK", Waiter(1), "TIMEOUT"),
                         ("CLIENT", "UNBLOCK", Waiter(1))]),
    "unblock-error": ([("BLMPOP", "0", "1", "k", "LEFT"), ("BRPOPLPUSH", "k", "d", "0")],
                      [("CLIENT", "UNBLOCK", Waiter(0), "ERROR"), ("CLIENT", "UNBLOCK", Waiter(1), "error"),
                       ("RPUSH", "k", "x")]),
    # The first waiter times out and leaves the queue; the push goes to the
    # second.  (Its timeout leaves time for the second client to block.)
    "timeout-while-others-wait": ([("BLPOP", "k", "0.4"), ("BLPOP", "k", "0")],
                                  [0.6, ("RPUSH", "k", "x")]),
    "big-elements": ([("BLPOP", "k", "0"), ("BLMOVE", "k", "d", "RIGHT", "LEFT", "0")],
                     [("RPUSH", "k", BIG, BIG2), ("LRANGE", "d", "0", "-1")]),
}


@pytest.mark.parametrize("name", sorted(BLOCKING_SCENARIOS))
def test_blocking_scenarios(sonic_port, real_port, name):
    """Clients blocked on lists are served (or time out) in Redis' order with Redis' replies."""
    waiters, actions = BLOCKING_SCENARIOS[name]
    scenario_parity(sonic_port, real_port, waiters, actions)


def test_blocking_scenarios_resp3(sonic_port, real_port):
    """In RESP3 a served pop is an array and a CLIENT UNBLOCK timeout is _."""
    scenario_parity(sonic_port, real_port,
                    [("BLPOP", "k", "0"), ("BLMOVE", "x", "d", "LEFT", "LEFT", "0"), ("BLMPOP", "0", "1", "y", "LEFT")],
                    [("RPUSH", "k", "a"), ("CLIENT", "UNBLOCK", Waiter(1)), ("CLIENT", "UNBLOCK", Waiter(2))],
                    resp3=True)


# -- random operations ----------------------------------------------------------------------------------

def _random_commands(seed, n):
    """C{n} random list commands over three keys (one a string), small and big elements, good and bad arguments."""
    import random
    rnd = random.Random(seed)
    values = ["a", "b", "", "1", "-1", BIG, BIG2]
    keys = ["k1", "k2", "s"]
    indexes = ["0", "1", "-1", "2", "-2", "5", "-5", "100", "-100", "x"]

    def v():
        return rnd.choice(values)

    def k():
        return rnd.choice(keys)

    def i():
        return rnd.choice(indexes)

    def d():
        return rnd.choice(["LEFT", "RIGHT", "right", "up"])
    makers = [
        lambda: ("LPUSH", k(), *[v() for _ in range(rnd.randint(1, 4))]),
        lambda: ("RPUSH", k(), *[v() for _ in range(rnd.randint(1, 4))]),
        lambda: ("LPUSHX", k(), v()), lambda: ("RPUSHX", k(), v(), v()),
        lambda: ("LPOP", k()), lambda: ("RPOP", k(), i()), lambda: ("LLEN", k()),
        lambda: ("LRANGE", k(), i(), i()), lambda: ("LINDEX", k(), i()), lambda: ("LSET", k(), i(), v()),
        lambda: ("LINSERT", k(), rnd.choice(["BEFORE", "AFTER", "x"]), v(), v()),
        lambda: ("LREM", k(), i(), v()), lambda: ("LTRIM", k(), i(), i()),
        lambda: ("LPOS", k(), v(), *rnd.choice([(), ("RANK", i()), ("COUNT", i()), ("MAXLEN", i()),
                                                ("RANK", i(), "COUNT", i(), "MAXLEN", i())])),
        lambda: ("LMOVE", k(), k(), d(), d()), lambda: ("RPOPLPUSH", k(), k()),
        lambda: ("LMPOP", rnd.choice(["1", "2", "0"]), k(), k(), d(), *rnd.choice([(), ("COUNT", i())])),
        lambda: ("BLPOP", k(), k(), "0"), lambda: ("BLMOVE", k(), k(), d(), d(), "0"),
        lambda: ("SET", "s", "str"), lambda: ("DEL", k()),
    ]
    commands = []
    for _ in range(n):
        cmd = rnd.choice(makers)()
        if cmd[0].startswith("BL"):
            cmd = cmd[:-1] + ("0.001",) if rnd.random() < 0.05 else cmd
            if cmd[-1] == "0":
                # A blocking pop that would wait forever runs in MULTI, where it cannot block.
                commands += [("MULTI",), cmd, ("EXEC",)]
                continue
        commands.append(cmd)
    return commands + [("LRANGE", key, "0", "-1") for key in keys]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_operations(parity, seed):
    """Random sequences of list commands give Redis' replies, step by step."""
    parity(*_random_commands(seed, 300))

"""Parity of the string commands (t_string.c) with Redis 7.0, compressed values included.

Every case runs on sonic and on redis-server and compares the raw reply
bytes.  The session's sonic server compresses values of 1 KB and more, so
the cases with L{BIG} (5 KB of JSON-like text) and L{HUGE} (over the 64 KB
thread threshold) prove that compression changes no reply.
"""

import re

import pytest

#: A deadline far in the future, so TTL replies do not depend on the instant.
FAR_MS = 4102444800000          # 2100-01-01
FAR_S = FAR_MS // 1000

#: ~5 KB of repetitive JSON-like text: stored compressed by sonic.
BIG = "".join('{"id": %d, "name": "user%d", "tags": ["a", "b"], "active": true}\n' % (i, i)
              for i in range(80))
#: Over compression-thread-threshold (64 KB): compressed in a thread by sonic.
HUGE = BIG * 20


# -- GET / SET -------------------------------------------------------------------

def test_get_set_basic(parity):
    """SET then GET, overwrite, binary and empty values, a missing key."""
    parity(("GET", "k"), ("SET", "k", "v"), ("GET", "k"), ("SET", "k", "v2"), ("GET", "k"),
           ("SET", "bin", b"\x00\xff\r\n"), ("GET", "bin"), ("SET", "e", ""), ("GET", "e"),
           ("SET", "sp", "a value with spaces"), ("GET", "sp"))


def test_get_set_arity(parity):
    """GET and SET with too few or too many words."""
    parity(("GET",), ("GET", "a", "b"), ("SET",), ("SET", "k"))


def test_set_nx_xx(parity):
    """NX writes only a new key, XX only an existing one; both answer nil when they do not write."""
    parity(("SET", "k", "1", "NX"), ("SET", "k", "2", "NX"), ("GET", "k"),
           ("SET", "k", "3", "XX"), ("GET", "k"), ("SET", "new", "1", "XX"), ("EXISTS", "new"),
           ("SET", "k", "4", "nx"), ("SET", "k", "5", "xX"), ("GET", "k"))


def test_set_get_option(parity):
    """SET ... GET answers the old value (or nil), also together with NX (allowed since 7.0) and XX."""
    parity(("SET", "k", "1", "GET"), ("SET", "k", "2", "GET"), ("GET", "k"),
           ("SET", "k", "3", "NX", "GET"), ("GET", "k"),
           ("SET", "n", "1", "NX", "GET"), ("GET", "n"),
           ("SET", "x", "1", "XX", "GET"), ("EXISTS", "x"),
           ("SET", "k", "4", "XX", "GET"), ("SET", "k", "5", "GET", "GET"), ("GET", "k"))


def test_set_expire_options(parity):
    """EX, PX, EXAT and PXAT set a deadline; the same option twice is allowed, the last one wins."""
    parity(("SET", "k", "v", "EX", "100"), ("TTL", "k"),
           ("SET", "k", "v", "PX", "100000"), ("TTL", "k"),
           ("SET", "k", "v", "EXAT", FAR_S), ("EXPIRETIME", "k"),
           ("SET", "k", "v", "PXAT", FAR_MS), ("PEXPIRETIME", "k"),
           ("SET", "k", "v", "EX", "10", "EX", "20"), ("TTL", "k"),
           ("SET", "k", "v", "ex", "50", "GET"), ("TTL", "k"),
           ("SET", "k", "v"), ("TTL", "k"))


def test_set_keepttl(parity):
    """KEEPTTL keeps the deadline; a plain SET clears it."""
    parity(("SET", "k", "v", "PXAT", FAR_MS), ("SET", "k", "w", "KEEPTTL"), ("PEXPIRETIME", "k"),
           ("GET", "k"), ("SET", "k", "x", "keepttl", "XX", "GET"), ("PEXPIRETIME", "k"),
           ("SET", "k", "y"), ("PEXPIRETIME", "k"), ("SET", "n", "v", "KEEPTTL"), ("TTL", "n"))


def test_set_past_deadline(parity):
    """An absolute deadline already past leaves no key behind."""
    parity(("SET", "k", "v", "EXAT", "1"), ("EXISTS", "k"), ("GET", "k"),
           ("SET", "k", "v", "PXAT", "1000"), ("GET", "k"))


def test_set_syntax_errors(parity):
    """Conflicting or unknown options, and an expire option with no value, are syntax errors."""
    parity(("SET", "k", "v", "NX", "XX"), ("SET", "k", "v", "XX", "NX"),
           ("SET", "k", "v", "EX", "10", "PX", "100"), ("SET", "k", "v", "EX", "10", "KEEPTTL"),
           ("SET", "k", "v", "KEEPTTL", "EX", "10"), ("SET", "k", "v", "EX"),
           ("SET", "k", "v", "PX"), ("SET", "k", "v", "EXAT"), ("SET", "k", "v", "PXAT"),
           ("SET", "k", "v", "PERSIST"), ("SET", "k", "v", "FOO"), ("SET", "k", "v", "NXX"),
           ("SET", "k", "v", "EX", "10", "EXAT", "10"), ("SET", "k", "v", "PXAT", "1", "EXAT", "1"),
           ("EXISTS", "k"))


def test_set_options_are_c_strings(parity):
    """An option word is compared up to its first NUL byte, as Redis' C strings are."""
    parity(("SET", "k", "v", b"nx\x00junk"), ("SET", "k", "w", b"EX\x00", "100"), ("TTL", "k"),
           ("SET", "k", "v", "EX", b"100\x00"), ("GET", "k"))


def test_set_expire_errors(parity):
    """Zero, negative, non-integer and overflowing expire times give Redis' errors."""
    parity(("SET", "k", "v", "EX", "0"), ("SET", "k", "v", "EX", "-1"),
           ("SET", "k", "v", "PX", "0"), ("SET", "k", "v", "EXAT", "0"), ("SET", "k", "v", "PXAT", "-5"),
           ("SET", "k", "v", "EX", "abc"), ("SET", "k", "v", "EX", "1.5"), ("SET", "k", "v", "EX", " 1"),
           ("SET", "k", "v", "EX", "9223372036854775807"), ("SET", "k", "v", "EX", "9223372036854775"),
           ("SET", "k", "v", "EX", "9223372036854776"), ("SET", "k", "v", "PX", "9223372036854775807"),
           ("SET", "k", "v", "PX", "9223372036854775808"),
           ("SET", "k", "v", "EXAT", "9223372036854775"), ("PEXPIRETIME", "k"),
           ("SET", "k", "v", "EXAT", "9223372036854776"),
           ("SET", "k", "v", "PXAT", "9223372036854775807"), ("PEXPIRETIME", "k"),
           ("SET", "k", "v", "NX", "EX", "-1"), ("SET", "k", "v", "GET", "EX", "0"))


def test_setnx_setex_psetex(parity):
    """SETNX answers 1/0; SETEX and PSETEX set a TTL and name themselves in expire errors."""
    parity(("SETNX", "k", "1"), ("SETNX", "k", "2"), ("GET", "k"),
           ("SETEX", "k", "100", "v"), ("TTL", "k"), ("GET", "k"),
           ("PSETEX", "k", "100000", "w"), ("TTL", "k"), ("GET", "k"),
           ("SETEX", "k", "0", "v"), ("SETEX", "k", "-1", "v"), ("SETEX", "k", "abc", "v"),
           ("SETEX", "k", "9223372036854775", "v"), ("PSETEX", "k", "0", "v"),
           ("PSETEX", "k", "-5", "v"), ("PSETEX", "k", "9223372036854775807", "v"),
           ("SETNX", "k"), ("SETEX", "k", "10"), ("PSETEX", "k", "10"), ("SETNX",))


def test_getset_getdel(parity):
    """GETSET answers the old value and clears the TTL; GETDEL answers the value and deletes it."""
    parity(("GETSET", "k", "1"), ("GETSET", "k", "2"), ("GET", "k"),
           ("SET", "t", "v", "EX", "100"), ("GETSET", "t", "w"), ("TTL", "t"),
           ("GETDEL", "k"), ("GETDEL", "k"), ("EXISTS", "k"),
           ("GETSET", "k"), ("GETDEL",), ("GETDEL", "a", "b"))


def test_getex(parity):
    """GETEX reads and sets, changes or removes the TTL."""
    parity(("GETEX", "nokey"), ("SET", "k", "v"), ("GETEX", "k"), ("TTL", "k"),
           ("GETEX", "k", "EX", "100"), ("TTL", "k"), ("GETEX", "k", "PX", "200000"), ("TTL", "k"),
           ("GETEX", "k", "EXAT", FAR_S), ("EXPIRETIME", "k"),
           ("GETEX", "k", "PXAT", FAR_MS), ("PEXPIRETIME", "k"),
           ("GETEX", "k", "PERSIST"), ("TTL", "k"), ("GETEX", "k", "persist"),
           ("GETEX", "k", "EX", "10", "EX", "20"), ("TTL", "k"),
           ("GETEX", "k", "EXAT", "1"), ("EXISTS", "k"),
           ("SET", "k", "v"), ("GETEX", "k", "PXAT", "1000"), ("GET", "k"))


def test_getex_errors(parity):
    """GETEX: syntax first, then a missing key answers nil before the expire time is checked."""
    parity(("GETEX", "nokey", "EX", "-1"), ("GETEX", "nokey", "FOO"), ("SET", "k", "v"),
           ("GETEX", "k", "EX", "-1"), ("GETEX", "k", "EX", "0"), ("GETEX", "k", "EX", "abc"),
           ("GETEX", "k", "PX", "9223372036854775807"), ("GETEX", "k", "EX", "9223372036854775808"),
           ("GETEX", "k", "PERSIST", "EX", "10"), ("GETEX", "k", "EX", "10", "PERSIST"),
           ("GETEX", "k", "NX"), ("GETEX", "k", "XX"), ("GETEX", "k", "GET"), ("GETEX", "k", "KEEPTTL"),
           ("GETEX", "k", "EX"), ("GETEX", "k", "EX", "10", "PX", "10"), ("GETEX",), ("TTL", "k"))


def test_mget_mset_msetnx(parity):
    """MSET sets all pairs, MSETNX all or none, MGET answers nil for missing keys."""
    parity(("MSET", "a", "1", "b", "2", "a", "3"), ("MGET", "a", "b", "c", "a"),
           ("MSETNX", "c", "1", "d", "2"), ("MSETNX", "d", "x", "e", "y"), ("MGET", "c", "d", "e"),
           ("SET", "t", "v", "EX", "100"), ("MSET", "t", "w"), ("TTL", "t"),
           ("MSET", "a"), ("MSET", "a", "1", "b"), ("MSETNX", "a"), ("MSETNX", "a", "1", "b"),
           ("MSET",), ("MSETNX",), ("MGET",))


# -- counters ----------------------------------------------------------------------

def test_incr_decr(parity):
    """INCR/DECR/INCRBY/DECRBY create, count and keep the TTL."""
    parity(("INCR", "n"), ("INCR", "n"), ("DECR", "n"), ("DECR", "m"), ("INCRBY", "n", "10"),
           ("DECRBY", "n", "-5"), ("INCRBY", "n", "-100"), ("GET", "n"),
           ("SET", "t", "5", "EX", "100"), ("INCR", "t"), ("TTL", "t"),
           ("SET", "z", "-0"), ("INCR", "z"), ("SET", "z", "007"), ("INCR", "z"),
           ("SET", "z", " 1"), ("INCR", "z"), ("SET", "z", "1.0"), ("INCR", "z"),
           ("SET", "z", "abc"), ("DECR", "z"), ("SET", "z", ""), ("INCR", "z"),
           ("SET", "z", "12345678901234567890"), ("INCR", "z"))


def test_incr_overflow(parity):
    """Overflow past 64 bits is refused, and DECRBY of the most negative number too."""
    parity(("SET", "n", "9223372036854775807"), ("INCR", "n"), ("INCRBY", "n", "1"),
           ("DECRBY", "n", "-1"), ("GET", "n"), ("DECRBY", "n", "1"),
           ("SET", "m", "-9223372036854775808"), ("DECR", "m"), ("INCRBY", "m", "-1"),
           ("INCRBY", "m", "9223372036854775807"), ("INCRBY", "x", "-9223372036854775808"),
           ("DECRBY", "x", "-9223372036854775808"), ("DECRBY", "x", "9223372036854775807"),
           ("INCRBY", "x", "9223372036854775808"), ("INCRBY", "x", "abc"), ("INCRBY", "x", "1.5"),
           ("DECRBY", "x", ""), ("GET", "x"))


def test_incr_arity(parity):
    """The counter commands with the wrong number of words."""
    parity(("INCR",), ("INCR", "a", "b"), ("DECR",), ("INCRBY", "a"), ("DECRBY", "a", "1", "2"),
           ("INCRBYFLOAT", "a"), ("INCRBYFLOAT",))


@pytest.mark.parametrize("start,incr", [
    ("10.5", "0.1"), ("5.0e3", "0"), ("0.1", "0.2"), ("1", "-1e-17"), ("1", "-1.00000000000000001"),
    ("123456789012345678901234567890", "1"), ("0", "2.5e-17"), ("0", "1.5e-17"),
    ("0", "-0.000000000000000005"), ("0.000003814697265625", "0"), ("3", "0x1p-3"), ("1", "0x.8"),
    ("1", "0X1P4"), ("1", "1e+2"), ("1", ".5"), ("1", "5."), ("1", "+5"), ("-0", "-0"), ("0", "-0"),
    ("1", "1.7976931348623157e308"), ("1", "1e400"), ("1", "1e4000"), ("-1", "-1e4932"),
    ("1", "1e-4940"), ("0", "3e-4951"), ("0", "1e-4951"), ("0", "0e-99999"), ("0", "0x1p-16446"),
    ("1", "1e5000"), ("1", "inf"), ("1", "-inf"), ("1", "infinity"), ("inf", "0"), ("1", "nan"),
    ("1", "NaN"), ("1", " 1"), ("1", "1 "), ("1", "1_0"), ("1", "."), ("1", "1e"), ("1", "0x"),
    ("1", ""), ("1", "infin"), ("1", b"2\x00abc"), ("1", "1.5 2"), ("abc", "1"), ("1 2", "1"),
    ("1.18973149535723176502e4932", "1e4916"), ("3.14159", "-3.14159"), ("-5", "2.5"),
    ("1." + "0" * 5117, "1"), ("1." + "0" * 5118, "1"), ("1", "0" * 5000 + "1"),
    ("1", "0x" + "f" * 4000), ("1", "0x" + "f" * 4096), ("1", "1e99999999999999999999"),
    ("1", "1e-99999999999999999999"), ("0", "0.1e-4950"), ("1e4932", "-1e4932"),
])
def test_incrbyfloat(parity, start, incr):
    """INCRBYFLOAT computes in long double and formats as Redis (%.17Lf, trailing zeros cut)."""
    parity(("SET", "f", start), ("INCRBYFLOAT", "f", incr), ("GET", "f"))


def test_incrbyfloat_create_and_ttl(parity):
    """INCRBYFLOAT creates a missing key and keeps an existing TTL."""
    parity(("INCRBYFLOAT", "f", "1.5"), ("INCRBYFLOAT", "f", "1.5"), ("GET", "f"),
           ("SET", "t", "1", "EX", "100"), ("INCRBYFLOAT", "t", "0.25"), ("TTL", "t"),
           ("INCRBYFLOAT", "new", "nan"), ("EXISTS", "new"))


# -- byte ranges ------------------------------------------------------------------

def test_append_strlen(parity):
    """APPEND creates or extends and answers the length; STRLEN counts bytes (0 if missing)."""
    parity(("STRLEN", "k"), ("APPEND", "k", "hello"), ("APPEND", "k", " world"), ("GET", "k"),
           ("STRLEN", "k"), ("APPEND", "k", ""), ("APPEND", "e", ""), ("EXISTS", "e"), ("STRLEN", "e"),
           ("SET", "n", "123"), ("APPEND", "n", "4"), ("INCR", "n"),
           ("SET", "t", "v", "EX", "100"), ("APPEND", "t", "w"), ("TTL", "t"),
           ("APPEND", "k"), ("STRLEN",), ("STRLEN", "a", "b"))


def test_setrange(parity):
    """SETRANGE overwrites, pads with zero bytes, and keeps the TTL."""
    parity(("SETRANGE", "k", "0", "hello"), ("SETRANGE", "k", "1", "EL"), ("GET", "k"),
           ("SETRANGE", "k", "10", "x"), ("GET", "k"), ("STRLEN", "k"),
           ("SETRANGE", "k", "3", ""), ("SETRANGE", "n", "5", ""), ("EXISTS", "n"),
           ("SETRANGE", "n", "3", "ab"), ("GET", "n"),
           ("SET", "t", "abc", "EX", "100"), ("SETRANGE", "t", "1", "X"), ("TTL", "t"), ("GET", "t"),
           ("SETRANGE", "k", "-1", "x"), ("SETRANGE", "k", "abc", "x"), ("SETRANGE", "k", "1.5", "x"),
           ("SETRANGE", "k", "9223372036854775808", "x"),
           ("SETRANGE", "k", "536870911", "xx"), ("SETRANGE", "new", "536870912", "x"),
           ("SETRANGE", "new", "536870912", ""), ("EXISTS", "new"),
           ("SETRANGE", "k", "1"), ("SETRANGE",))


def test_getrange_substr(parity):
    """GETRANGE and SUBSTR clamp the range; negative indexes count from the end."""
    cases = [("0", "-1"), ("0", "3"), ("-3", "-1"), ("-1", "-5"), ("-5", "-1"), ("5", "2"),
             ("-100", "100"), ("100", "200"), ("3", "3"), ("-1", "0"), ("0", "0"),
             ("9223372036854775807", "-9223372036854775808"), ("-9223372036854775808", "9223372036854775807")]
    cmds = [("SET", "k", "Hello, world"), ("SET", "e", ""), ("SET", "i", "12345")]
    for start, end in cases:
        cmds += [("GETRANGE", "k", start, end), ("SUBSTR", "k", start, end),
                 ("GETRANGE", "e", start, end), ("GETRANGE", "i", start, end),
                 ("GETRANGE", "nokey", start, end)]
    cmds += [("GETRANGE", "k", "x", "1"), ("GETRANGE", "k", "1", "x"), ("GETRANGE", "nokey", "x", "1"),
             ("GETRANGE", "k", "1"), ("SUBSTR", "k"), ("GETRANGE", "k", "1", "2", "3")]
    parity(*cmds)


def test_string_length_limit(parity):
    """APPEND and SETRANGE refuse to grow a string past proto-max-bulk-len."""
    try:
        parity(("CONFIG", "SET", "proto-max-bulk-len", "1mb"),
               ("SETRANGE", "k", "1048575", "x"), ("STRLEN", "k"), ("APPEND", "k", "y"),
               ("SETRANGE", "k", "1048575", "yz"), ("SETRANGE", "k", "1048576", ""),
               ("SETRANGE", "new", "1048576", "q"), ("SETRANGE", "new", "1048570", "q"),
               ("APPEND", "new", "123456"), ("APPEND", "new", "1234567"), ("STRLEN", "new"))
    finally:
        parity(("CONFIG", "SET", "proto-max-bulk-len", "512mb"))


# -- LCS -----------------------------------------------------------------------------

def test_lcs(parity):
    """LCS answers the string, LEN, or IDX ranges with MINMATCHLEN and WITHMATCHLEN."""
    parity(("MSET", "a", "ohmytext", "b", "mynewtext", "c", "", "d", "abcabcabc", "e", "cbacba"),
           ("LCS", "a", "b"), ("LCS", "a", "b", "LEN"), ("LCS", "a", "b", "IDX"),
           ("LCS", "a", "b", "IDX", "MINMATCHLEN", "4"), ("LCS", "a", "b", "IDX", "WITHMATCHLEN"),
           ("LCS", "a", "b", "idx", "minmatchlen", "3", "withmatchlen"),
           ("LCS", "a", "b", "IDX", "MINMATCHLEN", "-5"), ("LCS", "a", "b", "LEN", "LEN"),
           ("LCS", "a", "b", "LEN", "WITHMATCHLEN"), ("LCS", "a", "b", "WITHMATCHLEN"),
           ("LCS", "a", "c"), ("LCS", "c", "a", "IDX"), ("LCS", "a", "nokey", "LEN"),
           ("LCS", "nokey", "nokey2", "IDX"), ("LCS", "a", "a", "IDX", "WITHMATCHLEN"),
           ("LCS", "d", "e"), ("LCS", "d", "e", "IDX", "WITHMATCHLEN"), ("LCS", "e", "d", "IDX"))


def test_lcs_errors(parity):
    """LCS option errors: unknown words, a missing or bad MINMATCHLEN, LEN with IDX."""
    parity(("MSET", "a", "ohmytext", "b", "mynewtext"),
           ("LCS", "a", "b", "LEN", "IDX"), ("LCS", "a", "b", "MINMATCHLEN"),
           ("LCS", "a", "b", "MINMATCHLEN", "x"), ("LCS", "a", "b", "FOO"),
           ("LCS", "a", "b", b"LEN\x00x"), ("LCS", "a"), ("LCS",))


def test_lcs_memory_limit(parity):
    """An LCS table bigger than proto-max-bulk-len is refused, as Redis does."""
    try:
        parity(("CONFIG", "SET", "proto-max-bulk-len", "1mb"),
               ("SET", "a", "x" * 600), ("SET", "b", "y" * 600), ("LCS", "a", "b", "LEN"),
               ("SET", "b", "xy" * 200), ("LCS", "a", "b", "LEN"), ("LCS", "a", "b"))
    finally:
        parity(("CONFIG", "SET", "proto-max-bulk-len", "512mb"))


def test_lcs_random(parity):
    """LCS on random strings over a small alphabet picks the same string and ranges as Redis."""
    import random
    rnd = random.Random(7)
    cmds = []
    for n in range(20):
        a = "".join(rnd.choice("abc") for _ in range(rnd.randrange(0, 40)))
        b = "".join(rnd.choice("abc") for _ in range(rnd.randrange(0, 40)))
        cmds += [("MSET", "a", a, "b", b), ("LCS", "a", "b"),
                 ("LCS", "a", "b", "IDX", "WITHMATCHLEN", "MINMATCHLEN", str(n % 4))]
    parity(*cmds)


def test_resp3_replies(parity):
    """In RESP3, LCS IDX answers a map and missing values are RESP3 nulls."""
    parity.sonic.call("HELLO", "3")
    parity.real.call("HELLO", "3")
    parity(("MSET", "a", "ohmytext", "b", "mynewtext"), ("LCS", "a", "b", "IDX", "WITHMATCHLEN"),
           ("LCS", "a", "nokey", "IDX"), ("GET", "nokey"), ("MGET", "a", "nokey"),
           ("SET", "a", "v", "NX"), ("GETEX", "nokey"), ("GETDEL", "nokey"), ("SET", "z", "1", "GET"),
           ("INCRBYFLOAT", "f", "1.5"))


# -- compression must be invisible -----------------------------------------------------

def test_big_values(parity):
    """GET, STRLEN, GETRANGE, APPEND, SETRANGE on values sonic stores compressed answer as Redis."""
    parity(("SET", "big", BIG), ("GET", "big"), ("STRLEN", "big"),
           ("GETRANGE", "big", "0", "99"), ("GETRANGE", "big", "-50", "-1"),
           ("GETRANGE", "big", "2000", "2100"), ("SUBSTR", "big", "-5000", "10"),
           ("APPEND", "big", "tail"), ("STRLEN", "big"), ("GETRANGE", "big", "-10", "-1"),
           ("SETRANGE", "big", "10", "XYZ"), ("GETRANGE", "big", "0", "20"),
           ("SETRANGE", "big", str(len(BIG) + 10), "end"), ("STRLEN", "big"),
           ("GETRANGE", "big", "-20", "-1"), ("SETRANGE", "big", "0", ""), ("GET", "big"),
           ("MGET", "big", "nokey"), ("GETSET", "big", BIG[:2000]), ("STRLEN", "big"),
           ("SET", "big", BIG, "GET"), ("GETEX", "big", "EX", "100"), ("TTL", "big"),
           ("APPEND", "big", "more"), ("TTL", "big"), ("GETDEL", "big"), ("EXISTS", "big"))


def test_big_values_grow_past_threshold(parity):
    """A small value grown by APPEND and SETRANGE past the threshold reads back the same."""
    cmds = [("SET", "g", "start:")]
    for i in range(30):
        cmds.append(("APPEND", "g", BIG[i * 50:(i + 1) * 50]))
    cmds += [("STRLEN", "g"), ("GET", "g"), ("SETRANGE", "s", "2000", "x" * 10), ("GET", "s"),
             ("STRLEN", "s"), ("GETRANGE", "s", "1995", "2005")]
    parity(*cmds)


def test_big_values_lcs_and_counters(parity):
    """LCS over compressed values, and INCR/INCRBYFLOAT refusing a big non-number."""
    parity(("SET", "a", BIG), ("SET", "b", BIG[100:700] + "zz" + BIG[:300]),
           ("LCS", "b", "b", "LEN"), ("SET", "c", "0" * 1500), ("INCR", "c"), ("INCRBYFLOAT", "c", "1"),
           ("SET", "d", "1" * 1200), ("INCRBYFLOAT", "d", "1"), ("STRLEN", "d"),
           ("SET", "f", "1" + "0" * 1500), ("INCRBYFLOAT", "f", "1"), ("INCRBYFLOAT", "f", "-1e1500"),
           ("SET", "f", "2." + "5" * 1500), ("INCRBYFLOAT", "f", "0.5"))


def test_huge_values(parity):
    """Values over the thread threshold read back exactly, before and after being compressed."""
    parity(("SET", "h", HUGE), ("GET", "h"), ("STRLEN", "h"), ("GETRANGE", "h", "-30", "-1"),
           ("APPEND", "h", "!"), ("STRLEN", "h"), ("SETRANGE", "h", "70000", "MID"),
           ("GETRANGE", "h", "69990", "70010"), ("PING",), ("GET", "h"), ("SET", "h", HUGE[:70000]),
           ("GET", "h"), ("STRLEN", "h"))


# -- statistics ------------------------------------------------------------------------

def _keyspace_stats(client):
    info = client.call("INFO", "stats").decode()
    return tuple(int(re.search(r"^%s:(\d+)" % name, info, re.M).group(1))
                 for name in ("keyspace_hits", "keyspace_misses"))


def test_keyspace_hits_and_misses(parity):
    """Read commands count keyspace hits and misses as Redis does; writes count nothing."""
    parity(("CONFIG", "RESETSTAT"),
           ("SET", "a", "1"), ("SET", "big", BIG), ("GET", "a"), ("GET", "nokey"), ("GET", "big"),
           ("MGET", "a", "nokey", "big"), ("STRLEN", "a"), ("STRLEN", "nokey"),
           ("GETRANGE", "a", "0", "1"), ("GETRANGE", "nokey", "0", "1"), ("SUBSTR", "a", "0", "1"),
           ("GETSET", "a", "2"), ("GETSET", "n1", "1"), ("SET", "a", "3", "GET"), ("SET", "n2", "3", "GET"),
           ("SET", "a", "4", "NX"), ("SET", "n3", "4", "XX"), ("GETEX", "a"), ("GETEX", "nokey"),
           ("GETDEL", "n1"), ("GETDEL", "nokey"), ("LCS", "a", "nokey"), ("LCS", "a", "big", "LEN"),
           ("INCR", "c"), ("INCRBY", "c", "2"), ("INCRBYFLOAT", "c", "1"), ("APPEND", "c", "0"),
           ("SETRANGE", "c", "0", "1"), ("SETNX", "c", "1"), ("MSETNX", "c", "1"), ("MSET", "c", "1"),
           ("SETEX", "c", "10", "1"), ("GETEX", "c", "EX", "abc"), ("GETEX", "nokey", "FOO"))
    assert _keyspace_stats(parity.sonic) == _keyspace_stats(parity.real)

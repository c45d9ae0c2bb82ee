"""String commands without a network: WRONGTYPE, deadlines on a task.Clock, long double arithmetic, LCS internals."""

import random

import pytest

from sonic.commands.strings import _lcs_at, _lcs_rows, _lcs_walk
from sonic.resp import Error
from sonic.util import LLONG_MAX, LongDouble, format_ld, string2d, string2ld
from tests.helpers import Client, call, make_server

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def _setup():
    server = make_server()
    return server, Client(server)


def _put_other_type(client, key):
    """Store a non-string value directly (no collection type exists yet)."""
    client.db.shard(key).data[key] = {}


def _error(reply):
    return reply.message if isinstance(reply, Error) else None


# -- WRONGTYPE -------------------------------------------------------------------

@pytest.mark.parametrize("cmd", [
    ("GET", "h"), ("GETSET", "h", "v"), ("GETDEL", "h"), ("GETEX", "h"), ("GETEX", "h", "EX", "-1"),
    ("GETEX", "h", "PERSIST"), ("SET", "h", "v", "GET"), ("SET", "h", "v", "NX", "GET"),
    ("INCR", "h"), ("DECR", "h"), ("INCRBY", "h", "1"), ("DECRBY", "h", "1"),
    ("INCRBYFLOAT", "h", "1"), ("INCRBYFLOAT", "h", "x"), ("APPEND", "h", "x"), ("STRLEN", "h"),
    ("SETRANGE", "h", "0", "x"), ("SETRANGE", "h", "0", ""), ("GETRANGE", "h", "0", "-1"),
    ("SUBSTR", "h", "0", "-1"),
])
def test_wrongtype(cmd):
    """Every string command refuses a key of another type with WRONGTYPE and leaves it alone."""
    server, c = _setup()
    _put_other_type(c, b"h")
    assert _error(call(c, *cmd)) == WRONGTYPE
    assert c.db.lookup(b"h") == {}


@pytest.mark.parametrize("cmd,error", [
    (("INCRBY", "h", "x"), "ERR value is not an integer or out of range"),
    (("SETRANGE", "h", "-1", "x"), "ERR offset is out of range"),
    (("GETRANGE", "h", "x", "1"), "ERR value is not an integer or out of range"),
    (("GETEX", "h", "FOO"), "ERR syntax error"),
    (("SET", "h", "v", "GET", "EX", "0"), "ERR invalid expire time in 'set' command"),
])
def test_argument_errors_come_before_wrongtype(cmd, error):
    """Arguments that Redis checks before the lookup give their own error on a key of another type."""
    server, c = _setup()
    _put_other_type(c, b"h")
    assert _error(call(c, *cmd)) == error


def test_writes_that_replace_another_type():
    """SET, MSET and SET NX/XX treat a key of another type as existing and overwrite it."""
    server, c = _setup()
    for key in (b"a", b"b", b"c"):
        _put_other_type(c, key)
    assert call(c, "SETNX", "a", "1") == 0
    assert call(c, "MSETNX", "x", "1", "a", "1") == 0
    assert call(c, "SET", "a", "1", "NX") is None
    assert call(c, "SET", "a", "1", "XX") == b"OK"
    assert call(c, "MSET", "b", "2") == b"OK"
    assert call(c, "SETEX", "c", "100", "3") == b"OK"
    assert call(c, "MGET", "a", "b", "c") == [b"1", b"2", b"3"]


def test_mget_and_lcs_with_another_type():
    """MGET answers nil for a key of another type; LCS has its own error."""
    server, c = _setup()
    _put_other_type(c, b"h")
    call(c, "SET", "s", "abc")
    assert call(c, "MGET", "s", "h", "nokey") == [b"abc", None, None]
    assert _error(call(c, "LCS", "s", "h")) == "ERR The specified keys must contain string values"
    assert _error(call(c, "LCS", "h", "s", "BADOPTION")) == "ERR The specified keys must contain string values"


def test_wrongtype_counts_a_hit():
    """A read that finds a key of another type counts a keyspace hit before refusing it."""
    server, c = _setup()
    _put_other_type(c, b"h")
    call(c, "GET", "h")
    call(c, "GET", "nokey")
    call(c, "MGET", "h", "nokey")
    call(c, "APPEND", "nokey", "x")
    assert (server.stat_keyspace_hits, server.stat_keyspace_misses) == (2, 2)


# -- deadlines on the clock ----------------------------------------------------------

def _now(server):
    return server.store.now


def test_relative_expire_is_added_to_the_command_time():
    """EX/PX/SETEX/PSETEX/GETEX deadlines are the command's time snapshot plus the amount."""
    server, c = _setup()
    server.clock.advance(0.5)
    call(c, "SET", "a", "v", "EX", "10")
    assert c.db.get_expire(b"a") == _now(server) + 10000
    call(c, "PSETEX", "b", "1234", "v")
    assert c.db.get_expire(b"b") == _now(server) + 1234
    call(c, "GETEX", "b", "PX", "99")
    assert c.db.get_expire(b"b") == _now(server) + 99
    call(c, "SET", "c", "v", "PXAT", "4102444800123")
    assert c.db.get_expire(b"c") == 4102444800123


def test_keys_expire_with_the_clock():
    """A key set with PX disappears once the clock passes its deadline; KEEPTTL keeps it."""
    server, c = _setup()
    call(c, "SET", "k", "v", "PX", "100")
    call(c, "SET", "k", "w", "KEEPTTL")
    call(c, "APPEND", "k", "x")
    call(c, "INCRBYFLOAT", "n", "1")
    server.clock.advance(0.1)
    assert call(c, "GET", "k") == b"wx"      # deadline == now: still alive
    server.clock.advance(0.002)
    assert call(c, "GET", "k") is None
    assert call(c, "GET", "n") == b"1"


def test_relative_expire_overflow_boundary():
    """PX up to LLONG_MAX - now is accepted; one more overflows and is refused."""
    server, c = _setup()
    room = LLONG_MAX - int(server.clock.seconds() * 1000)
    assert call(c, "SET", "k", "v", "PX", str(room)) == b"OK"
    assert c.db.get_expire(b"k") == LLONG_MAX
    assert _error(call(c, "SET", "k", "v", "PX", str(room + 1))) == "ERR invalid expire time in 'set' command"
    assert _error(call(c, "GETEX", "k", "PX", str(room + 1))) == "ERR invalid expire time in 'getex' command"
    assert _error(call(c, "SETEX", "k", str(LLONG_MAX // 1000 + 1), "v")) == \
        "ERR invalid expire time in 'setex' command"


def test_getex_absolute_deadline_now_deletes():
    """GETEX PXAT at the current millisecond deletes the key (checkAlreadyExpired is <=); one later keeps it."""
    server, c = _setup()
    call(c, "SET", "a", "v")
    call(c, "SET", "b", "v")
    now = int(server.clock.seconds() * 1000)
    assert call(c, "GETEX", "a", "PXAT", str(now)) == b"v"
    assert call(c, "GETEX", "b", "PXAT", str(now + 1)) == b"v"
    assert call(c, "EXISTS", "a", "b") == 1


def test_getex_on_replica_keeps_past_deadline():
    """On a replica GETEX never deletes: it sets the past deadline and the master's DEL follows."""
    server, c = _setup()
    call(c, "SET", "a", "v")
    server.master_host = "127.0.0.1"
    try:
        assert call(c, "GETEX", "a", "EXAT", "1") == b"v"
        assert c.db.get_expire(b"a") == 1000
    finally:
        server.master_host = None


def test_writes_signal_watchers():
    """Each write command marks a WATCHing client dirty, as signalModifiedKey does."""
    server, c = _setup()
    for cmd in [("SET", "k", "v"), ("APPEND", "k", "x"), ("SETRANGE", "k", "0", "y"), ("INCR", "n"),
                ("INCRBYFLOAT", "n", "1"), ("GETDEL", "k"), ("MSET", "k", "1"), ("GETEX", "k", "EX", "10"),
                ("GETEX", "k", "PERSIST"), ("GETSET", "k", "2"), ("SETNX", "z", "1")]:
        watcher = Client(server)
        key = cmd[1]
        call(watcher, "WATCH", key)
        call(c, *cmd)
        assert watcher.dirty_cas, cmd


def test_failed_writes_do_not_signal():
    """SET NX on an existing key, GETEX without options and SETRANGE with nothing change nothing."""
    server, c = _setup()
    call(c, "SET", "k", "v")
    watcher = Client(server)
    call(watcher, "WATCH", "k")
    call(c, "SET", "k", "w", "NX")
    call(c, "GETEX", "k")
    call(c, "GETEX", "k", "PERSIST")
    call(c, "SETRANGE", "k", "0", "")
    call(c, "INCR", "k")
    assert not watcher.dirty_cas


# -- long double -----------------------------------------------------------------------

@pytest.mark.parametrize("a,b,expected", [
    (b"10.5", b"0.1", b"10.6"), (b"0.1", b"0.2", b"0.3"), (b"5.0e3", b"0", b"5000"),
    (b"1", b"-1e-17", b"0.99999999999999999"), (b"0.000003814697265625", b"0", b"0.00000381469726562"),
    (b"123456789012345678901234567890", b"1", b"123456789012345678899921813504"),
    (b"3", b"0x1p-3", b"3.125"), (b"-0", b"-0", b"0"), (b"0", b"-0.000000000000000005", b"0"),
])
def test_long_double_sums(a, b, expected):
    """Sums and formatting match what Redis answered for INCRBYFLOAT (x87 long double, %.17Lf)."""
    assert format_ld(string2ld(a) + string2ld(b)) == expected


@pytest.mark.parametrize("text", [
    b"", b" 1", b"1 ", b"nan", b"-NaN", b"1_0", b".", b"1e", b"0x", b"0xg", b"infin", b"1e5000",
    b"1e-5000", b"0x1p-16446", b"2\x00", b"1." + b"0" * 5118, b"+-1", b"--1", b"1e+-2",
])
def test_string2ld_refuses(text):
    """Text strtold does not consume whole, NaN, and ERANGE results are refused."""
    assert string2ld(text) is None


def test_string2ld_accepts_edges():
    """Infinities, the smallest subnormal, zero with a huge exponent, 5119 characters are accepted."""
    assert string2ld(b"-Infinity") == float("-inf")
    assert string2ld(b"0x1p-16445").mant == 1
    assert string2ld(b"0e-99999").mant == 0
    assert format_ld(string2ld(b"1." + b"0" * 5117)) == b"1"
    assert format_ld(string2ld(b"0" * 5000 + b"7")) == b"7"


def test_long_double_is_a_float():
    """A LongDouble works where a float is expected and stays finite beyond the double range."""
    x = string2ld(b"1.5")
    assert isinstance(x, float) and x == 1.5 and x < 2
    big = string2ld(b"1e4000")
    assert big == 1.7976931348623157e308 and big + 1.0 != float("inf")
    assert isinstance(x + 1, LongDouble) and format_ld(1 + x) == b"2.5"
    assert format_ld(x - 0.25) == b"1.25"
    assert (big + big + big + big) is not None
    assert string2ld(b"1.1e4932") + string2ld(b"1e4932") == float("inf")


def test_format_ld_huge_and_plain_numbers():
    """format_ld writes every digit of big values (beyond Python's int-to-str limit) and accepts floats and ints."""
    text = format_ld(string2ld(b"1e4932"))
    assert len(text) == 4933 and text.startswith(b"100000000000000000000601894938796389")
    assert format_ld(2.5) == b"2.5" and format_ld(-0.0) == b"0" and format_ld(7) == b"7"
    assert format_ld(float("inf")) == b"inf" and format_ld(float("-inf")) == b"-inf"


def test_string2d():
    """string2d: strtod's syntax at double precision, refusing overflow, underflow and NaN."""
    assert string2d(b"1.5") == 1.5 and string2d(b"0x10") == 16.0 and string2d(b"-inf") == float("-inf")
    assert string2d(b"0e-999") == 0.0 and string2d(b"0.000") == 0.0
    for text in (b"1e400", b"1e-400", b"nan", b" 1", b"1 ", b"", b"0x1p99999", b"0x1p-99999", b"1_0"):
        assert string2d(text) is None, text


# -- LCS internals ---------------------------------------------------------------------

def _naive_lcs(a, b, minmatchlen, withmatchlen):
    """The LCS walk over a classic dynamic programming table: (string, ranges)."""
    T = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            T[i][j] = T[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(T[i - 1][j], T[i][j - 1])
    # The production walk, reading this table instead of the bit vectors.
    import sonic.commands.strings as strings
    saved = strings._lcs_at
    strings._lcs_at = lambda rows, i, j: rows[i][j]
    try:
        return _lcs_walk(a, b, T, minmatchlen, withmatchlen, True)
    finally:
        strings._lcs_at = saved


def test_bit_parallel_rows_match_the_table():
    """Every cell of the bit-vector LCS table equals the classic dynamic programming table."""
    rnd = random.Random(11)
    for _ in range(200):
        a = bytes(rnd.choice(b"abcd") for _ in range(rnd.randrange(25)))
        b = bytes(rnd.choice(b"abcd") for _ in range(rnd.randrange(25)))
        rows = _lcs_rows(a, b)
        T = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                T[i][j] = T[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(T[i - 1][j], T[i][j - 1])
        assert all(_lcs_at(rows, i, j) == T[i][j] for i in range(len(a) + 1) for j in range(len(b) + 1))
        assert _lcs_walk(a, b, rows, 0, True, True) == _naive_lcs(a, b, 0, True)


def test_lcs_large_inputs_are_fast():
    """Two 5,000-byte strings: LCS and IDX computed (the table is 25 million cells)."""
    rnd = random.Random(2)
    server, c = _setup()
    a = bytes(rnd.choice(b"ACGT") for _ in range(5000))
    b = bytes(rnd.choice(b"ACGT") for _ in range(5000))
    call(c, "MSET", "a", a, "b", b)
    length = call(c, "LCS", "a", "b", "LEN")
    text = call(c, "LCS", "a", "b")
    assert len(text) == length > 3000
    idx = call(c, "LCS", "a", "b", "IDX", "MINMATCHLEN", "5")
    assert idx[b"len"] == length

"""Parity of the generic keyspace commands (DEL, EXPIRE family, SCAN, RENAME, COPY, OBJECT...) with Redis 7.0."""

import pytest

#: A deadline far in the future, so TTL replies do not depend on the instant.
FAR_MS = 4102444800000          # 2100-01-01
FAR_S = FAR_MS // 1000


def test_del_unlink_exists_touch(parity):
    """DEL, UNLINK, EXISTS and TOUCH count keys (duplicates included) as Redis does."""
    parity(("SET", "a", "1"), ("SET", "b", "2"), ("SET", "c", "3"),
           ("EXISTS", "a", "a", "nokey", "b"), ("TOUCH", "a", "b", "nokey"),
           ("DEL", "a", "a", "nokey"), ("UNLINK", "b", "c", "b"),
           ("EXISTS", "a", "b", "c"), ("DEL",), ("UNLINK",), ("EXISTS",), ("TOUCH",))


def test_type(parity):
    """TYPE answers a status: string for strings, none for a missing key."""
    parity(("SET", "s", "x"), ("TYPE", "s"), ("TYPE", "nokey"), ("TYPE",), ("TYPE", "a", "b"))


@pytest.mark.parametrize("cmd", ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
def test_expire_option_errors(parity, cmd):
    """NX/XX/GT/LT combinations and unknown options give Redis' errors, before the number is read."""
    parity(("SET", "k", "v"),
           (cmd, "k", "10", "NX", "XX"), (cmd, "k", "10", "nx", "gt"), (cmd, "k", "10", "NX", "LT"),
           (cmd, "k", "10", "GT", "LT"), (cmd, "k", "10", "xx", "gt", "lt"),
           (cmd, "k", "10", "foo"), (cmd, "k", "10", "nx", "foo"), (cmd, "k", "abc", "nx", "xx"),
           (cmd, "k", "abc"), (cmd, "k", "1.5"), (cmd, "k"), (cmd,), ("TTL", "k"))


def test_expire_overflow(parity):
    """Deadlines that overflow 64 bits answer 'invalid expire time' naming the command."""
    parity(("SET", "k", "v"),
           ("EXPIRE", "k", "9223372036854775807"), ("EXPIRE", "k", "9223372036854775"),
           ("EXPIRE", "k", "-9223372036854776"), ("EXPIRE", "k", "-9223372036854775808"),
           ("PEXPIRE", "k", "9223372036854775807"), ("PEXPIRE", "k", "9223372036854775000"),
           ("EXPIREAT", "k", "9223372036854776"), ("EXPIREAT", "k", "-9223372036854776"),
           ("EXPIREAT", "k", "9223372036854775"), ("PEXPIRETIME", "k"), ("EXPIRETIME", "k"),
           ("PEXPIREAT", "k", "9223372036854775807"), ("PEXPIRETIME", "k"), ("EXPIRETIME", "k"),
           ("PEXPIRE", "k", "9223372036854775808"))


def test_expire_conditions(parity):
    """NX, XX, GT and LT decide against the current deadline; no TTL counts as infinite."""
    parity(("SET", "k", "v"),
           ("PEXPIREAT", "k", FAR_MS, "XX"), ("PEXPIREAT", "k", FAR_MS, "GT"),
           ("PEXPIRETIME", "k"),
           ("PEXPIREAT", "k", FAR_MS, "NX"), ("PEXPIRETIME", "k"),
           ("PEXPIREAT", "k", FAR_MS + 1000, "NX"), ("PEXPIREAT", "k", FAR_MS, "GT"),
           ("PEXPIREAT", "k", FAR_MS + 1000, "GT"), ("PEXPIRETIME", "k"),
           ("PEXPIREAT", "k", FAR_MS + 1000, "LT"), ("PEXPIREAT", "k", FAR_MS, "lt"),
           ("PEXPIRETIME", "k"), ("PEXPIREAT", "k", FAR_MS + 5, "XX", "GT"),
           ("PEXPIREAT", "k", FAR_MS, "XX", "LT"), ("PEXPIRETIME", "k"),
           ("PERSIST", "k"), ("PERSIST", "k"), ("PEXPIRETIME", "k"),
           ("PEXPIREAT", "k", FAR_MS, "LT"), ("PEXPIRETIME", "k"),
           ("EXPIREAT", "k", FAR_S + 7, "GT"), ("EXPIRETIME", "k"), ("PEXPIRETIME", "k"),
           ("EXPIRE", "nokey", "10"), ("PEXPIREAT", "nokey", FAR_MS), ("PERSIST", "nokey"))


def test_expire_in_the_past_deletes(parity):
    """An EXPIRE/EXPIREAT at or before now deletes the key at once and answers 1."""
    parity(("SET", "a", "1"), ("EXPIRE", "a", "0"), ("EXISTS", "a"),
           ("SET", "a", "1"), ("EXPIRE", "a", "-10"), ("EXISTS", "a"),
           ("SET", "a", "1"), ("PEXPIRE", "a", "-9223372036854775808"), ("EXISTS", "a"),
           ("SET", "a", "1"), ("EXPIREAT", "a", "1"), ("GET", "a"),
           ("SET", "a", "1"), ("PEXPIREAT", "a", "100"), ("TTL", "a"),
           ("SET", "a", "1"), ("EXPIRE", "a", "-5", "GT"), ("EXISTS", "a"),
           ("EXPIRE", "a", "-5", "LT"), ("EXISTS", "a"),
           ("SET", "a", "1"), ("PEXPIRE", "a", "-5", "XX"), ("EXISTS", "a"))


def test_ttl_family(parity):
    """TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 missing, -1 no TTL, rounded seconds otherwise."""
    parity(("SET", "k", "v"), ("TTL", "k"), ("PTTL", "k"), ("EXPIRETIME", "k"), ("PEXPIRETIME", "k"),
           ("TTL", "no"), ("PTTL", "no"), ("EXPIRETIME", "no"), ("PEXPIRETIME", "no"),
           ("PEXPIREAT", "k", FAR_MS + 499), ("EXPIRETIME", "k"), ("PEXPIRETIME", "k"),
           ("PEXPIREAT", "k", FAR_MS + 500), ("EXPIRETIME", "k"),
           ("SET", "", "v"), ("TTL", ""), ("TTL",), ("TTL", "a", "b"))


def test_ttl_values(r):
    """TTL and PTTL count down from the deadline (checked as ranges on both servers)."""
    r.set("k", "v")
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 99000 <= r.pttl("k") <= 100000
    assert r.pexpire("k", 1500) is True
    assert r.ttl("k") in (1, 2)
    r.set("k", "v")
    assert r.ttl("k") == -1


def test_exp_alias(sonic_port):
    """EXP is sonic's alias of EXPIRE, with its options and errors under its own name."""
    from tests.resp_reader import RawClient
    c = RawClient(sonic_port)
    c.call("SET", "expk", "v")
    assert c.call("EXP", "expk", "100") == b":1\r\n"
    assert c.call("TTL", "expk") == b":100\r\n"
    assert c.call("exp", "expk", "50", "GT") == b":0\r\n"
    assert c.call("EXP", "expk", "9223372036854775807") == b"-ERR invalid expire time in 'exp' command\r\n"
    assert c.call("EXP", "expk") == b"-ERR wrong number of arguments for 'exp' command\r\n"
    assert c.call("EXP", "expk", "-1") == b":1\r\n"
    assert c.call("EXISTS", "expk") == b":0\r\n"
    assert c.call("COMMAND", "INFO", "exp").startswith(b"*1\r\n*10\r\n$3\r\nexp\r\n:-3\r\n")
    c.close()


def test_keys(parity):
    """KEYS returns the matching live keys (compared sorted: order is unspecified)."""
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "a*b", "", "x[y", "\xff"]:
        parity(("SET", k, "v"))
    parity(("PEXPIREAT", "hxllo", "100"))
    for pattern in ["*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "a\\*b", "**",
                    "[", "x[[]y", "x\\[y", "*[", "h[", "[^", "?", "", "*llo*", "H*"]:
        sonic = _keys(parity.sonic, pattern)
        real = _keys(parity.real, pattern)
        assert sonic == real, pattern
    parity(("KEYS",), ("KEYS", "a", "b"))


def _keys(client, pattern):
    return sorted(_decode_array(client.call("KEYS", pattern)))


def _decode_array(raw):
    """The bulk strings of a flat RESP2 array reply."""
    assert raw[:1] == b"*", raw
    head, _, rest = raw.partition(b"\r\n")
    out = []
    for _ in range(int(head[1:])):
        line, _, rest = rest.partition(b"\r\n")
        n = int(line[1:])
        out.append(rest[:n])
        rest = rest[n + 2:]
    return out


def test_glob_parity(sonic_port, real_port):
    """Odd glob patterns select exactly the same keys on sonic and on Redis."""
    import redis
    outs = []
    for port in (sonic_port, real_port):
        c = redis.Redis(port=port, protocol=2)
        c.flushall()
        for k in [b"a", b"b", b"]", b"-", b"^", b"\\", b"\xe9", b"\x80", b"ab", b"a]", b"A",
                  b"z", b"[", b"\x00", b"a-", b"abc", b"aXc", b"aaab"]:
            c.set(k, b"v")
        res = {}
        for pattern in [b"[a-]", b"[a-]]", b"[]", b"[^]", b"[\\]]", b"[z-a]", b"[a-\xff]",
                        b"[\x80-a]", b"[^a-z]", b"\\", b"[\\", b"[a\\", b"a[", b"a[^", b"[-a]",
                        b"[a-b-c]", b"[\x00-\x7f]", b"*\\]", b"[[]", b"a*c", b"*a*a*b", b"a?c",
                        b"*b", b"a**", b"?", b"??", b"[^a]*"]:
            res[pattern] = sorted(c.keys(pattern))
        outs.append(res)
        c.flushall()
        c.close()
    assert outs[0] == outs[1]


def test_scan_errors(parity):
    """SCAN's cursor and option errors match Redis'."""
    parity(("SET", "a", "1"),
           ("SCAN", "abc"), ("SCAN", "1.5"), ("SCAN", " 0"), ("SCAN", "18446744073709551616"),
           ("SCAN", "0", "COUNT", "0"), ("SCAN", "0", "COUNT", "-1"), ("SCAN", "0", "COUNT", "x"),
           ("SCAN", "0", "COUNT", "99999999999999999999"), ("SCAN", "abc", "COUNT", "0"),
           ("SCAN", "0", "MATCH"), ("SCAN", "0", "TYPE"), ("SCAN", "0", "foo"),
           ("SCAN", "0", "foo", "bar"), ("SCAN", "0", "COUNT", "0", "MATCH"), ("SCAN",))


def test_scan_small_db(parity):
    """On a small database one SCAN returns everything with cursor 0, filtered like Redis."""
    parity(("SET", "a", "1"))
    parity(("SCAN", "0"), ("SCAN", "00"), ("SCAN", "+0"), ("SCAN", ""),
           ("SCAN", "0", "MATCH", "a"), ("SCAN", "0", "MATCH", "zz*"),
           ("SCAN", "0", "TYPE", "string"), ("SCAN", "0", "TYPE", "STRING"),
           ("SCAN", "0", "TYPE", "hash"), ("SCAN", "0", "TYPE", "foo"),
           ("SCAN", "0", "COUNT", "10", "COUNT", "20", "MATCH", "*"))


def _full_scan(r, **kw):
    keys = []
    cursor = 0
    while True:
        cursor, batch = r.scan(cursor, **kw)
        keys.extend(batch)
        if cursor == 0:
            return keys


def test_scan_full_iteration(r):
    """A full SCAN (various COUNT, MATCH, TYPE) returns every key, compared sorted."""
    names = [b"key:%d" % i for i in range(1000)]
    with r.pipeline(transaction=False) as p:
        for k in names:
            p.set(k, b"v")
        p.pexpireat(b"key:5", 100)
        p.pexpireat(b"key:6", 100)
        p.execute()
    expected = sorted(set(names) - {b"key:5", b"key:6"})
    for count in (1, 7, 100, 5000):
        got = _full_scan(r, count=count)
        assert sorted(set(got)) == expected
    assert sorted(set(_full_scan(r, match=b"key:1*", count=50))) == [k for k in expected if k.startswith(b"key:1")]
    assert sorted(set(_full_scan(r, _type="string"))) == expected
    assert _full_scan(r, _type="list") == []


def test_scan_cursor_is_unsigned_decimal(r):
    """Every cursor is a decimal that fits an unsigned 64-bit integer (redis-cli, redis-py parse it so)."""
    for i in range(300):
        r.set(b"c%d" % i, b"v")
    cursor = 0
    while True:
        raw_cursor, batch = r.execute_command("SCAN", cursor, "COUNT", 3)
        # redis-py has already parsed it with int(): it was a decimal.
        assert 0 <= int(raw_cursor) < 2 ** 64
        cursor = int(raw_cursor)
        if cursor == 0:
            break


def test_randomkey(r):
    """RANDOMKEY answers nil on an empty database and one of the keys otherwise."""
    assert r.randomkey() is None
    for k in (b"a", b"b", b"c"):
        r.set(k, b"v")
    for _ in range(10):
        assert r.randomkey() in (b"a", b"b", b"c")


def test_randomkey_parity(parity):
    """RANDOMKEY with one key, and with wrong arity."""
    parity(("RANDOMKEY",), ("SET", "only", "1"), ("RANDOMKEY",), ("RANDOMKEY", "x"))


def test_rename(parity):
    """RENAME/RENAMENX move value and TTL; errors and same-key cases as Redis."""
    parity(("SET", "a", "1"), ("PEXPIREAT", "a", FAR_MS),
           ("RENAME", "a", "a"), ("RENAMENX", "a", "a"), ("RENAME", "nokey", "b"),
           ("RENAME", "nokey", "nokey"), ("RENAMENX", "nokey", "x"),
           ("RENAME", "a", "b"), ("EXISTS", "a"), ("GET", "b"), ("PEXPIRETIME", "b"),
           ("SET", "c", "3"), ("RENAMENX", "b", "c"), ("RENAMENX", "b", "d"), ("PEXPIRETIME", "d"),
           ("SET", "e", "5"), ("PEXPIREAT", "e", FAR_MS + 1), ("RENAME", "c", "e"),
           ("PEXPIRETIME", "e"), ("GET", "e"), ("RENAME", "a"), ("RENAMENX", "a", "b", "c"))


def test_copy(parity):
    """COPY with DB and REPLACE, TTL carried, and Redis' errors."""
    parity(("SET", "c", "1"), ("PEXPIREAT", "c", FAR_MS),
           ("COPY", "c", "d"), ("PEXPIRETIME", "d"), ("COPY", "c", "d"), ("COPY", "c", "d", "REPLACE"),
           ("COPY", "c", "c"), ("COPY", "c", "c", "DB", "0"), ("COPY", "c", "d", "DB", "0", "replace"),
           ("COPY", "c", "d", "DB", "16"), ("COPY", "c", "d", "DB", "-1"), ("COPY", "c", "d", "DB", "abc"),
           ("COPY", "c", "d", "DB", "99999999999"), ("COPY", "c", "d", "foo"), ("COPY", "c", "d", "DB"),
           ("COPY", "nokey", "d"), ("COPY", "c", "c", "DB", "3"), ("SELECT", "3"), ("GET", "c"),
           ("PEXPIRETIME", "c"), ("SELECT", "0"), ("SET", "c", "2"), ("GET", "d"), ("COPY", "c"))


def test_move(parity):
    """MOVE carries value and TTL to another database; refuses an existing target."""
    parity(("SET", "m", "1"), ("PEXPIREAT", "m", FAR_MS),
           ("MOVE", "m", "0"), ("MOVE", "m", "16"), ("MOVE", "m", "-1"), ("MOVE", "m", "abc"),
           ("MOVE", "m", "99999999999"), ("MOVE", "nokey", "1"),
           ("MOVE", "m", "1"), ("EXISTS", "m"), ("SELECT", "1"), ("GET", "m"), ("PEXPIRETIME", "m"),
           ("SET", "n", "x"), ("SELECT", "0"), ("SET", "n", "y"), ("MOVE", "n", "1"), ("GET", "n"),
           ("MOVE", "m"))


def test_swapdb(parity):
    """SWAPDB exchanges two databases; its errors name the first or second index."""
    parity(("SET", "x", "0"), ("SELECT", "1"), ("SET", "y", "1"), ("PEXPIREAT", "y", FAR_MS),
           ("SWAPDB", "0", "1"), ("GET", "x"), ("GET", "y"), ("SELECT", "0"), ("GET", "y"),
           ("PEXPIRETIME", "y"), ("SWAPDB", "0", "0"), ("SWAPDB", "0", "16"), ("SWAPDB", "a", "0"),
           ("SWAPDB", "0", "x"), ("SWAPDB", "0", "-1"), ("SWAPDB", "99999999999", "0"),
           ("SWAPDB", "0", "99999999999"), ("SWAPDB", "0", "1.0"), ("SWAPDB", "0"), ("SWAPDB", "1", "0"))


def test_object_encoding_and_refcount(parity):
    """OBJECT ENCODING names int/embstr/raw as Redis does; REFCOUNT shows shared integers."""
    values = ["12345", "-12345678901234567890", "0123", "9223372036854775807", "-1", "0", "abc",
              "x" * 44, "x" * 45, "1" * 44, "5", "9999", "10000", "-0", ""]
    for i, v in enumerate(values):
        parity(("SET", "k%d" % i, v), ("OBJECT", "ENCODING", "k%d" % i), ("OBJECT", "REFCOUNT", "k%d" % i))
    parity(("OBJECT", "ENCODING", "nokey"), ("OBJECT", "REFCOUNT", "nokey"),
           ("OBJECT", "IDLETIME", "nokey"), ("OBJECT", "FREQ", "nokey"),
           ("OBJECT", "FREQ", "k0"), ("OBJECT", "ENCODING"), ("OBJECT", "ENCODING", "a", "b"),
           ("OBJECT", "foo", "a"), ("OBJECT",), ("OBJECT", "HELP"), ("object", "help"),
           ("OBJECT", "HELP", "x"))


def test_object_idletime(parity):
    """OBJECT IDLETIME of a fresh key is 0 (sonic always answers 0)."""
    parity(("SET", "k", "v"), ("OBJECT", "IDLETIME", "k"))


def test_object_encoding_compressed(sonic_port):
    """A long value held gzip-compressed still reports Redis' encoding (raw)."""
    from tests.resp_reader import RawClient
    c = RawClient(sonic_port)
    c.call("SET", "big", "a" * 5000)
    assert c.call("OBJECT", "ENCODING", "big") == b"$3\r\nraw\r\n"
    assert c.call("TYPE", "big") == b"+string\r\n"
    c.call("DEL", "big")
    c.close()


def test_wrong_arity(parity):
    """Every keyspace command refuses a wrong argument count with Redis' message."""
    parity(("EXPIRE", "k"), ("PEXPIRE",), ("EXPIREAT", "k"), ("PEXPIREAT", "k"), ("TTL",),
           ("PTTL",), ("EXPIRETIME",), ("PEXPIRETIME", "a", "b"), ("PERSIST",), ("MOVE", "k"),
           ("SWAPDB", "0", "1", "2"), ("RENAME", "a", "b", "c"), ("COPY", "a"), ("RANDOMKEY", "a"))


def test_multi_keyspace(parity):
    """Keyspace commands queue and run inside MULTI like any other."""
    parity(("MULTI",), ("SET", "a", "1"), ("PEXPIREAT", "a", FAR_MS), ("RENAME", "a", "b"),
           ("PEXPIRETIME", "b"), ("TYPE", "b"), ("EXEC",))


def test_resp3_replies(parity):
    """Under RESP3 the keyspace replies keep Redis' shapes (status TYPE, array SCAN, help lines)."""
    parity.sonic.call("HELLO", "3")
    parity.real.call("HELLO", "3")
    parity(("SET", "k", "v"), ("TYPE", "k"), ("SCAN", "0"), ("KEYS", "*"), ("OBJECT", "HELP"),
           ("OBJECT", "ENCODING", "k"), ("OBJECT", "ENCODING", "nokey"), ("TTL", "k"),
           ("RANDOMKEY",), ("COPY", "k", "k2"), ("RENAME", "k2", "k3"), ("DEL", "k3"))

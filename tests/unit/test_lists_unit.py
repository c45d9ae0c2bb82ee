"""Lists without a network: compression at rest, the List value class, and blocking pops on a task.Clock."""

import hiredis
import pytest

from sonic.blocking import BLOCKED
from sonic.commands.lists import List, _find
from sonic.resp import NULL_ARRAY, Error, bulk_array, encode
from sonic.store.compression import Compressed
from tests.helpers import Client, call, connect, make_server

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"

#: 200 compressible bytes, and variants of the same length and size.
TEXT = b"abcdefghij" * 20
TEXT2 = b"ABCDEFGHIJ" * 20


def _setup(**config):
    server = make_server(**config)
    return server, Client(server)


def _error(reply):
    return reply.message if isinstance(reply, Error) else None


def _stored(client, key):
    return client.db.lookup(key)


def _lrange(client, key):
    """The whole list through LRANGE, decoded from its RESP reply (LRANGE answers pre-encoded bytes)."""
    reader = hiredis.Reader()
    reader.feed(encode(call(client, "LRANGE", key, "0", "-1"), 2))
    return reader.gets()


@pytest.mark.parametrize("elements", [[], [b""], [b"", b""], [b"a"], [b"ab", b"cd", b"e"], [b"\r\n"] * 3,
                                      [b"x" * 1024, b"y" * 1025, b"abc"], [b"xxx"] * 600, [b"z" * 2000] * 2])
def test_bulk_array_encoding(elements):
    """LRANGE's encoder (the encoder's one for arrays of strings) gives each element as a bulk, in RESP2 and RESP3."""
    expected = b"*%d\r\n" % len(elements) + b"".join(b"$%d\r\n%s\r\n" % (len(e), e) for e in elements)
    assert bulk_array(elements) == encode(elements, 2) == encode(elements, 3) == expected


# -- WRONGTYPE and argument order -----------------------------------------------------

@pytest.mark.parametrize("cmd", [
    ("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"), ("RPUSHX", "s", "a"), ("LPOP", "s"),
    ("RPOP", "s", "2"), ("LLEN", "s"), ("LRANGE", "s", "0", "-1"), ("LINDEX", "s", "x"),
    ("LSET", "s", "x", "v"), ("LINSERT", "s", "BEFORE", "a", "b"), ("LREM", "s", "0", "a"),
    ("LTRIM", "s", "0", "1"), ("LPOS", "s", "a"), ("LMOVE", "s", "l", "LEFT", "LEFT"),
    ("LMOVE", "l", "s", "LEFT", "LEFT"), ("RPOPLPUSH", "s", "l"), ("LMPOP", "1", "s", "LEFT"),
    ("BLPOP", "s", "0"), ("BRPOP", "s", "0"), ("BLMOVE", "s", "l", "LEFT", "LEFT", "0"),
    ("BLMOVE", "l", "s", "LEFT", "LEFT", "0"), ("BRPOPLPUSH", "s", "l", "0"), ("BLMPOP", "0", "1", "s", "LEFT"),
])
def test_wrongtype(cmd):
    """Every list command refuses a string key with WRONGTYPE and changes nothing."""
    server, c = _setup()
    call(c, "SET", "s", "v")
    call(c, "RPUSH", "l", "x")
    assert _error(call(c, *cmd)) == WRONGTYPE
    assert call(c, "GET", "s") == b"v"
    assert _lrange(c, "l") == [b"x"]


# -- the value class --------------------------------------------------------------------

def test_list_class_from_iterable():
    """A List built from bytes (as SORT STORE builds one) is served by the list commands and has no TTL."""
    server, c = _setup()
    call(c, "SET", "l", "old", "EX", "100")
    c.db.set(b"l", List(iter([b"c", b"a", b"b"])))
    assert call(c, "TYPE", "l") == b"list"
    assert _lrange(c, "l") == [b"c", b"a", b"b"]
    assert call(c, "TTL", "l") == -1
    assert call(c, "OBJECT", "ENCODING", "l") == b"quicklist"


def test_list_packed_flag():
    """The packed flag is set exactly when a List is built holding a compressed element."""
    assert List().packed is False
    assert List([b"a", b"b"]).packed is False
    assert List([b"a", Compressed(b"gzip-bytes")]).packed is True


def test_copy_is_independent():
    """COPY's copier gives a List that shares no state with the original."""
    server, c = _setup()
    call(c, "RPUSH", "l", "a", "b")
    assert call(c, "COPY", "l", "m") == 1
    call(c, "RPUSH", "m", "c")
    call(c, "LPOP", "l")
    assert _lrange(c, "l") == [b"b"]
    assert _lrange(c, "m") == [b"a", b"b", b"c"]
    assert type(_stored(c, b"m")) is List


def test_memory_usage_grows_with_elements():
    """MEMORY USAGE of a list grows with the size of its elements, sampled for long lists."""
    server, c = _setup()
    call(c, "RPUSH", "small", *["x"] * 1000)
    call(c, "RPUSH", "large", *["x" * 100] * 1000)
    small = call(c, "MEMORY", "USAGE", "small")
    large = call(c, "MEMORY", "USAGE", "large")
    assert large - small >= 90 * 1000


# -- compression at rest -----------------------------------------------------------------

def test_big_elements_stored_compressed():
    """Elements at or past compression-threshold are kept compressed; small ones are not."""
    server, c = _setup(compression_threshold=64)
    call(c, "RPUSH", "l", TEXT, "small")
    stored = list(_stored(c, b"l"))
    assert type(stored[0]) is Compressed and stored[1] == b"small"
    assert _stored(c, b"l").packed
    assert _lrange(c, "l") == [TEXT, b"small"]
    assert call(c, "LINDEX", "l", "0") == TEXT


def test_compression_disabled():
    """With compression off nothing is compressed and the packed flag stays down."""
    server, c = _setup(compression_threshold=64, compression="none")
    call(c, "RPUSH", "l", TEXT)
    assert type(_stored(c, b"l")[0]) is bytes
    assert not _stored(c, b"l").packed


def test_every_read_path_decompresses():
    """Pops, ranges, moves and the blocking pops all answer the original bytes."""
    server, c = _setup(compression_threshold=64)
    call(c, "RPUSH", "l", *[TEXT] * 12)
    assert call(c, "LPOP", "l") == TEXT
    assert call(c, "RPOP", "l") == TEXT
    assert call(c, "LPOP", "l", "2") == [TEXT, TEXT]
    assert call(c, "RPOP", "l", "1") == [TEXT]
    assert call(c, "LMOVE", "l", "m", "LEFT", "LEFT") == TEXT
    assert call(c, "RPOPLPUSH", "l", "m") == TEXT
    assert call(c, "LMPOP", "1", "l", "LEFT", "COUNT", "1") == [b"l", [TEXT]]
    assert call(c, "BLPOP", "l", "0") == [b"l", TEXT]
    assert call(c, "BLMOVE", "l", "m", "LEFT", "LEFT", "0") == TEXT
    assert call(c, "BLMPOP", "0", "1", "l", "LEFT") == [b"l", [TEXT]]
    assert _lrange(c, "m") == [TEXT] * 3
    # Moved elements stay compressed in the destination.
    assert all(type(e) is Compressed for e in _stored(c, b"m"))
    assert _stored(c, b"m").packed


def test_comparisons_use_contents():
    """LPOS, LREM and LINSERT compare decompressed contents, not gzip bytes."""
    server, c = _setup(compression_threshold=64)
    call(c, "RPUSH", "l", TEXT, "x", TEXT2, TEXT)
    gzip_bytes = bytes(_stored(c, b"l")[0])
    assert call(c, "LPOS", "l", TEXT, "COUNT", "0") == [0, 3]
    assert call(c, "LPOS", "l", TEXT2) == 2
    assert call(c, "LPOS", "l", gzip_bytes) is None
    assert call(c, "LPOS", "l", TEXT[:-1] + b"X") is None  # same size, other contents
    assert call(c, "LINSERT", "l", "AFTER", TEXT2, "y") == 5
    assert call(c, "LREM", "l", "-1", TEXT) == 1
    assert _lrange(c, "l") == [TEXT, b"x", TEXT2, b"y"]
    assert call(c, "LREM", "l", "0", gzip_bytes) == 0


def test_comparisons_survive_setting_changes():
    """Elements compressed under one threshold and level still match after CONFIG SET changes them."""
    server, c = _setup(compression_threshold=64)
    call(c, "RPUSH", "l", TEXT, TEXT2)
    call(c, "CONFIG", "SET", "compression-level", "9")
    call(c, "CONFIG", "SET", "compression-threshold", "10000")
    assert call(c, "LPOS", "l", TEXT2) == 1
    assert call(c, "LINSERT", "l", "BEFORE", TEXT, "head") == 3
    assert call(c, "LREM", "l", "0", TEXT2) == 1
    assert _lrange(c, "l") == [b"head", TEXT]


def test_lset_and_linsert_compress():
    """LSET and LINSERT store a big element compressed and mark the list packed."""
    server, c = _setup(compression_threshold=64)
    call(c, "RPUSH", "l", "a", "b")
    assert not _stored(c, b"l").packed
    call(c, "LSET", "l", "0", TEXT)
    assert type(_stored(c, b"l")[0]) is Compressed and _stored(c, b"l").packed
    call(c, "RPUSH", "m", "a")
    call(c, "LINSERT", "m", "AFTER", "a", TEXT2)
    assert type(_stored(c, b"m")[1]) is Compressed
    assert _lrange(c, "m") == [b"a", TEXT2]
    assert call(c, "LINDEX", "l", "0") == TEXT


def test_incompressible_element_stays_raw():
    """An element that does not compress enough is kept as it is."""
    import os
    server, c = _setup(compression_threshold=64)
    noise = os.urandom(300)
    call(c, "RPUSH", "l", noise)
    assert type(_stored(c, b"l")[0]) is bytes
    assert call(c, "LINDEX", "l", "0") == noise


# -- blocking: timeouts on the clock --------------------------------------------------------

def _timers(server):
    return [d for d in server.clock.getDelayedCalls() if d.active()]


def test_fractional_timeout():
    """BLPOP with 1.5 s times out after 1.5 s of clock time with a null array, not before."""
    server, c = _setup()
    assert call(c, "BLPOP", "k", "1.5") is BLOCKED
    server.clock.advance(1.49)
    assert c.unblocked_replies == []
    assert server.blocked_clients == 1
    server.clock.advance(0.02)
    assert c.unblocked_replies == [NULL_ARRAY]
    assert server.blocked_clients == 0
    assert not server.store.dbs[0].blocking


@pytest.mark.parametrize("cmd", [
    ("BLPOP", "k", "0.25"), ("BRPOP", "a", "k", "0.25"), ("BLMOVE", "k", "d", "LEFT", "RIGHT", "0.25"),
    ("BRPOPLPUSH", "k", "d", "0.25"), ("BLMPOP", "0.25", "1", "k", "LEFT", "COUNT", "2"),
])
def test_timeout_replies(cmd):
    """Every blocking pop times out with a null array (BLMOVE too, as in Redis)."""
    server, c = _setup()
    assert call(c, *cmd) is BLOCKED
    server.clock.advance(0.3)
    assert c.unblocked_replies == [NULL_ARRAY]


def test_timeout_zero_waits_forever():
    """Timeout 0 sets no timer: the client stays blocked however long, until served."""
    server, c = _setup()
    before = len(_timers(server))
    assert call(c, "BLPOP", "k", "0") is BLOCKED
    assert len(_timers(server)) == before
    server.clock.advance(10 ** 7)
    assert c.unblocked_replies == []
    other = Client(server)
    assert call(other, "RPUSH", "k", "v") == 1
    assert c.unblocked_replies == [[b"k", b"v"]]


def test_timer_cancelled_when_served():
    """Serving a blocked client cancels its timeout timer."""
    server, c = _setup()
    before = len(_timers(server))
    assert call(c, "BLMOVE", "k", "d", "LEFT", "LEFT", "5") is BLOCKED
    assert len(_timers(server)) == before + 1
    assert server.blocking.with_timeout == 1
    call(Client(server), "RPUSH", "k", "v")
    assert c.unblocked_replies == [b"v"]
    assert len(_timers(server)) == before
    assert server.blocking.with_timeout == 0
    server.clock.advance(10)
    assert c.unblocked_replies == [b"v"]


# -- blocking: serving ------------------------------------------------------------------------

def test_push_serves_after_the_whole_command():
    """LPUSH k a b c with two BLPOP waiters: the first gets c, the second b, a stays."""
    server, c = _setup()
    w1, w2 = Client(server), Client(server)
    assert call(w1, "BLPOP", "k", "0") is BLOCKED
    assert call(w2, "BLPOP", "k", "0") is BLOCKED
    assert call(c, "LPUSH", "k", "a", "b", "c") == 3
    assert w1.unblocked_replies == [[b"k", b"c"]]
    assert w2.unblocked_replies == [[b"k", b"b"]]
    assert _lrange(c, "k") == [b"a"]


def test_fifo_across_pushes():
    """Waiters are served in the order they blocked, one element each."""
    server, c = _setup()
    waiters = [Client(server) for _ in range(4)]
    for w in waiters:
        assert call(w, "BRPOP", "k", "0") is BLOCKED
    for value in ("1", "2", "3", "4"):
        call(c, "RPUSH", "k", value)
    assert [w.unblocked_replies for w in waiters] == [[[b"k", b"1"]], [[b"k", b"2"]], [[b"k", b"3"]], [[b"k", b"4"]]]
    assert call(c, "EXISTS", "k") == 0


def test_serving_waits_for_exec():
    """Inside MULTI nothing is served until EXEC; then the pushes of the whole transaction count."""
    server, c = _setup()
    w = Client(server)
    assert call(w, "BLMPOP", "0", "1", "k", "LEFT", "COUNT", "5") is BLOCKED
    call(c, "MULTI")
    call(c, "RPUSH", "k", "a")
    call(c, "RPUSH", "k", "b")
    assert w.unblocked_replies == []
    assert call(c, "EXEC") == [1, 2]
    assert w.unblocked_replies == [[b"k", [b"a", b"b"]]]


def test_blocking_in_multi_does_not_block():
    """A blocking pop queued in MULTI runs as its non-blocking form at EXEC."""
    server, c = _setup()
    call(c, "MULTI")
    for cmd in (("BLPOP", "k", "0"), ("BLMOVE", "k", "d", "LEFT", "LEFT", "0"), ("BLMPOP", "0", "1", "k", "LEFT")):
        call(c, *cmd)
    assert call(c, "EXEC") == [NULL_ARRAY, None, NULL_ARRAY]
    assert server.blocked_clients == 0


def test_string_key_does_not_serve():
    """A waited-for key created as a string leaves the waiter blocked; a later list serves it."""
    server, c = _setup()
    w = Client(server)
    assert call(w, "BLPOP", "k", "0") is BLOCKED
    call(c, "SET", "k", "v")
    assert w.unblocked_replies == [] and server.blocked_clients == 1
    call(c, "DEL", "k")
    call(c, "RPUSH", "k", "x")
    assert w.unblocked_replies == [[b"k", b"x"]]


def test_blmove_wakes_destination_waiter():
    """BLMOVE served into a new destination wakes a client blocked on that destination."""
    server, c = _setup()
    mover, popper = Client(server), Client(server)
    assert call(mover, "BLMOVE", "src", "dst", "RIGHT", "LEFT", "0") is BLOCKED
    assert call(popper, "BLPOP", "dst", "0") is BLOCKED
    call(c, "RPUSH", "src", "v")
    assert mover.unblocked_replies == [b"v"]
    assert popper.unblocked_replies == [[b"dst", b"v"]]
    assert call(c, "EXISTS", "src", "dst") == 0
    assert server.blocked_clients == 0


def test_blmove_wrong_destination_type():
    """A BLMOVE served into a string destination gets WRONGTYPE and the element stays in the source."""
    server, c = _setup()
    w = Client(server)
    assert call(w, "BLMOVE", "src", "dst", "LEFT", "LEFT", "0") is BLOCKED
    call(c, "SET", "dst", "s")
    call(c, "RPUSH", "src", "x")
    assert [_error(r) for r in w.unblocked_replies] == [WRONGTYPE]
    assert _lrange(c, "src") == [b"x"]


def test_other_database_does_not_serve():
    """A push to the same key name in another database does not serve the waiter."""
    server, c = _setup()
    w = Client(server)
    assert call(w, "BLPOP", "k", "0") is BLOCKED
    call(c, "SELECT", "1")
    call(c, "RPUSH", "k", "x")
    assert w.unblocked_replies == []
    call(c, "SELECT", "0")
    call(c, "RPUSH", "k", "y")
    assert w.unblocked_replies == [[b"k", b"y"]]


def test_move_and_swapdb_wake_waiters():
    """MOVE of a list into the waiter's database, and SWAPDB bringing one in, serve blocked clients."""
    server, c = _setup()
    w = Client(server)
    call(w, "SELECT", "1")
    assert call(w, "BLPOP", "k", "0") is BLOCKED
    call(c, "RPUSH", "k", "moved")
    assert call(c, "MOVE", "k", "1") == 1
    assert w.unblocked_replies == [[b"k", b"moved"]]
    assert call(w, "BRPOP", "q", "0") is BLOCKED
    call(c, "RPUSH", "q", "swapped")
    call(c, "SWAPDB", "0", "1")
    assert w.unblocked_replies[-1] == [b"q", b"swapped"]


def test_duplicate_keys():
    """A waiter that names a key twice is served once."""
    server, c = _setup()
    w = Client(server)
    assert call(w, "BLPOP", "k", "k", "0") is BLOCKED
    call(c, "RPUSH", "k", "a", "b")
    assert w.unblocked_replies == [[b"k", b"a"]]
    assert _lrange(c, "k") == [b"b"]


def test_expired_list_blocks():
    """A list past its deadline counts as missing: the blocking pop waits."""
    server, c = _setup()
    call(c, "RPUSH", "k", "a")
    call(c, "PEXPIRE", "k", "100")
    server.clock.advance(0.2)
    w = Client(server)
    assert call(w, "BLPOP", "k", "0") is BLOCKED
    call(c, "RPUSH", "k", "b")
    assert w.unblocked_replies == [[b"k", b"b"]]


def test_watch_sees_served_move():
    """A move made to serve a blocked BLMOVE invalidates a WATCH on its destination."""
    server, c = _setup()
    call(c, "RPUSH", "dst", "d0")
    watcher, mover = Client(server), Client(server)
    call(watcher, "WATCH", "dst")
    assert call(mover, "BLMOVE", "src", "dst", "LEFT", "LEFT", "0") is BLOCKED
    call(c, "RPUSH", "src", "x")  # only the serve touches dst
    assert mover.unblocked_replies == [b"x"]
    call(watcher, "MULTI")
    call(watcher, "PING")
    assert call(watcher, "EXEC") is NULL_ARRAY


# -- blocking: connections ---------------------------------------------------------------------

def _command(*words):
    out = [b"*%d\r\n" % len(words)]
    for w in words:
        w = w if isinstance(w, bytes) else w.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(w), w))
    return b"".join(out)


def test_disconnected_waiter_is_forgotten():
    """A client that disconnects while blocked is dropped at once: the next push goes to the next waiter."""
    server = make_server()
    gone, gone_t = connect(server)
    stays, stays_t = connect(server)
    gone.dataReceived(_command("BLPOP", "k", "5"))
    stays.dataReceived(_command("BLPOP", "k", "0"))
    assert server.blocked_clients == 2 and server.blocking.with_timeout == 1
    gone.connectionLost(None)
    assert server.blocked_clients == 1 and server.blocking.with_timeout == 0
    pusher = Client(server)
    call(pusher, "RPUSH", "k", "v")
    assert stays_t.value() == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    assert gone_t.value() == b""
    call(pusher, "RPUSH", "k", "w")
    assert _lrange(pusher, "k") == [b"w"]  # no one left to take it


def test_pipeline_resumes_after_serving():
    """Commands pipelined after a blocking pop run once it is served, in order."""
    server = make_server()
    proto, t = connect(server)
    proto.dataReceived(_command("BLPOP", "k", "0") + _command("PING"))
    assert t.value() == b""
    call(Client(server), "RPUSH", "k", "v")
    assert t.value() == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    server.clock.advance(0)
    assert t.value() == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n+PONG\r\n"


def test_client_unblock_and_info():
    """INFO counts blocked clients; CLIENT UNBLOCK answers the timeout reply or -UNBLOCKED."""
    server = make_server()
    a, at = connect(server)
    b, bt = connect(server)
    admin = Client(server)
    a.dataReceived(_command("BLMOVE", "k", "d", "LEFT", "LEFT", "0"))
    b.dataReceived(_command("BLPOP", "k", "10"))
    info = call(admin, "INFO", "clients")
    assert b"blocked_clients:2\r\n" in bytes(info)
    assert call(admin, "CLIENT", "UNBLOCK", str(a.id)) == 1
    assert at.value() == b"*-1\r\n"
    assert call(admin, "CLIENT", "UNBLOCK", str(a.id)) == 0
    assert call(admin, "CLIENT", "UNBLOCK", str(b.id), "ERROR") == 1
    assert bt.value() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    assert b"blocked_clients:0\r\n" in bytes(call(admin, "INFO", "clients"))
    assert not server.store.dbs[0].blocking


def test_resp3_timeout_reply():
    """In RESP3 a timed-out blocking pop answers _."""
    server = make_server()
    proto, t = connect(server)
    proto.dataReceived(_command("HELLO", "3"))
    t.clear()
    proto.dataReceived(_command("BLMOVE", "k", "d", "LEFT", "LEFT", "0.1"))
    server.clock.advance(0.2)
    assert t.value() == b"_\r\n"


def _random_list_commands(seed, n):
    import random
    rnd = random.Random(seed)
    values = [b"a" * 40, b"b" * 40, b"a" * 39 + b"b", b"x", b"", TEXT, TEXT2]
    keys = [b"k1", b"k2"]
    idx = [b"0", b"1", b"-1", b"3", b"-3", b"50"]
    makers = [
        lambda: (b"RPUSH", rnd.choice(keys), *rnd.sample(values, 3)),
        lambda: (b"LPUSH", rnd.choice(keys), rnd.choice(values)),
        lambda: (b"LINSERT", rnd.choice(keys), rnd.choice([b"BEFORE", b"AFTER"]), rnd.choice(values), rnd.choice(values)),
        lambda: (b"LSET", rnd.choice(keys), rnd.choice(idx), rnd.choice(values)),
        lambda: (b"LREM", rnd.choice(keys), rnd.choice(idx), rnd.choice(values)),
        lambda: (b"LPOS", rnd.choice(keys), rnd.choice(values), b"RANK", rnd.choice(idx[1:3]), b"COUNT", b"0"),
        lambda: (b"LRANGE", rnd.choice(keys), rnd.choice(idx), rnd.choice(idx)),
        lambda: (b"LINDEX", rnd.choice(keys), rnd.choice(idx)),
        lambda: (b"LPOP", rnd.choice(keys), rnd.choice([b"1", b"2"])), lambda: (b"RPOP", rnd.choice(keys)),
        lambda: (b"LMOVE", rnd.choice(keys), rnd.choice(keys), b"LEFT", b"RIGHT"),
        lambda: (b"LMPOP", b"2", *keys, b"RIGHT", b"COUNT", b"2"),
        lambda: (b"BLPOP", *keys, b"0.5"), lambda: (b"LTRIM", rnd.choice(keys), rnd.choice(idx), rnd.choice(idx)),
    ]
    return [rnd.choice(makers)() for _ in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_compression_is_invisible(seed):
    """The same random list commands answer the same on a server compressing 16-byte elements and one not compressing."""
    packed, pc = _setup(compression_threshold=16, compression_min_saving=0)
    plain, rc = _setup(compression="none")
    compressed_seen = 0
    for cmd in _random_list_commands(seed, 400):
        got, expected = call(pc, *cmd), call(rc, *cmd)
        if got is BLOCKED:
            packed.clock.advance(1)
            plain.clock.advance(1)
            got, expected = pc.unblocked_replies.pop(), rc.unblocked_replies.pop()
        assert encode(got, 2) == encode(expected, 2), cmd
        compressed_seen += any(type(e) is Compressed for key in (b"k1", b"k2") for e in (_stored(pc, key) or ()))
    assert compressed_seen > 100  # the comparison did run over compressed elements


@pytest.mark.parametrize("packed", [False, True])
def test_find_matches_brute_force(packed):
    """The match scan behind LPOS/LREM/LINSERT agrees with a plain scan, both directions, with need and maxlen."""
    import random
    server, c = _setup(compression_threshold=16, compression_min_saving=0)
    rnd = random.Random(7)
    pool = [b"a" * 40, b"b" * 40, b"x"] if packed else [b"a", b"b", b"x"]
    for _ in range(200):
        plain = [rnd.choice(pool) for _ in range(rnd.randint(0, 30))]
        value = List(c.server.compressor.compress(e) if len(e) >= 16 else e for e in plain)
        assert value.packed == any(type(e) is Compressed for e in value)
        target = rnd.choice(pool)
        reverse = rnd.random() < 0.5
        need = rnd.choice([None, 1, 2, 5])
        maxlen = rnd.choice([0, 1, 5, 50])
        order = list(range(len(plain)))[::-1] if reverse else list(range(len(plain)))
        if maxlen:
            order = order[:maxlen]
        expected = [i for i in order if plain[i] == target][:need]
        assert _find(server, value, target, reverse, need, maxlen) == expected

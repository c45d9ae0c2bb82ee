"""The protocol's lean path for plain commands (sonic/protocol.py _process) against the full path.

Each test runs the same pipelines twice: once as the server runs them, once
with the lean path switched off (its lookup tables emptied, so every command
goes through L{sonic.dispatch.execute}), and compares everything a client or
an operator can observe: the bytes written to every client, INFO
commandstats (calls, failed and rejected calls), the latency histograms'
counts, the slow log's entries, total_commands_processed, keyspace hits and
misses, CLIENT LIST's cmd= and the keyspace itself.  Durations differ from
run to run, so only their counts are compared.
"""

import re

import pytest
from twisted.internet import task

from sonic import protocol
from sonic.registry import PLAIN, PLAIN_READ, TABLE, all_specs
from sonic.resp import hiredis
from tests.helpers import connect, make_server
from tests.resp_reader import encode_command

PARSER_OPTIONS = [False] + ([True] if hiredis is not None else [])


def cmd(*args):
    """One multibulk request."""
    return encode_command(args)


def pipeline(*commands):
    """Several requests in one chunk."""
    return b"".join(cmd(*c) for c in commands)


class Counting(object):
    """Wraps protocol.execute: how many commands took the full path."""

    def __init__(self, execute):
        self.execute = execute
        self.names = []

    def __call__(self, client, argv):
        self.names.append(argv[0].lower())
        return self.execute(client, argv)


def observe(server, clients):
    """Everything the two paths must agree on, read without running commands."""
    stats = {}
    for spec in all_specs():
        latency = spec.latency_usec
        if spec.calls or spec.failed_calls or spec.rejected_calls or latency:
            stats[spec.fullname] = (spec.calls, spec.failed_calls, spec.rejected_calls,
                                    sum(latency.values()))
    keys = {}
    for db in server.store.dbs:
        for key in db.live_keys():
            keys[db.index, key] = repr(db.lookup(key))
    return {
        "commandstats": stats,
        "total_commands_processed": server.stat_commands,
        "hits": server.stat_keyspace_hits,
        "misses": server.stat_keyspace_misses,
        "slowlog": [(argv, addr) for _, _, _, argv, addr, _ in server.slowlog.entries],
        "cmd": [c.last_cmd for c, _ in clients],
        "argv": [list(c.argv) for c, _ in clients],
        "keys": keys,
    }


def run(monkeypatch, lean, script, hiredis_parser=True, config=None, setup=None):
    """Run C{script} (a list of (client index, bytes)) on a fresh server; (outputs, observations, full-path names)."""
    for spec in all_specs():  # statistics live on the shared specs
        spec.calls = spec.failed_calls = spec.rejected_calls = 0
        spec.seconds = 0.0
        spec.latency_usec.clear()
    with monkeypatch.context() as m:
        if not lean:
            m.setattr(protocol, "PLAIN", {})
            m.setattr(protocol, "PLAIN_READ", {})
        counting = Counting(protocol.execute)
        m.setattr(protocol, "execute", counting)
        # The slow log only where a test asks for it: with the default 10 ms
        # threshold a busy machine would log a command on one run only.
        server = make_server(hiredis_parser=hiredis_parser,
                             **dict({"slowlog_log_slower_than": -1}, **(config or {})))
        clients = [connect(server) for _ in range(3)]
        if setup is not None:
            setup(server, clients)
        for index, data in script:
            clients[index][0].dataReceived(data)
            server.clock.advance(0)  # the turn's end: Pub/Sub messages go out
        outputs = [t.value() for _, t in clients]
        seen = observe(server, clients)
    return outputs, seen, counting.names


def without_times(outputs):
    """MONITOR lines without their timestamps (wall-clock time, which differs between runs)."""
    return [re.sub(rb"\+\d+\.\d{6} \[", b"+<time> [", out) for out in outputs]


def compare(monkeypatch, script, **kwargs):
    """Run C{script} on both paths; assert they agree; return the lean run's (outputs, seen, full-path names)."""
    lean = run(monkeypatch, True, script, **kwargs)
    full = run(monkeypatch, False, script, **kwargs)
    assert without_times(lean[0]) == without_times(full[0])
    assert lean[1] == full[1]
    return lean


@pytest.fixture(params=PARSER_OPTIONS, ids=lambda h: "hiredis" if h else "python")
def hiredis_parser(request):
    """Whether the server under test uses the hiredis-assisted parser."""
    return request.param


MIXED = pipeline(
    ("SET", "a", "1"), ("GET", "a"), ("get", "a"), ("Get", "a"), ("INCR", "a"), ("INCR", "n"),
    ("GET", "missing"), ("HSET", "h", "f", "v"), ("HSET", "h", "f", "v", "g", "w"),
    ("LPUSH", "l", "x"), ("LPUSH", "l", "y", "z"), ("LRANGE", "l", "0", "-1"), ("LPOP", "l"),
    ("SADD", "s", "m"), ("SMEMBERS", "s"), ("ZADD", "z", "1", "m"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
    ("PING",), ("PING", "hello"), ("ECHO", "e"), ("MSET", "b", "2", "c", "3"), ("MGET", "a", "b", "c", "d"),
    ("INCR", "h"), ("GET", "h"), ("SET", "a"), ("GET",), ("GET", "a", "b"), ("NOSUCH", "x"),
    ("SET", "a", "1", "PX", "bad"), ("INCRBYFLOAT", "f", "1.5"), ("EXISTS", "a", "b", "zz"),
    ("DEL", "b"), ("TYPE", "h"), ("EXPIRE", "a", "100"), ("TTL", "a"), ("SET", "big", "v" * 5000),
    ("GET", "big"),
)


def test_mixed_pipeline_agrees(monkeypatch, hiredis_parser):
    """Replies, errors and every statistic of a mixed pipeline are the same on both paths."""
    outputs, seen, full = compare(monkeypatch, [(0, MIXED)], hiredis_parser=hiredis_parser)
    # Only the refused commands (arity, unknown name) and the mixed-case name took the full path.
    assert full == [b"get", b"set", b"get", b"get", b"nosuch"]
    assert seen["commandstats"]["get"][0] == 6
    assert seen["commandstats"]["incr"][1] == 1  # failed (WRONGTYPE)
    assert seen["commandstats"]["get"][2] == 2  # rejected (arity)
    assert seen["total_commands_processed"] == 33


def test_only_argument_counts_the_arity_allows_run_lean(monkeypatch, hiredis_parser):
    """Fixed arity (GET 2): exactly; variadic (MGET -2, HSET -4): at least; the rest are refused by the full path."""
    script = [(0, pipeline(
        ("GET",), ("GET", "a"), ("GET", "a", "b"), ("MGET",), ("MGET", "a"), ("MGET", "a", "b", "c"),
        ("HSET", "h", "f"), ("HSET", "h", "f", "v"), ("HSET", "h", "f", "v", "g", "w"),
        ("MSET", "k"), ("MSET", "k", "v"), ("MSET", *["k%d" % i for i in range(200)]),
    ))]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser)
    assert full == [b"get", b"get", b"mget", b"hset", b"mset"]
    assert outputs[0].count(b"-ERR wrong number of arguments") == 5
    assert seen["commandstats"]["mset"] == (2, 0, 1, 2)


@pytest.mark.parametrize("size", [0, 1, 1024, 1025, 70000])
def test_bulk_replies_of_every_size_are_whole(monkeypatch, hiredis_parser, size):
    """Short bulk replies go out as header, value and CRLF pieces, long ones formatted: same bytes, muted or not."""
    value = b"v" * size
    script = [(0, pipeline(("SET", "k", value), ("GET", "k"), ("CLIENT", "REPLY", "SKIP"), ("GET", "k"),
                           ("GET", "k"), ("MGET", "k", "nothing", "k"), ("GET", "k")))]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser)
    bulk = b"$%d\r\n%s\r\n" % (size, value)
    assert outputs[0] == b"+OK\r\n" + bulk + bulk + b"*3\r\n" + bulk + b"$-1\r\n" + bulk + bulk


def test_full_path_commands_in_the_middle_agree(monkeypatch, hiredis_parser):
    """MULTI/EXEC, SELECT, CLIENT REPLY, HELLO 3 and INFO in the middle of plain commands: same on both paths."""
    script = [(0, pipeline(
        ("SET", "a", "1"), ("MULTI",), ("GET", "a"), ("INCR", "a"), ("EXEC",), ("GET", "a"),
        ("SELECT", "2"), ("SET", "a", "in db 2"), ("GET", "a"), ("SELECT", "0"),
        ("CLIENT", "REPLY", "SKIP"), ("GET", "a"), ("GET", "a"),
        ("CLIENT", "REPLY", "OFF"), ("SET", "q", "1"), ("CLIENT", "REPLY", "ON"), ("GET", "q"),
        ("HELLO", "3"), ("GET", "nothing"), ("HGETALL", "none"), ("HSET", "h", "a", "b"), ("HGETALL", "h"),
        ("INFO", "stats"), ("GET", "a"),
    ))]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser)
    # Inside MULTI, GET and INCR were queued by the full path.
    assert full == [b"multi", b"get", b"incr", b"exec", b"select", b"select", b"client", b"client",
                    b"client", b"hello", b"info"]
    assert b"total_commands_processed:" in outputs[0]
    assert b"_\r\n" in outputs[0]  # RESP3 null after HELLO 3


def test_stat_commands_seen_by_info_in_the_pipeline(monkeypatch, hiredis_parser):
    """INFO inside a pipeline counts the lean commands run before it."""
    script = [(0, pipeline(("GET", "a"), ("GET", "b"), ("SET", "c", "d"), ("INFO", "stats")))]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser)
    assert b"total_commands_processed:3\r\n" in outputs[0]
    assert seen["total_commands_processed"] == 4


def test_blocked_client_served_by_a_lean_write(monkeypatch, hiredis_parser):
    """An LPUSH on the lean path serves a client blocked in BLPOP before the next command runs."""
    script = [
        (1, cmd("BLPOP", "q", "0")),
        (0, pipeline(("LPUSH", "q", "a", "b"), ("LLEN", "q"), ("GET", "x"))),
    ]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser)
    assert outputs[1] == b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n"
    assert outputs[0] == b":2\r\n:1\r\n$-1\r\n"
    assert seen["cmd"][:2] == ["get", "blpop"]
    assert full == [b"blpop"]


def test_keyspace_notifications_from_lean_writes(monkeypatch, hiredis_parser):
    """Keyspace events of lean-path writes reach subscribers, the writer itself included (RESP3)."""
    script = [
        (1, cmd("PSUBSCRIBE", "__key*__:*")),
        (0, pipeline(("HELLO", "3"), ("SUBSCRIBE", "__keyevent@0__:set"))),
        (0, pipeline(("SET", "a", "1"), ("GET", "a"), ("DEL", "a"))),
        (2, pipeline(("SET", "b", "1"), ("INCR", "b"))),
    ]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser,
                                  config={"notify_keyspace_events": "KEA"})
    assert outputs[1].count(b"pmessage") == 8  # set, del, set, incrby: keyspace and keyevent each
    assert b">3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$1\r\na\r\n+OK\r\n" in outputs[0]


def test_tracking_client_takes_the_full_path(monkeypatch, hiredis_parser):
    """A client with CLIENT TRACKING on runs every command through execute(); replies agree."""
    script = [
        (0, pipeline(("HELLO", "3"), ("CLIENT", "TRACKING", "on"), ("GET", "a"), ("GET", "b"))),
        (1, pipeline(("SET", "a", "1"), ("GET", "a"))),
        (0, pipeline(("GET", "a"),)),
    ]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser)
    assert full == [b"hello", b"client", b"get", b"get", b"get"]
    assert b"invalidate" in outputs[0]


def test_monitor_and_subscribed_clients_take_the_full_path(monkeypatch, hiredis_parser):
    """With a MONITOR attached every command takes the full path, and the monitor sees them all."""
    script = [
        (1, cmd("MONITOR")),
        (0, pipeline(("SET", "a", "1"), ("GET", "a"))),
        (2, pipeline(("SUBSCRIBE", "c"), ("GET", "a"))),
    ]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser)
    assert full == [b"monitor", b"set", b"get", b"subscribe", b"get"]
    assert outputs[1].count(b'"GET" "a"') == 1  # the subscribed client's GET is refused, not shown
    assert b"only (P|S)SUBSCRIBE" in outputs[2] or b"Can't execute 'get'" in outputs[2]


def test_guarded_writes_take_the_full_path(monkeypatch, hiredis_parser):
    """With maxmemory set, reads stay lean and writes go through execute()'s checks."""
    script = [(0, pipeline(("SET", "a", "1"), ("GET", "a"), ("INCR", "n"), ("EXISTS", "a")))]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser,
                                  config={"maxmemory": 1 << 40})
    assert full == [b"set", b"incr"]
    assert outputs[0] == b"+OK\r\n$1\r\n1\r\n:1\r\n:1\r\n"


def test_unauthenticated_client_takes_the_full_path(monkeypatch, hiredis_parser):
    """Before AUTH every command is refused by the full path; after it, plain commands run lean."""
    script = [(0, pipeline(("GET", "a"), ("AUTH", "secret"), ("SET", "a", "1"), ("GET", "a")))]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser,
                                  config={"requirepass": "secret"})
    assert outputs[0].startswith(b"-NOAUTH")
    assert full == [b"get", b"auth"]


def test_slowlog_and_latency_tracking_agree(monkeypatch, hiredis_parser):
    """Every command slow-logged (threshold 0) and counted in its histogram, on both paths."""
    script = [(0, pipeline(("SET", "a", "1"), ("GET", "a"), ("INCR", "a"), ("GET", "a", "b")))]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser,
                                  config={"slowlog_log_slower_than": 0})
    # Newest first; the refused GET never ran, so it is not logged.
    assert [argv for argv, _ in seen["slowlog"]] == [[b"INCR", b"a"], [b"GET", b"a"], [b"SET", b"a", b"1"]]
    assert seen["commandstats"]["get"] == (1, 0, 1, 1)


def test_latency_tracking_off_still_counts(monkeypatch, hiredis_parser):
    """With latency-tracking off calls and time are counted without samples, on both paths."""
    def setup(server, clients):
        server.latency_tracking = False
    script = [(0, pipeline(("SET", "a", "1"), ("GET", "a"), ("GET", "a")))]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser, setup=setup)
    assert seen["commandstats"]["get"] == (2, 0, 0, 0)
    assert TABLE[b"get"].latency_samples == []
    assert TABLE[b"get"].seconds > 0


def test_handler_crash_agrees(monkeypatch, hiredis_parser):
    """A handler raising something else than CommandError: the same error reply and failed_calls."""
    def crash(client, *args):
        raise ZeroDivisionError("boom")
    monkeypatch.setattr(TABLE[b"echo"], "handler", crash)
    monkeypatch.setattr(protocol.log, "failure", lambda *a, **k: None)
    monkeypatch.setattr(__import__("sonic.dispatch").dispatch.log, "failure", lambda *a, **k: None)
    script = [(0, pipeline(("ECHO", "x"), ("PING",)))]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser)
    assert outputs[0] == b"-ERR internal error running 'echo': see the server log\r\n+PONG\r\n"
    assert seen["commandstats"]["echo"][:2] == (1, 1)
    assert full == []


def test_lean_path_runs_thousands_and_folds_latency(monkeypatch, hiredis_parser):
    """5000 GETs in one batch: the samples fold at 4096 and every call is counted once."""
    script = [(0, cmd("GET", "a") * 5000)]
    outputs, seen, full = compare(monkeypatch, script, hiredis_parser=hiredis_parser)
    assert seen["commandstats"]["get"] == (5000, 0, 0, 5000)
    assert full == []


def test_plain_lookup_tables():
    """PLAIN holds exactly the plain top-level specs (both spellings), PLAIN_READ those that do not write."""
    assert PLAIN[b"GET"] is PLAIN[b"get"] is TABLE[b"get"]
    assert b"blpop" not in PLAIN and b"multi" not in PLAIN and b"client" not in PLAIN
    assert b"object" not in PLAIN  # a container
    assert b"select" not in PLAIN and b"wait" not in PLAIN and b"migrate" not in PLAIN
    assert b"set" in PLAIN and b"set" not in PLAIN_READ and PLAIN_READ[b"GET"] is TABLE[b"get"]
    for name, spec in TABLE.items():
        assert (PLAIN.get(name) is spec) == spec.plain
        assert (PLAIN_READ.get(name) is spec) == (spec.plain and not spec.write)
        if spec.plain:
            assert not spec.subcommands and spec.parent is None and spec.handler is not None


def test_lean_samples_are_folded_every_4096_lean_calls(monkeypatch):
    """The lean path appends samples unchecked; every 4096 lean calls all specs are folded."""
    from sonic import registry
    monkeypatch.setattr(registry, "_lean_unfolded", 0)
    server = make_server()
    proto, transport = connect(server)
    spec = TABLE[b"ping"]
    spec.fold_latency()
    proto.dataReceived(cmd("PING") * 3000)
    assert len(spec.latency_samples) == 3000
    proto.dataReceived(cmd("PING") * 3000)
    assert spec.latency_samples == []
    assert registry._lean_unfolded == 0
    assert server.stat_commands == 6000


def test_data_fed_while_a_command_runs_is_run_in_the_same_batch(monkeypatch, hiredis_parser):
    """Bytes that arrive while a command runs (a reactor turn inside it) are not left waiting."""
    server = make_server(hiredis_parser=hiredis_parser)
    proto, transport = connect(server)
    fed = []

    def echo(client, word):
        if not fed:
            fed.append(True)
            proto.dataReceived(cmd("GET", "late"))  # _processing: only buffered
        return word
    monkeypatch.setattr(TABLE[b"echo"], "handler", echo)
    proto.dataReceived(pipeline(("SET", "late", "1"), ("ECHO", "x")))
    assert transport.value() == b"+OK\r\n$1\r\nx\r\n$1\r\n1\r\n"


class CountingClock(task.Clock):
    """A task.Clock that counts how often the time is read."""

    reads = 0

    def seconds(self):
        self.reads += 1
        return task.Clock.seconds(self)


def test_lean_commands_read_the_clock_once_and_only_when_they_need_the_time(hiredis_parser):
    """GETs on a keyspace without TTLs never read the clock; a TTL's reader reads it once per command."""
    clock = CountingClock()
    server = make_server(clock=clock, hiredis_parser=hiredis_parser)
    proto, transport = connect(server)
    proto.dataReceived(pipeline(("SET", "a", "1"), ("SET", "b", "2")))
    before = clock.reads
    proto.dataReceived(pipeline(("GET", "a"), ("GET", "b"), ("GET", "missing")))
    assert clock.reads == before
    proto.dataReceived(cmd("PEXPIRE", "b", "5000"))
    before = clock.reads
    # PTTL reads `now` twice (the deadline check in the lookup, then the TTL).
    proto.dataReceived(cmd("PTTL", "b") * 3)
    assert clock.reads == before + 3
    assert transport.value().endswith(b":5000\r\n" * 3)


def test_lean_commands_see_the_clock_move_between_batches(hiredis_parser):
    """The time a lean command sees is read for it, not left over from an earlier command."""
    server = make_server(hiredis_parser=hiredis_parser)
    proto, transport = connect(server)
    proto.dataReceived(pipeline(("SET", "k", "v", "PX", "100"), ("GET", "k")))
    server.clock.advance(0.05)
    proto.dataReceived(cmd("PTTL", "k"))
    server.clock.advance(0.051)
    proto.dataReceived(pipeline(("GET", "k"), ("EXISTS", "k")))
    assert transport.value() == b"+OK\r\n$1\r\nv\r\n:50\r\n$-1\r\n:0\r\n"


def test_a_snapshot_left_by_the_expiry_timer_is_not_reused(hiredis_parser):
    """The expiry timer sets the time between commands (set_now): lean commands after it read the clock anew."""
    server = make_server(hiredis_parser=hiredis_parser)
    proto, transport = connect(server)
    proto.dataReceived(pipeline(("SET", "k", "v", "PX", "100"), ("SET", "later", "v", "PX", "5000")))
    server.clock.advance(0.101)  # the timer fires: k expires, the store holds the timer's time
    assert server.store.has_now
    server.clock.advance(10)  # no command ran since: the timer's snapshot is stale
    transport.clear()
    proto.dataReceived(pipeline(("GET", "later"), ("PTTL", "k")))
    assert transport.value() == b"$-1\r\n:-2\r\n"


def test_the_lean_path_leaves_the_store_attributes_inline(hiredis_parser):
    """Forgetting the snapshot deletes the attribute (del store.now), never through the store's __dict__.

    Asking for an instance's __dict__ moves CPython's inline attribute
    values into a dictionary and makes every attribute read of the store
    several times slower; a store whose __dict__ cannot be asked for shows
    the lean path does not.
    """
    from sonic.store.keyspace import ShardedStore

    class NoDict(ShardedStore):
        @property
        def __dict__(self):
            raise AssertionError("the store's __dict__ was asked for")

    server = make_server(hiredis_parser=hiredis_parser)
    server.store.__class__ = NoDict
    proto, transport = connect(server)
    proto.dataReceived(pipeline(("SET", "k", "v", "PX", "100"), ("PTTL", "k"), ("GET", "k"), ("GET", "k")))
    assert transport.value() == b"+OK\r\n:100\r\n$1\r\nv\r\n$1\r\nv\r\n"


def test_connecting_leaves_the_transport_attributes_inline():
    """connectionMade gives the transport its own copies of Twisted's class defaults without asking for its __dict__.

    (Asking would make every attribute read of the transport, Twisted's and
    sonic's, several times slower: see test_the_lean_path_leaves_the_store_attributes_inline.)
    """
    from twisted.internet.testing import StringTransport
    from sonic.protocol import RedisServerFactory

    class Transport(StringTransport):
        dataBuffer = b""
        disconnecting = False

        @property
        def __dict__(self):
            raise AssertionError("the transport's __dict__ was asked for")

    server = make_server()
    proto = RedisServerFactory(server).buildProtocol(None)
    transport = Transport()
    proto.makeConnection(transport)
    proto.dataReceived(cmd("PING"))
    assert transport.value() == b"+PONG\r\n"
    # Its own copies: changing the class defaults does not show through.
    Transport.dataBuffer = b"class"
    Transport.disconnecting = True
    assert (transport.dataBuffer, transport.disconnecting) == (b"", False)

"""Pub/Sub: byte-for-byte parity with redis-server 7.0 (RESP2 and RESP3), plus unit tests.

A parity scenario drives several connections per server (subscribers and a
publisher) through L{Pair}: each step sends the same command to the same
connection on both servers and compares the exact bytes of the given number
of frames (a SUBSCRIBE of three channels answers with three frames).
Scenarios subscribe to at most one channel when they UNSUBSCRIBE them all:
Redis walks a client's channels in hash order there.
"""

import pytest

from sonic.replication.propagate import Propagator
from sonic.resp import Error, Push
from tests.helpers import Client, call, connect, make_server
from tests.resp_reader import RawClient, encode_command

CONTEXT_ERROR = (b"-ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                 b"QUIT / RESET are allowed in this context\r\n")


class Pair(object):
    """One connection to sonic and one to redis-server, driven in step."""

    def __init__(self, sonic_port, real_port, resp3=False):
        self.sonic = RawClient(sonic_port)
        self.real = RawClient(real_port)
        if resp3:
            self.sonic.call("HELLO", "3")
            self.real.call("HELLO", "3")

    def __call__(self, *cmd, frames=1):
        """Send C{cmd} to both; compare and return the bytes of C{frames} frames."""
        data = encode_command(cmd)
        self.real.send_raw(data)
        self.sonic.send_raw(data)
        return self.read(frames, cmd)

    def read(self, frames=1, what="pending frames"):
        """Read C{frames} frames from both (pushes already sent); compare; return them."""
        expected = b"".join(self.real.read_reply() for _ in range(frames))
        got = b"".join(self.sonic.read_reply() for _ in range(frames))
        assert got == expected, "%r: sonic %r != redis %r" % (what, got, expected)
        return got

    def read_unordered(self, frames, what="pending frames"):
        """Like L{read}, in any order: Redis walks its patterns in hash order."""
        expected = sorted(self.real.read_reply() for _ in range(frames))
        got = sorted(self.sonic.read_reply() for _ in range(frames))
        assert got == expected, "%r: sonic %r != redis %r" % (what, got, expected)
        return got

    def close(self):
        for c in (self.sonic, self.real):
            try:
                c.call("RESET")
            except Exception:
                pass
            c.close()


@pytest.fixture
def pair(sonic_port, real_port):
    """A factory of L{Pair}s, all reset and closed after the test."""
    made = []

    def make(resp3=False):
        p = Pair(sonic_port, real_port, resp3)
        made.append(p)
        return p
    yield make
    for p in made:
        p.close()


# -- confirmations -------------------------------------------------------------------------

@pytest.mark.parametrize("resp3", [False, True])
def test_subscribe_confirms_each_channel(pair, resp3):
    """SUBSCRIBE answers one confirmation per channel (repeats too) with the running count."""
    s = pair(resp3)
    out = s("SUBSCRIBE", "ps:a", "ps:b", "ps:a", frames=3)
    assert out.count(b">3\r\n" if resp3 else b"*3\r\n") == 3
    s("PSUBSCRIBE", "ps:*", "ps:*", frames=2)
    s("SSUBSCRIBE", "ps:s1", "ps:s2", frames=2)
    s("UNSUBSCRIBE", "ps:a", "ps:zz", frames=2)
    s("PUNSUBSCRIBE", frames=1)
    s("SUNSUBSCRIBE", "ps:s1", frames=1)
    s("UNSUBSCRIBE", frames=1)
    s("SUNSUBSCRIBE", frames=1)


@pytest.mark.parametrize("resp3", [False, True])
def test_unsubscribe_without_subscriptions(pair, resp3):
    """(P|S)UNSUBSCRIBE with nothing subscribed answers one confirmation with a null channel."""
    s = pair(resp3)
    s("UNSUBSCRIBE")
    s("PUNSUBSCRIBE")
    s("SUNSUBSCRIBE")
    s("UNSUBSCRIBE", "ps:never")
    s("PUNSUBSCRIBE", "ps:never*")
    s("SUNSUBSCRIBE", "ps:never")


def test_shard_count_apart_and_mode_until_all_gone(pair):
    """Shard confirmations count shard channels only; the subscribed mode lasts until every kind is gone."""
    s = pair()
    s("SSUBSCRIBE", "ps:s1")
    s("SUBSCRIBE", "ps:a")
    s("UNSUBSCRIBE", "ps:a")
    assert s("GET", "x") == CONTEXT_ERROR % b"get"
    s("SUBSCRIBE", "ps:a")
    s("SUNSUBSCRIBE")
    s("GET", "x")
    s("UNSUBSCRIBE")
    assert s("GET", "x") == b"$-1\r\n"
    assert s("PING") == b"+PONG\r\n"


# -- the RESP2 subscribed context ------------------------------------------------------------

def test_resp2_context_refuses_other_commands(pair):
    """A subscribed RESP2 client may run only (P|S)(UN)SUBSCRIBE, PING, QUIT and RESET, with Redis' error."""
    s = pair()
    s("SUBSCRIBE", "ps:ctx")
    for cmd in (("GET", "x"), ("ECHO", "x"), ("MULTI",), ("HELLO", "2"), ("CLIENT", "ID"),
                ("PUBLISH", "ps:ctx", "m"), ("CONFIG", "GET", "maxmemory")):
        assert s(*cmd).startswith(b"-ERR Can't execute")
    # Lookup and arity come first.
    s("FOO")
    s("SET", "a")
    s("PUBSUB", "NUMPAT")
    s("EXEC")
    s("PING")
    s("PING", "hi")
    s("SUBSCRIBE", "ps:ctx2")
    s("RESET")
    assert s("GET", "x") == b"$-1\r\n"


def test_resp3_context_allows_everything(pair):
    """In RESP3 a subscribed client runs any command; PING answers +PONG; HELLO 2 brings the gate back."""
    s = pair(resp3=True)
    s("SUBSCRIBE", "ps:r3")
    s("GET", "x")
    s("PING")
    s("ECHO", "e")
    s("PUBSUB", "NUMSUB", "ps:r3")
    # HELLO's own reply carries the client id: not compared.
    s.sonic.call("HELLO", "2")
    s.real.call("HELLO", "2")
    s("PING")
    s("GET", "x")


def test_reset_leaves_subscribed_mode(pair):
    """RESET drops every subscription silently."""
    s = pair()
    p = pair()
    s("SUBSCRIBE", "ps:rs")
    s("PSUBSCRIBE", "ps:r*")
    s("RESET")
    p("PUBLISH", "ps:rs", "m")
    p("PUBSUB", "NUMSUB", "ps:rs")
    s("GET", "x")


def test_multi_with_subscribe(pair):
    """SUBSCRIBE queued in MULTI confirms inside EXEC's array; SSUBSCRIBE there is refused; MULTI later is gated."""
    s = pair()
    s("MULTI")
    s("SUBSCRIBE", "ps:m1")
    s("PING")
    s("GET", "x")
    s("EXEC")
    s("GET", "x")
    s("MULTI")
    s("EXEC")
    s("RESET")
    s("MULTI")
    s("SSUBSCRIBE", "ps:m2")
    s("PSUBSCRIBE", "ps:m*")
    s("EXEC")


@pytest.mark.parametrize("resp3", [False, True])
def test_self_publish_inside_exec(pair, resp3):
    """A message to ourselves inside EXEC sits in EXEC's array before PUBLISH's reply, uncounted, as in Redis."""
    s = pair(resp3)
    s("MULTI")
    s("SUBSCRIBE", "ps:ex")
    s("PUBLISH", "ps:ex", "x")
    s("EXEC", frames=2)
    s("PING")


def test_client_reply_off_keeps_pushes(pair):
    """CLIENT REPLY OFF mutes replies, not (un)subscribe confirmations or messages."""
    s = pair()
    p = pair()
    s.sonic.send_raw(encode_command(("CLIENT", "REPLY", "OFF")))
    s.real.send_raw(encode_command(("CLIENT", "REPLY", "OFF")))
    s("SUBSCRIBE", "ps:off")
    p("PUBLISH", "ps:off", "x")
    s.read(1)


# -- delivery ------------------------------------------------------------------------------------

@pytest.mark.parametrize("resp3", [False, True])
def test_publish_to_channel_pattern_and_shard(pair, resp3):
    """PUBLISH reaches channel then pattern subscribers (each counted); SPUBLISH reaches shard subscribers."""
    s = pair(resp3)
    p = pair()
    s("PSUBSCRIBE", "ps:h[ae]llo", "ps:h\\*", frames=2)
    s("SUBSCRIBE", "ps:hello")
    s("SSUBSCRIBE", "ps:hello")
    assert p("PUBLISH", "ps:hello", "1") == b":2\r\n"
    s.read(2)
    p("PUBLISH", "ps:h*", "2")
    s.read(1)
    p("PUBLISH", "ps:hallo", "")
    s.read(1)
    p("PUBLISH", "ps:hbllo", "none")
    p("PUBLISH", "", "empty")
    p("SPUBLISH", "ps:hello", "sh")
    s.read(1)
    p("SPUBLISH", "ps:nobody", "x")
    s("PING")


def test_pattern_glob_forms(pair):
    """Pattern subscriptions match as Redis' stringmatchlen: ranges, negation, ?, escapes."""
    s = pair()
    p = pair()
    patterns = ("ps:[^a]?", "ps:[a-c]*", "ps:x\\?", "ps:[z-x]")
    s("PSUBSCRIBE", *patterns, frames=len(patterns))
    for channel, frames in ((b"ps:b1", 2), (b"ps:a1", 1), (b"ps:x?", 2), (b"ps:xy", 1),
                            (b"ps:y", 1), (b"ps:", 0)):
        p("PUBLISH", channel, "m")
        s.read_unordered(frames, channel)
    s("PING")


def test_self_publish_in_resp3_orders_push_before_reply(pair):
    """A RESP3 client publishing to itself gets the message push before PUBLISH's reply."""
    s = pair(resp3=True)
    s("SUBSCRIBE", "ps:self")
    assert s("PUBLISH", "ps:self", "me", frames=2).endswith(b":1\r\n")
    s("SET", "ps:k", "v")


def test_pipelined_replies_keep_order_around_pushes(pair):
    """Pushes made by a pipelined command land between the replies before and after it."""
    s = pair(resp3=True)
    s("SUBSCRIBE", "ps:pipe")
    data = b"".join(encode_command(c) for c in (("PING",), ("PUBLISH", "ps:pipe", "x"), ("PING",)))
    s.sonic.send_raw(data)
    s.real.send_raw(data)
    s.read(4)


# -- PUBSUB and errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("resp3", [False, True])
def test_pubsub_introspection(pair, resp3):
    """PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB/HELP answer as Redis."""
    s = pair()
    p = pair(resp3)
    s("SUBSCRIBE", "ps:intro")
    s("SSUBSCRIBE", "ps:shard")
    p("PUBSUB", "NUMSUB", "ps:intro", "ps:zz", "ps:intro")
    p("PUBSUB", "NUMSUB")
    p("PUBSUB", "SHARDNUMSUB", "ps:shard", "ps:intro")
    p("PUBSUB", "SHARDNUMSUB")
    p("PUBSUB", "CHANNELS", "ps:int*")
    p("PUBSUB", "CHANNELS", "ps:nothing*")
    p("PUBSUB", "SHARDCHANNELS", "ps:sh?rd")
    p("PUBSUB", "SHARDCHANNELS", "nomatch")
    p("PUBSUB", "HELP")
    p("pubsub", "help")


def test_pubsub_numpat_counts_patterns(pair):
    """PUBSUB NUMPAT counts distinct patterns, not subscriptions."""
    s = pair()
    t = pair()
    p = pair()
    before = p("PUBSUB", "NUMPAT")
    s("PSUBSCRIBE", "ps:np*", "ps:np2*", frames=2)
    t("PSUBSCRIBE", "ps:np*")
    after = p("PUBSUB", "NUMPAT")
    assert int(after[1:-2]) == int(before[1:-2]) + 2


def test_errors(pair):
    """Arity and syntax errors of the Pub/Sub commands are Redis'."""
    p = pair()
    for cmd in (("SUBSCRIBE",), ("PSUBSCRIBE",), ("SSUBSCRIBE",), ("PUBLISH", "a"),
                ("PUBLISH", "a", "b", "c"), ("SPUBLISH", "a"), ("PUBSUB",), ("PUBSUB", "FOO"),
                ("PUBSUB", "NUMPAT", "x"), ("PUBSUB", "HELP", "x"), ("PUBSUB", "CHANNELS", "a", "b"),
                ("PUBSUB", "SHARDCHANNELS", "a", "b")):
        assert p(*cmd).startswith(b"-ERR")
    p("PUBLISH", "ps:none", "m")
    p("SPUBLISH", "ps:none", "m")


# -- configuration and INFO ----------------------------------------------------------------------

def test_config_client_output_buffer_limit(pair):
    """CONFIG SET client-output-buffer-limit sets the given classes only, with Redis' errors."""
    p = pair()
    default = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    try:
        for value in ("pubsub 1mb 512kb 10", "replica 1gb 2 3 normal 1k 2k 3", "",
                      "pubsub 1 1 -1", "PUBSUB 1 1 +5", "pubsub 1mb 512kb", "foo 1 1 1",
                      "master 1 1 1", "pubsub x 1 1", "pubsub -1 1 1", "pubsub 1 1 1s"):
            p("CONFIG", "SET", "client-output-buffer-limit", value)
            p("CONFIG", "GET", "client-output-buffer-limit")
    finally:
        p("CONFIG", "SET", "client-output-buffer-limit", default)


def test_info_pubsub_counts(sonic_port):
    """INFO stats counts channels, patterns and shard channels with subscribers."""
    import redis
    r = redis.Redis(port=sonic_port)
    before = r.info("stats")
    s = RawClient(sonic_port)
    s.call("SUBSCRIBE", "ps:info1")
    s.call("SUBSCRIBE", "ps:info2")
    s.call("PSUBSCRIBE", "ps:info*")
    s.call("SSUBSCRIBE", "ps:info1")
    after = r.info("stats")
    assert after["pubsub_channels"] == before["pubsub_channels"] + 2
    assert after["pubsub_patterns"] == before["pubsub_patterns"] + 1
    assert after["pubsubshard_channels"] == before["pubsubshard_channels"] + 1
    s.call("RESET")
    s.close()
    assert r.info("stats")["pubsub_channels"] == before["pubsub_channels"]
    r.close()


# -- unit: the registry, delivery and the output buffer limit ------------------------------------------

def publish(server, channel, message):
    """Publish, then end the reactor turn so queued messages are written."""
    n = server.pubsub.publish(channel, message)
    server.clock.advance(0)
    return n


def test_unit_messages_written_at_end_of_turn():
    """A turn's messages to a subscriber wait for the end of the reactor turn, then go out in order."""
    server = make_server()
    proto, transport = connect(server)
    proto.dataReceived(encode_command(("SUBSCRIBE", "c")))
    transport.clear()
    server.pubsub.publish(b"c", b"1")
    server.pubsub.publish(b"c", b"2")
    assert transport.value() == b""
    server.clock.advance(0)
    assert transport.value() == (b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\n1\r\n"
                                 b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\n2\r\n")


def test_unit_queued_messages_precede_later_replies():
    """A reply sent while messages are queued goes after them (one output stream, as in Redis)."""
    server = make_server()
    proto, transport = connect(server)
    proto.dataReceived(encode_command(("HELLO", "3")) + encode_command(("SUBSCRIBE", "c")))
    transport.clear()
    server.pubsub.publish(b"c", b"m")
    proto.dataReceived(encode_command(("PING",)))
    assert transport.value() == b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n+PONG\r\n"
    server.clock.advance(0)
    assert transport.value().endswith(b"+PONG\r\n")


def test_unit_publish_counts_and_order():
    """publish() returns channel plus pattern receivers and delivers channel messages first."""
    server = make_server()
    a, b = Client(server), Client(server)
    call(a, "PSUBSCRIBE", "n*")
    call(a, "SUBSCRIBE", "news")
    call(b, "SUBSCRIBE", "news")
    a.pushes = []
    assert server.pubsub.publish(b"news", b"hi") == 3
    assert a.pushes == [[b"message", b"news", b"hi"], [b"pmessage", b"n*", b"news", b"hi"]]
    assert b.pushes[-1] == [b"message", b"news", b"hi"]
    assert server.pubsub.spublish(b"news", b"x") == 0


def test_unit_gate_flag_follows_subscriptions():
    """client.gated is set by the first subscription and cleared with the last one."""
    server = make_server()
    c = Client(server)
    assert not c.gated
    call(c, "SSUBSCRIBE", "s")
    call(c, "PSUBSCRIBE", "p*")
    assert c.gated
    assert call(c, "GET", "k") == Error(CONTEXT_ERROR[1:-2].decode() % "get")
    call(c, "SUNSUBSCRIBE")
    call(c, "PUNSUBSCRIBE")
    assert not c.gated
    assert call(c, "GET", "k") is None
    assert server.pubsub.channels == {} and server.pubsub.patterns == {}


def test_unit_disconnect_forgets_subscriptions():
    """A client that disconnects leaves no channel, pattern or shard subscription behind."""
    server = make_server()
    proto, transport = connect(server)
    proto.dataReceived(encode_command(("SUBSCRIBE", "c")) + encode_command(("PSUBSCRIBE", "p*"))
                       + encode_command(("SSUBSCRIBE", "s")))
    assert server.pubsub.channels and server.pubsub.patterns and server.pubsub.shard_channels
    proto.connectionLost(None)
    assert not server.pubsub.channels and not server.pubsub.patterns and not server.pubsub.shard_channels
    assert server.pubsub.publish(b"c", b"m") == 0


def test_unit_protocol_pushes_encoded_per_resp():
    """Messages reach a protocol client as RESP2 arrays or RESP3 pushes, by its protocol."""
    server = make_server()
    p2, t2 = connect(server)
    p3, t3 = connect(server)
    p3.dataReceived(encode_command(("HELLO", "3")))
    for proto in (p2, p3):
        proto.dataReceived(encode_command(("SUBSCRIBE", "c")))
    t2.clear()
    t3.clear()
    publish(server, b"c", b"m")
    assert t2.value() == b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"
    assert t3.value() == b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"


def test_unit_hard_limit_disconnects_subscriber():
    """A subscriber whose pending output reaches the pubsub hard limit is dropped and unsubscribed."""
    server = make_server()
    server.config.apply("client-output-buffer-limit", ["pubsub", "1000", "0", "0"])
    proto, transport = connect(server)
    proto.dataReceived(encode_command(("SUBSCRIBE", "c")))
    transport.clear()
    for _ in range(9):  # 111 bytes each: 999 pending
        publish(server, b"c", b"x" * 80)
    assert not transport.disconnecting
    publish(server, b"c", b"x" * 80)
    assert transport.disconnecting
    assert server.pubsub.publish(b"c", b"x") == 0


def test_unit_soft_limit_needs_its_seconds():
    """Over the soft limit a subscriber is dropped only once it stayed there longer than the soft seconds."""
    server = make_server()
    server.config.apply("client-output-buffer-limit", ["pubsub", "0", "500", "10"])
    proto, transport = connect(server)
    proto.dataReceived(encode_command(("SUBSCRIBE", "c")))
    publish(server, b"c", b"x" * 600)
    server.clock.advance(10)
    publish(server, b"c", b"x")
    assert not transport.disconnecting
    server.clock.advance(1)
    publish(server, b"c", b"x")
    assert transport.disconnecting


def test_unit_soft_limit_timer_resets_below():
    """Going back under the soft limit restarts the soft-seconds count."""
    server = make_server()
    server.config.apply("client-output-buffer-limit", ["pubsub", "0", "500", "10"])
    proto, transport = connect(server)
    proto.dataReceived(encode_command(("SUBSCRIBE", "c")))
    publish(server, b"c", b"x" * 600)
    transport.clear()  # the client read everything
    server.clock.advance(20)
    publish(server, b"c", b"x")
    publish(server, b"c", b"x" * 600)
    assert not transport.disconnecting


def test_unit_config_merges_classes():
    """Setting one class keeps the others and normalises sizes, as CONFIG GET shows."""
    server = make_server()
    server.config.apply("client-output-buffer-limit", ["replica", "1gb", "2", "3"])
    assert server.config.format("client-output-buffer-limit") == \
        "normal 0 0 0 slave 1073741824 2 3 pubsub 33554432 8388608 60"
    assert server.pubsub.limits.pubsub == (33554432, 8388608, 60)


def test_unit_publish_propagates_to_replicas_not_aof():
    """PUBLISH and SPUBLISH join the replication stream (Redis' PROPAGATE_REPL) even though they write nothing."""
    server = make_server()
    c = Client(server)
    prop = server.propagator = Propagator(server)
    stream = []
    prop.listeners.append(stream.append)
    call(c, "PUBLISH", "ch", "m")
    call(c, "SPUBLISH", "sh", "m")
    assert b"".join(stream) == (b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
                                b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$1\r\nm\r\n"
                                b"*3\r\n$8\r\nSPUBLISH\r\n$2\r\nsh\r\n$1\r\nm\r\n")


def test_unit_push_type_for_bare_clients():
    """Bare dispatcher clients collect confirmations as Push values."""
    server = make_server()
    c = Client(server)
    call(c, "SUBSCRIBE", "a")
    assert c.pushes == [[b"subscribe", b"a", 1]] and type(c.pushes[0]) is Push


@pytest.mark.parametrize("resp3", [False, True])
def test_quit_while_subscribed(pair, resp3):
    """QUIT is allowed while subscribed: +OK, then the server closes the connection."""
    s = pair(resp3)
    s("SUBSCRIBE", "ps:quit")
    assert s("QUIT") == b"+OK\r\n"
    assert s.sonic.is_closed(2.0) and s.real.is_closed(2.0)


def test_unit_config_rewrite_one_line_per_changed_class(tmp_path):
    """CONFIG REWRITE writes a line per class differing from its default, sizes as Redis formats them, and reads back."""
    from sonic.config import Config, parse_file, rewrite_file
    server = make_server()
    server.config.apply("client-output-buffer-limit", ["pubsub", "1mb", "512kb", "10", "normal", "1000", "0", "0"])
    path = str(tmp_path / "sonic.conf")
    rewrite_file(path, server.config)
    lines = [line for line in open(path).read().splitlines() if line.startswith("client-output")]
    assert lines == ["client-output-buffer-limit normal 1000 0 0",
                     "client-output-buffer-limit pubsub 1mb 512kb 10"]
    again = Config()
    parse_file(path, again)
    assert again.format("client-output-buffer-limit") == server.config.format("client-output-buffer-limit")


def test_random_patterns_match_as_redis(pair):
    """Random glob patterns (classes, ranges, escapes, stars) deliver to the same channels as in Redis."""
    import random
    rnd = random.Random(6)
    alphabet = "ab*?[]^\\-"
    patterns = sorted({"".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 6)))
                       for _ in range(40)})
    s = pair()
    p = pair()
    s("PSUBSCRIBE", *patterns, frames=len(patterns))
    for _ in range(60):
        channel = "".join(rnd.choice("ab-^]\\*?") for _ in range(rnd.randint(0, 5)))
        n = p("PUBLISH", channel, "m")
        s.read_unordered(int(n[1:-2]), channel)
    s("PUNSUBSCRIBE", frames=len(patterns))

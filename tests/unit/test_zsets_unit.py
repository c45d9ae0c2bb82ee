"""Sorted sets without sockets: the ZSet value, bound parsing, encodings, and the blocking pops on a task.Clock."""

import math
import random

import pytest

from sonic.blocking import BLOCKED
from sonic.commands.zsets import (
    LEX_MAX, LEX_MIN, ZSet, parse_lex_range, parse_range, parse_score, store_result)
from sonic.errors import CommandError
from sonic.resp import NULL_ARRAY, Error, encode

from tests.helpers import Client, call, connect, make_server


def _client(server=None, resp=2):
    server = server or make_server()
    client = Client(server)
    server.add_client(client)
    client.resp = resp
    return client


# -- the ZSet value -----------------------------------------------------------------------------

def test_zset_orders_by_score_then_member():
    """Iteration is ascending by score, ties by member bytes; rank follows that order."""
    zs = ZSet()
    for member, score in [(b"b", 1.0), (b"a", 1.0), (b"c", 0.5), (b"B", 1.0), (b"z", -math.inf)]:
        zs.add(member, score)
    assert list(zs) == [(b"z", -math.inf), (b"c", 0.5), (b"B", 1.0), (b"a", 1.0), (b"b", 1.0)]
    assert [zs.rank(m) for m in (b"z", b"c", b"B", b"a", b"b")] == [0, 1, 2, 3, 4]
    assert zs.rank(b"nope") is None and b"a" in zs and b"nope" not in zs and len(zs) == 5


def test_zset_update_and_discard():
    """add() moves a member to its new score; discard() removes it and says whether it was there."""
    zs = ZSet()
    zs.add(b"a", 1.0)
    zs.add(b"b", 2.0)
    zs.add(b"a", 3.0)
    assert list(zs) == [(b"b", 2.0), (b"a", 3.0)] and len(zs.order) == 2
    assert zs.discard(b"a") is True and zs.discard(b"a") is False
    assert list(zs) == [(b"b", 2.0)] and zs.scores == {b"b": 2.0}


def test_zset_equal_score_keeps_the_stored_sign():
    """An equal score is no update (Redis compares with ==), so -0 stays -0."""
    zs = ZSet(big=True)
    zs.add(b"a", -0.0)
    zs.add(b"a", 0.0)
    assert math.copysign(1.0, zs.score(b"a")) < 0


def test_zset_copy_is_independent():
    """copy() keeps members, scores and encoding but shares nothing."""
    zs = ZSet(big=True)
    zs.add(b"a", 1.0)
    other = zs.copy()
    other.add(b"b", 2.0)
    assert len(zs) == 1 and len(other) == 2 and other.big


def test_memory_usage_grows_with_members():
    """memory_usage() estimates more bytes for more members."""
    small, large = ZSet(), ZSet()
    small.add(b"a", 1.0)
    for i in range(1000):
        large.add(b"member%d" % i, float(i))
    assert 0 < small.memory_usage() < large.memory_usage()


def test_score_range_matches_a_linear_scan():
    """score_range() bisection agrees with filtering every member, for random bounds and ties."""
    rng = random.Random(7)
    zs = ZSet()
    for i in range(300):
        zs.add(b"m%d" % i, float(rng.randint(-20, 20)))
    entries = list(zs.order)
    bounds = [-math.inf, math.inf, -0.0, 0.0] + [float(rng.randint(-25, 25)) for _ in range(20)]
    for lo in bounds:
        for hi in bounds:
            for loex in (False, True):
                for hiex in (False, True):
                    start, stop = zs.score_range(lo, loex, hi, hiex)
                    want = [i for i, (s, m) in enumerate(entries)
                            if (s > lo if loex else s >= lo) and (s < hi if hiex else s <= hi)]
                    assert list(range(start, stop)) == want, (lo, loex, hi, hiex)


def test_lex_range_matches_a_linear_scan():
    """lex_range() with one score agrees with filtering the members by bytes, big or small."""
    rng = random.Random(3)
    for big in (False, True):
        zs = ZSet(big=big)
        for _ in range(200):
            zs.add(bytes(rng.choice(b"abc") for _ in range(rng.randint(0, 3))), 0.0)
        members = [m for s, m in zs.order]
        words = [b"", b"a", b"ab", b"b", b"bc", b"c", b"cc", b"d"]
        for lo in [LEX_MIN, LEX_MAX] + words:
            for hi in [LEX_MIN, LEX_MAX] + words:
                for loex in (False, True):
                    for hiex in (False, True):
                        if isinstance(lo, bytes) is False:
                            loex = True
                        if isinstance(hi, bytes) is False:
                            hiex = True
                        spec = (lo, loex, hi, hiex)

                        def above(m):
                            if lo is LEX_MIN:
                                return True
                            if lo is LEX_MAX:
                                return False
                            return m > lo if loex else m >= lo

                        def below(m):
                            if hi is LEX_MAX:
                                return True
                            if hi is LEX_MIN:
                                return False
                            return m < hi if hiex else m <= hi
                        want = [i for i, m in enumerate(members) if above(m) and below(m)]
                        start, stop = zs.lex_range(spec)
                        assert list(range(start, stop)) == want, spec


def test_lex_range_mixed_scores():
    """With several scores, a small set walks like a listpack; a big one bisects like a skiplist search."""
    small, big = ZSet(), ZSet(big=True)
    for zs in (small, big):
        for i, m in enumerate([b"a", b"b", b"c", b"d", b"e"]):
            zs.add(m, float(i))  # members ascend with scores: both agree with plain filtering
        assert zs.lex_range((b"b", False, b"d", True)) == (1, 3)
        assert zs.lex_range((b"b", True, LEX_MAX, True), reverse=True) == (2, 5)
    small.add(b"a", 9.0)  # order is now b c d e a: the walk stops where Redis' listpack walk stops
    assert small.lex_range((b"a", False, b"c", False)) == (0, 2)
    assert small.lex_range((b"a", False, b"c", False), reverse=True) == (0, 5)  # as redis-server answers


# -- parsing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    (b"1", 1.0), (b"-1.5", -1.5), (b"inf", math.inf), (b"-inf", -math.inf), (b"+inf", math.inf),
    (b"1e-310", 1e-310), (b"0x10", 16.0), (b"1.", 1.0), (b".5", 0.5),
])
def test_parse_score(text, value):
    """ZADD scores are read like strtod on the whole word."""
    assert parse_score(text) == value


@pytest.mark.parametrize("text", [b"nan", b" 1", b"1 ", b"", b"1e400", b"1e-400", b"abc", b"1e", b"0x"])
def test_parse_score_refused(text):
    """NaN, spaces, overflow, underflow to zero and junk are not valid floats."""
    with pytest.raises(CommandError) as e:
        parse_score(text)
    assert e.value.message == "ERR value is not a valid float"


def test_parse_range():
    """Score bounds: '(' marks exclusive, the empty word is 0, overflow is infinite, spaces lead."""
    assert parse_range(b"(1", b"5") == (1.0, True, 5.0, False)
    assert parse_range(b"", b"(") == (0.0, False, 0.0, True)
    assert parse_range(b" 2", b"1e400") == (2.0, False, math.inf, False)
    assert parse_range(b"-inf", b"3\x00junk") == (-math.inf, False, 3.0, False)
    for bad in (b"nan", b"(nan", b"+", b"1 ", b"   ", b"[1", b"1x"):
        with pytest.raises(CommandError) as e:
            parse_range(bad, b"1")
        assert e.value.message == "ERR min or max is not a float"


def test_parse_lex_range():
    """Lex bounds: [ inclusive, ( exclusive, - and + alone; anything else is refused."""
    assert parse_lex_range(b"[a", b"(b") == (b"a", False, b"b", True)
    assert parse_lex_range(b"-", b"+") == (LEX_MIN, True, LEX_MAX, True)
    assert parse_lex_range(b"(", b"[") == (b"", True, b"", False)
    for bad in (b"a", b"", b"-a", b"++"):
        with pytest.raises(CommandError) as e:
            parse_lex_range(bad, b"+")
        assert e.value.message == "ERR min or max not valid string range item"


# -- encodings and stored results -------------------------------------------------------------------

def test_store_result_chooses_encoding_and_normalises_zero():
    """store_result: listpack when the result fits (its -0 read back as 0), skiplist otherwise; empty deletes."""
    client = _client()
    zs = ZSet(big=True)
    zs.add(b"a", -0.0)
    store_result(client, b"d", zs)
    stored = client.db.lookup(b"d")
    assert stored.big is False and math.copysign(1.0, stored.score(b"a")) > 0
    zs = ZSet()
    zs.add(b"a", -0.0)
    zs.add(b"x" * 65, 1.0)
    store_result(client, b"d", zs)
    stored = client.db.lookup(b"d")
    assert stored.big is True and math.copysign(1.0, stored.score(b"a")) < 0
    store_result(client, b"d", ZSet())
    assert client.db.lookup(b"d") is None


def test_encoding_follows_config():
    """OBJECT ENCODING reads the live zset-max-listpack-* settings when members are added."""
    server = make_server()
    client = _client(server)
    server.config.zset_max_listpack_entries = 2
    call(client, "ZADD", "z", "1", "a", "2", "b")
    assert call(client, "OBJECT", "ENCODING", "z") == b"listpack"
    call(client, "ZADD", "z", "3", "c")
    assert call(client, "OBJECT", "ENCODING", "z") == b"skiplist"
    call(client, "ZREM", "z", "a", "b")
    assert call(client, "OBJECT", "ENCODING", "z") == b"skiplist"


# -- blocking pops on a task.Clock ---------------------------------------------------------------------

def test_bzpopmin_times_out_with_null_array():
    """A BZPOPMIN on missing keys blocks; its timeout answers a null array (RESP2 *-1, RESP3 _)."""
    server = make_server()
    client = _client(server)
    assert call(client, "BZPOPMIN", "a", "b", "2") is BLOCKED
    assert server.blocked_clients == 1
    server.clock.advance(1.999)
    assert client.unblocked_replies == []
    server.clock.advance(0.001)
    assert client.unblocked_replies == [NULL_ARRAY]
    assert encode(NULL_ARRAY, 2) == b"*-1\r\n" and encode(NULL_ARRAY, 3) == b"_\r\n"
    assert server.blocked_clients == 0 and server.store.dbs[0].blocking == {}


def test_fractional_timeout():
    """A fractional timeout (0.25 s) fires after 250 ms, not before."""
    server = make_server()
    client = _client(server)
    assert call(client, "BZMPOP", "0.25", "1", "k", "MIN") is BLOCKED
    server.clock.advance(0.249)
    assert client.unblocked_replies == []
    server.clock.advance(0.001)
    assert client.unblocked_replies == [NULL_ARRAY]


def test_timeout_zero_waits_forever():
    """Timeout 0 sets no timer: the client waits until served."""
    server = make_server()
    client = _client(server)
    assert call(client, "BZPOPMAX", "k", "0") is BLOCKED
    assert client.blocked.timer is None and server.blocking.with_timeout == 0
    server.clock.advance(10 ** 6)
    assert client.unblocked_replies == []
    call(_client(server), "ZADD", "k", "1", "a")
    assert client.unblocked_replies == [[b"k", b"a", 1.0]]


def test_served_cancels_the_timer():
    """Serving a blocked BZPOPMIN cancels its timeout: it never fires a second reply."""
    server = make_server()
    client = _client(server)
    assert call(client, "BZPOPMIN", "k", "5") is BLOCKED
    timer = client.blocked.timer
    assert timer.active()
    call(_client(server), "ZADD", "k", "2", "b", "1", "a")
    assert client.unblocked_replies == [[b"k", b"a", 1.0]]
    assert not timer.active() and timer.cancelled
    server.clock.advance(10)
    assert client.unblocked_replies == [[b"k", b"a", 1.0]]
    assert server.blocking.with_timeout == 0


def test_fifo_order_and_one_pop_each():
    """Three waiters on one key are served in arrival order by one ZADD, each with its own pop."""
    server = make_server()
    first, second, third = _client(server), _client(server), _client(server, resp=3)
    assert call(first, "BZPOPMIN", "k", "0") is BLOCKED
    assert call(second, "BZMPOP", "0", "1", "k", "MAX", "COUNT", "2") is BLOCKED
    assert call(third, "BZPOPMAX", "other", "k", "0") is BLOCKED
    call(_client(server), "ZADD", "k", "1", "a", "2", "b", "3", "c", "4", "d")
    assert first.unblocked_replies == [[b"k", b"a", 1.0]]
    assert second.unblocked_replies == [[b"k", [[b"d", 4.0], [b"c", 3.0]]]]
    assert third.unblocked_replies == [[b"k", b"b", 2.0]]
    assert server.store.dbs[0].lookup(b"k") is None and server.blocked_clients == 0


def test_fewer_members_than_waiters():
    """A ZADD with one member serves only the first waiter; the second keeps waiting."""
    server = make_server()
    first, second = _client(server), _client(server)
    call(first, "BZPOPMIN", "k", "0")
    call(second, "BZPOPMIN", "k", "0")
    call(_client(server), "ZADD", "k", "1", "a")
    assert first.unblocked_replies == [[b"k", b"a", 1.0]] and second.unblocked_replies == []
    assert server.blocked_clients == 1


def test_other_type_does_not_serve():
    """A string created at the awaited key is NOT_SERVED: the client stays blocked until a zset comes."""
    server = make_server()
    client = _client(server)
    other = _client(server)
    call(client, "BZPOPMIN", "k", "0")
    call(other, "SET", "k", "x")
    assert client.unblocked_replies == [] and server.blocked_clients == 1
    call(other, "DEL", "k")
    call(other, "ZADD", "k", "5", "m")
    assert client.unblocked_replies == [[b"k", b"m", 5.0]]


def test_served_through_multi_after_exec():
    """ZADDs inside MULTI serve the waiter once EXEC has run them all: it sees the lowest score."""
    server = make_server()
    client = _client(server)
    other = _client(server)
    call(client, "BZPOPMIN", "k", "0")
    call(other, "MULTI")
    call(other, "ZADD", "k", "5", "e")
    call(other, "ZADD", "k", "1", "a")
    assert client.unblocked_replies == []
    call(other, "EXEC")
    assert client.unblocked_replies == [[b"k", b"a", 1.0]]


def test_zrangestore_into_awaited_key_serves():
    """ZRANGESTORE creating the awaited key serves the blocked BZPOPMAX from the stored result."""
    server = make_server()
    client, other = _client(server), _client(server)
    call(other, "ZADD", "src", "1", "a", "2", "b", "3", "c")
    call(client, "BZPOPMAX", "dst", "0")
    assert call(other, "ZRANGESTORE", "dst", "src", "0", "1") == 2
    assert client.unblocked_replies == [[b"dst", b"b", 2.0]]
    assert call(other, "ZRANGE", "dst", "0", "-1") == [b"a"]


def test_inside_multi_does_not_block():
    """Inside MULTI, BZPOPMIN and BZMPOP on missing keys answer a null array at once."""
    server = make_server()
    client = _client(server)
    call(client, "MULTI")
    assert call(client, "BZPOPMIN", "k", "0") == Status_queued()
    assert call(client, "BZMPOP", "0", "1", "k", "MIN") == Status_queued()
    assert call(client, "EXEC") == [NULL_ARRAY, NULL_ARRAY]
    assert server.blocked_clients == 0


def Status_queued():
    from sonic.resp import Status
    return Status(b"QUEUED")


def test_resp3_blocked_reply_shapes():
    """A served RESP3 client gets doubles: BZPOPMIN flat, BZMPOP nested."""
    server = make_server()
    a, b = _client(server, resp=3), _client(server, resp=3)
    call(a, "BZPOPMIN", "k", "0")
    call(b, "BZMPOP", "0", "1", "k", "MIN")
    call(_client(server), "ZADD", "k", "1.5", "x", "2", "y")
    assert encode(a.unblocked_replies[0], 3) == b"*3\r\n$1\r\nk\r\n$1\r\nx\r\n,1.5\r\n"
    assert encode(b.unblocked_replies[0], 3) == b"*2\r\n$1\r\nk\r\n*1\r\n*2\r\n$1\r\ny\r\n,2\r\n"


def test_wrongtype_before_blocking():
    """BZPOPMIN answers WRONGTYPE for a wrong-type key instead of blocking; timeout errors come first."""
    server = make_server()
    client = _client(server)
    call(client, "SET", "s", "x")
    assert call(client, "BZPOPMIN", "nokey", "s", "0") == Error(
        "WRONGTYPE Operation against a key holding the wrong kind of value")
    assert call(client, "BZPOPMIN", "s", "abc") == Error("ERR timeout is not a float or out of range")
    assert server.blocked_clients == 0


def test_disconnect_forgets_the_waiter():
    """A blocked client that disconnects is forgotten at once: a later ZADD keeps its member."""
    server = make_server()
    proto, transport = connect(server)
    proto.dataReceived(b"*3\r\n$8\r\nBZPOPMIN\r\n$1\r\nk\r\n$1\r\n0\r\n")
    assert server.blocked_clients == 1 and transport.value() == b""
    proto.connectionLost(None)
    assert server.blocked_clients == 0 and server.store.dbs[0].blocking == {}
    pusher = _client(server)
    call(pusher, "ZADD", "k", "1", "a")
    assert call(pusher, "ZCARD", "k") == 1

"""MULTI/EXEC/DISCARD/WATCH/UNWATCH: parity with redis-server 7.0, and WATCH on a task.Clock.

Scenarios that need a second connection (another client's write, FLUSHDB,
SWAPDB...) run the same script on both servers and compare the transcripts.
"""

import time

from tests.commands.test_connection import both
from tests.helpers import Client, call, make_server
from sonic.resp import NULL_ARRAY, Error, encode


def test_multi_exec_basic(parity):
    """Queued commands answer +QUEUED and EXEC returns every reply in order."""
    parity(("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("GET", "a"), ("PING",), ("EXEC",),
           ("GET", "a"))


def test_empty_transaction(parity):
    """MULTI then EXEC with nothing queued answers an empty array."""
    parity(("MULTI",), ("EXEC",))


def test_runtime_error_does_not_stop_exec(parity):
    """An error while EXEC runs is one element of the array; the other commands still run."""
    parity(("MULTI",), ("SET", "a", "x"), ("INCR", "a"), ("SET", "b", "2"), ("SELECT", "99"),
           ("EXEC",), ("GET", "a"), ("GET", "b"))


def test_unknown_command_aborts(parity):
    """An unknown command while queuing makes EXEC answer -EXECABORT and run nothing."""
    parity(("MULTI",), ("SET", "a", "1"), ("NOSUCH", "x"), ("SET", "b", "1"), ("EXEC",),
           ("EXISTS", "a", "b"), ("EXEC",))


def test_wrong_arity_aborts(parity):
    """A wrong-arity command while queuing makes EXEC answer -EXECABORT."""
    parity(("MULTI",), ("GET",), ("SET", "a", "1"), ("EXEC",), ("GET", "a"))


def test_exec_discard_without_multi(parity):
    """EXEC and DISCARD outside MULTI are errors."""
    parity(("EXEC",), ("DISCARD",), ("EXEC", "x"), ("DISCARD", "x"))


def test_rejected_exec_discards_transaction(parity):
    """EXEC refused before running (wrong arity) answers -EXECABORT ... because of, and leaves MULTI."""
    parity(("MULTI",), ("SET", "a", "1"), ("EXEC", "x"), ("EXEC",), ("GET", "a"), ("EXEC", "x"),
           ("WATCH", "a"), ("EXEC", "y"), ("DISCARD",))


def test_nested_multi_and_watch_inside_multi_do_not_abort(parity):
    """MULTI inside MULTI and WATCH inside MULTI are errors that leave the transaction valid."""
    parity(("MULTI",), ("MULTI",), ("SET", "a", "1"), ("WATCH", "a"), ("EXEC",), ("GET", "a"))


def test_discard(parity):
    """DISCARD drops the queue: nothing runs and the client leaves MULTI."""
    parity(("MULTI",), ("SET", "a", "1"), ("DISCARD",), ("GET", "a"), ("EXEC",))


def test_queue_errors_inside_multi(parity):
    """Arity errors of MULTI-immediate commands and of WATCH are Redis'."""
    parity(("MULTI",), ("WATCH",), ("EXEC", "x"), ("SET", "k", "v"), ("EXEC",), ("GET", "k"),
           ("WATCH",), ("UNWATCH", "x"), ("MULTI", "x"))


def test_select_inside_transaction(parity):
    """SELECT queued in a transaction changes the database for the later queued commands."""
    parity(("MULTI",), ("SELECT", "1"), ("SET", "s", "1"), ("SELECT", "0"), ("GET", "s"),
           ("EXEC",), ("GET", "s"), ("SELECT", "1"), ("GET", "s"), ("DEL", "s"), ("SELECT", "0"))


def test_exec_in_resp3(parity):
    """In RESP3 an aborted EXEC is the null '_' and nulls inside the array are '_' too."""
    for c in (parity.sonic, parity.real):
        c.call("HELLO", "3")
    parity(("MULTI",), ("GET", "none"), ("EXEC",), ("WATCH", "w"), ("SET", "w", "1"), ("MULTI",),
           ("GET", "w"), ("EXEC",))


def test_watch_null_reply_resp2(parity):
    """A WATCHed key the same client changes aborts EXEC with the RESP2 null array."""
    assert parity(("WATCH", "w"), ("SET", "w", "1"), ("MULTI",), ("GET", "w"), ("EXEC",))[-1] == b"*-1\r\n"


def _watch_then(other_action, setup=(("SET", "w", "1"),), key="w"):
    """A scenario: WATCH C{key}, another client runs C{other_action}, then MULTI/EXEC."""
    def scenario(connect):
        a, b = connect(), connect()
        a.call("FLUSHALL")
        for cmd in setup:
            a.call(*cmd)
        out = [a.call("WATCH", key)]
        for cmd in other_action:
            out.append(b.call(*cmd))
        out += [a.call("MULTI"), a.call("GET", key), a.call("EXEC")]
        a.call("FLUSHALL")
        return out
    return scenario


def test_watch_write_from_other_client(sonic_port, real_port):
    """A write by another client to a WATCHed key aborts EXEC."""
    out = both(sonic_port, real_port, _watch_then([("SET", "w", "2")]))
    assert out[-1] == b"*-1\r\n"


def test_watch_unchanged_key_executes(sonic_port, real_port):
    """A write to another key, or a read of the WATCHed one, does not abort EXEC."""
    out = both(sonic_port, real_port, _watch_then([("SET", "other", "2"), ("GET", "w")]))
    assert out[-1] == b"*1\r\n$1\r\n1\r\n"


def test_watch_missing_key_then_created(sonic_port, real_port):
    """WATCHing a key that does not exist and another client creating it aborts EXEC."""
    out = both(sonic_port, real_port, _watch_then([("SET", "w", "new")], setup=()))
    assert out[-1] == b"*-1\r\n"


def test_watch_delete_from_other_client(sonic_port, real_port):
    """DEL of a WATCHed key by another client aborts EXEC; DEL of a missing key does not."""
    both(sonic_port, real_port, _watch_then([("DEL", "w")]))
    out = both(sonic_port, real_port, _watch_then([("DEL", "w")], setup=()))
    assert out[-1] == b"*1\r\n$-1\r\n"


def test_watch_expire_from_other_client(sonic_port, real_port):
    """EXPIRE (a TTL change) and PEXPIREAT in the past (a deletion) by another client abort EXEC."""
    out = both(sonic_port, real_port, _watch_then([("EXPIRE", "w", "100")]))
    assert out[-1] == b"*-1\r\n"
    out = both(sonic_port, real_port, _watch_then([("PEXPIREAT", "w", "1")]))
    assert out[-1] == b"*-1\r\n"


def test_watch_flushdb_flushall(sonic_port, real_port):
    """FLUSHDB and FLUSHALL abort EXEC when the WATCHed key existed."""
    for flush in ("FLUSHDB", "FLUSHALL"):
        out = both(sonic_port, real_port, _watch_then([(flush,)]))
        assert out[-1] == b"*-1\r\n"


def test_watch_flush_of_missing_key(sonic_port, real_port):
    """FLUSHALL with the WATCHed key absent behaves as Redis 7.0 (it does not abort)."""
    both(sonic_port, real_port, _watch_then([("FLUSHALL",)], setup=()))


def test_watch_swapdb(sonic_port, real_port):
    """SWAPDB of the WATCHed key's database aborts EXEC, in either direction."""
    out = both(sonic_port, real_port, _watch_then([("SWAPDB", "0", "1")]))
    assert out[-1] == b"*-1\r\n"
    both(sonic_port, real_port, _watch_then([("SWAPDB", "0", "1")], setup=(
        ("SELECT", "1"), ("SET", "w", "in1"), ("SELECT", "0"))))


def test_watch_other_database_is_separate(sonic_port, real_port):
    """A write to the same key name in another database does not abort EXEC."""
    out = both(sonic_port, real_port, _watch_then([("SELECT", "1"), ("SET", "w", "x"), ("DEL", "w")]))
    assert out[-1] == b"*1\r\n$1\r\n1\r\n"


def test_watch_key_expired_before_exec(sonic_port, real_port):
    """A WATCHed key that expires (nobody touching it) before EXEC aborts the transaction."""
    def scenario(connect):
        a = connect()
        a.call("SET", "w", "1", "PX", "30")
        out = [a.call("WATCH", "w")]
        time.sleep(0.1)
        return out + [a.call("MULTI"), a.call("PING"), a.call("EXEC")]
    assert both(sonic_port, real_port, scenario)[-1] == b"*-1\r\n"


def test_discard_and_unwatch_forget_watches(sonic_port, real_port):
    """After DISCARD, UNWATCH or EXEC, earlier WATCHes no longer abort a transaction."""
    def scenario(connect):
        a, b = connect(), connect()
        out = []
        for forget in (("MULTI",), ("UNWATCH",), None):
            out.append(a.call("WATCH", "w"))
            if forget == ("MULTI",):
                out += [a.call("MULTI"), a.call("DISCARD")]
            elif forget:
                out.append(a.call(*forget))
            else:
                out += [a.call("MULTI"), a.call("EXEC")]
            out.append(b.call("SET", "w", "changed"))
            out += [a.call("MULTI"), a.call("GET", "w"), a.call("EXEC")]
        b.call("DEL", "w")
        return out
    both(sonic_port, real_port, scenario)


def test_execabort_also_unwatches(sonic_port, real_port):
    """EXEC answering -EXECABORT forgets the WATCHes too."""
    def scenario(connect):
        a, b = connect(), connect()
        out = [a.call("WATCH", "w"), a.call("MULTI"), a.call("NOSUCH"), a.call("EXEC"),
               b.call("SET", "w", "1"), a.call("MULTI"), a.call("GET", "w"), a.call("EXEC")]
        b.call("DEL", "w")
        return out
    assert both(sonic_port, real_port, scenario)[-1] == b"*1\r\n$1\r\n1\r\n"


def test_multi_inside_pipeline(parity):
    """A whole pipelined transaction in one write gets all its replies, in order."""
    parity.raw(b"MULTI\r\nSET p 1\r\nINCR p\r\nNOSUCH\r\nEXEC\r\nMULTI\r\nINCR p\r\nEXEC\r\nGET p\r\n")


# -- unit tests on a task.Clock ----------------------------------------------------------

def test_unit_watched_key_expires_on_clock():
    """A key live at WATCH time and past its deadline at EXEC makes EXEC answer the null array."""
    server = make_server()
    c = Client(server)
    server.store.snapshot()
    db = c.db
    db.set(b"w", b"1", deadline=server.store.now + 1000)
    assert call(c, "WATCH", "w") == b"OK"
    server.clock.advance(2)  # past the deadline; no other client touched the key
    call(c, "MULTI")
    call(c, "SET", "x", "1")
    assert call(c, "EXEC") is NULL_ARRAY
    assert encode(NULL_ARRAY, 3) == b"_\r\n"
    assert db.lookup(b"x") is None


def test_unit_key_missing_at_watch_then_expired_does_not_abort():
    """A key absent at WATCH time that another client creates (with a TTL that then passes) aborts EXEC."""
    server = make_server()
    a, b = Client(server), Client(server)
    call(a, "WATCH", "w")
    server.store.snapshot()
    b.db.set(b"w", b"1", deadline=server.store.now + 10)
    server.clock.advance(1)
    call(a, "MULTI")
    assert call(a, "EXEC") is NULL_ARRAY


def test_unit_queue_and_exec_errors():
    """A queue-time error aborts EXEC; a handler error inside EXEC is one element and the rest runs."""
    server = make_server()
    c = Client(server)
    call(c, "MULTI")
    call(c, "SET", "a", "1")
    assert call(c, "NOSUCH").message.startswith("ERR unknown command")
    assert call(c, "EXEC").message.startswith("EXECABORT")
    assert c.multi is None and c.db.lookup(b"a") is None
    call(c, "MULTI")
    call(c, "SELECT", "99")
    call(c, "SET", "a", "1")
    reply = call(c, "EXEC")
    assert isinstance(reply[0], Error) and reply[1] == b"OK" and c.db.lookup(b"a") == b"1"


def test_unit_client_flagged_multi_while_exec_runs():
    """While EXEC runs its queue the client still counts as inside MULTI, and leaves it after."""
    server = make_server()
    c = Client(server)
    seen = []
    from sonic.registry import TABLE
    spec = TABLE[b"ping"]
    original = spec.handler
    spec.handler = lambda client, *a: seen.append(client.multi is not None) or original(client, *a)
    try:
        call(c, "MULTI")
        call(c, "PING")
        call(c, "EXEC")
    finally:
        spec.handler = original
    assert seen == [True] and c.multi is None and c.last_cmd == "exec"


def test_unit_key_already_expired_at_watch_does_not_abort():
    """WATCH on a key past its deadline but not yet removed does not abort EXEC by removing it."""
    server = make_server(start=False)  # no expiry timer: the dead key stays until looked up
    c = Client(server)
    server.store.snapshot()
    c.db.set(b"w", b"1", deadline=server.store.now + 1000)
    server.clock.advance(2)
    assert b"w" in c.db.shard(b"w").data
    call(c, "WATCH", "w")
    call(c, "MULTI")
    call(c, "PING")
    assert call(c, "EXEC") == [b"PONG"]

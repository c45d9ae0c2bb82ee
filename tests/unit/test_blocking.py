"""The blocking machinery (sonic.blocking) on its own: timeouts, FIFO, wake-ups, disconnects.

The waiters here use a stand-in C{serve} that takes a string key, so these
tests need no collection type; the list and sorted-set tests cover the real
blocking commands.
"""

import pytest

from sonic.blocking import BLOCKED, NOT_SERVED, parse_timeout
from sonic.errors import CommandError
from sonic.resp import NULL_ARRAY, Error

from tests.helpers import Client, call, make_server

NOW = 1_700_000_000_000


@pytest.mark.parametrize("text, deadline", [
    (b"0", 0), (b"-0", 0), (b"1", NOW + 1000), (b"0.5", NOW + 500), (b"1.5e0", NOW + 1500),
    (b"0.0001", NOW + 1), (b"1e-400", NOW + 1), (b"-0.0001", 0), (b"0x10", NOW + 16000),
])
def test_parse_timeout(text, deadline):
    """Timeouts are seconds read as a long double, rounded up to whole milliseconds, 0 meaning forever."""
    assert parse_timeout(text, NOW) == deadline


@pytest.mark.parametrize("text, message", [
    (b"abc", "ERR timeout is not a float or out of range"),
    (b"nan", "ERR timeout is not a float or out of range"),
    (b" 1", "ERR timeout is not a float or out of range"),
    (b"-1", "ERR timeout is negative"),
    (b"inf", "ERR timeout is negative"),
    (b"1e30", "ERR timeout is negative"),
])
def test_parse_timeout_errors(text, message):
    """Bad timeouts get Redis' errors; values too big for 64 bits wrap to 'negative' as in Redis."""
    with pytest.raises(CommandError) as e:
        parse_timeout(text, NOW)
    assert e.value.message == message


def taker(client, log=None):
    """A serve function that takes the string at the key (deleting it) and replies with it."""
    def serve(key):
        db = client.db
        value = db.lookup(key)
        if type(value) is not bytes:
            return NOT_SERVED
        if log is not None:
            log.append((client.id, key, value))
        db.delete(key)
        return [key, value]
    return serve


def park(server, keys, timeout=b"0", log=None):
    client = Client(server)
    server.add_client(client)
    deadline = parse_timeout(timeout, server.store.snapshot())
    assert server.blocking.block(client, keys, deadline, taker(client, log), NULL_ARRAY) is BLOCKED
    return client


def test_waiters_are_served_in_fifo_order():
    """Two clients blocked on one key are served one per creation, first come first served."""
    server = make_server()
    first, second = park(server, [b"k"]), park(server, [b"k"])
    pusher = Client(server)
    call(pusher, "SET", "k", "a")
    assert first.unblocked_replies == [[b"k", b"a"]] and second.unblocked_replies == []
    call(pusher, "SET", "k", "b")
    assert second.unblocked_replies == [[b"k", b"b"]]
    assert server.blocked_clients == 0 and server.store.dbs[0].blocking == {}


def test_timeout_fires_once_and_is_cancelled_when_served():
    """A timeout is one callLater: it answers the timeout reply, and serving cancels it."""
    server = make_server()
    waiting = park(server, [b"k"], b"1.5")
    served = park(server, [b"j"], b"10")
    assert len(server.clock.getDelayedCalls()) >= 2
    assert server.blocking.with_timeout == 2
    call(Client(server), "SET", "j", "x")
    assert served.unblocked_replies == [[b"j", b"x"]]
    assert server.blocking.with_timeout == 1
    server.clock.advance(1.499)
    assert waiting.unblocked_replies == []
    server.clock.advance(0.001)
    assert waiting.unblocked_replies == [NULL_ARRAY]
    assert server.blocked_clients == 0 and server.blocking.with_timeout == 0
    assert not [c for c in server.clock.getDelayedCalls() if c.func == server.blocking._timed_out]


def test_timeout_zero_waits_forever():
    """Timeout 0 sets no timer at all."""
    server = make_server()
    client = park(server, [b"k"], b"0")
    server.clock.advance(10 ** 6)
    assert client.unblocked_replies == [] and client.blocked is not None
    assert server.blocking.with_timeout == 0


def test_served_once_across_several_keys():
    """A client blocked on two keys is served by the first created, then forgotten on the other."""
    server = make_server()
    client = park(server, [b"a", b"b", b"a"])
    other = Client(server)
    call(other, "MSET", "b", "1", "a", "2")
    assert client.unblocked_replies == [[b"b", b"1"]]
    assert call(other, "GET", "a") == b"2"
    assert server.store.dbs[0].blocking == {}


def test_transaction_serves_after_exec():
    """Keys created inside MULTI/EXEC are served once EXEC has run all of it."""
    server = make_server()
    log = []
    park(server, [b"k"], log=log)
    other = Client(server)
    call(other, "MULTI")
    call(other, "SET", "k", "1")
    call(other, "SET", "k", "2")
    call(other, "EXEC")
    assert log == [(log[0][0], b"k", b"2")]


@pytest.mark.parametrize("commands", [
    [("SET", "src", "v"), ("RENAME", "src", "k")],
    [("SET", "src", "v"), ("COPY", "src", "k")],
    [("SELECT", "1"), ("SET", "k", "v"), ("MOVE", "k", "0")],
    [("SELECT", "1"), ("SET", "k", "v"), ("SWAPDB", "0", "1")],
])
def test_keys_arriving_by_other_commands_wake_waiters(commands):
    """RENAME, COPY, MOVE and SWAPDB that bring the key into existence serve its waiters."""
    server = make_server()
    client = park(server, [b"k"])
    other = Client(server)
    for cmd in commands:
        call(other, *cmd)
    assert client.unblocked_replies == [[b"k", b"v"]]


def test_wrong_type_keeps_waiting():
    """A key created with a type the waiter cannot use leaves it blocked (Redis 7.0)."""
    server = make_server()
    client = Client(server)
    server.add_client(client)
    server.blocking.block(client, [b"z"], 0, lambda key: NOT_SERVED, NULL_ARRAY)
    call(Client(server), "SET", "z", "1")
    assert client.blocked is not None and client.unblocked_replies == []
    assert server.blocked_clients == 1


def test_disconnect_forgets_the_client():
    """A blocked client that goes away is removed from every queue at once."""
    server = make_server()
    gone = park(server, [b"k", b"j"], b"5")
    stays = park(server, [b"k"])
    for hook in server.disconnect_hooks:
        hook(gone)
    assert server.blocked_clients == 1 and server.blocking.with_timeout == 0
    call(Client(server), "SET", "k", "v")
    assert gone.unblocked_replies == [] and stays.unblocked_replies == [[b"k", b"v"]]


def test_client_unblock():
    """CLIENT UNBLOCK answers the timeout reply, or -UNBLOCKED with ERROR; 0 for a client not blocked."""
    server = make_server()
    a, b = park(server, [b"k"], b"3"), park(server, [b"k"])
    admin = Client(server)
    assert call(admin, "CLIENT", "UNBLOCK", str(a.id)) == 1
    assert a.unblocked_replies == [NULL_ARRAY]
    assert call(admin, "CLIENT", "UNBLOCK", str(a.id)) == 0
    assert call(admin, "CLIENT", "UNBLOCK", str(b.id), "ERROR") == 1
    reply = b.unblocked_replies[0]
    assert isinstance(reply, Error) and reply.message == "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    assert server.blocked_clients == 0 and server.blocking.with_timeout == 0


def test_info_and_client_list_show_blocked_clients():
    """INFO clients counts blocked clients (and those with a timeout); CLIENT LIST flags them b."""
    server = make_server()
    client = park(server, [b"k"], b"2")
    park(server, [b"k"])
    info = call(Client(server), "INFO", "clients")
    info = info.decode() if isinstance(info, bytes) else str(info)
    assert "blocked_clients:2" in info and "clients_in_timeout_table:1" in info
    listing = call(Client(server), "CLIENT", "LIST", "ID", str(client.id))
    listing = listing.decode() if isinstance(listing, bytes) else str(listing)
    assert " flags=b " in listing

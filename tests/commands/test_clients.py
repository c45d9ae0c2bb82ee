"""CLIENT LIST / INFO fields, CLIENT KILL filters and CLIENT PAUSE, against redis-server 7.0.

Field names and order are compared by parsing both servers' lines; sonic
adds Redis 7.2's C{lib-name} and C{lib-ver} at the end (CLIENT SETINFO).
Values that do not depend on allocators or timing are compared too.
"""

import time

import pytest

from sonic.blocking import BLOCKED
from tests.helpers import call, connect, make_server
from tests.resp_reader import RawClient


def _fields(line):
    out = []
    for word in line.split(b" "):
        key, _, value = word.partition(b"=")
        out.append((key.decode(), value.decode()))
    return out


def _info(client):
    raw = client.call("CLIENT", "INFO")
    body = raw.split(b"\r\n", 1)[1][:-2]
    assert body.endswith(b"\n")
    return _fields(body[:-1])


def _listing(client):
    raw = client.call("CLIENT", "LIST")
    body = raw.split(b"\r\n", 1)[1][:-2]
    return {dict(_fields(line))["id"]: dict(_fields(line)) for line in body.split(b"\n") if line}


#: Fields whose values must be equal on both servers for the same client state.
SAME = ("name", "flags", "db", "sub", "psub", "ssub", "multi", "qbuf", "argv-mem",
        "obl", "oll", "omem", "events", "cmd", "user", "redir", "resp")


def test_field_names_and_order(sonic_port, real_port):
    """CLIENT INFO has Redis 7.0's fields in Redis' order (sonic then adds lib-name, lib-ver)."""
    s, r = RawClient(sonic_port), RawClient(real_port)
    try:
        sonic_keys = [k for k, _ in _info(s)]
        real_keys = [k for k, _ in _info(r)]
        assert sonic_keys == real_keys + ["lib-name", "lib-ver"]
        assert real_keys[:8] == ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags"]
    finally:
        s.close()
        r.close()


@pytest.mark.parametrize("setup", [
    [],
    [("SELECT", "2"), ("CLIENT", "SETNAME", "named")],
    [("HELLO", "3"), ("SUBSCRIBE", "a"), ("SUBSCRIBE", "b"), ("PSUBSCRIBE", "p*")],
    [("HELLO", "3"), ("SSUBSCRIBE", "s")],
    [("CLIENT", "TRACKING", "on")],
    [("CLIENT", "NO-EVICT", "on"), ("GET", "k")],
    [("WATCH", "k"), ("SET", "k", "1")],
])
def test_client_info_values(sonic_port, real_port, setup):
    """After the same commands, CLIENT INFO's non-allocator values are equal on both servers."""
    results = []
    for port in (sonic_port, real_port):
        c = RawClient(port)
        try:
            for cmd in setup:
                c.call(*cmd)
            fields = dict(_info(c))
            results.append({k: fields[k] for k in SAME})
        finally:
            c.call("FLUSHALL")
            c.close()
    assert results[0] == results[1]


def test_client_list_shows_other_clients_state(sonic_port, real_port):
    """Seen from another client: a MULTI with queued commands, a blocked BLPOP, an idle client."""
    results = []
    for port in (sonic_port, real_port):
        idle, multi, blocked, observer = (RawClient(port) for _ in range(4))
        blocked_rows = []
        try:
            idle.call("SET", "k", "v")
            ids = [int(c.call("CLIENT", "ID")[1:-2]) for c in (idle, multi)]
            multi.call("MULTI")
            multi.call("SET", "a", "1")
            multi.call("INCR", "b")
            blocked.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$6\r\nnolist\r\n$1\r\n0\r\n")
            time.sleep(0.1)
            listing = _listing(observer)
            rows = [listing[str(i)] for i in ids]
            blocked_rows = [row for row in listing.values() if row["cmd"] == "blpop"]
            assert len(blocked_rows) == 1
            rows.append(blocked_rows[0])
            results.append([{k: row[k] for k in SAME if k not in ("qbuf", "argv-mem", "cmd")}
                            for row in rows])
        finally:
            if blocked_rows:
                observer.call("CLIENT", "UNBLOCK", blocked_rows[0]["id"])
            for c in (idle, multi, blocked, observer):
                c.close()
            RawClient(port).call("FLUSHALL")
    assert results[0] == results[1]
    assert results[0][1]["flags"] == "x" and results[0][1]["multi"] == "2"
    assert results[0][2]["flags"] == "b"


def test_idle_client_buffers_are_empty(sonic_port):
    """An idle client has qbuf=0 argv-mem=0; the caller's own command counts in its qbuf."""
    c, other = RawClient(sonic_port), RawClient(sonic_port)
    try:
        other.call("ECHO", "x" * 100)
        oid = other.call("CLIENT", "ID")[1:-2].decode()
        row = _listing(c)[oid]
        assert row["qbuf"] == "0" and row["argv-mem"] == "0"
        me = dict(_info(c))
        assert me["qbuf"] == "26" and me["argv-mem"] == "10"  # *2 $6 client $4 info
    finally:
        c.close()
        other.close()


def test_pending_output_shows_in_obl_oll_omem():
    """Replies the socket has not taken show as obl (first 16 KB), oll/omem (the rest)."""
    server = make_server()
    slow, transport = connect(server)
    transport.dataBuffer = b"x" * 40000  # as a TCP transport the peer has not read 40 KB from
    from sonic.commands.clients import client_info_string
    fields = dict(_fields(client_info_string(slow).encode()))
    assert (fields["obl"], fields["oll"], fields["omem"], fields["events"]) == ("16384", "2", "23616", "rw")


@pytest.mark.parametrize("cmd", [
    ("CLIENT", "KILL", "MAXAGE", "10"), ("CLIENT", "KILL", "ID", "abc"), ("CLIENT", "KILL", "ID", "0"),
    ("CLIENT", "KILL", "ID", "99999"), ("CLIENT", "KILL", "1.2.3.4:5"), ("CLIENT", "KILL", "ADDR", "1.2.3.4:5"),
    ("CLIENT", "KILL", "USER", "nobody"), ("CLIENT", "KILL", "TYPE", "foo"), ("CLIENT", "KILL", "SKIPME", "maybe"),
    ("CLIENT", "KILL", "ID"), ("CLIENT", "KILL", "ID", "1", "TYPE"), ("CLIENT", "KILL", "TYPE", "master"),
    ("CLIENT", "KILL", "LADDR", "1.2.3.4:5"), ("CLIENT", "KILL", "TYPE", "pubsub", "ID", "99999"),
    ("CLIENT", "LIST", "TYPE", "normal", "x"), ("CLIENT", "LIST", "ID"), ("CLIENT", "LIST", "ID", "x"),
    ("CLIENT", "LIST", "ID", "0"), ("CLIENT", "LIST", "foo"), ("CLIENT", "LIST", "TYPE", "foo"),
    ("CLIENT", "INFO", "x"), ("CLIENT", "PAUSE", "abc"), ("CLIENT", "PAUSE", "-1"),
    ("CLIENT", "PAUSE", "10", "foo"), ("CLIENT", "PAUSE", "10", "write", "x"), ("CLIENT", "PAUSE", "0"),
    ("CLIENT", "PAUSE", "0", "WRITE"), ("CLIENT", "UNPAUSE"), ("CLIENT", "UNPAUSE", "x"),
])
def test_client_errors_parity(parity, cmd):
    """CLIENT KILL / LIST / PAUSE argument errors and empty results are Redis' bytes."""
    parity(cmd)


def _kill_round(port, how):
    victim, killer = RawClient(port), RawClient(port)
    try:
        victim.call("CLIENT", "SETNAME", "victim")
        vid = victim.call("CLIENT", "ID")[1:-2].decode()
        row = _listing(killer)[vid]
        args = {"id": ("ID", vid), "addr": ("ADDR", row["addr"]), "old": (row["addr"],),
                "id+type": ("ID", vid, "TYPE", "normal"), "id+wrongtype": ("ID", vid, "TYPE", "pubsub"),
                "id+user": ("ID", vid, "USER", "default"), "self": ("ID", killer.call("CLIENT", "ID")[1:-2].decode()),
                "self-skipme-no": ("ID", killer.call("CLIENT", "ID")[1:-2].decode(), "SKIPME", "no"),
                }[how]
        reply = killer.call("CLIENT", "KILL", *args)
        closed = victim.is_closed(0.3)
        try:
            after = killer.call("PING")
        except ConnectionError:
            after = b"<closed>"
        return reply, closed, after
    finally:
        victim.close()
        killer.close()


@pytest.mark.parametrize("how", ["id", "addr", "old", "id+type", "id+wrongtype", "id+user", "self",
                                 "self-skipme-no"])
def test_client_kill_filters(sonic_port, real_port, how):
    """CLIENT KILL by ID, ADDR, the old form, combined filters and SKIPME as Redis."""
    assert _kill_round(sonic_port, how) == _kill_round(real_port, how)


def test_client_kill_laddr_user_type_skipme_unit():
    """LADDR, USER and TYPE select every matching client; SKIPME no includes the killer."""
    server = make_server()
    a, ta = connect(server)
    b, tb = connect(server)
    c, tc = connect(server)
    assert call(c, "CLIENT", "KILL", "LADDR", a.laddr) == 2
    assert ta.disconnecting and tb.disconnecting and not tc.disconnecting
    d, td = connect(server)
    d.dataReceived(b"SUBSCRIBE ch\r\n")
    assert call(c, "CLIENT", "KILL", "TYPE", "pubsub") == 1 and td.disconnecting
    assert call(c, "CLIENT", "KILL", "USER", "default", "SKIPME", "no") == 1
    assert c.close_after_reply


# -- CLIENT PAUSE -------------------------------------------------------------------


def _pause_server():
    server = make_server()
    admin, admin_t = connect(server)
    worker, worker_t = connect(server)
    return server, admin, admin_t, worker, worker_t


def test_pause_write_holds_writes_until_timeout():
    """WRITE mode: reads answer at once, a write waits (and the pipeline behind it) until the timeout."""
    server, admin, admin_t, worker, worker_t = _pause_server()
    admin.dataReceived(b"CLIENT PAUSE 1000 WRITE\r\n")
    assert admin_t.value() == b"+OK\r\n"
    worker.dataReceived(b"GET k\r\nSET k v\r\nGET k\r\n")
    assert worker_t.value() == b"$-1\r\n"
    row = [l for l in call(admin, "CLIENT", "LIST").decode().split("\n") if "id=%d " % worker.id in l][0]
    assert " flags=b " in row and " cmd=set " in row and " argv-mem=5 " in row  # as Redis 7.0.15
    assert "blocked_clients:1\r\n" in call(admin, "INFO", "clients").decode()
    assert call(admin, "CLIENT", "UNBLOCK", str(worker.id)) == 0  # (Redis 7.0.15 crashes here)
    server.clock.advance(0.5)
    assert worker_t.value() == b"$-1\r\n"
    server.clock.advance(0.6)
    assert worker_t.value() == b"$-1\r\n+OK\r\n$1\r\nv\r\n"
    assert "blocked_clients:0\r\n" in call(admin, "INFO", "clients").decode()


def test_pause_write_holds_may_replicate_and_exec():
    """EVAL, PUBLISH (Redis' may_replicate) and an EXEC whose queue writes are held in
    WRITE mode; EVAL_RO and reads inside EXEC are not."""
    from sonic.dispatch import execute
    for commands in ([b"EVAL", b"return 1", b"0"], [b"PUBLISH", b"ch", b"m"],
                     [b"EXPIRE", b"k", b"10"]):
        server, admin, _, worker, worker_t = _pause_server()
        call(admin, "CLIENT", "PAUSE", "1000", "WRITE")
        assert execute(worker, commands) is BLOCKED
        call(admin, "CLIENT", "UNPAUSE")
        server.clock.advance(0)
        assert worker_t.value() != b""
    server, admin, _, worker, _ = _pause_server()
    call(admin, "CLIENT", "PAUSE", "1000", "WRITE")
    assert execute(worker, [b"EVAL_RO", b"return 1", b"0"]) is not BLOCKED
    assert worker.blocked is None
    server, admin, _, worker, worker_t = _pause_server()
    worker.dataReceived(b"MULTI\r\nGET k\r\n")
    call(admin, "CLIENT", "PAUSE", "1000", "WRITE")
    worker.dataReceived(b"EXEC\r\n")
    assert worker_t.value() == b"+OK\r\n+QUEUED\r\n*1\r\n$-1\r\n"
    worker_t.clear()
    worker.dataReceived(b"MULTI\r\nSET k v\r\n")
    assert worker_t.value() == b"+OK\r\n"   # the queued write waits
    call(admin, "CLIENT", "UNPAUSE")
    server.clock.advance(0)
    worker.dataReceived(b"EXEC\r\n")
    assert worker_t.value() == b"+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n"


def test_pause_all_holds_everything_and_unpause():
    """ALL mode holds every command, CLIENT UNPAUSE from a paused client included; the timeout frees all."""
    server, admin, admin_t, worker, worker_t = _pause_server()
    call(admin, "CLIENT", "PAUSE", "2000", "ALL")
    worker.dataReceived(b"PING\r\n")
    admin.dataReceived(b"CLIENT UNPAUSE\r\n")
    assert worker_t.value() == b"" and admin_t.value() == b""
    server.clock.advance(2.0)
    assert worker_t.value() == b"+PONG\r\n" and admin_t.value() == b"+OK\r\n"
    assert server.paused is None and not server.gate_all


def test_unpause_runs_held_commands_in_order():
    """CLIENT UNPAUSE ends a WRITE pause early and the held commands run in arrival order."""
    server, admin, _, worker, worker_t = _pause_server()
    other, other_t = connect(server)
    call(admin, "CLIENT", "PAUSE", "100000", "WRITE")
    worker.dataReceived(b"APPEND k a\r\n")
    other.dataReceived(b"APPEND k b\r\n")
    assert call(admin, "GET", "k") is None
    assert call(admin, "CLIENT", "UNPAUSE") == b"OK"
    assert worker_t.value() == b""  # after UNPAUSE's own reply, on the next reactor turn
    server.clock.advance(0)
    assert call(admin, "GET", "k") == b"ab"
    assert worker_t.value() == b":1\r\n" and other_t.value() == b":2\r\n"
    assert not server.clock.getDelayedCalls() or all(
        not d.active() or d.func.__name__ != "unpause" for d in server.clock.getDelayedCalls())


def test_pause_keeps_stricter_mode_and_later_deadline():
    """A second PAUSE never weakens ALL to WRITE nor shortens the deadline."""
    server, admin, _, worker, worker_t = _pause_server()
    call(admin, "CLIENT", "PAUSE", "1000", "ALL")
    pause = server.paused
    pause.pause("write", 100)   # as a second CLIENT PAUSE 100 WRITE would
    assert pause.mode == "all"
    server.clock.advance(0.5)
    worker.dataReceived(b"PING\r\n")
    assert worker_t.value() == b""
    server.clock.advance(0.6)
    assert worker_t.value() == b"+PONG\r\n"


def test_held_client_that_disconnects_is_dropped():
    """A client that goes away while held never runs its command."""
    server, admin, _, worker, _ = _pause_server()
    call(admin, "CLIENT", "PAUSE", "1000", "WRITE")
    worker.dataReceived(b"SET k v\r\n")
    worker.connectionLost(None)
    assert server.blocked_clients == 0
    server.clock.advance(1.1)
    assert call(admin, "GET", "k") is None


def test_pause_write_real_servers(sonic_port, real_port):
    """On both servers a write waits for a 300 ms WRITE pause while a read does not."""
    for port in (sonic_port, real_port):
        admin, worker = RawClient(port), RawClient(port)
        try:
            assert admin.call("CLIENT", "PAUSE", "300", "WRITE") == b"+OK\r\n"
            start = time.time()
            worker.call("GET", "k")
            read = time.time() - start
            worker.call("SET", "k", "v")
            write = time.time() - start
            assert read < 0.2 and write >= 0.25, (port, read, write)
        finally:
            admin.call("CLIENT", "UNPAUSE")
            admin.call("FLUSHALL")
            admin.close()
            worker.close()


def _cmd_after(port, commands):
    a, o = RawClient(port), RawClient(port)
    try:
        aid = a.call("CLIENT", "ID")[1:-2].decode()
        out = []
        for cmd in commands:
            a.call(*cmd)
            row = _listing(o)[aid]
            out.append((row["cmd"], row["multi"], row["flags"]))
        return out
    finally:
        a.close()
        o.close()


def test_cmd_field_follows_lookup(sonic_port, real_port):
    """cmd= names the last command looked up: refused ones too, queued ones, NULL when unknown."""
    commands = [("GET",), ("NOSUCH",), ("CLIENT", "NOSUCH"), ("SET", "a", "b"), ("CLIENT",),
                ("MULTI",), ("SET", "x", "y"), ("EXEC",), ("MULTI",), ("GET",), ("DISCARD",),
                ("CLIENT", "LIST", "ID", "x"), ("DEL", "a", "x")]
    assert _cmd_after(sonic_port, commands) == _cmd_after(real_port, commands)


def test_info_clients_buffer_maxima():
    """INFO's client_recent_max_input/output_buffer report the largest unread input and unsent output."""
    server = make_server()
    slow, transport = connect(server)
    transport.dataBuffer = b"x" * 5000   # replies the peer has not read
    half, _ = connect(server)
    half.dataReceived(b"*2\r\n$3\r\nGET\r\n$10\r\nab")   # half a command
    me, _ = connect(server)
    info = call(me, "INFO", "clients").decode()
    fields = dict(line.split(":", 1) for line in info.split("\r\n")[1:] if ":" in line)
    assert int(fields["client_recent_max_input_buffer"]) > 0
    assert fields["client_recent_max_output_buffer"] == "5000"

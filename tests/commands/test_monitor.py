"""MONITOR: raw monitor connections on sonic and redis-server see the same lines.

Lines are compared after their timestamp and client address are replaced
(C{+<time> [<db> <addr>]} becomes C{+[<db> client]}, or C{+[<db> lua]} for
script commands); everything else (what is shown, in which order, with
which db, quoting and redaction) must be identical.
"""

import re
import socket
import time

import pytest

from sonic.monitor import repr_bytes, redacted
from tests.helpers import call, connect, make_server
from tests.resp_reader import RawClient

_LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)$")


def _normalize(line):
    m = _LINE.match(line)
    if m is None:
        return line
    origin = b"lua" if m.group(4) == b"lua" else b"client"
    return b"+[" + m.group(3) + b" " + origin + b"] " + m.group(5)


def _read_lines(sock, until, timeout=5.0):
    """Monitor lines up to (and without) the first one containing C{until}."""
    buf = b""
    sock.settimeout(timeout)
    deadline = time.time() + timeout
    while until not in buf and time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    lines = []
    for line in buf.split(b"\r\n"):
        if until in line:
            break
        if line:
            lines.append(line)
    return lines


def _monitor(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"*1\r\n$7\r\nMONITOR\r\n")
    assert sock.recv(5) == b"+OK\r\n"
    return sock


def _watch(port, commands):
    """Run C{commands} on C{port} while a monitor watches; return its normalized lines."""
    mon = _monitor(port)
    worker = RawClient(port)
    try:
        for cmd in commands:
            worker.call(*cmd)
        worker.call("ECHO", "--end-of-test--")
        return [_normalize(line) for line in _read_lines(mon, b"--end-of-test--")]
    finally:
        worker.call("SELECT", "0")
        worker.close()
        mon.close()


COMMANDS = [
    ("SET", "a", "hello world"),
    ("GET", "a"),
    ("SET", "b", b"x\x01\"\\\n\r\t\x07\x08\x0b\x7f\xff y"),
    ("INCR", "a"),                       # an error reply: still shown
    ("LPUSH", "a", "x"),                 # WRONGTYPE: still shown
    ("GET",),                            # wrong arity: not shown
    ("NOSUCHCOMMAND", "x"),              # unknown: not shown
    ("AUTH", "secret"),                  # redacted
    ("AUTH", "user", "secret"),
    ("HELLO", "2", "AUTH", "default", "secret", "SETNAME", "conn"),
    ("HELLO", "2"),
    ("CLIENT", "SETNAME", "worker"),
    ("CLIENT", "GETNAME"),
    ("CLIENT", "LIST"),                  # admin: hidden
    ("CONFIG", "GET", "maxmemory"),      # admin: hidden
    ("SLOWLOG", "LEN"),                  # admin: hidden
    ("LATENCY", "LATEST"),               # admin: hidden
    ("DEBUG", "SLEEP", "0"),             # admin: hidden
    ("MULTI",),
    ("SET", "q", "1"),
    ("INCR", "q"),
    ("EXEC",),                           # queued commands shown before EXEC
    ("MULTI",),
    ("GET",),
    ("EXEC",),                           # EXECABORT: EXEC still shown
    ("EVAL", "redis.call('set', 'k', 'v'); return redis.call('get', 'k')", "0"),
    ("EVAL", "return redis.call('incr', 'a')", "0"),   # a script error
    ("EVALSHA", "0" * 40, "0"),          # NOSCRIPT: still shown (before running)
    ("SELECT", "3"),                     # shown with the new db
    ("SET", "z", "1"),
    ("SELECT", "0"),
    ("PING",),
    ("ECHO", ""),
    ("BLPOP", "nolist", "0.01"),         # shown once, when it blocks
    ("MIGRATE", "127.0.0.1", "1", "k", "0", "10", "AUTH2", "u", "pw"),
    ("FLUSHALL",),
]


def test_monitor_lines_match_redis(sonic_port, real_port):
    """The same commands produce the same MONITOR lines on sonic and on redis-server."""
    expected = _watch(real_port, COMMANDS)
    got = _watch(sonic_port, COMMANDS)
    assert got == expected


def test_monitor_shows_other_monitors_and_lua_db(sonic_port, real_port):
    """Script commands show [db lua] with the caller's db; two monitors both see every line."""
    commands = [("SELECT", "5"), ("EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "k", "v"),
                ("SELECT", "0")]
    for port in (sonic_port, real_port):
        extra = _monitor(port)
        try:
            lines = _watch(port, commands)
            assert b'+[5 lua] "set" "k" "v"' in lines
            seen = [_normalize(line) for line in _read_lines(extra, b"--end-of-test--")]
            assert seen == lines
        finally:
            extra.close()


def _exchange(sock, data, wait=0.3):
    sock.sendall(data)
    sock.settimeout(wait)
    buf = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                buf += b"<closed>"
                break
            buf += chunk
    except socket.timeout:
        pass
    return b"\r\n".join(_normalize(line) for line in buf.split(b"\r\n"))


def _monitor_session(port):
    mon = _monitor(port)
    steps = [b"PING\r\n", b"GET x\r\n", b"MONITOR\r\n", b"SELECT 2\r\n", b"SELECT 0\r\n",
             b"RESET\r\n", b"PING\r\n", b"MONITOR\r\n", b"QUIT\r\n"]
    try:
        return [_exchange(mon, step) for step in steps]
    finally:
        mon.close()


def test_monitor_own_commands_reset_and_quit(sonic_port, real_port):
    """A monitor sees its own commands after their replies, may not touch keys, ignores a second
    MONITOR, leaves monitor mode with RESET, and QUIT closes it without a line of its own."""
    assert _monitor_session(sonic_port) == _monitor_session(real_port)


def test_monitor_in_multi_is_refused(parity):
    """MONITOR queued in MULTI fails at EXEC as Redis' DENY BLOCKING client."""
    parity(("MULTI",), ("MONITOR",), ("EXEC",))


def test_monitor_flag_in_client_list(sonic_port, real_port):
    """CLIENT LIST shows a monitor with flags=O and cmd=monitor."""
    for port in (sonic_port, real_port):
        mon = _monitor(port)
        try:
            c = RawClient(port)
            listing = c.call("CLIENT", "LIST")
            c.close()
            lines = [l for l in listing.split(b"\n") if b"cmd=monitor" in l]
            assert len(lines) == 1 and b" flags=O " in lines[0]
        finally:
            mon.close()


@pytest.mark.parametrize("value, expected", [
    (b"plain", b'"plain"'),
    (b"", b'""'),
    (b'q"b\\', b'"q\\"b\\\\"'),
    (b"\n\r\t\x07\x08", b'"\\n\\r\\t\\a\\b"'),
    (b"\x00\x0b\x0c\x1f\x7f\x80\xff", b'"\\x00\\x0b\\x0c\\x1f\\x7f\\x80\\xff"'),
    (b" ~", b'" ~"'),
])
def test_repr_bytes(value, expected):
    """Arguments are quoted as Redis' sdscatrepr: only \\n \\r \\t \\a \\b get letters, the rest \\xHH."""
    assert repr_bytes(value) == expected


def test_redaction():
    """AUTH, HELLO AUTH, MIGRATE AUTH/AUTH2 and CONFIG SET requirepass hide their secrets."""
    r = b"(redacted)"
    assert redacted([b"AUTH", b"u", b"p"]) == [b"AUTH", r, r]
    assert redacted([b"hello", b"3", b"auth", b"u", b"p", b"setname", b"n"]) == [
        b"hello", b"3", b"auth", r, r, b"setname", b"n"]
    assert redacted([b"migrate", b"h", b"1", b"", b"0", b"10", b"COPY", b"AUTH", b"p", b"KEYS", b"a"]) == [
        b"migrate", b"h", b"1", b"", b"0", b"10", b"COPY", b"AUTH", r, b"KEYS", b"a"]
    assert redacted([b"config", b"set", b"requirepass", b"x", b"maxmemory", b"1"]) == [
        b"config", b"set", b"requirepass", r, b"maxmemory", b"1"]


def test_monitor_unit_feed_and_disconnect():
    """A protocol monitor gets lines for other clients' commands and is forgotten when it goes."""
    server = make_server()
    mon, transport = connect(server)
    mon.dataReceived(b"MONITOR\r\n")
    assert transport.value() == b"+OK\r\n"
    transport.clear()
    worker, _ = connect(server)
    worker.dataReceived(b"SET k v\r\nCONFIG GET maxmemory\r\n")
    lines = transport.value().split(b"\r\n")
    assert len(lines) == 2 and _normalize(lines[0]) == b'+[0 client] "SET" "k" "v"'
    mon.connectionLost(None)
    assert server.monitors == []
    worker.dataReceived(b"SET k v2\r\n")  # nobody to feed: no error
    assert call(worker, "GET", "k") == b"v2"


def test_monitor_that_does_not_read_is_closed_past_replica_limit():
    """Past client-output-buffer-limit's replica class a monitor is closed, as Redis closes it."""
    server = make_server(client_output_buffer_limit="normal 0 0 0 slave 2000 0 0 pubsub 0 0 0")
    mon, transport = connect(server)
    mon.dataReceived(b"MONITOR\r\n")
    worker, _ = connect(server)
    for i in range(10):
        worker.dataReceived(b"SET key%d %s\r\n" % (i, b"v" * 400))
        if not server.monitors:
            break
    assert server.monitors == [] and i < 10
    assert transport.disconnecting or mon._dropped
    worker.dataReceived(b"SET k v\r\n")  # no monitor left: nothing to write to


def _served_blpop_lines(port):
    mon = socket.create_connection(("127.0.0.1", port), timeout=5)
    mon.sendall(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
    time.sleep(0.1)
    mon.recv(65536)
    mon.sendall(b"*1\r\n$7\r\nMONITOR\r\n")
    assert mon.recv(5) == b"+OK\r\n"
    waiter, pusher = RawClient(port), RawClient(port)
    try:
        waiter.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$5\r\nblist\r\n$1\r\n0\r\n")
        time.sleep(0.1)
        pusher.call("RPUSH", "blist", "x")
        assert waiter.read_reply() == b"*2\r\n$5\r\nblist\r\n$1\r\nx\r\n"
        pusher.call("ECHO", "--end-of-test--")
        return [_normalize(line) for line in _read_lines(mon, b"--end-of-test--")]
    finally:
        waiter.close()
        pusher.close()
        mon.close()


def test_monitor_resp3_and_served_blocking_command(sonic_port, real_port):
    """A RESP3 monitor gets the same status lines; a served BLPOP is shown once, when it blocked."""
    assert _served_blpop_lines(sonic_port) == _served_blpop_lines(real_port)


def test_redis_py_monitor(r, server_port):
    """redis-py's Monitor parses sonic's lines (client and lua origins) as it parses Redis'."""
    import redis
    other = redis.Redis(port=server_port, protocol=2)
    other.ping()  # connected (and CLIENT SETINFO sent) before the monitor starts
    with r.monitor() as m:
        other.set("pyk", "v v")
        other.eval("return redis.call('get', KEYS[1])", 1, "pyk")
        seen = [m.next_command() for _ in range(3)]
    other.close()
    assert [s["command"] for s in seen] == [
        "SET pyk v v", "EVAL return redis.call('get', KEYS[1]) 1 pyk", "get pyk"]
    assert [s["db"] for s in seen] == [0, 0, 0]
    assert seen[2]["client_type"] == "lua" and seen[0]["client_type"] == "tcp"

"""MIGRATE between real processes: sonic -> redis-server, redis-server -> sonic, sonic -> sonic.

Replies are compared byte for byte with redis-server's own MIGRATE run
against the same target, and the moved values are checked on the target.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import redis

from tests.conftest import free_port, start_sonic, stop, wait_for_port
from tests.resp_reader import RawClient, encode_command


def _unique(name):
    return "mig:%s:%s" % (uuid.uuid4().hex[:8], name)


@pytest.fixture
def sonic(sonic_port):
    c = redis.Redis(port=sonic_port)
    yield c
    c.close()


@pytest.fixture
def real(real_port):
    c = redis.Redis(port=real_port)
    yield c
    c.close()


@pytest.fixture(scope="module")
def target_sonic():
    """A third server (sonic) to migrate to: a source migrating to itself would deadlock in Redis."""
    proc, port, _ = start_sonic()
    yield port
    stop(proc)


@pytest.fixture(scope="module")
def auth_sonic():
    """A sonic process that requires the password "pw"."""
    proc, port, _ = start_sonic("--requirepass", "pw")
    yield port
    stop(proc)


@pytest.fixture(scope="module")
def auth_redis():
    """A redis-server of our own that requires the password "pw" (skips without the binary)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-mig-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--requirepass", "pw", "--daemonize", "no",
         "--logfile", os.path.join(workdir, "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for_port(port, proc)
    yield port
    stop(proc)


def _fill(c, prefix):
    """One key of every type (and both encodings where they differ), some with TTLs."""
    keys = {}
    k = prefix + ":str"
    c.set(k, "hello", px=100000)
    keys[k] = "string"
    k = prefix + ":int"
    c.set(k, "12345")
    keys[k] = "string"
    k = prefix + ":list"
    c.rpush(k, "a", "b", "c", *["x%d" % i for i in range(300)])
    c.pexpire(k, 200000)
    keys[k] = "list"
    k = prefix + ":hash"
    c.hset(k, mapping={"f1": "v1", "f2": "v2"})
    keys[k] = "hash"
    k = prefix + ":bighash"
    c.hset(k, mapping={"f%d" % i: "v%d" % i for i in range(600)})
    keys[k] = "hash"
    k = prefix + ":intset"
    c.sadd(k, 1, 2, 3)
    c.pexpire(k, 300000)
    keys[k] = "set"
    k = prefix + ":set"
    c.sadd(k, "a", "b", *["m%d" % i for i in range(600)])
    keys[k] = "set"
    k = prefix + ":zset"
    c.zadd(k, {"a": 1.5, "b": 2})
    keys[k] = "zset"
    k = prefix + ":bigzset"
    c.zadd(k, {"m%d" % i: i / 3.0 for i in range(200)})
    keys[k] = "zset"
    return keys


def _content(c, key, kind):
    if kind == "string":
        return c.get(key)
    if kind == "list":
        return c.lrange(key, 0, -1)
    if kind == "hash":
        return c.hgetall(key)
    if kind == "set":
        return c.smembers(key)
    return c.zrange(key, 0, -1, withscores=True)


def _check_moved(src, dst, port, keys, copy=False):
    """MIGRATE every key from C{src} to the server on C{port}; check values, TTLs, and the source."""
    before = {k: (_content(src, k, kind), src.pttl(k), src.object("encoding", k)) for k, kind in keys.items()}
    args = ["MIGRATE", "127.0.0.1", port, "", 0, 5000] + (["COPY"] if copy else []) + ["KEYS"] + list(keys)
    assert src.execute_command(*args) == b"OK"
    try:
        for k, kind in keys.items():
            content, pttl, encoding = before[k]
            assert dst.type(k).decode() == kind
            assert _content(dst, k, kind) == content
            assert dst.object("encoding", k) == encoding
            if pttl < 0:
                assert dst.pttl(k) == -1
            else:
                assert pttl - 5000 < dst.pttl(k) <= pttl
            assert src.exists(k) == (1 if copy else 0)
    finally:
        dst.delete(*keys)
        src.delete(*keys)


def test_sonic_to_redis_every_type(sonic, real, real_port):
    """Every type moves from sonic to redis-server with its value, encoding and TTL, and leaves sonic."""
    _check_moved(sonic, real, real_port, _fill(sonic, _unique("s2r")))


def test_redis_to_sonic_every_type(sonic, real, sonic_port):
    """Every type moves from redis-server to sonic with its value, encoding and TTL, and leaves redis-server."""
    _check_moved(real, sonic, sonic_port, _fill(real, _unique("r2s")))


def test_copy_keeps_the_source(sonic, real, real_port):
    """COPY leaves the migrated keys in place."""
    _check_moved(sonic, real, real_port, _fill(sonic, _unique("copy")), copy=True)


def test_single_key_form_and_destination_db(sonic, real, real_port):
    """The single-key form moves one key into the destination db."""
    key = _unique("one")
    sonic.set(key, "v")
    assert sonic.execute_command("MIGRATE", "127.0.0.1", real_port, key, 3, 1000) == b"OK"
    other = redis.Redis(port=real_port, db=3)
    try:
        assert other.get(key) == b"v"
        assert sonic.exists(key) == 0
    finally:
        other.delete(key)
        other.close()


def _both(sonic_port, real_port, *args):
    """Raw replies of the same MIGRATE run on sonic and on redis-server (as sources)."""
    out = []
    for port in (sonic_port, real_port):
        c = RawClient(port)
        try:
            out.append(c.call(*args))
        finally:
            c.close()
    return out


def test_busykey_and_replace(sonic, real, sonic_port, real_port, auth_sonic):
    """A key the target has gives Redis' BUSYKEY error (source kept); REPLACE overwrites it."""
    key = _unique("busy")
    target = redis.Redis(port=auth_sonic, password="pw")
    target.set(key, "old")
    try:
        for c in (sonic, real):
            c.set(key, "new")
        replies = _both(sonic_port, real_port, "MIGRATE", "127.0.0.1", auth_sonic, key, 0, 1000, "AUTH", "pw")
        assert replies[0] == replies[1] == (
            b"-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n")
        assert sonic.get(key) == b"new" and target.get(key) == b"old"
        assert sonic.execute_command("MIGRATE", "127.0.0.1", auth_sonic, key, 0, 1000,
                                     "REPLACE", "AUTH", "pw") == b"OK"
        assert target.get(key) == b"new" and sonic.exists(key) == 0
    finally:
        target.delete(key)
        real.delete(key)
        target.close()


def test_partial_failure_deletes_only_acknowledged_keys(sonic, auth_sonic):
    """With several keys, those the target refused stay, the others move, and the first error is the reply."""
    a, b, c = _unique("a"), _unique("b"), _unique("c")
    target = redis.Redis(port=auth_sonic, password="pw")
    target.set(b, "there")
    try:
        for k in (a, b, c):
            sonic.set(k, "mine")
        with pytest.raises(redis.ResponseError, match="^Target instance replied with error: BUSYKEY"):
            sonic.execute_command("MIGRATE", "127.0.0.1", auth_sonic, "", 0, 1000, "AUTH", "pw", "KEYS", a, b, c)
        assert [sonic.exists(k) for k in (a, b, c)] == [0, 1, 0]
        assert target.mget(a, b, c) == [b"mine", b"there", b"mine"]
    finally:
        target.delete(a, b, c)
        sonic.delete(a, b, c)
        target.close()


def test_noauth(sonic, real, sonic_port, real_port):
    """Without AUTH a target requiring a password refuses, with Redis' reply, and the key stays."""
    proc, port, _ = start_sonic("--requirepass", "pw")  # fresh: no cached authenticated connection
    key = _unique("noauth")
    try:
        for c in (sonic, real):
            c.set(key, "v")
        assert _both(sonic_port, real_port, "MIGRATE", "127.0.0.1", port, key, 0, 1000) == [
            b"-ERR Target instance replied with error: NOAUTH Authentication required.\r\n"] * 2
        assert sonic.get(key) == b"v"
    finally:
        stop(proc)
        sonic.delete(key)
        real.delete(key)


def test_auth_and_auth2(sonic, real, sonic_port, real_port, auth_sonic, auth_redis):
    """AUTH and AUTH2 authenticate on the target; a wrong password gives the target's error."""
    for target_port in (auth_sonic, auth_redis):
        target = redis.Redis(port=target_port, password="pw")
        key = _unique("auth")
        try:
            for c in (sonic, real):
                c.set(key, "v")
            assert _both(sonic_port, real_port, "MIGRATE", "127.0.0.1", target_port, key, 0, 1000,
                         "AUTH2", "default", "bad") == [
                b"-ERR Target instance replied with error: WRONGPASS invalid username-password pair"
                b" or user is disabled.\r\n"] * 2
            # A cached connection authenticated earlier stays so (as in Redis):
            # the RESTORE after the failed AUTH may have run.
            target.delete(key)
            assert sonic.execute_command("MIGRATE", "127.0.0.1", target_port, key, 0, 1000, "AUTH", "pw") == b"OK"
            assert target.get(key) == b"v"
            target.delete(key)
            sonic.set(key, "w")
            assert sonic.execute_command("MIGRATE", "127.0.0.1", target_port, key, 0, 1000,
                                         "AUTH2", "default", "pw") == b"OK"
            assert target.get(key) == b"w" and sonic.exists(key) == 0
        finally:
            target.delete(key)
            real.delete(key)
            target.close()


@pytest.mark.parametrize("args", [
    ("nokey-%s" % uuid.uuid4().hex, 0, 1000),
    ("", 0, 1000),
    ("", 0, 1000, "KEYS"),
    ("", 0, 1000, "KEYS", "nokey-a", "nokey-b"),
    ("k", 0, 1000, "KEYS", "k"),
    ("k", 0, 1000, "AUTH"),
    ("k", 0, 1000, "AUTH2", "user"),
    ("k", 0, 1000, "COPY", "bogus"),
    ("k", 0, "x"),
    ("k", "x", 0),
    ("k", "x", 0, "bogus"),
    ("k", 99, 1000, "REPLACE"),
    ("k", 0, -5, "REPLACE", "COPY"),
])
def test_replies_match_redis(sonic, real, sonic_port, real_port, target_sonic, args):
    """NOKEY, option syntax errors, the KEYS rule, integer errors and target errors match Redis byte for byte."""
    key = _unique("k")
    args = [key if a == "k" else a for a in args]
    for c in (sonic, real):
        c.set(key, "v")
    try:
        got = _both(sonic_port, real_port, "MIGRATE", "127.0.0.1", target_sonic, *args)
        assert got[0] == got[1]
    finally:
        sonic.delete(key)
        real.delete(key)


def test_connection_errors_match_redis(sonic, real, sonic_port, real_port):
    """A refused connection and a failed name lookup give Redis' IOERR errors, and the key stays."""
    key = _unique("io")
    for c in (sonic, real):
        c.set(key, "v")
    try:
        refused = _both(sonic_port, real_port, "MIGRATE", "127.0.0.1", free_port(), key, 0, 1000)
        assert refused == [b"-IOERR error or timeout writing to target instance\r\n"] * 2
        lookup = _both(sonic_port, real_port, "MIGRATE", "nonexistent.invalid", 6000, key, 0, 1000)
        assert lookup == [b"-IOERR error or timeout connecting to the client\r\n"] * 2
        assert sonic.get(key) == b"v"
    finally:
        sonic.delete(key)
        real.delete(key)


class _SilentTarget(object):
    """A TCP server that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def test_timeout_others_served_and_pipeline_resumes(sonic, sonic_port):
    """While MIGRATE waits for a silent target other clients are served; after the reading timeout the pipeline resumes."""
    key = _unique("slow")
    sonic.set(key, "v")
    target = _SilentTarget()
    raw = socket.create_connection(("127.0.0.1", sonic_port))
    try:
        raw.sendall(encode_command(["MIGRATE", "127.0.0.1", target.port, key, 0, 800])
                    + encode_command(["GET", key]) + encode_command(["PING"]))
        start = time.time()
        time.sleep(0.2)
        assert sonic.ping() and sonic.get(key) == b"v"  # served while MIGRATE waits
        assert time.time() - start < 0.7
        raw.settimeout(5)
        buf = b""
        want = b"-IOERR error or timeout reading to target instance\r\n$1\r\nv\r\n+PONG\r\n"
        while len(buf) < len(want):
            data = raw.recv(4096)
            if not data:
                break
            buf += data
        assert buf == want
        assert time.time() - start >= 0.75
    finally:
        raw.close()
        target.close()
        sonic.delete(key)


def test_pipeline_after_success(sonic, real, sonic_port, real_port):
    """Commands pipelined after a successful MIGRATE run after it, in order, and see the key gone."""
    key = _unique("pipe")
    sonic.set(key, "v")
    raw = socket.create_connection(("127.0.0.1", sonic_port))
    try:
        raw.sendall(encode_command(["MIGRATE", "127.0.0.1", real_port, key, 0, 1000])
                    + encode_command(["EXISTS", key]) + encode_command(["PING"]))
        raw.settimeout(5)
        want = b"+OK\r\n:0\r\n+PONG\r\n"
        buf = b""
        while len(buf) < len(want):
            data = raw.recv(4096)
            if not data:
                break
            buf += data
        assert buf == want
        assert real.get(key) == b"v"
    finally:
        raw.close()
        real.delete(key)


def test_inside_multi(sonic, real, real_port):
    """Inside MULTI/EXEC MIGRATE runs with the transaction, as in Redis."""
    key = _unique("multi")
    try:
        pipe = sonic.pipeline(transaction=True)
        pipe.set(key, "v")
        pipe.execute_command("MIGRATE", "127.0.0.1", real_port, key, 0, 1000)
        pipe.execute_command("MIGRATE", "127.0.0.1", real_port, key, 0, 1000)
        pipe.exists(key)
        assert pipe.execute() == [True, b"OK", b"NOKEY", 0]
        assert real.get(key) == b"v"
    finally:
        real.delete(key)


def test_concurrent_migrations_share_the_cached_connection(sonic_port, real, real_port):
    """Several clients migrating to one target at once all succeed (their jobs queue on one connection)."""
    keys = [_unique("conc%d" % i) for i in range(8)]
    clients = [socket.create_connection(("127.0.0.1", sonic_port)) for _ in keys]
    c = redis.Redis(port=sonic_port)
    try:
        for k in keys:
            c.set(k, k)
        for s, k in zip(clients, keys):
            s.sendall(encode_command(["MIGRATE", "127.0.0.1", real_port, k, 0, 2000]))
        for s in clients:
            s.settimeout(5)
            assert s.recv(100) == b"+OK\r\n"
        assert real.mget(keys) == [k.encode() for k in keys]
        assert c.exists(*keys) == 0
    finally:
        for s in clients:
            s.close()
        real.delete(*keys)
        c.close()


def test_deletion_propagates_as_del(real_port):
    """A replica of the migrating sonic sees the moved keys deleted (MIGRATE propagates as DEL)."""
    # A master of its own: a replica attached to the shared server would give
    # it a replication history that other tests (ROLE parity) do not expect.
    master_proc, master_port, _ = start_sonic("--save", "")
    proc, port, _ = start_sonic("--save", "")
    replica = redis.Redis(port=port)
    master = redis.Redis(port=master_port)
    key = _unique("repl")
    try:
        master.set(key, "v")
        replica.execute_command("REPLICAOF", "127.0.0.1", master.connection_pool.connection_kwargs["port"])
        deadline = time.time() + 10
        while replica.get(key) != b"v" and time.time() < deadline:
            time.sleep(0.05)
        assert replica.get(key) == b"v"
        assert master.execute_command("MIGRATE", "127.0.0.1", real_port, key, 0, 1000) == b"OK"
        deadline = time.time() + 10
        while replica.exists(key) and time.time() < deadline:
            time.sleep(0.05)
        assert replica.exists(key) == 0
    finally:
        replica.close()
        master.close()
        stop(proc)
        stop(master_proc)
        r = redis.Redis(port=real_port)
        r.delete(key)
        r.close()


# -- without processes: a MemoryReactorClock as the server's reactor ------------------------

def _unit_setup():
    from twisted.internet.testing import MemoryReactorClock

    from tests.helpers import Client, make_server
    server = make_server(clock=MemoryReactorClock())
    return server, Client(server)


def _accept(server, index=-1):
    """Complete the connection MIGRATE asked the reactor for; return (protocol, transport)."""
    from twisted.internet.testing import StringTransport
    host, port, factory, timeout, _ = server.clock.tcpClients[index]
    proto = factory.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport


def test_unit_parked_then_answered_and_connection_cached():
    """MIGRATE parks the client, sends AUTH/SELECT/RESTORE, answers when the replies come, and reuses the connection."""
    from sonic.blocking import BLOCKED
    from sonic.resp import OK
    from tests.helpers import Client, call
    server, client = _unit_setup()
    call(client, "SET", "k", "v")
    call(client, "PEXPIRE", "k", 5000)
    assert call(client, "MIGRATE", "h", "7000", "k", "2", "100", "AUTH", "pw") is BLOCKED
    assert server.clock.tcpClients[0][:2] == ("h", 7000) and server.clock.tcpClients[0][3] == 0.1
    other = Client(server)
    assert call(other, "CLIENT", "UNBLOCK", str(client.id)) == 0  # not a blocked client
    assert server.blocked_clients == 0
    server.add_client(client)  # bare clients are not listed until added
    line = [ln for ln in call(other, "CLIENT", "LIST").split(b"\n") if ln.startswith(b"id=%d " % client.id)][0]
    assert b" flags=N " in line  # Redis runs MIGRATE synchronously: never flagged blocked
    proto, transport = _accept(server)
    sent = transport.value()
    assert sent.startswith(b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n"
                           b"*4\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$4\r\n5000\r\n")
    proto.dataReceived(b"+OK\r\n+OK\r\n")
    assert client.unblocked_replies == []  # one reply still missing
    proto.dataReceived(b"+OK\r\n")
    assert client.unblocked_replies == [OK] and client.blocked is None
    assert call(client, "EXISTS", "k") == 0
    # The next MIGRATE to the same target and db reuses the connection, without SELECT.
    call(client, "SET", "j", "w")
    transport.clear()
    assert call(client, "MIGRATE", "h", "7000", "j", "2", "100") is BLOCKED
    assert len(server.clock.tcpClients) == 1
    assert transport.value().startswith(b"*4\r\n$7\r\nRESTORE\r\n$1\r\nj\r\n$1\r\n0\r\n")
    proto.dataReceived(b"+OK\r\n")
    assert client.unblocked_replies == [OK, OK]
    assert b"migrate_cached_sockets:1\r\n" in call(client, "INFO", "stats")
    # Idle for 10 s, it is closed (Redis' MIGRATE_SOCKET_CACHE_TTL).
    server.clock.advance(9.9)
    assert not transport.disconnecting
    server.clock.advance(0.2)
    assert transport.disconnecting
    assert b"migrate_cached_sockets:0\r\n" in call(client, "INFO", "stats")


def test_unit_timeout_and_refused():
    """A target silent past the timeout gives IOERR reading; a refused connection gives IOERR writing."""
    from twisted.internet.error import ConnectionRefusedError
    from twisted.python.failure import Failure

    from sonic.resp import Error
    from tests.helpers import call
    server, client = _unit_setup()
    call(client, "SET", "k", "v")
    call(client, "MIGRATE", "h", "7000", "k", "0", "0")  # timeout 0 means 1000 ms
    proto, transport = _accept(server)
    server.clock.advance(0.999)
    assert client.unblocked_replies == []
    server.clock.advance(0.002)
    assert [e.message for e in client.unblocked_replies] == ["IOERR error or timeout reading to target instance"]
    assert call(client, "EXISTS", "k") == 1
    call(client, "MIGRATE", "h", "7001", "k", "0", "0")
    factory = server.clock.tcpClients[-1][2]
    factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))
    assert isinstance(client.unblocked_replies[-1], Error)
    assert client.unblocked_replies[-1].message == "IOERR error or timeout writing to target instance"

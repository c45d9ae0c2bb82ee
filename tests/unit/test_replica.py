"""The replica side of replication: handshake, payload, stream, ACKs, resync, REPLICAOF."""

import io

import pytest
from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport

from sonic.rdb import Entry
from sonic.rdb.keyspace import build_keyspace
from sonic.rdb.writer import RdbWriter
from sonic.replication.replica import become_master, become_replica
from sonic.resp import Error, Status
from tests.helpers import Client, call, make_server, run_sync

REPLID = b"a" * 40
REPLID2 = b"b" * 40


def cmd(*words):
    """A command as the master streams it."""
    out = [b"*%d\r\n" % len(words)]
    for w in words:
        w = w if isinstance(w, bytes) else str(w).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(w), w))
    return b"".join(out)


def rdb(entries):
    """An RDB payload holding C{entries} (db 0)."""
    f = io.BytesIO()
    w = RdbWriter(f)
    w.header()
    w.aux("redis-ver", "7.0.15")
    by_db = {}
    for e in entries:
        by_db.setdefault(e.db, []).append(e)
    for db, es in sorted(by_db.items()):
        w.select_db(db, len(es), sum(1 for e in es if e.expire_ms))
        for e in es:
            w.entry(e)
    w.finish()
    return f.getvalue()


class Link(object):
    """A replica server with its link factory and one connection over a StringTransport."""

    def __init__(self, **config):
        self.server = make_server(**config)
        self.server.tcp_port = 7777
        self.factory = become_replica(self.server, "master.example", 6379, clock=self.server.clock,
                                      run_in_thread=run_sync, start=False)
        self.connect()

    def connect(self):
        self.proto = self.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 6379))
        self.tr = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 6379))
        self.proto.makeConnection(self.tr)
        return self.proto

    def sent(self):
        """What the replica wrote since the last call."""
        out = self.tr.value()
        self.tr.clear()
        return out

    def feed(self, data, chunk=None):
        if chunk is None:
            self.proto.dataReceived(data)
        else:
            for i in range(0, len(data), chunk):
                self.proto.dataReceived(data[i:i + chunk])

    def handshake(self):
        """Run PING .. capa; return what PSYNC the replica sent."""
        assert self.sent() == cmd("PING")
        self.feed(b"+PONG\r\n")
        assert self.sent() == cmd("REPLCONF", "listening-port", "7777")
        self.feed(b"+OK\r\n")
        assert self.sent() == cmd("REPLCONF", "capa", "eof", "capa", "psync2")
        self.feed(b"+OK\r\n")
        return self.sent()

    def full_sync(self, entries=(), offset=100, diskless=False, chunk=None, after=b""):
        assert self.handshake() == cmd("PSYNC", "?", "-1")
        payload = rdb(list(entries))
        if diskless:
            mark = b"x" * 40
            body = b"$EOF:" + mark + b"\r\n" + payload + mark
        else:
            body = b"$%d\r\n" % len(payload) + payload
        self.feed(b"+FULLRESYNC " + REPLID + b" %d\r\n\n\n" % offset + body + after, chunk)

    def client(self):
        return Client(self.server)


def test_handshake_sends_each_step_after_the_previous_reply():
    """PING, REPLCONF listening-port, REPLCONF capa and PSYNC ? -1 go out one at a time."""
    link = Link()
    assert link.sent() == cmd("PING")
    assert link.factory.state == "handshake"
    link.feed(b"+PO")
    assert link.sent() == b""
    link.feed(b"NG\r\n")
    assert link.sent() == cmd("REPLCONF", "listening-port", "7777")
    link.feed(b"-ERR unknown\r\n")  # not fatal
    assert link.sent() == cmd("REPLCONF", "capa", "eof", "capa", "psync2")
    link.feed(b"+OK\r\n")
    assert link.sent() == cmd("PSYNC", "?", "-1")


def test_auth_with_masteruser_and_masterauth():
    """With masterauth (and masteruser) the replica AUTHs after PING, even when PING says NOAUTH."""
    link = Link(masterauth="secret", masteruser="bob")
    assert link.sent() == cmd("PING")
    link.feed(b"-NOAUTH Authentication required.\r\n")
    assert link.sent() == cmd("AUTH", "bob", "secret")
    link.feed(b"+OK\r\n")
    assert link.sent() == cmd("REPLCONF", "listening-port", "7777")


def test_auth_refused_drops_the_link():
    """A refused AUTH closes the connection (the factory retries later)."""
    link = Link(masterauth="wrong")
    link.sent()
    link.feed(b"+PONG\r\n")
    assert link.sent() == cmd("AUTH", "wrong")
    link.feed(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
    assert link.tr.disconnecting


def test_ping_error_drops_the_link():
    """Any other error to PING ends the attempt."""
    link = Link()
    link.sent()
    link.feed(b"-ERR something\r\n")
    assert link.tr.disconnecting


@pytest.mark.parametrize("chunk", [None, 1, 3, 7, 64])
@pytest.mark.parametrize("diskless", [False, True])
def test_full_sync_payload_in_odd_chunks(chunk, diskless):
    """The $len and $EOF payloads load however the bytes are split, and the stream after them applies."""
    link = Link()
    link.server.store.dbs[0].set(b"old", b"gone")
    entries = [Entry(0, b"k%d" % i, "string", b"v%d" % i, None) for i in range(50)]
    after = cmd("SET", "new", "1")
    link.full_sync(entries, offset=1000, diskless=diskless, chunk=chunk, after=after)
    c = link.client()
    assert call(c, "GET", "k7") == b"v7"
    assert call(c, "GET", "old") is None
    assert call(c, "GET", "new") == b"1"
    f = link.factory
    assert f.replid == REPLID.decode() and link.server.replid == REPLID.decode()
    assert f.offset == 1000 + len(after)
    assert f.master_link_status == "up" and f.state == "connected"
    # The first ACK goes out at once (a diskless master waits for it).
    assert link.sent() == cmd("REPLCONF", "ACK", "1000")


@pytest.mark.parametrize("use_hiredis", [True, False])
@pytest.mark.parametrize("chunk", [None, 1, 5, 100])
def test_stream_offset_counts_every_command_byte_for_byte(use_hiredis, chunk):
    """SELECT, writes and PINGs advance the offset by their RESP size, with and without hiredis."""
    link = Link()
    link.factory.use_hiredis = use_hiredis
    link.full_sync(offset=5)
    link.sent()
    words = [b"", b"x" * 9, b"y" * 10, b"z" * 99, b"w" * 100, b"v" * 1000, b"u" * 12345]
    stream = cmd("PING") + cmd("SELECT", "3") + cmd("SET", "a", "x" * 300) + cmd("PING")
    stream += cmd("RPUSH", "l", *words) + cmd("DEL", *["k%d" % i for i in range(12)])
    link.feed(stream, chunk)
    assert link.factory.offset == 5 + len(stream)
    assert link.server.repl_offset == 5 + len(stream)
    c = link.client()
    call(c, "SELECT", "3")
    assert call(c, "GET", "a") == b"x" * 300
    assert [call(c, "LINDEX", "l", str(i)) for i in range(len(words))] == words


@pytest.mark.parametrize("use_hiredis", [True, False])
def test_applied_bytes_are_passed_on_to_our_own_replicas(use_hiredis):
    """repl_proxy gets exactly the bytes of the applied commands, a transaction once EXEC ran."""
    link = Link()
    link.factory.use_hiredis = use_hiredis
    got = []
    link.server.repl_proxy = got.append
    link.full_sync(offset=0)
    tx = cmd("MULTI") + cmd("SET", "a", "1") + cmd("EXEC")
    stream = cmd("SET", "b", "2") + tx + cmd("PING")
    link.feed(stream + b"*2\r\n$3\r\nGET", 7)
    assert b"".join(got) == stream
    assert tx in got


def test_a_stream_that_is_not_commands_drops_the_link():
    """Anything but multibulk commands of bulk strings from the master closes the link."""
    link = Link()
    link.full_sync(offset=0)
    link.feed(b"+OK\r\n")
    assert link.tr.disconnecting


def test_getack_answers_the_offset_before_it():
    """REPLCONF GETACK * gets REPLCONF ACK <offset of everything before the GETACK>."""
    link = Link()
    link.full_sync(offset=10)
    link.sent()
    first = cmd("SET", "a", "1")
    getack = cmd("REPLCONF", "GETACK", "*")
    link.feed(first + getack)
    assert link.sent() == cmd("REPLCONF", "ACK", str(10 + len(first)))
    assert link.factory.offset == 10 + len(first) + len(getack)


def test_ack_every_second():
    """Once connected, REPLCONF ACK <offset> goes out every second."""
    link = Link()
    link.factory.start_cron()
    link.full_sync(offset=42)
    link.sent()
    link.server.clock.advance(1)
    assert link.sent() == cmd("REPLCONF", "ACK", "42")
    link.feed(cmd("PING"))
    link.server.clock.advance(1)
    assert link.sent() == cmd("REPLCONF", "ACK", str(42 + len(cmd("PING"))))
    link.factory.stop_cron()


def test_silent_master_times_out():
    """No bytes from the master for repl-timeout seconds drops the link."""
    link = Link(repl_timeout=5)
    link.factory.start_cron()
    link.full_sync()
    for _ in range(5):
        link.server.clock.advance(1)
    assert not link.tr.disconnecting
    link.server.clock.advance(1)
    assert link.tr.disconnecting
    link.factory.stop_cron()


def test_transaction_counts_once_exec_ran():
    """A MULTI block advances the offset only at EXEC, so a link lost inside it resumes before MULTI."""
    link = Link()
    link.full_sync(offset=0)
    link.feed(cmd("MULTI") + cmd("SET", "a", "1"))
    assert link.factory.offset == 0
    link.feed(cmd("EXEC"))
    assert link.factory.offset == len(cmd("MULTI") + cmd("SET", "a", "1") + cmd("EXEC"))
    assert call(link.client(), "GET", "a") == b"1"


def test_reconnect_asks_psync_and_continue_keeps_the_data():
    """After a drop the replica asks PSYNC <replid> <offset+1>; +CONTINUE keeps data and database."""
    link = Link()
    link.full_sync([Entry(0, b"kept", "string", b"yes", None)], offset=100)
    s1 = cmd("SELECT", "2") + cmd("SET", "a", "1")
    link.feed(s1)
    link.proto.connectionLost(None)
    assert link.factory.master_link_status == "down"
    link.connect()
    offset = 100 + len(s1)
    assert link.handshake() == cmd("PSYNC", REPLID, offset + 1)
    s2 = cmd("SET", "b", "2")
    link.feed(b"+CONTINUE\r\n" + s2)
    assert link.factory.partial_syncs == 1 and link.factory.full_syncs == 1
    assert link.factory.offset == offset + len(s2)
    c = link.client()
    assert call(c, "GET", "kept") == b"yes"
    call(c, "SELECT", "2")
    assert call(c, "GET", "b") == b"2"  # still in the master's selected database


def test_continue_with_a_new_replid_replaces_it():
    """+CONTINUE <new id> renames the history; the old id becomes replid2."""
    link = Link()
    link.full_sync(offset=7)
    link.proto.connectionLost(None)
    link.connect()
    assert link.handshake() == cmd("PSYNC", REPLID, "8")
    link.feed(b"+CONTINUE " + REPLID2 + b"\r\n")
    assert link.factory.replid == REPLID2.decode()
    assert link.server.replid == REPLID2.decode()
    assert link.server.replid2 == REPLID.decode()
    assert link.server.second_repl_offset == 8


def test_loading_answers_loading_then_serves():
    """While the payload is parsed clients get -LOADING; INFO still answers."""
    link = Link()
    pending = defer.Deferred()
    link.factory.run_in_thread = lambda f, *a: pending
    link.full_sync([Entry(0, b"k", "string", b"v", None)])
    c = link.client()
    assert call(c, "GET", "k") == Error("LOADING Redis is loading the dataset in memory")
    assert b"master_sync_in_progress:1" in call(c, "INFO", "replication")
    assert b"\r\nloading:1\r\n" in call(c, "INFO", "persistence")
    # The thread finishes with the databases built: they are swapped in.
    pending.callback(build_keyspace(link.server, [Entry(0, b"k", "string", b"v", None)], 0,
                                    master=False))
    assert call(c, "GET", "k") == b"v"
    assert b"\r\nloading:0\r\n" in call(c, "INFO", "persistence")


def test_serve_stale_data_no_gives_masterdown_while_the_link_is_down():
    """replica-serve-stale-data no: -MASTERDOWN until the link is up, then reads work."""
    link = Link(replica_serve_stale_data=False)
    c = link.client()
    err = Error("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
    assert call(c, "GET", "a") == err
    assert call(c, "PING") == err
    assert isinstance(call(c, "INFO"), bytes)
    link.full_sync()
    assert call(c, "GET", "a") is None
    link.proto.connectionLost(None)
    assert call(c, "GET", "a") == err
    call(c, "CONFIG", "SET", "replica-serve-stale-data", "yes")
    assert call(c, "GET", "a") is None


def test_read_only_replica_refuses_writes_but_applies_the_master():
    """Clients get -READONLY; the master's stream writes anyway."""
    link = Link()
    link.full_sync()
    c = link.client()
    assert call(c, "SET", "a", "1") == Error("READONLY You can't write against a read only replica.")
    link.feed(cmd("SET", "a", "2"))
    assert call(c, "GET", "a") == b"2"
    call(c, "CONFIG", "SET", "replica-read-only", "no")
    assert call(c, "SET", "a", "3") is not None and call(c, "GET", "a") == b"3"


def test_expired_keys_are_hidden_not_deleted_until_the_master_says_so():
    """A replica hides a key past its deadline but only the master's DEL removes it."""
    link = Link()
    now = int(link.server.clock.seconds() * 1000)
    link.full_sync([Entry(0, b"t", "string", b"v", now + 1000)])
    c = link.client()
    assert call(c, "GET", "t") == b"v"
    link.server.clock.advance(5)
    assert call(c, "GET", "t") is None
    assert call(c, "DBSIZE") == 1
    link.feed(cmd("DEL", "t"))
    assert call(c, "DBSIZE") == 0


def test_master_client_is_listed_with_flag_m():
    """CLIENT LIST shows the master link as flags=M."""
    link = Link()
    link.full_sync()
    listing = call(link.client(), "CLIENT", "LIST")
    assert b"flags=M" in listing


def test_info_replication_fields_of_a_replica():
    """INFO replication shows the link state, offsets and the down-since line as Redis 7.0 does."""
    link = Link()
    c = link.client()
    info = call(c, "INFO", "replication").decode()
    assert "master_host:master.example\r\nmaster_port:6379\r\nmaster_link_status:down\r\n" in info
    assert "master_link_down_since_seconds:-1\r\n" in info
    link.full_sync(offset=33)
    info = call(c, "INFO", "replication").decode()
    assert "master_link_status:up\r\nmaster_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\n" \
        "slave_read_repl_offset:33\r\nslave_repl_offset:33\r\nslave_priority:100\r\n" in info
    assert "master_link_down_since_seconds" not in info


def test_replicaof_replies_as_redis():
    """REPLICAOF/SLAVEOF: port errors, +OK, 'Already connected', NO ONE, inside MULTI too."""
    server = make_server()
    server.replica_reactor = MemoryReactorClock()
    c = Client(server)
    for port in ("x", "-1", "65536", "1x", "+5"):
        assert call(c, "REPLICAOF", "h", port) == Error("ERR Invalid master port")
    assert call(c, "REPLICAOF", "no", "two") == Error("ERR Invalid master port")
    assert call(c, "REPLICAOF", "a") == Error("ERR wrong number of arguments for 'replicaof' command")
    assert call(c, "REPLICAOF", "NO", "ONE") == b"OK"
    assert call(c, "REPLICAOF", "127.0.0.1", "0") == b"OK"
    assert server.master_host == "127.0.0.1" and server.master_port == 0
    assert server.replica_reactor.tcpClients[0][:2] == ("127.0.0.1", 0)
    reply = call(c, "SLAVEOF", "127.0.0.1", "0")
    assert reply == Status(b"OK Already connected to specified master") and isinstance(reply, Status)
    assert call(c, "MULTI") == b"OK"
    assert call(c, "REPLICAOF", "no", "one") == b"QUEUED"
    assert call(c, "EXEC") == [b"OK"]
    assert server.master_host is None


def test_replicaof_no_one_keeps_data_and_shifts_the_replid():
    """Promotion keeps the keys, takes a new replid and keeps the old one as replid2."""
    link = Link()
    link.full_sync([Entry(0, b"k", "string", b"v", None)], offset=50)
    link.feed(cmd("SET", "a", "1"))
    offset = link.factory.offset
    c = link.client()
    assert call(c, "REPLICAOF", "NO", "ONE") == b"OK"
    assert link.tr.disconnecting
    s = link.server
    assert s.master_host is None and s.replica_link is None and not s.store.replica
    assert s.replid2 == REPLID.decode() and s.second_repl_offset == offset + 1
    assert s.replid != REPLID.decode() and s.repl_offset == offset
    assert call(c, "GET", "k") == b"v"
    assert call(c, "SET", "b", "2") == b"OK"


def test_replicaof_another_master_continues_from_our_history():
    """Switching masters asks the new one PSYNC with the replid and offset we hold."""
    link = Link()
    link.full_sync(offset=20)
    link.server.replica_reactor = MemoryReactorClock()
    assert call(link.client(), "REPLICAOF", "other", "6380") == b"OK"
    f = link.server.replica_link
    assert f is not link.factory and f.replid == REPLID.decode() and f.offset == 20


def test_corrupt_payload_loads_nothing_and_drops_the_link():
    """A payload the reader refuses leaves the old keyspace whole and the link down."""
    link = Link()
    link.server.store.dbs[0].set(b"old", b"kept")
    assert link.handshake() == cmd("PSYNC", "?", "-1")
    payload = bytearray(rdb([Entry(0, b"k", "string", b"v", None)]))
    payload[-3] ^= 0xFF  # the CRC no longer matches
    link.feed(b"+FULLRESYNC " + REPLID + b" 0\r\n$%d\r\n" % len(payload) + bytes(payload))
    assert link.tr.disconnecting
    c = link.client()
    assert call(c, "GET", "old") == b"kept" and call(c, "GET", "k") is None
    assert not link.server.loading and link.factory.full_syncs == 0
    assert link.factory.replid is None


def test_every_type_with_ttls_loads_from_the_payload():
    """Lists, sets, hashes and sorted sets, in several databases and with deadlines, load as sent."""
    link = Link()
    deadline = int(link.server.clock.seconds() * 1000) + 60000
    link.full_sync([
        Entry(0, b"l", "list", [b"a", b"b", b"1"], deadline),
        Entry(0, b"s", "set", [b"1", b"2"], None, "intset"),
        Entry(1, b"h", "hash", [(b"f", b"v")], None),
        Entry(2, b"z", "zset", [(b"m", 1.5), (b"n", -2.0)], deadline),
    ])
    c = link.client()
    assert call(c, "LINDEX", "l", "2") == b"1" and call(c, "PEXPIRETIME", "l") == deadline
    assert call(c, "OBJECT", "ENCODING", "s") == b"intset"
    call(c, "SELECT", "1")
    assert call(c, "HGET", "h", "f") == b"v"
    call(c, "SELECT", "2")
    assert call(c, "ZSCORE", "z", "n") == -2.0 and call(c, "PEXPIRETIME", "z") == deadline


def test_promotion_while_loading_drops_the_payload():
    """Promoted while the payload is parsed: the parse result is ignored and -LOADING ends."""
    link = Link()
    pending = defer.Deferred()
    link.factory.run_in_thread = lambda f, *a: pending
    link.full_sync([Entry(0, b"k", "string", b"v", None)])
    c = link.client()
    # As in Redis, REPLICAOF itself answers -LOADING meanwhile.
    assert call(c, "REPLICAOF", "NO", "ONE") == Error("LOADING Redis is loading the dataset in memory")
    become_master(link.server)
    assert call(c, "GET", "k") is None
    pending.callback(build_keyspace(link.server, [Entry(0, b"k", "string", b"v", None)], 0,
                                    master=False))
    assert call(c, "GET", "k") is None


def test_factory_retries_every_second_on_its_clock():
    """A lost or refused connection is retried one second later on the injected clock."""
    link = Link()
    f = link.factory

    class Connector(object):
        attempts = 0

        def connect(self):
            self.attempts += 1

    connector = Connector()
    f.clientConnectionFailed(connector, Failure(ConnectionRefusedError()))
    assert f.state == "connect"
    link.server.clock.advance(0.9)
    assert connector.attempts == 0
    link.server.clock.advance(0.2)
    assert connector.attempts == 1


def test_role_changes_disconnect_our_own_replicas():
    """REPLICAOF NO ONE, REPLICAOF another master and +CONTINUE with a new id drop our replicas."""
    link = Link()
    drops = []

    class Master(object):
        def drop_replicas(self):
            drops.append(1)

    link.server.repl_master = Master()
    link.full_sync(offset=3)
    link.proto.connectionLost(None)
    link.connect()
    link.handshake()
    link.feed(b"+CONTINUE " + REPLID + b"\r\n")
    assert drops == []  # same id: nothing to tell them
    link.proto.connectionLost(None)
    link.connect()
    link.handshake()
    link.feed(b"+CONTINUE " + REPLID2 + b"\r\n")
    assert drops == [1]
    become_master(link.server)
    assert drops == [1, 1]


def test_replicaof_directive_adds_the_link_to_the_service_tree():
    """--replicaof host port (the replicaof directive) makes a replica whose link starts with the tree."""
    from sonic.config import Config
    from sonic.tap import build_service
    config = Config()
    config.apply("replicaof", ["10.1.2.3", "6380"])
    config.apply("port", ["0"])
    reactor = MemoryReactorClock()
    top = build_service(config, reactor=reactor, handle_signals=False)
    server = top.server
    assert server.master_host == "10.1.2.3" and server.master_port == 6380
    assert top.getServiceNamed("replica") is server.replica_service
    assert reactor.tcpClients == []
    server.replica_service.startService()
    assert reactor.tcpClients[0][:2] == ("10.1.2.3", 6380)
    server.replica_service.stopService()

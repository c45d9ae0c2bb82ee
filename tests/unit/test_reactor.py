"""The lean epoll dispatch loop (sonic.reactor)."""

import socket

from twisted.internet.epollreactor import EPollReactor
from twisted.internet.task import Clock

from sonic import reactor as lean


class Reader(object):
    """A minimal IReadDescriptor over one end of a socket pair."""

    def __init__(self, sock, fail=False):
        self.sock = sock
        self.fail = fail
        self.reads = []
        self.lost = []

    def fileno(self):
        return self.sock.fileno()

    def logPrefix(self):
        return "Reader"

    def doRead(self):
        if self.fail:
            raise RuntimeError("boom")
        self.reads.append(self.sock.recv(100))

    def connectionLost(self, reason):
        self.lost.append(reason)


def test_install_only_on_epoll():
    """install() replaces doPoll on an epoll reactor and leaves other reactors alone."""
    r = EPollReactor()
    try:
        assert lean.install(r)
        assert r.doPoll.__func__ is lean._lean_do_poll
        assert r.doIteration.__func__ is lean._lean_do_poll
    finally:
        r._poller.close()
    assert not lean.install(Clock())


def test_events_are_dispatched():
    """A readable socket's doRead runs from the lean loop."""
    r = EPollReactor()
    a, b = socket.socketpair()
    try:
        lean.install(r)
        reader = Reader(a)
        r.addReader(reader)
        b.send(b"ping")
        r.doPoll(1)
        assert reader.reads == [b"ping"]
    finally:
        r.removeAll()
        r._poller.close()
        a.close()
        b.close()


def test_a_failing_read_drops_that_descriptor_only():
    """An exception in doRead is handled as Twisted does (connection lost), and the loop goes on."""
    r = EPollReactor()
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    try:
        lean.install(r)
        bad, good = Reader(a, fail=True), Reader(c)
        r.addReader(bad)
        r.addReader(good)
        b.send(b"x")
        d.send(b"y")
        r.doPoll(1)
        assert len(bad.lost) == 1
        assert good.reads == [b"y"]
    finally:
        r.removeAll()
        r._poller.close()
        for s in (a, b, c, d):
            s.close()


class Recorder(object):
    """A protocol that records what it receives and how it was closed; it may raise on data."""

    def __init__(self, fail=False):
        self.data = []
        self.lost = []
        self.fail = fail

    def makeConnection(self, transport):
        self.transport = transport

    def dataReceived(self, data):
        if self.fail:
            raise RuntimeError("boom")
        self.data.append(data)

    def connectionLost(self, reason):
        self.lost.append(reason)


def _accepted(r, protocol):
    """Listen on r, connect a client socket; (client socket, the accepted tcp.Server, port)."""
    from twisted.internet import tcp
    from twisted.internet.protocol import Factory
    factory = Factory.forProtocol(lambda: protocol)
    port = r.listenTCP(0, factory, interface="127.0.0.1")
    client = socket.create_connection(("127.0.0.1", port.getHost().port))
    for _ in range(50):
        r.doPoll(0.1)
        servers = [s for s in r._selectables.values() if type(s) is tcp.Server]
        if servers:
            return client, servers[0], port
    raise AssertionError("not accepted")


def _poll_until(r, condition):
    for _ in range(50):
        r.doPoll(0.1)
        if condition():
            return
    raise AssertionError("condition never met")


def test_tcp_reads_are_inlined_with_twisted_outcomes(monkeypatch):
    """A TCP connection's data reaches dataReceived from the lean loop itself, and EOF loses it cleanly."""
    from twisted.internet import tcp
    from twisted.internet.error import ConnectionDone
    r = EPollReactor()
    lean.install(r)
    protocol = Recorder()
    client, server, port = _accepted(r, protocol)
    reads = []
    original = tcp.Connection.doRead
    monkeypatch.setattr(tcp.Connection, "doRead", lambda self: reads.append(self) or original(self))
    try:
        client.sendall(b"*1\r\n$4\r\nPING\r\n")
        _poll_until(r, lambda: protocol.data)
        assert protocol.data == [b"*1\r\n$4\r\nPING\r\n"]
        assert reads == []  # not through Connection.doRead
        client.close()
        _poll_until(r, lambda: protocol.lost)
        assert protocol.lost[0].check(ConnectionDone)
        assert server.fileno() == -1 or server not in r._selectables.values()
    finally:
        port.stopListening()
        r.removeAll()
        r._poller.close()


def test_tcp_protocol_error_drops_the_connection_and_is_logged():
    """An exception from dataReceived is logged and drops that connection, as _doReadOrWrite does."""
    from twisted.python import log as legacy_log
    r = EPollReactor()
    lean.install(r)
    protocol = Recorder(fail=True)
    client, server, port = _accepted(r, protocol)
    errors = []
    legacy_log.addObserver(errors.append)
    try:
        client.sendall(b"x")
        _poll_until(r, lambda: protocol.lost)
        assert protocol.lost[0].check(RuntimeError)
        assert any(e.get("isError") for e in errors)
    finally:
        legacy_log.removeObserver(errors.append)
        client.close()
        port.stopListening()
        r.removeAll()
        r._poller.close()

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

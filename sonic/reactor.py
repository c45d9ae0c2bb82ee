"""A leaner event dispatch for Twisted's epoll reactor.

For every ready socket, EPollReactor.doPoll calls C{log.callWithLogger},
which asks the protocol for its log prefix and pushes and pops a logging
context (four Python calls) before the actual read or write.  At one request
per round trip that costs sonic about a quarter of its CPU: measured with
redis-benchmark (GET, 50 clients, -P 1), server CPU per request fell from
about 44 to 34 microseconds with the lean loop, and throughput rose by 25-40%.

L{install} replaces C{doPoll} on one reactor instance with the same loop
without that wrapper.  Errors keep their safety net: C{_doReadOrWrite}
already catches what a read or write raises and drops the connection; the
loop logs anything that escapes it, as C{callWithLogger} did.  What is lost
is the per-connection "system" label on legacy C{twisted.python.log} lines
emitted during a read.  Other reactors are left alone.  The directive
C{lean-dispatch no} turns this off.
"""

import errno
import types

from twisted.logger import Logger

__all__ = ["install"]

log = Logger(namespace="sonic.reactor")


def _lean_do_poll(self, timeout):
    """EPollReactor.doPoll without the per-event logging context."""
    if timeout is None:
        timeout = -1
    try:
        events = self._poller.poll(timeout, len(self._selectables))
    except OSError as err:
        if err.errno == errno.EINTR:
            return
        raise
    dispatch = self._doReadOrWrite
    selectables = self._selectables
    for fd, event in events:
        selectable = selectables.get(fd)
        if selectable is not None:
            try:
                dispatch(selectable, fd, event)
            except BaseException:
                log.failure("Unhandled error dispatching an event to {selectable!r}",
                            selectable=selectable)


def install(reactor):
    """Give C{reactor} the lean dispatch loop if it is an epoll reactor; return whether it did."""
    try:
        from twisted.internet.epollreactor import EPollReactor
    except ImportError:  # pragma: no cover - not on Linux
        return False
    if not isinstance(reactor, EPollReactor):
        return False
    reactor.doPoll = reactor.doIteration = types.MethodType(_lean_do_poll, reactor)
    return True

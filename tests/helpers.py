"""Unit-test helpers: a server on a task.Clock, and clients driven without sockets."""

from twisted.internet import task
from twisted.internet.testing import StringTransport

from sonic.config import Config
from sonic.dispatch import Client, execute
from sonic.errors import CommandError
from sonic.protocol import RedisServerFactory
from sonic.resp import Error, encode
from sonic.server import Server

__all__ = ["make_server", "call", "connect", "run_sync", "Client", "encode", "with_propagator",
           "stream_commands"]


def run_sync(func, *args):
    """A C{run_in_thread} stand-in that runs the function at once and returns a fired Deferred."""
    from twisted.internet.defer import succeed
    return succeed(func(*args))


def make_server(clock=None, run_in_thread=run_sync, start=True, **config):
    """A L{Server} whose time is a L{task.Clock} (returned as C{server.clock})."""
    clock = clock or task.Clock()
    clock.advance(1_700_000_000)  # a realistic Unix time
    server = Server(Config(**config), clock=clock, run_in_thread=run_in_thread)
    if start:
        server.store.startService()
    return server


def call(client, *args):
    """Run one command on a dispatcher L{Client}; return its value or an L{Error}."""
    argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    try:
        return execute(client, argv)
    except CommandError as e:
        return Error(e.message)


def connect(server):
    """A protocol connected to a L{StringTransport}; returns (protocol, transport)."""
    factory = RedisServerFactory(server)
    proto = factory.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport



def with_propagator(**config):
    """A server with a propagator, a client, and the list the replication stream's units land in."""
    from sonic.replication.propagate import Propagator
    server = make_server(**config)
    prop = server.propagator = Propagator(server)
    units = []
    prop.listeners.append(units.append)
    client = Client(server)
    server.add_client(client)
    return server, client, units


def stream_commands(units):
    """The commands of a stream of units as lists of bytes (SELECTs included)."""
    from sonic.resp import RespParser
    parser = RespParser()
    for unit in units:
        parser.feed(unit)
    out = []
    while True:
        argv = parser.gets()
        if argv is None:
            return out
        out.append(list(argv))

"""The Twisted protocol layer (sonic/protocol.py) over StringTransport.

Every test runs with the hiredis-assisted parser and with the pure-Python
one.  Covered: one write per dataReceived, protocol errors (reply, then
close), command errors and handler crashes (reply, connection kept), CLIENT
REPLY muting, back-pressure through pauseProducing/resumeProducing, the
mid-batch flush past output-pause-bytes, QUIT, and the direct-to-socket
write path against a fake socket.
"""

import os

import pytest
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher

from sonic import errors
from sonic import protocol as protocol_module
from sonic.registry import TABLE
from sonic.resp import hiredis
from tests.helpers import connect, make_server
from tests.resp_reader import encode_command

PARSER_OPTIONS = [False] + ([True] if hiredis is not None else [])


@pytest.fixture(params=PARSER_OPTIONS, ids=lambda h: "hiredis" if h else "python")
def hiredis_parser(request):
    """Whether the server under test uses the hiredis-assisted parser."""
    return request.param


@pytest.fixture
def server(hiredis_parser):
    """A server on a task.Clock, with the parser chosen by C{hiredis_parser}."""
    return make_server(hiredis_parser=hiredis_parser)


def cmd(*args):
    """One multibulk request."""
    return encode_command(args)


def count_writes(transport):
    """Wrap C{transport.write}; return the list its calls are recorded in."""
    writes = []
    original = transport.write

    def write(data):
        writes.append(data)
        original(data)
    transport.write = write
    return writes


@pytest.fixture
def handler(monkeypatch):
    """Replace ECHO's handler for one test: C{handler(func)}; restored afterwards."""
    spec = TABLE[b"echo"]

    def install(func):
        monkeypatch.setattr(spec, "handler", func)
    return install


@pytest.fixture
def logged():
    """Twisted log events emitted during the test."""
    events = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


def test_pipelined_replies_come_in_one_write(server):
    """All replies produced by one dataReceived are sent with a single transport write."""
    proto, transport = connect(server)
    writes = count_writes(transport)
    proto.dataReceived(cmd("SET", "a", "1") + b"PING\r\n" + cmd("GET", "a") + cmd("GET", "nope")
                       + cmd("INCR", "a"))
    assert writes == [b"+OK\r\n+PONG\r\n$1\r\n1\r\n$-1\r\n:2\r\n"]


def test_partial_request_waits_for_its_end(server):
    """A request split over reads runs once complete, and nothing is written before."""
    proto, transport = connect(server)
    writes = count_writes(transport)
    data = cmd("ECHO", "hello")
    proto.dataReceived(data[:9])
    assert writes == []
    proto.dataReceived(data[9:])
    assert writes == [b"$5\r\nhello\r\n"]


def test_protocol_error_replies_then_closes(server):
    """Commands before a framing error run, the error is answered, then the connection closes."""
    proto, transport = connect(server)
    writes = count_writes(transport)
    proto.dataReceived(cmd("SET", "k", "v") + b"*1\r\n$x\r\n" + cmd("SET", "k", "w"))
    assert writes == [b"+OK\r\n-" + errors.PROTO_INVALID_BULK.encode() + b"\r\n"]
    assert transport.disconnecting
    proto.dataReceived(cmd("SET", "k", "z"))  # nothing more is read
    assert len(writes) == 1
    other, t2 = connect(server)
    other.dataReceived(cmd("GET", "k"))
    assert t2.value() == b"$1\r\nv\r\n"


def test_protocol_error_byte_above_127_is_sent_raw(server):
    """Redis' "got '%c'" sends the offending byte itself, not its UTF-8 encoding."""
    proto, transport = connect(server)
    proto.dataReceived(b"*1\r\n\xff\r\n")
    assert transport.value() == b"-ERR Protocol error: expected '$', got '\xff'\r\n"


def test_command_error_keeps_the_connection(server):
    """An unknown command or wrong arity is answered and the client goes on."""
    proto, transport = connect(server)
    proto.dataReceived(cmd("NOPE", "x") + cmd("GET") + b"PING\r\n")
    assert transport.value() == (
        b"-ERR unknown command 'NOPE', with args beginning with: 'x' \r\n"
        b"-ERR wrong number of arguments for 'get' command\r\n+PONG\r\n")
    assert not transport.disconnecting


def test_handler_exception_is_logged_and_answered(server, handler, logged):
    """A crashing handler gives -ERR naming the command, is logged with its argv, and the client stays."""
    def crash(client, *args):
        raise RuntimeError("boom")
    handler(crash)
    proto, transport = connect(server)
    proto.dataReceived(cmd("ECHO", "secret-arg") + b"PING\r\n")
    reply = transport.value()
    assert reply.startswith(b"-ERR ")
    assert b"echo" in reply and b"boom" not in reply and b"Traceback" not in reply
    assert reply.endswith(b"\r\n+PONG\r\n")
    assert reply.count(b"\r\n") == 2
    assert not transport.disconnecting
    failures = [e for e in logged if e.get("log_failure") is not None]
    assert failures and "secret-arg" in repr(failures[0].get("argv"))
    assert isinstance(failures[0]["log_failure"].value, RuntimeError)


def test_unencodable_reply_is_logged_and_answered(server, handler, logged):
    """A handler returning a value RESP cannot carry costs an -ERR reply, not the connection."""
    handler(lambda client, *args: object())
    proto, transport = connect(server)
    proto.dataReceived(cmd("ECHO", "x") + b"PING\r\n")
    assert transport.value() == (
        b"-ERR internal error running 'echo': see the server log\r\n+PONG\r\n")
    assert not transport.disconnecting
    assert any(e.get("log_failure") is not None for e in logged)


def test_client_reply_off_and_on(server):
    """CLIENT REPLY OFF silences every reply (errors too) until CLIENT REPLY ON, which says +OK."""
    proto, transport = connect(server)
    proto.dataReceived(cmd("CLIENT", "REPLY", "OFF") + cmd("SET", "k", "v") + cmd("NOPE")
                       + b"PING\r\n" + cmd("CLIENT", "REPLY", "ON") + cmd("GET", "k"))
    assert transport.value() == b"+OK\r\n$1\r\nv\r\n"


def test_client_reply_skip(server):
    """CLIENT REPLY SKIP drops its own reply and the next command's only."""
    proto, transport = connect(server)
    proto.dataReceived(cmd("CLIENT", "REPLY", "SKIP") + cmd("ECHO", "a") + cmd("ECHO", "b"))
    assert transport.value() == b"$1\r\nb\r\n"


def test_set_reply_mode_directly(server):
    """set_reply_mode drives muting: off mutes, skip mutes two replies, on unmutes."""
    proto, transport = connect(server)
    proto.set_reply_mode("off")
    proto.dataReceived(b"PING\r\nPING\r\n")
    assert transport.value() == b""
    proto.set_reply_mode("skip")
    proto.dataReceived(b"PING\r\nPING\r\nPING\r\n")
    assert transport.value() == b"+PONG\r\n"
    proto.set_reply_mode("on")
    proto.dataReceived(b"PING\r\n")
    assert transport.value() == b"+PONG\r\n+PONG\r\n"


def test_muted_protocol_error_leaves_the_connection_open(server):
    """Muted, Redis neither sends a protocol error nor closes; it reads nothing more either."""
    proto, transport = connect(server)
    proto.dataReceived(cmd("CLIENT", "REPLY", "OFF") + b"*1\r\nx\r\n")
    assert transport.value() == b"" and not transport.disconnecting
    pending = proto.parser.pending()
    proto.dataReceived(cmd("CLIENT", "REPLY", "ON") + b"PING\r\n")
    assert transport.value() == b""
    assert proto.parser.pending() == pending  # not even buffered


def test_quit_replies_then_closes(server):
    """QUIT answers +OK, then the connection closes; later commands are not run."""
    proto, transport = connect(server)
    proto.dataReceived(b"PING\r\n" + cmd("QUIT") + cmd("SET", "k", "v"))
    assert transport.value() == b"+PONG\r\n+OK\r\n"
    assert transport.disconnecting
    assert server.store.dbs[0].lookup(b"k") is None


def test_muted_quit_does_not_close(server):
    """With replies off and nothing written, Redis never gets round to closing after QUIT."""
    proto, transport = connect(server)
    proto.dataReceived(cmd("CLIENT", "REPLY", "OFF") + cmd("QUIT"))
    assert transport.value() == b"" and not transport.disconnecting


def test_pause_holds_parsed_commands_until_resume(server):
    """While paused, received commands wait unexecuted; resumeProducing runs them and resumes reading."""
    proto, transport = connect(server)
    assert transport.producer is proto and transport.streaming
    proto.pauseProducing()
    assert transport.producerState == "paused"
    proto.dataReceived(cmd("SET", "k", "v") + cmd("GET", "k"))
    assert transport.value() == b""
    assert server.store.dbs[0].lookup(b"k") is None
    proto.resumeProducing()
    assert transport.producerState == "producing"
    assert transport.value() == b"+OK\r\n$1\r\nv\r\n"


def test_output_over_limit_is_flushed_mid_batch_and_stops_when_paused(hiredis_parser):
    """Past output-pause-bytes the batch's replies go out; if that write pauses us, the rest waits."""
    server = make_server(hiredis_parser=hiredis_parser, output_pause_bytes=1024)
    proto, transport = connect(server)
    value = b"v" * 2000
    proto.dataReceived(cmd("SET", "k", value))
    transport.clear()
    writes = count_writes(transport)
    original = transport.write

    def write_and_fill(data):
        original(data)
        proto.pauseProducing()  # what Twisted does when its buffer passes its size
    transport.write = write_and_fill
    proto.dataReceived(cmd("GET", "k") * 10)
    reply = b"$2000\r\n" + value + b"\r\n"
    assert writes == [reply]
    assert transport.producerState == "paused"
    transport.write = original
    proto.resumeProducing()
    assert len(writes) == 10
    assert transport.value() == reply * 10


def test_stop_producing_stops_processing(server):
    """After stopProducing (connection going away) nothing more is executed."""
    proto, transport = connect(server)
    proto.stopProducing()
    proto.dataReceived(cmd("SET", "k", "v"))
    assert server.store.dbs[0].lookup(b"k") is None


def test_connection_lost_removes_the_client(server):
    """A lost connection leaves the server's client table."""
    proto, transport = connect(server)
    assert proto.id in server.clients or proto in getattr(server.clients, "values", lambda: [])()
    proto.connectionLost(None)
    assert proto.id not in server.clients


def test_maxclients_rejects_without_reading(hiredis_parser):
    """Over maxclients a connection gets Redis' error, is closed, and its input is ignored."""
    server = make_server(hiredis_parser=hiredis_parser, maxclients=1)
    connect(server)
    proto, transport = connect(server)
    proto.dataReceived(cmd("SET", "k", "v"))
    assert transport.value() == b"-ERR max number of clients reached\r\n"
    assert transport.disconnecting
    assert server.store.dbs[0].lookup(b"k") is None


# ---------------------------------------------------------------------------
# The direct-to-socket write path, with a fake socket under a StringTransport.


class FakeSocket(object):
    """A socket whose send() takes at most C{room} bytes, or raises C{error}.

    The protocol writes with os.write on the transport's descriptor:
    L{fast_connect} gives it a descriptor number no real file has, which
    L{_fake_write} (patched in for these tests) sends to this object.
    """

    def __init__(self, room=1 << 30, error=None):
        self.room = room
        self.error = error
        self.sent = b""
        self.fd = _FAKE_FD_BASE + len(_FAKE_FDS)
        _FAKE_FDS[self.fd] = self

    def send(self, data):
        if self.error is not None:
            raise self.error
        n = min(self.room, len(data))
        self.sent += bytes(data[:n])
        self.room -= n
        return n


class SocketTransport(StringTransport):
    """A StringTransport with the attributes of Twisted's TCP transport the fast path needs."""

    def __init__(self, sock):
        StringTransport.__init__(self)
        self.socket = sock
        self.dataBuffer = b""
        self._tempDataBuffer = []
        self.offset = 0
        self.connected = True
        self._writeDisconnected = False


_FAKE_FD_BASE = 1 << 24
_FAKE_FDS = {}


def _fake_write(fd, data):
    """os.write, with the L{FakeSocket} descriptors sent to their object."""
    sock = _FAKE_FDS.get(fd)
    return os.write(fd, data) if sock is None else sock.send(data)


@pytest.fixture(autouse=True)
def fake_socket_writes(monkeypatch):
    monkeypatch.setattr(protocol_module, "_write", _fake_write)
    yield
    _FAKE_FDS.clear()


def fast_connect(server, sock):
    """A protocol on a L{SocketTransport} over C{sock}."""
    from sonic.protocol import RedisServerFactory
    proto = RedisServerFactory(server).buildProtocol(None)
    transport = SocketTransport(sock)
    transport.fileno = lambda: sock.fd
    proto.makeConnection(transport)
    assert proto._fast_write and proto.fd == sock.fd
    return proto, transport


def test_fast_path_sends_straight_to_the_socket(server):
    """With nothing queued in Twisted, the reply goes to the socket and not through write()."""
    sock = FakeSocket()
    proto, transport = fast_connect(server, sock)
    proto.dataReceived(b"PING\r\n")
    assert sock.sent == b"+PONG\r\n" and transport.value() == b""


def test_fast_path_partial_send_queues_the_rest(server):
    """What the socket does not take is handed to Twisted's buffer, in order."""
    sock = FakeSocket(room=3)
    proto, transport = fast_connect(server, sock)
    proto.dataReceived(cmd("ECHO", "hello"))
    assert sock.sent + transport.value() == b"$5\r\nhello\r\n"
    assert sock.sent == b"$5\r"


@pytest.mark.parametrize("error", [BlockingIOError(11, "EAGAIN"), ConnectionResetError(104, "reset"),
                                   BrokenPipeError(32, "EPIPE")])
def test_fast_path_socket_errors_fall_back_to_twisted(server, error):
    """EAGAIN or a dead socket: the whole reply goes to Twisted, which retries or reports the loss."""
    proto, transport = fast_connect(server, FakeSocket(error=error))
    proto.dataReceived(b"PING\r\n")
    assert transport.value() == b"+PONG\r\n"


def test_fast_path_never_overtakes_queued_output(server):
    """When Twisted still holds unsent bytes, a new reply queues behind them instead of jumping ahead."""
    sock = FakeSocket()
    proto, transport = fast_connect(server, sock)
    transport.dataBuffer = b"older"
    proto.dataReceived(b"PING\r\n")
    assert sock.sent == b"" and transport.value() == b"+PONG\r\n"
    transport.dataBuffer = b""
    transport._tempDataBuffer = [b"older"]
    proto.dataReceived(b"PING\r\n")
    assert sock.sent == b""


def test_fast_path_not_used_when_closing(server):
    """A disconnecting transport gets replies through write(), which knows what to do with them."""
    sock = FakeSocket()
    proto, transport = fast_connect(server, sock)
    transport.disconnecting = True
    proto.dataReceived(b"PING\r\n")
    assert sock.sent == b""

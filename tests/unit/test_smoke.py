"""Smoke tests of the whole pipeline over StringTransport."""

from tests.helpers import connect, make_server


def test_ping_and_set_get_pipelined():
    """Pipelined commands in one read get their replies in one write, in order."""
    server = make_server()
    proto, transport = connect(server)
    proto.dataReceived(b"PING\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n")
    assert transport.value() == b"+PONG\r\n+OK\r\n$1\r\nb\r\n"

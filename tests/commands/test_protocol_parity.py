"""Wire-level parity with redis-server 7.0: framing errors, inline commands, pipelines.

Each case sends the same raw bytes to sonic and to a real redis-server and
asserts the same reply bytes and that both close (or both keep) the
connection.  Sizes around the 64 KB line limit are chosen clear of the band
where Redis' answer depends on how its reads happen to split the input (see
L{sonic.resp.RespParser}).
"""

import pytest

LIMIT = 64 * 1024


def test_parity_fixture_sees_a_closed_connection(parity):
    """Sanity: a framing error closes both connections (the cases below rely on this check)."""
    assert parity.raw(b"*x\r\n") == b"-ERR Protocol error: invalid multibulk length\r\n"


@pytest.mark.parametrize("data", [
    b"*abc\r\n",
    b"*\r\n",
    b"*01\r\n$4\r\nPING\r\n",
    b"*+1\r\n$4\r\nPING\r\n",
    b"*2147483648\r\n",
    b"*1\r\n$abc\r\n",
    b"*1\r\n$-1\r\n",
    b"*1\r\n$01\r\na\r\n",
    b"*1\r\n$536870913\r\n",
    b"*1\r\nPING\r\n",
    b"*1\r\n+PING\r\n",
    b"*1\r\n\r\n",
    b"*1\r\n\xff\r\n",
    b'SET k "a b\r\n',
    b"SET k 'a'b\r\n",
    b'ECHO a"b c"d\r\n',
], ids=repr)
def test_protocol_errors(parity, data):
    """Each framing error gives Redis' exact reply, then the connection is closed."""
    reply = parity.raw(data)
    assert reply.startswith(b"-ERR Protocol error: ")


def test_commands_before_a_protocol_error_still_run(parity):
    """In one packet, the commands before a framing error are executed and answered first."""
    reply = parity.raw(b"SET k v\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$x\r\nSET k w\r\n")
    assert reply == b"+OK\r\n$1\r\nv\r\n-ERR Protocol error: invalid bulk length\r\n"


@pytest.mark.parametrize("data", [
    b'SET k "a b"\r\nGET k\r\n',
    b"SET k 'a b'\nGET k\n",
    b'ECHO "\\x41\\n\\t\\"\\q\\xZZ"\r\n',
    b"ECHO 'it\\'s'\r\n",
    b'ECHO a"b c" d\r\nECHO ""\r\n',
    b"ECHO \va\fb\r\n",
    b"PING\rPING\n",
    b"  PING  \r\n\t\r\n",
], ids=repr)
def test_inline_quoting(parity, data):
    """Inline commands are split as sdssplitargs does (quotes, escapes, odd whitespace)."""
    parity.raw(data)


def test_pipelined_inline_and_multibulk_in_one_write(parity):
    """Inline and multibulk requests mixed in one write are all answered, in order."""
    data = (b"SET a 1\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\nINCR a\n"
            b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$5\r\nx\r\ny\0\r\nGET b\r\n*1\r\n$4\r\nPING\r\n")
    assert parity.raw(data).count(b"\r\n") >= 6


def test_empty_lines_and_empty_multibulks_are_ignored(parity):
    """Blank inline lines, *0 and negative counts produce no reply."""
    assert parity.raw(b"\r\n\n   \r\n*0\r\n*-1\r\n*-7\r\nPING\r\n") == b"+PONG\r\n"


def test_two_bytes_after_counts_are_not_checked(parity):
    """Redis skips the two bytes after a count line and after a bulk without looking at them."""
    assert parity.raw(b"*1\rX$4\rYPINGZZ") == b"+PONG\r\n"


def test_nul_byte_keeps_a_line_open(parity):
    """A NUL before the line end hides it from strchr: no reply and no close yet."""
    assert parity.raw(b"PING\r\nGET a\0b\r\n") == b"+PONG\r\n"


def test_inline_line_under_the_limit(parity):
    """A 60 KB inline line is a command (here an unknown one, named by its first 128 bytes)."""
    parity.raw(b"a" * 60000 + b"\r\n")


def test_inline_line_over_the_limit(parity):
    """A 100 KB inline line is refused with 'too big inline request'."""
    assert parity.raw(b"a" * 100000 + b"\r\n") == b"-ERR Protocol error: too big inline request\r\n"


def test_unfinished_inline_line_over_the_limit(parity):
    """More than 64 KB without a line end is refused without waiting for the end."""
    assert parity.raw(b"a" * 100000) == b"-ERR Protocol error: too big inline request\r\n"


def test_mbulk_count_string_over_the_limit(parity):
    """A multibulk count line over 64 KB gives 'too big mbulk count string'."""
    assert parity.raw(b"*" + b"1" * 100000 + b"\r\n") == (
        b"-ERR Protocol error: too big mbulk count string\r\n")


def test_bulk_count_string_over_the_limit(parity):
    """A bulk count line over 64 KB gives 'too big bulk count string'."""
    assert parity.raw(b"*1\r\n$" + b"1" * 300000 + b"\r\n") == (
        b"-ERR Protocol error: too big bulk count string\r\n")


def test_big_bulk_is_not_limited_by_the_line_limit(parity):
    """A 200 KB argument is read by its length; its CRLFs mean nothing."""
    value = b"\r\n" * 100000
    data = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n*2\r\n$6\r\nSTRLEN\r\n$1\r\nk\r\n" % (
        len(value), value)
    assert parity.raw(data) == b"+OK\r\n:200000\r\n"


def test_muted_protocol_error_is_silent_and_keeps_the_connection(parity):
    """Under CLIENT REPLY OFF, Redis neither answers a framing error nor closes the connection."""
    assert parity.raw(b"CLIENT REPLY OFF\r\nSET k v\r\n*1\r\nx\r\n") == b""


def test_skip_then_protocol_error(parity):
    """CLIENT REPLY SKIP mutes the next reply only: a later framing error is answered and closes."""
    parity.raw(b"CLIENT REPLY SKIP\r\nPING\r\n*1\r\nx\r\n")


def test_quit_after_replies(parity):
    """QUIT answers +OK and closes, after the replies before it."""
    assert parity.raw(b"PING\r\nQUIT\r\nPING\r\n") == b"+PONG\r\n+OK\r\n"


def test_muted_quit_keeps_the_connection(parity):
    """Under CLIENT REPLY OFF, QUIT writes nothing, so Redis never closes the connection."""
    assert parity.raw(b"CLIENT REPLY OFF\r\nQUIT\r\n") == b""


# ---------------------------------------------------------------------------
# Back-pressure over a real socket: a client that sends without reading.


def _rss(pid):
    """Resident set size of process C{pid} in bytes (from /proc/<pid>/statm)."""
    import os
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_pipelining_without_reading_keeps_memory_bounded():
    """60,000 unread pipelined GETs of 10 KB (600 MB of replies) keep RSS bounded, then arrive intact."""
    import socket
    import sys
    import threading
    import time

    from tests.conftest import start_sonic, stop
    from tests.resp_reader import RawClient, encode_command

    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    proc, port, log = start_sonic()
    try:
        value = bytes(range(256)) * 40  # 10 KB, every byte value
        setter = RawClient(port)
        assert setter.call("SET", "k", value) == b"+OK\r\n"
        setter.close()
        count = 60000
        reply = b"$%d\r\n%s\r\n" % (len(value), value)
        requests = encode_command(("GET", "k")) * count
        before = _rss(proc.pid)

        sock = socket.create_connection(("127.0.0.1", port))
        sent = threading.Event()

        def send():
            sock.sendall(requests)
            sent.set()
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        peak = before
        deadline = time.time() + 2.0
        while time.time() < deadline:  # the server stalls reading, its memory must not grow
            peak = max(peak, _rss(proc.pid))
            time.sleep(0.05)
        # (1.7 MB of requests may well fit in the kernel's socket buffers, so
        # the sender can finish even though the server stopped reading.)
        assert peak - before < 64 * 1024 * 1024, (before, peak)

        expected = count * len(reply)
        pattern = reply * ((1 << 18) // len(reply) + 2)
        received = 0
        buf = bytearray(1 << 18)
        view = memoryview(buf)
        sock.settimeout(30)
        while received < expected:
            n = sock.recv_into(view, min(len(buf), expected - received))
            assert n, "connection closed after %d of %d bytes" % (received, expected)
            start = received % len(reply)
            assert view[:n] == pattern[start:start + n], "reply bytes differ at %d" % received
            received += n
            peak = max(peak, _rss(proc.pid)) if received % (64 << 20) < n else peak
        sender.join(10)
        assert sent.is_set()
        assert peak - before < 64 * 1024 * 1024, (before, peak)
        sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            sock.recv(1)  # nothing more than the replies
        sock.close()
        print("RSS before %.1f MB, peak %.1f MB" % (before / 1e6, peak / 1e6))
    finally:
        stop(proc)

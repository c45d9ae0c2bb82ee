"""A minimal RESP2/RESP3 reply framer for tests: returns the raw bytes of one reply.

Parity tests compare these bytes between sonic and redis-server, so nothing
is decoded: what one server sends must be exactly what the other sends.
"""

import socket

__all__ = ["RawClient", "frame_length"]


def _line_end(buf, pos):
    i = buf.find(b"\r\n", pos)
    return i


def frame_length(buf, pos=0):
    """Length of the complete reply starting at C{pos}, or None if incomplete."""
    if pos >= len(buf):
        return None
    t = buf[pos:pos + 1]
    end = _line_end(buf, pos)
    if end < 0:
        return None
    head = buf[pos + 1:end]
    nxt = end + 2
    if t in (b"+", b"-", b":", b"_", b",", b"#", b"("):
        return nxt - pos
    if t in (b"$", b"=", b"!"):
        n = int(head)
        if n < 0:
            return nxt - pos
        if len(buf) < nxt + n + 2:
            return None
        return nxt + n + 2 - pos
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = int(head)
        if n < 0:
            return nxt - pos
        if t in (b"%", b"|"):
            n *= 2
        cur = nxt
        for _ in range(n):
            ln = frame_length(buf, cur)
            if ln is None:
                return None
            cur += ln
        return cur - pos
    raise ValueError("bad reply type %r in %r" % (t, buf[pos:pos + 40]))


def encode_command(args):
    """Encode C{args} (str/bytes/int) as a RESP multibulk request."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawClient(object):
    """A blocking socket client that sends commands and returns raw reply bytes."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send_raw(self, data):
        """Send bytes as they are."""
        self.sock.sendall(data)

    def read_reply(self):
        """Read and return exactly one reply's bytes."""
        while True:
            n = frame_length(self.buf)
            if n is not None:
                reply, self.buf = self.buf[:n], self.buf[n:]
                return reply
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("connection closed; buffered %r" % self.buf)
            self.buf += chunk

    def call(self, *args):
        """Send one command and return its raw reply."""
        self.send_raw(encode_command(args))
        return self.read_reply()

    def is_closed(self, timeout=2.0):
        """Whether the server closed the connection (after reading what is pending)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        self.sock.close()

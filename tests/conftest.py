"""Shared fixtures: a real sonic process, a real redis-server, and parity helpers.

  - C{sonic_port}: a C{twistd -n sonic} process on a free port, for the session.
  - C{real_port}: redis-server 7.0 on a free port (from the C{redis-server}
    binary, or C{SONIC_REAL_REDIS=host:port}); tests using it skip when none
    is available, unless C{SONIC_REQUIRE_REAL=1} (set by CI), where they fail.
  - C{r}: a redis-py client parametrized over C{sonic} and C{real}: every test
    using it runs against both servers.
  - C{parity}: sends the same commands to both servers and asserts the raw
    reply bytes are equal.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from tests.resp_reader import RawClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    """A TCP port nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for_port(port, proc=None, timeout=20.0, log=None):
    """Wait until something accepts connections on C{port}."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited early: %s" % (open(log).read() if log else proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on %d" % port)


def start_sonic(*extra, port=None):
    """Start C{twistd -n sonic} on a free port; return (process, port, logfile)."""
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="sonic-test-")
    log = os.path.join(workdir, "sonic.log")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
           "-n", "--pidfile=", "--logfile", log,
           "sonic", "--port", str(port), "--dir", workdir] + list(extra)
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    wait_for_port(port, proc, log=log)
    return proc, port, log


def stop(proc):
    """Terminate a server process and wait for it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def sonic_port():
    """Port of a sonic server running for the whole test session."""
    proc, port, log = start_sonic()
    yield port
    stop(proc)


def _real_unavailable(reason):
    if os.environ.get("SONIC_REQUIRE_REAL"):
        pytest.fail("redis-server is required (SONIC_REQUIRE_REAL) but " + reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def real_port():
    """Port of a reference redis-server 7.0 for the session (skips if none)."""
    addr = os.environ.get("SONIC_REAL_REDIS")
    if addr:
        host, _, port = addr.rpartition(":")
        yield int(port)
        return
    binary = shutil.which("redis-server")
    if binary is None:
        _real_unavailable("no redis-server binary")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-ref-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir, "--enable-debug-command", "yes",
         "--daemonize", "no", "--logfile", os.path.join(workdir, "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
    except RuntimeError as e:
        _real_unavailable(str(e))
    yield port
    stop(proc)


@pytest.fixture(params=["sonic", "real"])
def server_port(request):
    """The port of sonic or of redis-server: tests using it run on both."""
    if request.param == "sonic":
        return request.getfixturevalue("sonic_port")
    return request.getfixturevalue("real_port")


@pytest.fixture
def r(server_port):
    """A redis-py client (RESP2, bytes) on a flushed server, sonic and real in turn."""
    import redis
    client = redis.Redis(port=server_port, protocol=2)
    client.flushall()
    yield client
    client.flushall()
    client.close()


class Parity(object):
    """Runs the same commands on sonic and redis-server and compares raw replies."""

    def __init__(self, sonic_port, real_port):
        self.sonic = RawClient(sonic_port)
        self.real = RawClient(real_port)
        self.sonic.call("FLUSHALL")
        self.real.call("FLUSHALL")

    def __call__(self, *commands):
        """Send each command (a tuple of words) to both; assert equal replies; return them."""
        replies = []
        for cmd in commands:
            if isinstance(cmd, (str, bytes)):
                cmd = (cmd,)
            expected = self.real.call(*cmd)
            got = self.sonic.call(*cmd)
            assert got == expected, "%r: sonic %r != redis %r" % (cmd, got, expected)
            replies.append(got)
        return replies

    def resp3(self):
        """Switch both connections to RESP3 (HELLO 3's own reply differs by design: ids, mode)."""
        self.sonic.call("HELLO", "3")
        self.real.call("HELLO", "3")

    def raw(self, data):
        """Send raw bytes to both; assert the same replies until both go quiet or close."""
        self.real.send_raw(data)
        self.sonic.send_raw(data)
        expected_closed = self.real.is_closed(0.5)
        got_closed = self.sonic.is_closed(0.5)
        assert self.sonic.buf == self.real.buf, "%r: sonic %r != redis %r" % (data, self.sonic.buf, self.real.buf)
        assert got_closed == expected_closed
        out = self.sonic.buf
        self.sonic.buf = self.real.buf = b""
        return out

    def close(self):
        for c in (self.sonic, self.real):
            try:
                c.call("FLUSHALL")
            except Exception:
                pass
            c.close()


@pytest.fixture
def parity(sonic_port, real_port):
    """A L{Parity} checker over fresh connections to both servers."""
    p = Parity(sonic_port, real_port)
    yield p
    p.close()


_skipped = []


def pytest_runtest_logreport(report):
    """Remember skipped tests: in CI (SONIC_REQUIRE_REAL) a skip is a failure."""
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when tests were skipped while SONIC_REQUIRE_REAL demands every test runs."""
    if os.environ.get("SONIC_REQUIRE_REAL") and _skipped and session.exitstatus == 0:
        sys.stderr.write("\nSONIC_REQUIRE_REAL: %d tests were skipped (parity and redis-cli tests "
                         "must run in CI): %s\n" % (len(_skipped), ", ".join(_skipped[:10])))
        session.exitstatus = 1

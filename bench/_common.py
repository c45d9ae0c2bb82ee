"""Shared pieces of the benchmark scripts: starting servers, loading data, reading RSS.

Servers are started on free ports in throw-away directories and stopped by
their process id when the script ends; nothing touches ports 6379/6390.
The sonic process runs this checkout's code (PYTHONPATH is set to it).
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.sysconf("SC_PAGE_SIZE")

__all__ = ["ROOT", "Server", "start_sonic", "start_redis", "pipe_load", "batch_load", "set_batches", "resp_command",
           "require", "fmt_bytes", "fmt_rate"]


def require(binary):
    """The path of C{binary}, or exit with a message saying what to install."""
    path = shutil.which(binary)
    if path is None:
        sys.exit("%s not found: install Debian's redis-server and redis-tools "
                 "(apt-get install redis-server redis-tools)" % binary)
    return path


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server(object):
    """A server process on a free port; stopped (by pid) at exit if still running."""

    def __init__(self, name, cmd, port, workdir, env=None):
        self.name = name
        self.port = port
        self.workdir = workdir
        self.logpath = os.path.join(workdir, "server.log")
        with open(self.logpath, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log,
                                         stderr=subprocess.STDOUT)
        atexit.register(self.stop)
        self._wait()

    @property
    def pid(self):
        return self.proc.pid

    def _wait(self, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit("%s exited at start:\n%s" % (self.name, open(self.logpath).read()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit("%s did not start listening on %d" % (self.name, self.port))

    def rss(self):
        """Resident set size in bytes, from /proc/<pid>/statm."""
        with open("/proc/%d/statm" % self.pid) as f:
            return int(f.read().split()[1]) * PAGE

    def command(self, *words):
        """Run one command with redis-cli; its output (str)."""
        out = subprocess.run([require("redis-cli"), "-p", str(self.port)] + [str(w) for w in words],
                             capture_output=True, text=True, timeout=600)
        return out.stdout.strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_sonic(*args, twistd=False, python=None):
    """Start this checkout's sonic (sonic-server, or twistd -n sonic) with C{args}.

    C{python}: the interpreter to run it with (one that has sonic's
    dependencies installed, a virtual environment's for instance); this
    script's own by default.
    """
    python = python or sys.executable
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="sonic-bench-")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    common = ["--port", str(port), "--bind", "127.0.0.1", "--dir", workdir] + [str(a) for a in args]
    if twistd:
        cmd = [python, "-c", "from twisted.scripts.twistd import run; run()",
               "-n", "--pidfile=", "sonic"] + common
    else:
        cmd = [python, "-m", "sonic.cli"] + common
    return Server("sonic", cmd, port, workdir, env)


def start_redis(*args):
    """Start Debian's redis-server on a free port, no persistence, with C{args}."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-bench-")
    cmd = [require("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", workdir, "--daemonize", "no"] + [str(a) for a in args]
    return Server("redis", cmd, port, workdir)


def resp_command(*words):
    """One command in RESP (bytes words)."""
    out = [b"*%d\r\n" % len(words)]
    for w in words:
        out.append(b"$%d\r\n%s\r\n" % (len(w), w))
    return b"".join(out)


def pipe_load(server, chunks):
    """Feed RESP bytes from the iterable C{chunks} to C{redis-cli --pipe}; seconds taken.

    The generator runs in a thread writing to redis-cli's stdin, so nothing
    big is held in memory or written to disk.
    """
    proc = subprocess.Popen([require("redis-cli"), "-p", str(server.port), "--pipe"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    start = time.perf_counter()
    failure = []

    def feed():
        try:
            for chunk in chunks:
                proc.stdin.write(chunk)
        except Exception as e:  # a broken pipe shows up in redis-cli's output too
            failure.append(e)
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass
    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    output = proc.stdout.read().decode("utf-8", "replace")
    proc.wait()
    writer.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0 or failure or "errors: 0" not in output:
        sys.exit("loading %s failed: %s %s" % (server.name, output.strip(), failure))
    return seconds


def set_batches(count, batch=100, prefix=b"key:", value_size=100):
    """(bytes, n) batches of C{SET <prefix><n:08d> <value_size bytes starting with n>}, n < count.

    One C{%} per batch builds its bytes, so the loading client stays much
    faster than the server.  Values differ per key (they start with n).
    """
    filler = b"v" * (value_size - 8)
    one = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s%%08d\r\n$%d\r\n%%08d%s\r\n" % (
        len(prefix) + 8, prefix, value_size, filler)
    full = one * batch
    for start in range(0, count, batch):
        n = min(batch, count - start)
        numbers = [i for i in range(start, start + n) for _ in (0, 1)]
        yield (full if n == batch else one * n) % tuple(numbers), n


def batch_load(server, batches, connections=4):
    """Send each batch, C{(RESP bytes, number of commands[, expected replies])}, on one of C{connections} sockets; seconds taken.

    Each batch goes out in one write and the next batch on that socket waits
    for its replies, so the server reads whole requests (redis-cli --pipe
    streams without that, which is a different workload); several sockets
    keep the server busy.  The replies must be C{expected} (default: one
    C{+OK} per command).
    """
    import selectors
    socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(connections)]
    sel = selectors.DefaultSelector()
    pending = {}
    batches = iter(batches)
    start = time.perf_counter()

    def send(s):
        batch = next(batches, None)
        if batch is None:
            return False
        data, n = batch[0], batch[1]
        expected = batch[2] if len(batch) > 2 else b"+OK\r\n" * n
        s.sendall(data)
        pending[s] = [len(expected), bytearray(), expected]
        sel.register(s, selectors.EVENT_READ)
        return True
    for s in socks:
        send(s)
    while pending:
        for key, _ in sel.select():
            s = key.fileobj
            want, got, expected = pending[s]
            data = s.recv(max(65536, want - len(got)))
            if not data:
                sys.exit("%s closed the connection while loading" % server.name)
            got += data
            if len(got) >= want:
                if got != expected:
                    sys.exit("%s answered an error while loading: %r" % (
                        server.name, bytes(got[:200])))
                del pending[s]
                sel.unregister(s)
                send(s)
    for s in socks:
        s.close()
    return time.perf_counter() - start


def fmt_bytes(n):
    """Bytes as MiB with one decimal."""
    return "%.1f MiB" % (n / 1048576.0)


def fmt_rate(n):
    return "{:,.0f}".format(n)

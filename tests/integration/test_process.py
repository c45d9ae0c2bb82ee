"""sonic as a process: sonic-server and twistd -n sonic start, log, stop and refuse bad configuration as redis-server does.

Also checks docker-entrypoint.sh's argument handling, with a stub
C{sonic-server} on PATH that prints the arguments it was given (there is no
Docker engine here to build the image).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from tests.conftest import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           PYTHONUNBUFFERED="1")


def sonic_server_cmd():
    """The sonic-server command: the console script if installed, else C{python -m sonic.cli}."""
    script = shutil.which("sonic-server")
    if script:
        return [script]
    return [sys.executable, "-m", "sonic.cli"]


def twistd_cmd():
    """C{twistd -n --pidfile= sonic} run by this interpreter."""
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
            "-n", "--pidfile=", "sonic"]


def run(cmd, timeout=30, **kw):
    """Run C{cmd} to its end; the CompletedProcess (text output)."""
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout, **kw)


class Running(object):
    """A server process started in the background, with its log in a file."""

    def __init__(self, cmd, port, cwd=None):
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="sonic-proc-")
        self.logpath = os.path.join(self.dir, "out.log")
        self.errpath = os.path.join(self.dir, "err.log")
        with open(self.logpath, "wb") as out, open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(cmd, env=ENV, cwd=cwd or self.dir, stdout=out, stderr=err)

    def wait_ready(self, timeout=20.0):
        """Wait until the port accepts connections."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited %s: %s %s" % (
                    self.proc.returncode, self.log(), open(self.errpath).read()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nothing listening on %d" % self.port)

    def log(self):
        with open(self.logpath) as f:
            return f.read()

    def stderr(self):
        with open(self.errpath) as f:
            return f.read()

    def call(self, *words, host="127.0.0.1"):
        """Send one command; the raw reply bytes (b"" if the server closed the connection)."""
        s = socket.create_connection((host, self.port), timeout=5)
        try:
            s.sendall(b"*%d\r\n" % len(words) + b"".join(
                b"$%d\r\n%s\r\n" % (len(w), w) for w in (x.encode() for x in words)))
            return s.recv(65536)
        finally:
            s.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def started():
    """Starts servers (C{started(cmd, port)}) and kills any still running at the end."""
    procs = []

    def start(cmd, port, **kw):
        p = Running(cmd, port, **kw)
        procs.append(p)
        return p.wait_ready()
    yield start
    for p in procs:
        p.stop()


def assert_exits_zero_on_sigterm(server):
    # "Ready" is logged once the reactor runs, which is when sonic's
    # SIGTERM handler is in place (before that the default handler kills).
    deadline = time.time() + 10
    while "Ready to accept connections" not in server.log() and time.time() < deadline:
        time.sleep(0.05)
    server.proc.send_signal(signal.SIGTERM)
    start = time.time()
    assert server.proc.wait(10) == 0
    assert time.time() - start < 5


# -- sonic-server -------------------------------------------------------------


def test_sonic_server_serves_logs_and_exits_0_on_sigterm(started):
    """sonic-server --port N answers PING, logs one Ready line with version, pid and port, and exits 0 on SIGTERM."""
    port = free_port()
    server = started(sonic_server_cmd() + ["--port", str(port)], port)
    assert server.call("PING") == b"+PONG\r\n"
    ready = [line for line in server.log().splitlines() if "Ready to accept connections" in line]
    assert len(ready) == 1
    from sonic import __version__
    assert "sonic %s" % __version__ in ready[0]
    assert "pid %d" % server.proc.pid in ready[0]
    assert "port %d" % port in ready[0]
    assert_exits_zero_on_sigterm(server)
    assert "Received SIGTERM" in server.log()


def test_sonic_server_config_file_and_options(started, tmp_path):
    """The first argument is a config file; later --options override it (redis-server's order)."""
    port = free_port()
    conf = tmp_path / "sonic.conf"
    conf.write_text("port 1\nrequirepass \"sec ret\"\ndatabases 4\n")
    server = started(sonic_server_cmd() + [str(conf), "--port", str(port)], port)
    assert server.call("PING").startswith(b"-NOAUTH")
    assert server.call("AUTH", "sec ret") == b"+OK\r\n"


def test_sonic_server_changes_into_dir(started, tmp_path):
    """--dir makes the process's working directory that directory, as redis-server does."""
    port = free_port()
    server = started(sonic_server_cmd() + ["--port", str(port), "--dir", str(tmp_path)], port)
    assert os.readlink("/proc/%d/cwd" % server.proc.pid) == str(tmp_path)


def test_sonic_server_wildcard_bind_ipv4_and_ipv6(started):
    """bind "* -::*" (the container default) listens on IPv4 and, where there is IPv6, on IPv6, one port."""
    port = free_port()
    server = started(sonic_server_cmd() + ["--port", str(port), "--bind", "*", "-::*"], port)
    assert server.call("PING") == b"+PONG\r\n"
    if socket.has_ipv6:
        try:
            socket.create_connection(("::1", port), timeout=2).close()
        except OSError:
            pytest.skip("no IPv6 loopback here")
        assert server.call("PING", host="::1") == b"+PONG\r\n"


def test_sonic_server_shutdown_command_exits_0(started):
    """SHUTDOWN closes the connection and the process exits 0."""
    port = free_port()
    server = started(sonic_server_cmd() + ["--port", str(port), "--save", ""], port)
    assert server.call("SHUTDOWN", "NOSAVE") == b""
    assert server.proc.wait(10) == 0


def test_sonic_server_unknown_directive(tmp_path):
    """An unknown --directive stops start-up: status 1 and one stderr line naming it."""
    result = run(sonic_server_cmd() + ["--port", str(free_port()), "--frobnicate", "yes"])
    assert result.returncode != 0
    assert result.stderr.splitlines() == ["sonic-server: option --frobnicate: unknown directive 'frobnicate'"]


def test_sonic_server_bad_value():
    """A bad value stops start-up with one stderr line naming the option and the reason."""
    result = run(sonic_server_cmd() + ["--port", "http"])
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "sonic-server: option --port: argument couldn't be parsed into an integer"]


def test_sonic_server_bad_config_line(tmp_path):
    """A bad line in the config file stops start-up naming the file and the line."""
    conf = tmp_path / "bad.conf"
    conf.write_text("# a comment\nport 7777\nmaxclients many\n")
    result = run(sonic_server_cmd() + [str(conf)])
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "sonic-server: %s line 3: maxclients: argument couldn't be parsed into an integer" % conf]


def test_sonic_server_port_in_use():
    """A port already taken stops start-up with status 1 and one stderr line naming it."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        result = run(sonic_server_cmd() + ["--port", str(port), "--bind", "127.0.0.1"])
    finally:
        busy.close()
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "sonic-server: Could not create server TCP listening socket 127.0.0.1:%d: "
        "bind: Address already in use" % port]


def test_sonic_server_version():
    """--version prints one line with sonic's version and the Redis version it answers as."""
    from sonic import __version__
    result = run(sonic_server_cmd() + ["--version"])
    assert result.returncode == 0
    assert result.stdout.startswith("sonic server v=%s redis=7.0.15 " % __version__)
    assert len(result.stdout.splitlines()) == 1


# -- twistd -n sonic ----------------------------------------------------------


def test_twistd_serves_and_exits_0_on_sigterm(started):
    """twistd -n sonic serves, and SIGTERM ends it with status 0 (not by the signal)."""
    port = free_port()
    server = started(twistd_cmd() + ["--port", str(port)], port)
    assert server.call("PING") == b"+PONG\r\n"
    assert "Ready to accept connections" in server.log()
    assert_exits_zero_on_sigterm(server)


def test_twistd_unknown_directive():
    """twistd -n sonic with an unknown directive: status 1 and one stderr line, not twistd's help."""
    result = run(twistd_cmd() + ["--frobnicate", "yes"])
    assert result.returncode != 0
    assert result.stderr.splitlines() == ["sonic: option --frobnicate: unknown directive 'frobnicate'"]
    assert "Usage" not in result.stdout


def test_twistd_bad_config_line(tmp_path):
    """twistd -n sonic --config FILE with a bad line names the file and the line."""
    conf = tmp_path / "bad.conf"
    conf.write_text("port 7777\nappendfsync sometimes\n")
    result = run(twistd_cmd() + ["--config", str(conf)])
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("sonic: %s line 2: appendfsync: " % conf)


def test_twistd_port_in_use():
    """twistd -n sonic on a taken port: status 1 and one stderr line naming address and port."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        result = run(twistd_cmd() + ["--port", str(port), "--bind", "127.0.0.1"])
    finally:
        busy.close()
    assert result.returncode == 1
    assert ("sonic: Could not create server TCP listening socket 127.0.0.1:%d: "
            "bind: Address already in use" % port) in result.stderr.splitlines()


# -- docker-entrypoint.sh -----------------------------------------------------


@pytest.fixture
def entrypoint(tmp_path):
    """Runs docker-entrypoint.sh with a stub sonic-server that prints its arguments; returns them."""
    stub_dir = tmp_path / "bin"
    stub_dir.mkdir()
    stub = stub_dir / "sonic-server"
    stub.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    stub.chmod(0o755)
    script = os.path.join(ROOT, "docker-entrypoint.sh")

    def call(*args):
        env = dict(os.environ, PATH="%s:%s" % (stub_dir, os.environ["PATH"]))
        result = subprocess.run(["sh", script] + list(args), env=env, capture_output=True,
                                text=True, timeout=10, cwd=str(tmp_path))
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()
    return call


def test_entrypoint_default(entrypoint):
    """The image's CMD (sonic-server) gets protected mode off and every address bound."""
    assert entrypoint("sonic-server") == ["--protected-mode", "no", "--bind", "*", "-::*"]


def test_entrypoint_flags(entrypoint):
    """A first argument starting with '-' is sonic-server's flags, after the container defaults."""
    assert entrypoint("--requirepass", "s3cret", "--maxclients", "100") == [
        "--protected-mode", "no", "--bind", "*", "-::*",
        "--requirepass", "s3cret", "--maxclients", "100"]


def test_entrypoint_user_choices_win(entrypoint):
    """--protected-mode or --bind given by the user are not overridden or duplicated."""
    assert entrypoint("--bind", "10.0.0.1", "--protected-mode", "yes") == [
        "--bind", "10.0.0.1", "--protected-mode", "yes"]
    assert entrypoint("--port", "7000", "--bind", "0.0.0.0") == [
        "--protected-mode", "no", "--port", "7000", "--bind", "0.0.0.0"]


def test_entrypoint_config_file(entrypoint, tmp_path):
    """A *.conf first argument stays first; defaults follow unless the file sets them."""
    plain = tmp_path / "sonic.conf"
    plain.write_text("port 6380\n")
    assert entrypoint(str(plain), "--loglevel", "warning") == [
        str(plain), "--protected-mode", "no", "--bind", "*", "-::*", "--loglevel", "warning"]
    own = tmp_path / "own.conf"
    own.write_text("# mine\nbind 127.0.0.1\n  protected-mode yes\n")
    assert entrypoint(str(own)) == [str(own)]


def test_entrypoint_other_command(entrypoint):
    """Any other command runs as given (docker run sonic redis-cli ...)."""
    assert entrypoint("echo", "hello", "--port") == ["hello --port"]


def test_entrypoint_runs_real_server(started, tmp_path):
    """Through the entrypoint, the real sonic-server listens on every address with protected mode off."""
    if shutil.which("sonic-server") is None:
        pytest.skip("sonic-server console script not installed")
    port = free_port()
    server = started(["sh", os.path.join(ROOT, "docker-entrypoint.sh"), "--port", str(port)], port)
    assert server.call("CONFIG", "GET", "protected-mode") == (
        b"*2\r\n$14\r\nprotected-mode\r\n$2\r\nno\r\n")
    assert server.call("CONFIG", "GET", "bind") == b"*2\r\n$4\r\nbind\r\n$6\r\n* -::*\r\n"
    assert_exits_zero_on_sigterm(server)

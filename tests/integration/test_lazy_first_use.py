"""Subsystems sonic loads on first use work when their command is the first one a fresh server runs.

sonic-server imports Twisted without OpenSSL, and the Lua engine (lupa), the
RDB reader and writer and fractions are imported by the commands that need
them (see sonic.cli.lean_imports): each test here starts a new process so
the command under test is the one that loads its subsystem.
"""

import glob
import importlib.util
import os
import time

import pytest

from tests.conftest import free_port
from tests.integration.test_process import Running, sonic_server_cmd, twistd_cmd
from tests.resp_reader import RawClient

#: A first command must not wait on its import for longer than this.
FIRST_USE_SECONDS = 3.0


@pytest.fixture
def fresh():
    """Starts fresh servers (C{fresh(*args, cmd=..., cwd=...)}); kills them at the end."""
    procs = []

    def start(*args, cmd=None, cwd=None):
        port = free_port()
        server = Running((cmd or sonic_server_cmd()) + ["--port", str(port), "--bind", "127.0.0.1",
                                                        "--save", ""] + list(args), port, cwd=cwd)
        procs.append(server)
        server.wait_ready()
        server.client = RawClient(port)
        return server
    yield start
    for p in procs:
        p.stop()


def timed(server, *words):
    """Run one command; (raw reply, seconds taken)."""
    start = time.monotonic()
    reply = server.client.call(*words)
    return reply, time.monotonic() - start


def mapped(server):
    """The file names mapped into the server process."""
    with open("/proc/%d/maps" % server.proc.pid) as f:
        return {line.split()[-1] for line in f if "/" in line}


def has(names, fragment):
    return any(fragment in os.path.basename(n) for n in names)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc")
def test_idle_server_maps_neither_openssl_nor_lua(fresh):
    """An idle sonic-server, even after INFO, has mapped neither libssl/libcrypto nor lupa's Lua; EVAL maps Lua."""
    server = fresh()
    assert server.client.call("INFO").startswith(b"$")
    names = mapped(server)
    assert not has(names, "lua51")
    if importlib.util.find_spec("OpenSSL") is None:  # pyOpenSSL would bring OpenSSL with Twisted's TLS
        assert not has(names, "libssl") and not has(names, "libcrypto")
    assert server.client.call("EVAL", "return 1", "0") == b":1\r\n"
    assert has(mapped(server), "lua51")


@pytest.mark.parametrize("cmd", [sonic_server_cmd, twistd_cmd], ids=["sonic-server", "twistd"])
def test_eval_first(fresh, cmd):
    """EVAL as the first command runs its script (and writes through redis.call); EVALSHA and SCRIPT follow."""
    server = fresh(cmd=cmd())
    reply, seconds = timed(server, "EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "k", "v")
    assert reply == b"+OK\r\n" and seconds < FIRST_USE_SECONDS
    assert server.client.call("GET", "k") == b"$1\r\nv\r\n"
    sha = server.client.call("SCRIPT", "LOAD", "return ARGV[1]").split(b"\r\n")[1].decode()
    assert server.client.call("EVALSHA", sha, "0", "x") == b"$1\r\nx\r\n"
    assert server.client.call("SCRIPT", "EXISTS", sha) == b"*1\r\n:1\r\n"


def test_script_commands_first(fresh):
    """SCRIPT EXISTS, SCRIPT KILL and SCRIPT FLUSH as first commands answer as on a warm server."""
    server = fresh()
    assert server.client.call("SCRIPT", "EXISTS", "a" * 40) == b"*1\r\n:0\r\n"
    assert server.client.call("SCRIPT", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"
    assert server.client.call("SCRIPT", "FLUSH") == b"+OK\r\n"


def test_functions_first(fresh):
    """FUNCTION LOAD and FCALL first, then FUNCTION DUMP and RESTORE into a second fresh server."""
    server = fresh()
    code = "#!lua name=lib\nredis.register_function('echo1', function(keys, args) return args[1] end)"
    reply, seconds = timed(server, "FUNCTION", "LOAD", code)
    assert reply == b"$3\r\nlib\r\n" and seconds < FIRST_USE_SECONDS
    assert server.client.call("FCALL", "echo1", "0", "hi") == b"$2\r\nhi\r\n"
    dump = server.client.call("FUNCTION", "DUMP")
    payload = dump[dump.index(b"\r\n") + 2:-2]
    other = fresh()
    assert other.client.call("FUNCTION", "RESTORE", payload) == b"+OK\r\n"
    assert other.client.call("FCALL", "echo1", "0", "there") == b"$5\r\nthere\r\n"


def test_dump_restore_first(fresh, real_port):
    """DUMP as the first command gives redis-server's payload; RESTORE of it first thing on another server works."""
    server = fresh()
    real = RawClient(real_port)
    for c in (server.client, real):
        c.call("DEL", "lazy:k")
        assert c.call("RPUSH", "lazy:k", "a", "b", "c") == b":3\r\n"
    reply, seconds = timed(server, "DUMP", "lazy:k")
    assert reply == real.call("DUMP", "lazy:k") and seconds < FIRST_USE_SECONDS
    real.call("DEL", "lazy:k")
    payload = reply[reply.index(b"\r\n") + 2:-2]
    other = fresh()
    assert other.client.call("RESTORE", "k2", "0", payload) == b"+OK\r\n"
    assert other.client.call("LRANGE", "k2", "0", "-1") == b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"


def test_bgsave_first_then_restart_loads(fresh, tmp_path):
    """BGSAVE as the first command after a write writes dump.rdb; a fresh server in that directory loads it."""
    server = fresh("--dir", str(tmp_path))
    server.client.call("SET", "k", "v" * 3000)  # compressed in memory, plain in the file
    reply, seconds = timed(server, "BGSAVE")
    assert reply == b"+Background saving started\r\n" and seconds < FIRST_USE_SECONDS
    path = tmp_path / "dump.rdb"
    deadline = time.time() + 10
    while not path.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert path.exists()
    server.stop()
    again = fresh("--dir", str(tmp_path))
    deadline = time.time() + 10
    while again.client.call("DBSIZE") != b":1\r\n" and time.time() < deadline:
        time.sleep(0.05)  # the file loads in the background (-LOADING meanwhile)
    assert again.client.call("GET", "k") == b"$3000\r\n" + b"v" * 3000 + b"\r\n"


def test_save_and_aof_first(fresh, tmp_path):
    """SAVE first writes the file; CONFIG SET appendonly yes first writes an AOF base a restart replays."""
    server = fresh("--dir", str(tmp_path))
    assert server.client.call("SAVE") == b"+OK\r\n"
    assert (tmp_path / "dump.rdb").exists()
    server.client.call("SET", "a", "1")
    assert server.client.call("CONFIG", "SET", "appendonly", "yes") == b"+OK\r\n"
    deadline = time.time() + 10
    while not glob.glob(str(tmp_path / "appendonlydir" / "*.base.rdb")) and time.time() < deadline:
        time.sleep(0.05)
    assert glob.glob(str(tmp_path / "appendonlydir" / "*.base.rdb"))
    server.client.call("SET", "b", "2")
    server.client.send_raw(b"*1\r\n$8\r\nSHUTDOWN\r\n")  # flushes and fsyncs the AOF; no reply
    server.proc.wait(10)
    again = fresh("--dir", str(tmp_path), "--appendonly", "yes")
    deadline = time.time() + 10
    while again.client.call("DBSIZE") != b":2\r\n" and time.time() < deadline:
        time.sleep(0.05)
    assert again.client.call("MGET", "a", "b") == b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"


def test_sort_tiny_weights_first(fresh, real_port):
    """SORT first on weights in the subnormal range (the only use of fractions) answers as redis-server."""
    server = fresh()
    real = RawClient(real_port)
    # Only weights Redis refuses: its SORT does not reset errno, so after one
    # ERANGE it refuses every later weight too (a normal one would then differ).
    for values in (("1e-320", "2"), ("4.9406564584124654e-324", "1")):
        replies = []
        for c in (server.client, real):
            c.call("DEL", "lazy:l")
            c.call("RPUSH", "lazy:l", *values)
            replies.append(c.call("SORT", "lazy:l"))
        real.call("DEL", "lazy:l")
        assert replies[0] == replies[1], values
    server.client.call("DEL", "lazy:l")
    server.client.call("RPUSH", "lazy:l", "3", "2.5e-308")
    assert server.client.call("SORT", "lazy:l") == b"*2\r\n$8\r\n2.5e-308\r\n$1\r\n3\r\n"


def test_migrate_first(fresh):
    """MIGRATE as the first command moves a key to another fresh server."""
    source, target = fresh(), fresh()
    source.client.call("SET", "k", "v" * 2000)
    reply, seconds = timed(source, "MIGRATE", "127.0.0.1", str(target.port), "k", "0", "5000")
    assert reply == b"+OK\r\n" and seconds < FIRST_USE_SECONDS
    assert target.client.call("STRLEN", "k") == b":2000\r\n"
    assert source.client.call("EXISTS", "k") == b":0\r\n"


def test_command_docs_first(fresh, real_port):
    """COMMAND DOCS and COMMAND INFO as first commands give redis-server's replies."""
    server = fresh()
    real = RawClient(real_port)
    for words in (("COMMAND", "DOCS", "SET", "CLIENT|KILL"), ("COMMAND", "INFO", "GET", "EVAL")):
        assert server.client.call(*words) == real.call(*words), words

"""redis-cli 7, unmodified, against a real sonic process.

Most tests run the same redis-cli invocation against sonic and against
redis-server 7.0 and compare the printed output, so formatting of every
reply type (raw, C{--no-raw}, RESP3 with C{-3}) is checked as redis-cli
really prints it.  C{--pipe} mass insertion loads 100,000 keys.
"""

import re
import shutil
import subprocess

import pytest

CLI = shutil.which("redis-cli")

pytestmark = pytest.mark.skipif(CLI is None, reason="redis-cli is not installed")


def cli(port, *args, stdin=None, timeout=30):
    """Run redis-cli against C{port}; return (exit code, stdout bytes)."""
    proc = subprocess.run([CLI, "-p", str(port)] + [str(a) for a in args], input=stdin,
                          capture_output=True, timeout=timeout)
    return proc.returncode, proc.stdout


def unvary(out):
    """Output with the parts that differ between two servers masked (ids, addresses, ages)."""
    out = re.sub(rb"(\"id\" => \(integer\) |id=)\d+", rb"\1ID", out)
    out = re.sub(rb"addr=\S+|laddr=\S+|fd=\d+|age=\d+|idle=\d+", b"-", out)
    return out


@pytest.fixture
def same(sonic_port, real_port):
    """C{same(*args, stdin=...)}: run redis-cli on both servers, assert equal output, return it."""
    for port in (sonic_port, real_port):
        cli(port, "FLUSHALL")

    def run(*args, stdin=None):
        real = cli(real_port, *args, stdin=stdin)
        ours = cli(sonic_port, *args, stdin=stdin)
        assert (ours[0], unvary(ours[1])) == (real[0], unvary(real[1])), "%r: sonic %r != redis %r" % (
            args, ours, real)
        return ours[1]
    run.sonic_port = sonic_port
    yield run
    for port in (sonic_port, real_port):
        cli(port, "FLUSHALL")


def test_commands_as_arguments(same):
    """One command per invocation, raw output (stdout is not a tty): status, bulk, integer, nil, error."""
    assert same("SET", "k", "v") == b"OK\n"
    assert same("GET", "k") == b"v\n"
    assert same("INCR", "n") == b"1\n"
    same("GET", "missing")
    same("MGET", "k", "missing", "n")
    same("NOSUCH", "arg")
    same("GET")
    same("SET", "k", "v", "BOGUS")
    same("PING")
    same("ECHO", "two words")


def test_commands_from_stdin(same):
    """Commands read line by line from stdin, as in C{redis-cli < file}, answer like redis-server."""
    out = same(stdin=b"SET a 1\nINCR a\nGET a\nMULTI\nINCR a\nGET a\nEXEC\nNOSUCH\nDEL a\n")
    assert out.startswith(b"OK\n2\n2\nOK\nQUEUED\nQUEUED\n3\n3\n")


def test_no_raw_formats(same):
    """--no-raw prints every reply type in redis-cli's human format, as with redis-server."""
    same("--no-raw", "SET", "k", "hello world")
    assert same("--no-raw", "GET", "k") == b'"hello world"\n'
    assert same("--no-raw", "GET", "missing") == b"(nil)\n"
    assert same("--no-raw", "INCR", "n") == b"(integer) 1\n"
    assert same("--no-raw", "MGET", "k", "missing") == b'1) "hello world"\n2) (nil)\n'
    assert same("--no-raw", "NOSUCH").startswith(b"(error) ERR unknown command")
    same("--no-raw", "MSET", "a", "1", "b", "2")
    same("--no-raw", "SCAN", "0", "COUNT", "100", "MATCH", "nomatch*")
    same("--no-raw", "CLIENT", "GETNAME")
    same("--no-raw", "SET", "bin", "\x01\x02\xff")
    same("--no-raw", "GET", "bin")
    same("--no-raw", "MULTI")
    same("--no-raw", "EXEC")
    same("--no-raw", "PING")


def test_no_raw_from_stdin_transaction(same):
    """A transaction typed into redis-cli prints QUEUED and the EXEC array as redis-server's does."""
    same("--no-raw", stdin=b"MULTI\nSET t 1\nINCR t\nGET none\nEXEC\nEXEC\nDISCARD\n")


def test_resp3_output(same):
    """redis-cli -3 (HELLO 3): maps, nulls, verbatim strings print as with redis-server."""
    out = same("-3", "--no-raw", "HELLO", "3")
    assert out.startswith(b'1# "server" => "redis"\n2# "version" => "7.0.15"\n3# "proto" => (integer) 3\n')
    assert same("-3", "--no-raw", "GET", "missing") == b"(nil)\n"
    same("-3", "--no-raw", "SET", "k", "v")
    same("-3", "--no-raw", "MGET", "k", "missing")
    # A verbatim string prints as its text without the "txt:" prefix (the
    # buffer figures in it differ between servers, so only its shape is checked).
    code, out = cli(same.sonic_port, "-3", "--no-raw", "CLIENT", "INFO")
    assert out.startswith(b"id=") and out.endswith(b"resp=3 lib-name= lib-ver=\n")
    same("-3", "GET", "k")
    same("-3", "--no-raw", stdin=b"WATCH k\nSET k 2\nMULTI\nGET k\nEXEC\n")


def test_x_reads_last_argument_from_stdin(same):
    """-x takes the last argument from stdin, binary and newline included."""
    assert same("-x", "SET", "fromstdin", stdin=b"line one\nline two\n") == b"OK\n"
    assert same("--no-raw", "GET", "fromstdin") == b'"line one\\nline two\\n"\n'
    assert same("STRLEN", "fromstdin") == b"18\n"
    same("-x", "SET", "binary", stdin=bytes(range(256)))
    assert same("STRLEN", "binary") == b"256\n"


def test_pipe_mass_insertion(sonic_port):
    """--pipe loads 100,000 SETs sent as a raw RESP stream: no errors, every reply counted."""
    cli(sonic_port, "FLUSHALL")
    n = 100000
    stream = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\nvalue:%d\r\n" % (
        len(b"key:%d" % i), i, len(b"value:%d" % i), i) for i in range(n))
    code, out = cli(sonic_port, "--pipe", stdin=stream, timeout=120)
    assert code == 0, out
    assert b"errors: 0, replies: %d" % n in out
    assert cli(sonic_port, "DBSIZE")[1] == b"%d\n" % n
    assert cli(sonic_port, "GET", "key:99999")[1] == b"value:99999\n"
    cli(sonic_port, "FLUSHALL")


def test_pipe_counts_errors(sonic_port):
    """--pipe reports the errors among the replies, as redis-cli counts them."""
    stream = b"SET ok 1\r\nNOSUCH\r\nGET\r\n*2\r\n$3\r\nGET\r\n$2\r\nok\r\n"
    code, out = cli(sonic_port, "--pipe", stdin=stream)
    assert b"errors: 2, replies: 4" in out
    cli(sonic_port, "DEL", "ok")


def test_auth_option_without_password(same):
    """-a against a server with no password prints what redis-server's answer makes redis-cli print."""
    same("--no-auth-warning", "-a", "pw", "PING")


def test_client_subcommands(same):
    """CLIENT subcommands print as with redis-server (integer, nil, errors)."""
    same("--no-raw", "CLIENT", "SETNAME", "bad name")
    same("--no-raw", "CLIENT", "GETNAME")
    same("--no-raw", "CLIENT", "KILL", "ID", "999999")
    same("--no-raw", "CLIENT", "NOPE")
    code, out = cli(same.sonic_port, "--no-raw", "CLIENT", "ID")
    assert code == 0 and out.startswith(b"(integer) ")


def test_rdb_snapshot_from_sonic(tmp_path):
    """redis-cli --rdb fetches a snapshot from sonic that redis-check-rdb accepts and sonic.rdb reads back."""
    from sonic.rdb.reader import iter_rdb
    from tests.conftest import start_sonic, stop
    # Its own process: a sync starts the replication history (ROLE's offset),
    # which tests of the shared server expect to be untouched.
    proc, sonic_port, _ = start_sonic("--save", "")
    try:
        _rdb_snapshot(sonic_port, tmp_path, iter_rdb)
    finally:
        stop(proc)


def _rdb_snapshot(sonic_port, tmp_path, iter_rdb):
    cli(sonic_port, "FLUSHALL")
    cli(sonic_port, "RPUSH", "cli:l", "a", "b")
    cli(sonic_port, "HSET", "cli:h", "f", "v")
    cli(sonic_port, "SET", "cli:s", "x", "PX", "600000")
    path = tmp_path / "snap.rdb"
    code, _ = cli(sonic_port, "--rdb", str(path))
    assert code == 0
    check = subprocess.run(["redis-check-rdb", str(path)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and "RDB looks OK" in check.stdout
    with open(path, "rb") as f:
        entries = {e.key: e for e in iter_rdb(f)}
    assert entries[b"cli:l"].value == [b"a", b"b"]
    assert entries[b"cli:h"].value == [(b"f", b"v")]
    assert entries[b"cli:s"].value == b"x" and entries[b"cli:s"].expire_ms is not None
    cli(sonic_port, "FLUSHALL")

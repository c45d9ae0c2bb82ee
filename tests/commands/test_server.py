"""Parity of the server commands (COMMAND, INFO, CONFIG, DBSIZE, FLUSH*, TIME, DEBUG, MEMORY, SHUTDOWN) with Redis 7.0."""

import shutil
import subprocess
import tempfile

import pytest

from tests.conftest import free_port, start_sonic, stop, wait_for_port
from tests.resp_reader import RawClient, frame_length

IMPLEMENTED = ["get", "set", "config", "config|get", "config|set", "dbsize", "command|info"]


def _split_array(reply):
    """The raw elements of a top-level array/map/set reply."""
    head = reply.index(b"\r\n")
    n = int(reply[1:head])
    if reply[:1] == b"%":
        n *= 2
    pos, out = head + 2, []
    for _ in range(n):
        ln = frame_length(reply, pos)
        out.append(reply[pos:pos + ln])
        pos += ln
    return out


def _hello3(parity):
    parity.sonic.call("HELLO", "3")
    parity.real.call("HELLO", "3")


@pytest.mark.parametrize("resp3", [False, True])
def test_command_info_parity(parity, resp3):
    """COMMAND INFO answers byte for byte as Redis for implemented commands, RESP2 and RESP3."""
    if resp3:
        _hello3(parity)
    parity(("COMMAND", "INFO", "get", "set", "nosuch"), ("COMMAND", "INFO", "GET"),
           ("COMMAND", "INFO", "config|get"), ("COMMAND", "INFO", "dbsize"))


@pytest.mark.parametrize("resp3", [False, True])
def test_command_info_container_subcommands_as_a_set(parity, resp3):
    """COMMAND INFO config lists the same subcommand entries as Redis (Redis' order is hash order)."""
    if resp3:
        _hello3(parity)
    got = parity.sonic.call("COMMAND", "INFO", "config")
    want = parity.real.call("COMMAND", "INFO", "config")
    g, w = _split_array(_split_array(got)[0]), _split_array(_split_array(want)[0])
    assert g[:9] == w[:9]
    assert sorted(_split_array(g[9])) == sorted(_split_array(w[9]))


@pytest.mark.parametrize("resp3", [False, True])
def test_command_docs_parity(parity, resp3):
    """COMMAND DOCS has Redis' shape: maps, sets of status flags, history and arguments."""
    if resp3:
        _hello3(parity)
    parity(("COMMAND", "DOCS", "get"), ("COMMAND", "DOCS", "set"), ("COMMAND", "DOCS", "nosuch"),
           ("COMMAND", "DOCS", "config|get"), ("COMMAND", "DOCS", "get", "get"),
           ("COMMAND", "DOCS", "dbsize", "nosuch", "set"))


def test_command_docs_container_nests_subcommands(parity):
    """COMMAND DOCS config nests its subcommands' docs as Redis does."""
    _hello3(parity)
    got = _split_array(parity.sonic.call("COMMAND", "DOCS", "config"))
    want = _split_array(parity.real.call("COMMAND", "DOCS", "config"))
    g, w = _split_array(got[1]), _split_array(want[1])
    assert g[:8] == w[:8]
    assert g[8] == w[8] == b"$11\r\nsubcommands\r\n"
    gs, ws = _split_array(g[9]), _split_array(w[9])
    assert sorted(zip(gs[::2], gs[1::2])) == sorted(zip(ws[::2], ws[1::2]))


@pytest.mark.parametrize("resp3", [False, True])
def test_command_getkeys_parity(parity, resp3):
    """COMMAND GETKEYS/GETKEYSANDFLAGS find keys and flags as Redis, with its errors."""
    if resp3:
        _hello3(parity)
    parity(("COMMAND", "GETKEYS", "get", "a"), ("COMMAND", "GETKEYS", "set", "a", "b"),
           ("COMMAND", "GETKEYSANDFLAGS", "get", "a"),
           ("COMMAND", "GETKEYSANDFLAGS", "set", "a", "b"),
           ("COMMAND", "GETKEYSANDFLAGS", "set", "a", "b", "get"),
           ("COMMAND", "GETKEYS", "del", "a", "b", "c"),
           ("COMMAND", "GETKEYS", "nosuch", "a"),
           ("COMMAND", "GETKEYS", "config", "get", "x"),
           ("COMMAND", "GETKEYS", "config", "nosuch"),
           ("COMMAND", "GETKEYS", "get", "a", "b"),
           ("COMMAND", "GETKEYS", "get"),
           ("COMMAND", "GETKEYS", "dbsize", "x"))


@pytest.mark.parametrize("resp3", [False, True])
def test_command_misc_parity(parity, resp3):
    """COMMAND HELP, LIST filter syntax errors and unknown subcommands match Redis."""
    if resp3:
        _hello3(parity)
    parity(("COMMAND", "HELP"), ("COMMAND", "LIST", "x", "y", "z"),
           ("COMMAND", "LIST", "FILTERBY", "PATTERN", "a", "b"),
           ("COMMAND", "LIST", "FILTERBY", "FOO", "x"),
           ("COMMAND", "LIST", "FILTERBY", "MODULE", "x"),
           ("COMMAND", "LIST", "FILTERBY", "PATTERN", "config|g*"),
           ("COMMAND", "LIST", "FILTERBY", "aclcat", "nosuch"),
           ("COMMAND", "FOO"), ("COMMAND", "COUNT", "x"), ("COMMAND", "GETKEYS"))


def test_command_list_and_count_only_implemented(r):
    """COMMAND LIST lists implemented commands with their subcommands; COUNT counts top-level ones."""
    names = [n.decode() for n in r.command_list()]
    assert "get" in names and "config|get" in names
    top = [n for n in names if "|" not in n]
    assert r.command_count() == len(top)


def test_config_get_parity(parity):
    """CONFIG GET single names, aliases, unknown names and arity errors match Redis."""
    for name in ("maxmemory", "maxmemory-policy", "timeout", "databases", "appendonly",
                 "slave-read-only", "replica-read-only", "HZ", "nosuch",
                 "hash-max-ziplist-entries", "list-max-listpack-size", "tcp-keepalive"):
        parity(("CONFIG", "GET", name))
    parity(("CONFIG", "GET"), ("CONFIG",), ("CONFIG", "FOO"), ("CONFIG", "HELP"))


def _as_dict(reply):
    items = _split_array(reply)
    return dict(zip(items[::2], items[1::2]))


@pytest.mark.parametrize("resp3", [False, True])
def test_config_get_patterns_same_pairs(parity, resp3):
    """Several patterns give the same name/value pairs as Redis (whose order is hash order)."""
    if resp3:
        _hello3(parity)
    for args in (("maxmemory*",), ("hz", "maxmemory", "hz"), ("lazyfree-*", "maxmemory-policy"),
                 ("slave-*ly",), ("*max-*-entries",)):
        got = parity.sonic.call("CONFIG", "GET", *args)
        want = parity.real.call("CONFIG", "GET", *args)
        assert got[:1] == want[:1]
        g = _as_dict(got)
        w = {k: v for k, v in _as_dict(want).items() if k in g}
        assert g == w, args
    # every pattern hit here is one sonic knows
    assert set(_as_dict(parity.sonic.call("CONFIG", "GET", "lazyfree-*"))) == set(
        _as_dict(parity.real.call("CONFIG", "GET", "lazyfree-*")))


def test_config_set_parity(parity):
    """CONFIG SET's successes and every kind of refusal are Redis' replies."""
    try:
        parity(("CONFIG", "SET", "x", "1"), ("CONFIG", "SET", "maxmemory"),
               ("CONFIG", "SET", "maxmemory", "1", "hz"),
               ("CONFIG", "SET", "maxmemory", "abc"), ("CONFIG", "SET", "hz", "-1"),
               ("CONFIG", "SET", "hz", "1x"),
               ("CONFIG", "SET", "databases", "3"), ("CONFIG", "SET", "port", "70000"),
               ("CONFIG", "SET", "maxmemory-policy", "foo"), ("CONFIG", "SET", "appendonly", "maybe"),
               ("CONFIG", "SET", "hz", "10", "hz", "11"), ("CONFIG", "SET", "hz", "10", "HZ", "11"),
               ("CONFIG", "SET", "maxmemory", "2mb", "hz", "abc"), ("CONFIG", "GET", "maxmemory"),
               ("CONFIG", "SET", "dir", "/tmp"), ("CONFIG", "SET", "save", "abc"),
               ("CONFIG", "SET", "save", "100 1"), ("CONFIG", "GET", "save"),
               ("CONFIG", "SET", "maxmemory", "1gb", "timeout", "5"), ("CONFIG", "GET", "maxmemory"),
               ("CONFIG", "GET", "timeout"), ("CONFIG", "SET", "hz", "1000"), ("CONFIG", "GET", "hz"),
               ("CONFIG", "SET", "loglevel", "WARNING"), ("CONFIG", "GET", "loglevel"),
               ("CONFIG", "SET", "slave-read-only", "yes", "replica-read-only", "yes"))
    finally:
        for c in (parity.sonic, parity.real):
            c.call("CONFIG", "SET", "maxmemory", "0", "timeout", "0", "hz", "10",
                   "save", "", "loglevel", "notice")


@pytest.mark.parametrize("resp3", [False, True])
def test_config_rewrite_and_resetstat_parity(parity, resp3):
    """CONFIG REWRITE without a config file and CONFIG RESETSTAT answer as Redis."""
    if resp3:
        _hello3(parity)
    parity(("CONFIG", "REWRITE"), ("CONFIG", "RESETSTAT"), ("CONFIG", "RESETSTAT", "x"))


@pytest.mark.parametrize("resp3", [False, True])
def test_keyspace_commands_parity(parity, resp3):
    """DBSIZE, FLUSHDB and FLUSHALL (with ASYNC/SYNC and bad options) match Redis."""
    if resp3:
        _hello3(parity)
    parity(("SET", "a", "1"), ("SET", "b", "2"), ("DBSIZE",), ("DBSIZE", "x"),
           ("FLUSHDB", "x"), ("FLUSHDB", "ASYNC", "SYNC"), ("FLUSHDB", "sync"), ("DBSIZE",),
           ("SET", "a", "1"), ("SELECT", "2"), ("SET", "c", "1"), ("FLUSHALL", "ASYNC"),
           ("DBSIZE",), ("SELECT", "0"), ("DBSIZE",), ("FLUSHALL", "x"), ("FLUSHALL", "SYNC"),
           ("FLUSHDB",), ("TIME", "x"), ("LASTSAVE", "x"))


def test_time_and_lastsave_shapes(r):
    """TIME is [seconds, microseconds] near now; LASTSAVE is an integer Unix time."""
    import time
    sec, usec = r.time()
    assert abs(sec - time.time()) < 5 and 0 <= usec < 1000000
    assert isinstance(r.lastsave().timestamp(), float)


@pytest.mark.parametrize("resp3", [False, True])
def test_debug_parity(parity, resp3):
    """DEBUG OBJECT errors, SLEEP and unknown subcommands answer as Redis."""
    if resp3:
        _hello3(parity)
    parity(("DEBUG", "OBJECT", "nokey"), ("DEBUG", "FOO"), ("DEBUG",), ("DEBUG", "SLEEP"),
           ("DEBUG", "SLEEP", "0"), ("DEBUG", "SLEEP", "abc"), ("DEBUG", "OBJECT"))


def test_debug_object_format(parity):
    """DEBUG OBJECT has Redis' fields and encodings for int, embstr and raw strings."""
    import re
    for value in ("hello", "123", "x" * 30, "y" * 60):
        for c in (parity.sonic, parity.real):
            c.call("SET", "k", value)
        got = parity.sonic.call("DEBUG", "OBJECT", "k")
        want = parity.real.call("DEBUG", "OBJECT", "k")
        pat = rb"\+Value at:0x[0-9a-f]+ refcount:(\d+) encoding:(\w+) serializedlength:(\d+) lru:\d+ lru_seconds_idle:\d+\r\n"
        g, w = re.match(pat, got), re.match(pat, want)
        assert g and w, (got, want)
        assert g.group(1, 2) == w.group(1, 2)
        if len(value) <= 20:  # longer strings are LZF-compressed by Redis' RDB writer
            assert g.group(3) == w.group(3)


def test_debug_object_compressed(sonic_port):
    """DEBUG OBJECT shows raw and stored sizes for a gzip-compressed value."""
    c = RawClient(sonic_port)
    c.call("SET", "big", "a" * 5000)
    reply = c.call("DEBUG", "OBJECT", "big")
    assert b" compressed:yes raw_size:5000 stored_size:" in reply
    c.call("DEL", "big")
    c.close()


@pytest.mark.parametrize("resp3", [False, True])
def test_memory_parity(parity, resp3):
    """MEMORY USAGE's errors and null, MEMORY HELP and unknown subcommands match Redis."""
    if resp3:
        _hello3(parity)
    parity(("SET", "k", "v"), ("MEMORY", "USAGE", "nokey"), ("MEMORY", "USAGE", "k", "SAMPLES"),
           ("MEMORY", "USAGE", "k", "SAMPLES", "x"), ("MEMORY", "USAGE", "k", "FOO", "1"),
           ("MEMORY", "USAGE", "k", "SAMPLES", "-1"), ("MEMORY", "HELP"), ("MEMORY", "FOO"),
           ("MEMORY", "USAGE"))


def test_memory_usage_reflects_compression(sonic_port):
    """MEMORY USAGE of a compressible 45 KB value (compressed inline) is far below its raw size."""
    c = RawClient(sonic_port)
    c.call("SET", "small", "v")
    c.call("SET", "big", "abc" * 15000)
    small = int(c.call("MEMORY", "USAGE", "small")[1:-2])
    big = int(c.call("MEMORY", "USAGE", "big", "SAMPLES", "0")[1:-2])
    assert 0 < small < 200
    assert big < 5000
    c.call("DEL", "small", "big")
    c.close()


@pytest.mark.parametrize("resp3", [False, True])
def test_shutdown_errors_parity(parity, resp3):
    """SHUTDOWN's syntax errors and ABORT without a shutdown in progress match Redis."""
    if resp3:
        _hello3(parity)
    parity(("SHUTDOWN", "FOO"), ("SHUTDOWN", "ABORT"), ("SHUTDOWN", "NOSAVE", "SAVE"),
           ("SHUTDOWN", "ABORT", "NOW"), ("MULTI",), ("SHUTDOWN",), ("DISCARD",))


def test_shutdown_closes_without_reply():
    """SHUTDOWN NOSAVE sends no reply: the connection closes and the process exits."""
    proc, port, log = start_sonic()
    try:
        c = RawClient(port)
        c.send_raw(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
        assert c.is_closed(5)
        assert c.buf == b""
        proc.wait(10)
    finally:
        stop(proc)


def _own_redis(*extra):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-dbg-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", workdir] + list(extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for_port(port, proc)
    return proc, port


def test_debug_refused_when_disabled():
    """With enable-debug-command no, DEBUG gets Redis' exact refusal text."""
    proc, port = _own_redis()
    sproc, sport, _ = start_sonic("--enable-debug-command", "no")
    try:
        want = RawClient(port).call("DEBUG", "SLEEP", "0")
        got = RawClient(sport).call("DEBUG", "SLEEP", "0")
        assert got == want
        assert want.startswith(b"-ERR DEBUG command not allowed")
    finally:
        stop(sproc)
        stop(proc)


def test_info_field_parity(parity):
    """Every INFO field monitoring tools read exists in sonic, and fixed values match Redis."""
    from tests.unit.test_info import parse_info, MONITORED_FIELDS
    for c in (parity.sonic, parity.real):
        c.call("SET", "a", "1")
        c.call("SET", "b", "2")
        c.call("SELECT", "5")
        c.call("SET", "c", "3")
        c.call("SELECT", "0")
    got = parse_info(RawClient.call(parity.sonic, "INFO", "everything"))
    want = parse_info(RawClient.call(parity.real, "INFO", "everything"))
    for section, fields in MONITORED_FIELDS.items():
        for field in fields:
            assert field in want[section], (section, field)
            assert field in got.get(section, {}), (section, field)
    for section in ("Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU"):
        missing = set(want[section]) - set(got[section])
        assert not missing, (section, missing)
    assert got["Server"]["redis_mode"] == want["Server"]["redis_mode"]
    assert got["Server"]["redis_version"] == want["Server"]["redis_version"]
    assert got["Replication"]["role"] == want["Replication"]["role"] == "master"
    assert got["Keyspace"]["db0"].split(",")[:2] == want["Keyspace"]["db0"].split(",")[:2] == [
        "keys=2", "expires=0"]
    assert got["Keyspace"]["db5"] == want["Keyspace"]["db5"] == "keys=1,expires=0,avg_ttl=0"
    assert list(got) == list(want) + ["Compression"]
    for section in ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                    "modules", "cluster", "keyspace"):
        assert list(parse_info(parity.sonic.call("INFO", section.upper()))) == list(
            parse_info(parity.real.call("INFO", section)))


def test_info_tcp_port(sonic_port):
    """INFO's tcp_port is the port sonic listens on."""
    from tests.unit.test_info import parse_info
    info = parse_info(RawClient(sonic_port).call("INFO", "server"))
    assert info["Server"]["tcp_port"] == str(sonic_port)


def test_info_exact_parts_parity(parity):
    """INFO cluster, modules, an unknown section and RESP3 verbatim framing are byte-identical."""
    parity(("INFO", "cluster"), ("INFO", "modules"), ("INFO", "foo"), ("INFO", "cluster", "modules"))
    _hello3(parity)
    parity(("INFO", "cluster"), ("INFO", "foo"))


def _entries(reply):
    return _split_array(reply)


@pytest.mark.parametrize("resp3", [False, True])
def test_every_command_entry_matches_redis(parity, resp3):
    """Each entry of sonic's COMMAND equals Redis' COMMAND INFO for that command (subcommands: subset)."""
    if resp3:
        _hello3(parity)
    checked = 0
    for entry in _entries(parity.sonic.call("COMMAND")):
        fields = _split_array(entry)
        name = fields[0].split(b"\r\n")[1].decode()
        want = _entries(parity.real.call("COMMAND", "INFO", name))[0]
        if want in (b"$-1\r\n", b"_\r\n"):
            continue  # sonic-only (EXP)
        wfields = _split_array(want)
        assert fields[:9] == wfields[:9], name
        if fields[9] not in (b"~0\r\n", b"*0\r\n"):
            real_subs = set(_split_array(wfields[9]))
            for sub in _split_array(fields[9]):
                subname = sub.split(b"\r\n")[2]
                if any(s.split(b"\r\n")[2] == subname for s in real_subs):
                    assert sub in real_subs, subname
        else:
            assert fields[9] == wfields[9], name
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("resp3", [False, True])
def test_every_command_docs_entry_matches_redis(parity, resp3):
    """Each entry of sonic's COMMAND DOCS equals Redis' for that command (nested subcommands: subset)."""
    if resp3:
        _hello3(parity)
    items = _split_array(parity.sonic.call("COMMAND", "DOCS"))
    checked = 0
    for key, docs in zip(items[::2], items[1::2]):
        name = key.split(b"\r\n")[1].decode()
        want = _split_array(parity.real.call("COMMAND", "DOCS", name))
        if not want:
            continue  # sonic-only
        g, w = _split_array(docs), _split_array(want[1])
        gd, wd = dict(zip(g[::2], g[1::2])), dict(zip(w[::2], w[1::2]))
        sub_key = b"$11\r\nsubcommands\r\n"
        gsubs, wsubs = gd.pop(sub_key, None), wd.pop(sub_key, None)
        assert g[::2] == [k for k in w[::2] if k in gd or k == sub_key and gsubs], name
        assert gd == wd, name
        if gsubs is not None:
            gs, ws = _split_array(gsubs), _split_array(wsubs)
            wmap = dict(zip(ws[::2], ws[1::2]))
            for k, v in zip(gs[::2], gs[1::2]):
                if k in wmap:
                    assert v == wmap[k], k
        checked += 1
    assert checked >= 10


def test_debug_local_mode_refuses_remote_clients():
    """enable-debug-command local (sonic's default) allows loopback clients and refuses others."""
    from tests.helpers import Client, call, make_server
    from sonic.resp import Error
    from sonic.commands.server import DEBUG_REFUSED
    server = make_server()
    local = Client(server, addr="127.0.0.1:5000")
    remote = Client(server, addr="10.1.2.3:5000")
    assert call(local, "DEBUG", "SLEEP", "0") == b"OK"
    assert call(remote, "DEBUG", "SLEEP", "0") == Error(DEBUG_REFUSED)
    server.config.set_value("enable-debug-command", "yes")
    assert call(remote, "DEBUG", "SLEEP", "0") == b"OK"


def test_debug_sleep_reads_seconds_like_strtod():
    """DEBUG SLEEP reads its argument as strtod does: a numeric prefix, garbage as 0."""
    from sonic.commands.server import to_float_lenient
    assert [to_float_lenient(x) for x in (b"0.5x", b"abc", b" 2", b"1e-3", b".5")] == [
        0.5, 0.0, 2.0, 0.001, 0.5]


def test_shutdown_over_protocol_sends_nothing_and_stops():
    """SHUTDOWN writes no reply, closes the connection and calls the server's shutdown hook."""
    from tests.helpers import connect, make_server
    server = make_server()
    stopped = []
    server.shutdown = lambda: stopped.append(True)
    proto, transport = connect(server)
    proto.dataReceived(b"SHUTDOWN NOSAVE\r\n")
    assert transport.value() == b""
    assert transport.disconnecting
    assert stopped == [True]


def test_config_rewrite_with_config_file(tmp_path):
    """Started with --config, CONFIG REWRITE writes the running values back and INFO names the file."""
    from tests.unit.test_info import parse_info
    conf = tmp_path / "sonic.conf"
    conf.write_text("# test config\ntimeout 3\n")
    proc, port, log = start_sonic("--config", str(conf))
    try:
        c = RawClient(port)
        assert c.call("CONFIG", "SET", "timeout", "12", "maxmemory-policy", "allkeys-lru") == b"+OK\r\n"
        assert c.call("CONFIG", "REWRITE") == b"+OK\r\n"
        lines = conf.read_text().splitlines()
        assert lines[:2] == ["# test config", "timeout 12"]
        assert "maxmemory-policy allkeys-lru" in lines
        info = parse_info(c.call("INFO", "server"))["Server"]
        assert info["config_file"] == str(conf)
        c.close()
    finally:
        stop(proc)

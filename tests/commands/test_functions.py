"""FUNCTION *, FCALL and FCALL_RO against redis-server 7.0: raw reply bytes, RESP2 and RESP3.

Redis lists libraries, and the functions of a library, in the order of
hash tables seeded at random when it starts; sonic keeps load order.  So
byte-for-byte tests hold one library with one function wherever a listing
is compared, and tests with more compare them without regard to order.
"""

import pytest

from tests.resp_reader import RawClient

LIB = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return args[1] end)"


def lib(name, body):
    """Library code: the #! line for C{name}, then C{body}."""
    return "#!lua name=%s\n%s" % (name, body)


@pytest.fixture
def fp(parity):
    """The parity checker, with no libraries on either server before and after."""
    parity("FUNCTION FLUSH".split())
    yield parity
    for c in (parity.sonic, parity.real):
        c.call("FUNCTION", "FLUSH")


def test_load_and_fcall(fp):
    """A loaded library's function runs with KEYS and ARGV as its arguments."""
    fp(("FUNCTION", "LOAD", LIB),
       ("FCALL", "myfunc", "0", "hello"),
       ("FCALL", "MYFUNC", "0", "case"),
       ("FUNCTION", "LOAD", lib("e4", "redis.register_function('e4', function(keys, args)\n"
                                      " return {keys, args, #keys, #args} end)")),
       ("FCALL", "e4", "2", "a", "b", "c", "d", "e"),
       ("FCALL", "e4", "0"))


def test_load_replace_and_exists(fp):
    """LOAD refuses an existing library unless REPLACE; options are checked."""
    fp(("FUNCTION", "LOAD", LIB),
       ("FUNCTION", "LOAD", LIB),
       ("FUNCTION", "LOAD", "REPLACE", LIB.replace("args[1]", "'v2'")),
       ("FCALL", "myfunc", "0"),
       ("FUNCTION", "LOAD", "replace", LIB),
       ("FUNCTION", "LOAD", "FOO", LIB),
       ("FUNCTION", "LOAD", "REPLACE", "REPLACE", LIB),
       ("FUNCTION", "LOAD"),
       ("FUNCTION", "LOAD", "REPLACE"))


METADATA_CASES = [
    "return 1",
    "#!lua",
    "#!lua name=x4",
    "#!lua\n",
    "#!\n",
    "#!lua name=\n",
    "#!lua name=a-b\n",
    "#!lua name=ab=c\n",
    "#!lua foo\n",
    "#!lua name=x =y\n",
    "#!lua name=x foo=bar\n",
    "#!lua name=x name=y\n",
    '#!lua name="q r"\n',
    '#!lua name="x\n',
    "#! lua name=sp\nredis.register_function('sp', function() return 1 end)",
    "#!python name=x\n",
    "#!lua name=x5\n",
    "#!lua name=x6\nreturn 1",
    "#!LUA name=x2\nredis.register_function('f2', function() return 2 end)",
    "#!lua  name=x3   \nredis.register_function('f3', function() return 2 end)",
    "#!lua\tname=x51\nredis.register_function('f51', function() return 2 end)",
    "#!lua name=x50\r\nredis.register_function('f50', function() return 2 end)",
    "#!lua Name=xn\nredis.register_function('fn', function() return 2 end)",
    "#!lua name=" + "b" * 300 + "\nredis.register_function('f40', function() end)",
]


def test_library_metadata(fp):
    """The #! line's errors and accepted spellings are Redis'."""
    fp(*[("FUNCTION", "LOAD", code) for code in METADATA_CASES])


REGISTER_CASES = [
    "redis.register_function('f-7', function() return 2 end)",
    "redis.register_function('', function() return 2 end)",
    "redis.register_function('f9', 'notfunc')",
    "redis.register_function('f10')",
    "redis.register_function('f11', function() end, 3)",
    "redis.register_function()",
    "redis.register_function{function_name='f12'}",
    "redis.register_function{callback=function() end}",
    "redis.register_function{function_name='f14', callback=function() end, flags={'bad'}}",
    "redis.register_function{function_name='f15', callback=function() end, flags='no-writes'}",
    "redis.register_function{function_name='f16', callback=function() end, foo=1}",
    "redis.register_function{function_name='f17', callback=function() end, description=1}",
    "redis.register_function{function_name={}, callback=function() end}",
    "redis.register_function{function_name='f18', callback=function() end, description={}}",
    "redis.register_function{function_name='f35', callback='x'}",
    "redis.register_function{function_name='f36', callback=function() end, flags={1}}",
    "redis.register_function{'f37', function() end}",
    "redis.register_function{[true]=1}",
    "redis.register_function({}, function() end)",
    "redis.register_function(1, function() end)",
    "redis.register_function('f19', function() return 2 end) "
    "redis.register_function('f19', function() return 2 end)",
    "redis.register_function('" + "a" * 65 + "', function() end)",
    "redis.register_function{function_name='f32', callback=function() end, "
    "flags={'NO-WRITES', 'allow-oom'}}",
]


def test_register_function_errors(fp):
    """redis.register_function's argument checks give Redis' errors, one library each."""
    cmds = [("FUNCTION", "LOAD", lib("r%d" % i, body)) for i, body in enumerate(REGISTER_CASES)]
    fp(*cmds)


LOAD_SANDBOX_CASES = [
    "redis.call('set', 'a', 'b')",
    "redis.pcall('set', 'a', 'b')",
    "local x = redis.setresp",
    "local x = redis.sha1hex",
    "local x = redis.error_reply",
    "local x = string",
    "local x = math",
    "local x = cjson",
    "local x = pairs",
    "local x = error",
    "local x = _G",
    "local x = KEYS",
    "x = 1",
    "redis.foo = 1",
    "local y = nosuch",
    "redis.log(redis.LOG_WARNING, 'loading') redis.register_function('l1', function() return 1 end)",
    "local v = redis.REDIS_VERSION .. redis.REDIS_VERSION_NUM redis.register_function('l2', "
    "function() return v end)",
    "local t = nil + 1",
    "syntax error here",
    "redis.register_function('ok1', function() return 2 end) return 5",
]


def test_load_time_sandbox(fp):
    """While a library loads only register_function, log and the constants exist."""
    cmds = [("FUNCTION", "LOAD", lib("s%d" % i, body)) for i, body in enumerate(LOAD_SANDBOX_CASES)]
    cmds += [("FCALL", "l2", "0"), ("FCALL", "ok1", "0")]
    fp(*cmds)


def test_load_timeout(fp):
    """A library whose loading code never ends is stopped after Redis' 500 ms."""
    fp(("FUNCTION", "LOAD", lib("loop", "while true do end")),
       ("FUNCTION", "LIST"))


def test_function_runtime_errors(fp):
    """Errors raised by a function name it and its line."""
    fp(("FUNCTION", "LOAD", lib("e2", "redis.register_function('e2', function(keys, args)\n"
                                      " local x = redis.call('nosuch')\n return x end)")),
       ("FCALL", "e2", "0"),
       ("FUNCTION", "LOAD", lib("e3", "redis.register_function('e3', function(keys, args)\n"
                                      " error('boom') end)")),
       ("FCALL", "e3", "0"),
       ("FUNCTION", "LOAD", lib("e9", "redis.register_function('e9', function(keys, args) "
                                      "x = 5 return 1 end)")),
       ("FCALL", "e9", "0"),
       ("FUNCTION", "LOAD", lib("e8", "local function helper() return string.rep('x', 3) end\n"
                                      "redis.register_function('e8', function() return helper() end)")),
       ("FCALL", "e8", "0"))


def test_function_runtime_globals(fp):
    """At run time a function sees EVAL's globals but no KEYS or ARGV."""
    names = ("_G _VERSION assert collectgarbage dofile error gcinfo getfenv getmetatable ipairs load "
             "loadfile loadstring module newproxy next pairs pcall print rawequal rawget rawset require "
             "select setfenv setmetatable tonumber tostring type unpack xpcall coroutine debug io math "
             "os package string table bit cjson cmsgpack struct redis KEYS ARGV").split()
    rnames = ("call pcall log setresp set_repl error_reply status_reply sha1hex breakpoint debug "
              "replicate_commands REPL_ALL acl_check_cmd register_function").split()
    body = "redis.register_function('probe', function(keys, args)\n local out = {}\n"
    for n in names:
        body += " out[#out+1] = '%s:' .. tostring(pcall(function() local x = %s end))\n" % (n, n)
    for n in rnames:
        body += " out[#out+1] = 'redis.%s:' .. tostring(redis.%s ~= nil)\n" % (n, n)
    body += " return table.concat(out, ' ')\nend)"
    fp(("FUNCTION", "LOAD", lib("probe", body)), ("FCALL", "probe", "0"))


def test_fcall_errors(fp):
    """FCALL checks the function, then numkeys, as Redis does."""
    fp(("FUNCTION", "LOAD", LIB),
       ("FCALL", "nosuch", "0"),
       ("FCALL", "nosuch", "x"),
       ("FCALL", "myfunc", "x"),
       ("FCALL", "myfunc", "1.5"),
       ("FCALL", "myfunc", "5"),
       ("FCALL", "myfunc", "-1"),
       ("FCALL", "myfunc", " 1", "a"),
       ("FCALL", "myfunc"),
       ("FCALL_RO",),
       ("FCALL_RO", "nosuch", "0"))


def test_flags_and_read_only(fp):
    """no-writes functions run read-only; FCALL_RO refuses others; flags list in Redis' order."""
    fp(("FUNCTION", "LOAD", lib("w", "redis.register_function('w', function(keys, args) "
                                     "return redis.call('set', keys[1], args[1]) end)")),
       ("FCALL", "w", "1", "k", "v"),
       ("FCALL_RO", "w", "1", "k", "v"),
       ("FUNCTION", "LOAD", lib("r", "redis.register_function{function_name='r', "
                                     "callback=function(keys, args)\n"
                                     " return redis.call('set', keys[1], args[1]) end, "
                                     "flags={'no-writes'}}")),
       ("FCALL", "r", "1", "k", "v"),
       ("FCALL_RO", "r", "1", "k", "v"),
       ("FUNCTION", "LOAD", lib("g", "redis.register_function{function_name='g', "
                                     "callback=function(keys, args) return redis.call('get', keys[1]) "
                                     "end, flags={'no-writes'}, description='reads'}")),
       ("FCALL_RO", "g", "1", "k"),
       ("FUNCTION", "LIST", "LIBRARYNAME", "g"),
       ("FUNCTION", "LOAD", lib("all", "redis.register_function{function_name='allf', "
                                       "callback=function() return 1 end, flags={'allow-cross-slot-keys', "
                                       "'no-cluster', 'allow-stale', 'allow-oom', 'no-writes'}}")),
       ("FUNCTION", "LIST", "LIBRARYNAME", "all"))
    fp.resp3()
    fp(("FUNCTION", "LIST", "LIBRARYNAME", "all"),
       ("FUNCTION", "LIST", "LIBRARYNAME", "g", "WITHCODE"))


def test_list_and_stats_shapes(fp):
    """FUNCTION LIST and STATS replies, in RESP2 and RESP3."""
    cmds = [("FUNCTION", "LIST"), ("FUNCTION", "STATS"),
            ("FUNCTION", "LOAD", LIB),
            ("FUNCTION", "LIST"), ("FUNCTION", "LIST", "WITHCODE"),
            ("FUNCTION", "LIST", "LIBRARYNAME", "my*"), ("FUNCTION", "LIST", "LIBRARYNAME", "MY*"),
            ("FUNCTION", "LIST", "LIBRARYNAME", "x*"),
            ("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "mylib"),
            ("FUNCTION", "STATS")]
    fp(*cmds)
    fp.resp3()
    fp(*cmds[3:])


def test_list_argument_errors(fp):
    """FUNCTION LIST's argument errors."""
    fp(("FUNCTION", "LIST", "LIBRARYNAME"),
       ("FUNCTION", "LIST", "WITHCODE", "WITHCODE"),
       ("FUNCTION", "LIST", "foo"),
       ("FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"))


def test_delete_flush_kill_help(fp):
    """DELETE, FLUSH, KILL, STATS and HELP, with their errors."""
    fp(("FUNCTION", "LOAD", LIB),
       ("FUNCTION", "DELETE", "nosuch"),
       ("FUNCTION", "DELETE", "MYLIB"),
       ("FUNCTION", "DELETE", "mylib"),
       ("FCALL", "myfunc", "0"),
       ("FUNCTION", "DELETE"),
       ("FUNCTION", "DELETE", "a", "b"),
       ("FUNCTION", "LOAD", LIB),
       ("FUNCTION", "FLUSH", "foo"),
       ("FUNCTION", "FLUSH", "ASYNC", "SYNC"),
       ("FUNCTION", "FLUSH", "async"),
       ("FUNCTION", "LIST"),
       ("FUNCTION", "FLUSH", "SYNC"),
       ("FUNCTION", "FLUSH"),
       ("FUNCTION", "KILL"),
       ("FUNCTION", "KILL", "x"),
       ("FUNCTION", "STATS", "x"),
       ("FUNCTION", "HELP"),
       ("FUNCTION", "help"),
       ("FUNCTION", "HELP", "x"),
       ("FUNCTION",),
       ("FUNCTION", "nosuch"),
       ("FUNCTION", "DUMP", "x"),
       ("FUNCTION", "RESTORE"))


def test_function_names_across_libraries(fp):
    """Function names are unique across libraries regardless of case; library names are not."""
    fp(("FUNCTION", "LOAD", LIB),
       ("FUNCTION", "LOAD", lib("other", "redis.register_function('MYFUNC', function() return 2 end)")),
       ("FUNCTION", "LOAD", lib("Mylib", "redis.register_function('fm', function() return 2 end)")),
       ("FCALL", "fm", "0"),
       ("FUNCTION", "LOAD", "REPLACE", lib("mylib", "redis.register_function('myfunc2', "
                                                    "function() return 3 end)")),
       ("FCALL", "myfunc", "0"),
       ("FCALL", "myfunc2", "0"),
       ("FUNCTION", "STATS"))


def test_case_variants_in_one_library(r):
    """One library may register names differing in case; FCALL finds one function for both."""
    r.function_flush()
    try:
        r.function_load(lib("x52", "redis.register_function('f52', function() return 'lower' end) "
                                   "redis.register_function('F52', function() return 'upper' end)"))
        # which one wins follows Redis' hash order; both names reach the same one
        assert r.fcall("F52", 0) == r.fcall("f52", 0)
        assert r.fcall("f52", 0) in (b"lower", b"upper")
        stats = r.execute_command("FUNCTION", "STATS")
        assert stats[3] == [b"LUA", [b"libraries_count", 1, b"functions_count", 2]]
        assert len(r.function_list()) == 1
    finally:
        r.function_flush()


def _bulk(reply):
    assert reply.startswith(b"$"), reply
    return reply[reply.index(b"\r\n") + 2:-2]


def test_dump_is_redis_bytes(fp):
    """FUNCTION DUMP's payload is byte-identical to Redis' (empty and one library)."""
    fp(("FUNCTION", "DUMP"),
       ("FUNCTION", "LOAD", LIB),
       ("FUNCTION", "DUMP"),
       ("FUNCTION", "LOAD", lib("short", "redis.register_function('s', function() end)")),
       ("FUNCTION", "DELETE", "mylib"),
       ("FUNCTION", "DUMP"))


def test_restore_policies(fp):
    """RESTORE of a Redis payload with APPEND, REPLACE and FLUSH, and its errors."""
    fp(("FUNCTION", "LOAD", LIB))
    payload = _bulk(fp.real.call("FUNCTION", "DUMP"))
    fp(("FUNCTION", "LOAD", lib("lib2", "redis.register_function('f2', function() return 2 end)")))
    two = _bulk(fp.real.call("FUNCTION", "DUMP"))
    fp(("FUNCTION", "RESTORE", payload),
       ("FUNCTION", "RESTORE", payload, "APPEND"),
       ("FUNCTION", "RESTORE", payload, "REPLACE"),
       ("FUNCTION", "RESTORE", payload, "replace"),
       ("FUNCTION", "RESTORE", payload, "FOO"),
       ("FUNCTION", "RESTORE", payload, "FLUSH", "x"),
       ("FUNCTION", "RESTORE", payload, "FLUSH"),
       ("FUNCTION", "LIST"),
       ("FCALL", "myfunc", "0", "back"),
       ("FUNCTION", "DELETE", "mylib"),
       ("FUNCTION", "LOAD", lib("other", "redis.register_function('myfunc', function() return 3 end)")),
       ("FUNCTION", "RESTORE", payload),
       ("FUNCTION", "RESTORE", payload, "REPLACE"),
       ("FUNCTION", "FLUSH"),
       ("FUNCTION", "RESTORE", two),
       ("FUNCTION", "STATS"),
       ("FCALL", "f2", "0"),
       ("FUNCTION", "RESTORE", payload[:-1]),
       ("FUNCTION", "RESTORE", b"\x00" + payload[1:]),
       ("FUNCTION", "RESTORE", b""),
       ("FUNCTION", "RESTORE", b"\n\x00" + b"\x00" * 8),
       ("FUNCTION", "RESTORE", b"garbage"))


def test_dump_round_trip_between_servers(fp):
    """Each server restores the other's dump of several libraries."""
    for c in (fp.sonic, fp.real):
        c.call("FUNCTION", "LOAD", LIB)
        c.call("FUNCTION", "LOAD", lib("b", "redis.register_function('fb', function() return 'b' end)"))
    sonic_dump = _bulk(fp.sonic.call("FUNCTION", "DUMP"))
    real_dump = _bulk(fp.real.call("FUNCTION", "DUMP"))
    assert fp.sonic.call("FUNCTION", "RESTORE", real_dump, "FLUSH") == b"+OK\r\n"
    assert fp.real.call("FUNCTION", "RESTORE", sonic_dump, "FLUSH") == b"+OK\r\n"
    fp(("FCALL", "fb", "0"), ("FCALL", "myfunc", "0", "x"), ("FUNCTION", "STATS"))


def test_functions_survive_flushall(fp):
    """FLUSHALL leaves libraries alone."""
    fp(("FUNCTION", "LOAD", LIB), ("FLUSHALL",), ("FCALL", "myfunc", "0", "still"))


def test_fcall_in_multi(fp):
    """FCALL queues in MULTI and runs at EXEC."""
    fp(("FUNCTION", "LOAD", LIB),
       ("MULTI",), ("FCALL", "myfunc", "0", "q"), ("EXEC",))


def test_redis_py_function_api(r):
    """redis-py's function_* helpers and fcall work on both servers."""
    r.function_flush()
    try:
        assert r.function_load(LIB) == b"mylib"
        assert r.fcall("myfunc", 0, "x") == b"x"
        assert r.fcall_ro  # exists
        dumped = r.function_dump()
        r.function_flush()
        assert r.function_restore(dumped) is True
        assert r.fcall("myfunc", 0, "y") == b"y"
        assert r.function_delete("mylib") is True
    finally:
        r.function_flush()


# ---------------------------------------------------------------------------
# Persistence and replication


def _sonic_server_with(code):
    import sonic.commands  # noqa: F401  (registers the commands)
    from tests.helpers import Client, call, make_server
    server = make_server()
    client = Client(server)
    assert call(client, "FUNCTION", "LOAD", code) == code.split("name=")[1].split("\n")[0].encode()
    return server, client


def test_snapshot_holds_function2_records(real_port):
    """An RDB file written by sonic holds each library as Redis' FUNCTION2 record, after the AUX fields."""
    import io
    from sonic.rdb.keyspace import write_steps
    from sonic.rdb.reader import iter_rdb
    from sonic.rdb.writer import RdbWriter
    server, _ = _sonic_server_with(LIB)
    out = io.BytesIO()
    for _ in write_steps(server, RdbWriter(out)):
        pass
    data = out.getvalue()
    real = RawClient(real_port)
    try:
        real.call("FUNCTION", "FLUSH")
        real.call("FUNCTION", "LOAD", LIB)
        record = _bulk(real.call("FUNCTION", "DUMP"))[:-10]
        real.call("FUNCTION", "FLUSH")
    finally:
        real.close()
    assert data.index(record) > data.index(b"aof-base")
    reader = iter_rdb(io.BytesIO(data))
    list(reader)
    assert reader.functions == [LIB.encode()]


def test_loading_a_snapshot_replaces_libraries():
    """Loading an RDB file makes its libraries the server's (others are dropped)."""
    import io
    from sonic.rdb.keyspace import build_keyspace, install_keyspace, write_steps
    from sonic.rdb.reader import iter_rdb
    from sonic.rdb.writer import RdbWriter
    from tests.helpers import call
    server, _ = _sonic_server_with(LIB)
    out = io.BytesIO()
    for _ in write_steps(server, RdbWriter(out)):
        pass
    other, client = _sonic_server_with(lib("old", "redis.register_function('oldf', function() return 1 end)"))
    install_keyspace(other, build_keyspace(other, iter_rdb(io.BytesIO(out.getvalue())), 0))
    assert call(client, "FCALL", "myfunc", "0", "loaded") == b"$6\r\nloaded\r\n"
    assert call(client, "FCALL", "oldf", "0").message == "ERR Function not found"


def test_library_commands_propagate():
    """FUNCTION LOAD, DELETE, FLUSH and RESTORE reach the replication stream as sent; FCALL sends its writes."""
    from tests.helpers import call, stream_commands, with_propagator
    import sonic.commands  # noqa: F401
    server, c, units = with_propagator()
    w = lib("w", "redis.register_function('w', function(keys, args) "
                 "return redis.call('set', keys[1], args[1]) end)")
    call(c, "FUNCTION", "LOAD", w)
    call(c, "FCALL", "w", "1", "k", "v")
    payload = call(c, "FUNCTION", "DUMP")
    call(c, "FUNCTION", "DELETE", "w")
    call(c, "FUNCTION", "DELETE", "w")  # fails: nothing to propagate
    call(c, "FUNCTION", "RESTORE", payload)
    call(c, "FUNCTION", "FLUSH")
    call(c, "FUNCTION", "LIST")
    got = [argv for argv in stream_commands(units) if argv[0] != b"SELECT"]
    assert got == [[b"FUNCTION", b"LOAD", w.encode()], [b"set", b"k", b"v"],
                   [b"FUNCTION", b"DELETE", b"w"], [b"FUNCTION", b"RESTORE", payload],
                   [b"FUNCTION", b"FLUSH"]]


def _wait(predicate, what, timeout=20.0):
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def _libs(client):
    out = []
    for entry in client.execute_command("FUNCTION", "LIST"):
        if isinstance(entry, dict):  # redis-py may parse each library into a dict
            name = entry.get(b"library_name", entry.get("library_name"))
        else:
            name = entry[1]
        out.append(name if isinstance(name, bytes) else name.encode())
    return sorted(out)


def test_redis_replica_of_sonic_gets_functions(real_port):
    """A redis-server replica of sonic gets the libraries by full sync, then every library command."""
    import os
    import shutil
    import subprocess
    import tempfile
    import redis
    from tests.conftest import free_port, start_sonic, stop, wait_for_port
    proc, port, _ = start_sonic()
    workdir = tempfile.mkdtemp(prefix="sonic-fn-")
    replica_proc = None
    try:
        m = redis.Redis(port=port)
        m.function_load(LIB)
        rport = free_port()
        replica_proc = subprocess.Popen(
            ["redis-server", "--port", str(rport), "--save", "", "--appendonly", "no", "--dir", workdir,
             "--replicaof", "127.0.0.1", str(port), "--logfile", os.path.join(workdir, "r.log")],
            stdout=subprocess.DEVNULL)
        wait_for_port(rport, replica_proc)
        r = redis.Redis(port=rport)
        _wait(lambda: r.info("replication").get("master_link_status") == "up", "the full sync")
        _wait(lambda: _libs(r) == [b"mylib"], "the library on the replica")
        m.function_load(lib("b", "redis.register_function{function_name='fb', "
                                 "callback=function() return 'b' end, flags={'no-writes'}}"))
        _wait(lambda: _libs(r) == [b"b", b"mylib"], "FUNCTION LOAD on the replica")
        assert r.fcall_ro("fb", 0) == b"b"
        m.function_delete("mylib")
        _wait(lambda: _libs(r) == [b"b"], "FUNCTION DELETE on the replica")
        m.function_flush()
        _wait(lambda: _libs(r) == [], "FUNCTION FLUSH on the replica")
    finally:
        if replica_proc is not None:
            stop(replica_proc)
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def test_sonic_replica_of_redis_gets_functions(real_port):
    """A sonic replica of redis-server loads the master's libraries from its RDB and its stream."""
    import os
    import shutil
    import subprocess
    import tempfile
    import redis
    from tests.conftest import free_port, start_sonic, stop, wait_for_port
    workdir = tempfile.mkdtemp(prefix="sonic-fn-")
    mport = free_port()
    mproc = subprocess.Popen(
        ["redis-server", "--port", str(mport), "--save", "", "--appendonly", "no", "--dir", workdir,
         "--logfile", os.path.join(workdir, "m.log")], stdout=subprocess.DEVNULL)
    proc = None
    try:
        wait_for_port(mport, mproc)
        m = redis.Redis(port=mport)
        m.function_load(lib("g", "redis.register_function{function_name='g', "
                                 "callback=function(keys) return redis.call('get', keys[1]) end, "
                                 "flags={'no-writes'}}"))
        m.set("k", "v")
        proc, port, _ = start_sonic("--replicaof", "127.0.0.1 %d" % mport)
        s = redis.Redis(port=port)
        _wait(lambda: s.info("replication").get("master_link_status") == "up", "the full sync")
        _wait(lambda: _libs(s) == [b"g"], "the library on sonic")
        assert s.fcall_ro("g", 1, "k") == b"v"
        m.function_load(LIB)
        _wait(lambda: _libs(s) == [b"g", b"mylib"], "FUNCTION LOAD on sonic")
        m.function_delete("g")
        _wait(lambda: _libs(s) == [b"mylib"], "FUNCTION DELETE on sonic")
    finally:
        if proc is not None:
            stop(proc)
        stop(mproc)
        shutil.rmtree(workdir, ignore_errors=True)


def test_busy_function_stats_and_kill(sonic_port, real_port):
    """A long-running function: STATS shows it, others get the FUNCTION KILL BUSY text, FUNCTION KILL stops it."""
    import re
    import threading
    import time
    spin = lib("loop", "redis.register_function{function_name='spin', callback=function(keys, args) "
                       "local i = 0 while true do i = i + 1 end end, flags={'no-writes'}}")
    results = {}
    for name, port in (("sonic", sonic_port), ("real", real_port)):
        a, b = RawClient(port), RawClient(port)
        got = results[name] = []
        b.call("FUNCTION", "FLUSH")
        b.call("CONFIG", "SET", "busy-reply-threshold", "100")
        try:
            b.call("FUNCTION", "LOAD", spin)
            out = []
            t = threading.Thread(target=lambda: out.append(a.call("FCALL", "spin", "1", "key1", "arg1")))
            t.start()
            time.sleep(0.4)
            got.append(re.sub(rb":\d+\r\n\$7\r\nengines", b":N\r\n$7\r\nengines",
                              b.call("FUNCTION", "STATS")))
            got.append(b.call("GET", "x"))
            got.append(b.call("SCRIPT", "KILL"))
            got.append(b.call("FUNCTION", "KILL"))
            t.join(10)
            got.extend(out)
            got.append(b.call("FUNCTION", "KILL"))
        finally:
            b.call("CONFIG", "SET", "busy-reply-threshold", "5000")
            b.call("FUNCTION", "FLUSH")
            a.close()
            b.close()
    assert results["sonic"] == results["real"]
    assert b"running_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin" in results["real"][0]


def _payload(body):
    """A FUNCTION DUMP-style payload around C{body}: RDB version 10 and the CRC-64."""
    import struct as pystruct
    from sonic.rdb.format import crc64
    data = body + pystruct.pack("<H", 10)
    return data + pystruct.pack("<Q", crc64(data))


def test_restore_bad_payloads(fp):
    """RESTORE refuses non-function records, broken or duplicate libraries, newer RDB versions."""
    from sonic.rdb.writer import encode_string
    rec = b"\xf5" + encode_string(LIB.encode())
    bad_code = b"\xf5" + encode_string(lib("bad", "syntax error here").encode())
    no_funcs = b"\xf5" + encode_string(b"#!lua name=empty\n")
    import struct as pystruct
    from sonic.rdb.format import crc64
    newer = rec + pystruct.pack("<H", 11)
    newer += pystruct.pack("<Q", crc64(newer))
    fp(("FUNCTION", "RESTORE", _payload(b"\x00" + encode_string(b"x"))),
       ("FUNCTION", "RESTORE", _payload(rec + rec)),
       ("FUNCTION", "RESTORE", _payload(bad_code)),
       ("FUNCTION", "RESTORE", _payload(no_funcs)),
       ("FUNCTION", "RESTORE", _payload(b"\xf5")),
       ("FUNCTION", "RESTORE", newer),
       ("FUNCTION", "RESTORE", _payload(b"")),
       ("FUNCTION", "LIST"),
       ("FUNCTION", "RESTORE", _payload(rec)),
       ("FCALL", "myfunc", "0", "ok"))


@pytest.mark.parametrize("preamble", [True, False])
def test_aof_keeps_libraries(tmp_path, monkeypatch, preamble):
    """Libraries survive an AOF reload: logged commands, and a rewrite's base (RDB or commands)."""
    import sonic.commands  # noqa: F401
    from tests.helpers import Client, call
    from tests.unit.test_aof import aof_server, reload, run_rewrite
    monkeypatch.chdir(tmp_path)
    server = aof_server(aof_use_rdb_preamble=preamble)
    c = Client(server)
    call(c, "FUNCTION", "LOAD", LIB)
    c2 = Client(reload(server, aof_use_rdb_preamble=preamble))
    assert call(c2, "FCALL", "myfunc", "0", "logged") == b"$6\r\nlogged\r\n"
    call(c, "FUNCTION", "LOAD", lib("b", "redis.register_function('fb', function() return 'b' end)"))
    server.aof.start_rewrite()
    run_rewrite(server)
    call(c, "FUNCTION", "DELETE", "mylib")
    c3 = Client(reload(server, aof_use_rdb_preamble=preamble))
    assert call(c3, "FCALL", "fb", "0") == b"$1\r\nb\r\n"
    assert call(c3, "FCALL", "myfunc", "0").message == "ERR Function not found"

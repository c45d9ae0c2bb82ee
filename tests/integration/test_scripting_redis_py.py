"""Scripts through redis-py 8, unmodified, against a real sonic process (and redis-server).

redis-py's C{register_script} (EVALSHA, falling back to EVAL on NOSCRIPT),
its C{Lock} (acquire, extend, reacquire and release are Lua scripts), the
asyncio client, and the BUSY state with two connections: a runaway script
makes the other client get C{-BUSY}, SCRIPT KILL stops it and its caller
gets Redis' error.
"""

import threading
import time

import pytest
import redis
import redis.asyncio
from redis.exceptions import LockError, LockNotOwnedError, NoScriptError, ResponseError

from tests.conftest import start_sonic, stop


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def client(request, server_port):
    """A redis-py client speaking RESP2 or RESP3 on sonic or redis-server, flushed."""
    c = redis.Redis(port=server_port, protocol=request.param)
    c.flushall()
    c.script_flush()
    yield c
    c.flushall()
    c.close()


def test_register_script_loads_on_noscript(client):
    """register_script runs EVALSHA, gets NOSCRIPT once, loads the script and retries."""
    incr_by = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert client.script_exists(incr_by.sha) == [False]
    assert incr_by(keys=["counter"], args=[5]) == 5
    assert client.script_exists(incr_by.sha) == [True]
    assert incr_by(keys=["counter"], args=[2]) == 7
    client.script_flush()
    assert incr_by(keys=["counter"], args=[1]) == 8


def test_register_script_in_pipeline(client):
    """A script in a transaction pipeline is loaded first, then runs inside MULTI/EXEC."""
    getset = client.register_script(
        "local old = redis.call('GET', KEYS[1]) redis.call('SET', KEYS[1], ARGV[1]) return old")
    pipe = client.pipeline()
    getset(keys=["k"], args=["a"], client=pipe)
    getset(keys=["k"], args=["b"], client=pipe)
    assert pipe.execute() == [None, b"a"]


def test_evalsha_unknown_raises_noscript(client):
    """EVALSHA of an unknown sha is redis-py's NoScriptError."""
    with pytest.raises(NoScriptError):
        client.evalsha("0" * 40, 0)


def test_script_errors_are_response_errors(client):
    """Errors raised in scripts reach redis-py as ResponseError with Redis' text."""
    client.set("s", "v")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        client.eval("return redis.call('LPUSH', KEYS[1], 'x')", 1, "s")
    with pytest.raises(ResponseError, match="Script attempted to access nonexistent global variable"):
        client.eval("return undefined_thing", 0)
    with pytest.raises(ResponseError, match="Write commands are not allowed from read-only scripts"):
        client.eval_ro("return redis.call('SET', KEYS[1], 'x')", 1, "k")
    assert client.eval_ro("return redis.call('GET', KEYS[1])", 1, "s") == b"v"


def test_conversions_through_redis_py(client):
    """Lua tables, status and nil come back as redis-py values."""
    assert client.eval("return {1, 'two', {3}, false}", 0) == [1, b"two", [3], None]
    assert client.eval("return redis.status_reply('FINE')", 0) in (b"FINE", "FINE", True)
    assert client.eval("return KEYS[1] .. ARGV[1]", 1, "a", "b") == b"ab"


def test_lock_acquire_extend_release(client):
    """redis-py's Lock works: acquire, owned, extend, reacquire, release, and a foreign release fails."""
    lock = client.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    assert lock.owned()
    assert not client.lock("resource", timeout=10).acquire(blocking=False)
    assert lock.extend(5)
    assert client.pttl("resource") > 10000
    assert lock.reacquire()
    assert client.pttl("resource") <= 10000
    lock.release()
    assert client.get("resource") is None
    with pytest.raises(LockError):
        lock.release()
    other = client.lock("resource", timeout=10)
    assert other.acquire(blocking=False)
    client.set("resource", "someone-else")
    with pytest.raises(LockNotOwnedError):
        other.release()


def test_lock_blocking_handover(client):
    """A blocking Lock.acquire gets the lock once its holder releases it."""
    holder = client.lock("job", timeout=5)
    assert holder.acquire()
    got = []

    def waiter():
        c = redis.Redis(port=client.connection_pool.connection_kwargs["port"])
        lock = c.lock("job", timeout=5, sleep=0.01)
        got.append(lock.acquire(blocking_timeout=5))
        lock.release()
        c.close()
    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.1)
    holder.release()
    t.join(10)
    assert got == [True]


def test_asyncio_register_script(server_port):
    """The asyncio client's register_script and Lock work the same."""
    import asyncio

    async def scenario():
        c = redis.asyncio.Redis(port=server_port, protocol=3)
        await c.flushall()
        script = c.register_script("return redis.call('INCR', KEYS[1])")
        assert await script(keys=["n"]) == 1
        assert await script(keys=["n"]) == 2
        lock = c.lock("alock", timeout=5)
        assert await lock.acquire(blocking=False)
        await lock.release()
        await c.flushall()
        await c.aclose()
    asyncio.run(scenario())


@pytest.fixture
def busy_server():
    """A sonic process of its own (the BUSY test changes busy-reply-threshold)."""
    proc, port, _ = start_sonic()
    yield port
    stop(proc)


def _run_in_thread(func):
    result = {}

    def target():
        try:
            result["value"] = func()
        except Exception as e:  # the caller's reply is an error: keep it
            result["error"] = e
    t = threading.Thread(target=target)
    t.start()
    return t, result


def _wait_busy(c, deadline=5.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            c.ping()
        except ResponseError as e:
            if str(e).startswith("BUSY"):
                return str(e)
            raise
        time.sleep(0.02)
    raise AssertionError("the server never became BUSY")


def test_busy_and_script_kill_two_clients(busy_server):
    """A script past busy-reply-threshold makes another client get BUSY; SCRIPT KILL stops it; the caller gets Redis' error."""
    runner = redis.Redis(port=busy_server)
    other = redis.Redis(port=busy_server, protocol=2)
    other.config_set("busy-reply-threshold", 100)
    t, result = _run_in_thread(lambda: runner.eval("local i = 0 while true do i = i + 1 end", 0))
    message = _wait_busy(other)
    assert message == "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    with pytest.raises(ResponseError, match="^BUSY"):
        other.get("x")
    assert other.script_kill()
    t.join(10)
    assert not t.is_alive()
    assert str(result["error"]).startswith("Script killed by user with SCRIPT KILL... script: ")
    assert other.ping() is True
    # The killed script's client goes on working.
    assert runner.eval("return 1", 0) == 1


def test_busy_write_script_is_unkillable(busy_server):
    """SCRIPT KILL answers UNKILLABLE once the script wrote; the script ends by itself and its write stays."""
    runner = redis.Redis(port=busy_server)
    other = redis.Redis(port=busy_server)
    other.config_set("busy-reply-threshold", 100)
    script = "redis.call('SET', 'w', '1') local i = 0 while i < 3e7 do i = i + 1 end return i"
    t, result = _run_in_thread(lambda: runner.eval(script, 0))
    _wait_busy(other)
    with pytest.raises(ResponseError, match="^UNKILLABLE Sorry the script already executed write commands"):
        other.script_kill()
    t.join(60)
    assert result.get("value") == 30000000
    assert other.get("w") == b"1"
    with pytest.raises(ResponseError, match="^NOTBUSY No scripts in execution right now."):
        other.script_kill()


def test_monitor_shows_script_commands(server_port):
    """MONITOR shows EVAL, then each command of the script as [<db> lua], the db following SELECT (as Redis)."""
    import re
    import socket
    m = socket.create_connection(("127.0.0.1", server_port))
    m.sendall(b"*1\r\n$7\r\nMONITOR\r\n")
    assert m.recv(100) == b"+OK\r\n"
    c = redis.Redis(port=server_port)
    c.eval("redis.call('set','a','1') redis.call('select', '2') return redis.call('get','a')", 1, "k")
    data = b""
    m.settimeout(5)
    while b'"get" "a"\r\n' not in data:
        data += m.recv(10000)
    m.close()
    c.close()
    lines = [re.sub(rb"^\+[0-9.]+ \[(\d+) ([^\]]+)\]", rb"[\1 \2]", line) for line in data.split(b"\r\n")]
    start = next(i for i, line in enumerate(lines) if b'"EVAL"' in line)
    assert lines[start + 1:start + 4] == [b'[0 lua] "set" "a" "1"', b'[2 lua] "select" "2"', b'[2 lua] "get" "a"']

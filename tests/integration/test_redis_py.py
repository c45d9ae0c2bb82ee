"""redis-py 8, unmodified, against a real C{twistd -n sonic} process.

Sync and asyncio clients, RESP2 and RESP3, redis-py's default connection
(C{HELLO 3} and C{CLIENT SETINFO} on connect), pipelines with and without
MULTI/EXEC, WATCH, and the mapping of sonic's errors to redis-py's
exception classes.
"""

import asyncio

import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.conftest import start_sonic, stop

PASSWORD = "integration-pw"

#: AuthenticationError is a ConnectionError, which redis-py retries with
#: back-off by default: tests that expect it fail fast instead.
NO_RETRY = dict(retry=Retry(NoBackoff(), 0))


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def client(request, sonic_port):
    """A sync redis-py client speaking RESP2 or RESP3, on a flushed sonic."""
    c = redis.Redis(port=sonic_port, protocol=request.param, **NO_RETRY)
    c.flushall()
    yield c
    c.flushall()
    c.close()


@pytest.fixture(scope="module")
def auth_port():
    """Port of a sonic started with --requirepass."""
    proc, port, _ = start_sonic("--requirepass", PASSWORD)
    yield port
    stop(proc)


# -- sync client, both protocols -------------------------------------------------------

def test_strings_and_keys(client):
    """Basic string and key commands give redis-py's usual Python values in either protocol."""
    assert client.set("a", "1") is True
    assert client.get("a") == b"1"
    assert client.get("missing") is None
    assert client.incr("a") == 2
    assert client.incrby("a", 5) == 7
    assert client.mset({"x": "1", "y": "2"}) is True
    assert client.mget("x", "y", "nope") == [b"1", b"2", None]
    assert client.exists("a", "x", "nope") == 2
    assert client.expire("a", 100) is True
    assert 0 < client.ttl("a") <= 100
    assert client.delete("a", "x") == 2
    assert client.dbsize() == 1
    assert client.set("k", "v", nx=True) is True
    assert client.set("k", "w", nx=True) is None
    assert client.ping() is True
    assert client.echo("hi") == b"hi"


def test_protocol_in_use(client):
    """The server reports the protocol the client asked for."""
    assert client.client_info()["resp"] == str(client.connection_pool.connection_kwargs["protocol"])


def test_decode_responses(sonic_port):
    """decode_responses=True returns str values."""
    c = redis.Redis(port=sonic_port, protocol=3, decode_responses=True)
    c.set("d", "välue")
    assert c.get("d") == "välue"
    assert c.client_id() > 0
    c.delete("d")
    c.close()


def test_select_db_option(sonic_port):
    """Redis(db=n) selects database n on connect; keys there are separate from db 0."""
    c0 = redis.Redis(port=sonic_port)
    c3 = redis.Redis(port=sonic_port, db=3)
    c3.set("only3", "x")
    assert c0.get("only3") is None and c3.get("only3") == b"x"
    assert c3.client_info()["db"] == 3
    c3.flushdb()
    c0.close()
    c3.close()


def test_default_connection_handshake(sonic_port):
    """redis.Redis() with no protocol argument negotiates RESP3 and registers its library name."""
    c = redis.Redis(port=sonic_port)
    assert c.ping() is True
    conn = c.connection_pool.get_connection()
    try:
        meta = conn.handshake_metadata
        assert meta[b"proto"] == 3 and meta[b"server"] == b"redis" and meta[b"version"] >= b"7.0"
        assert meta[b"mode"] == b"standalone" and meta[b"role"] == b"master" and meta[b"modules"] == []
    finally:
        c.connection_pool.release(conn)
    info = c.client_info()
    assert info["resp"] == "3"
    assert info["lib-name"].startswith("redis-py") and info["lib-ver"] == redis.__version__
    c.close()


def test_client_name_and_list(sonic_port):
    """client_name= sets the name on connect; CLIENT LIST and KILL work through redis-py."""
    named = redis.Redis(port=sonic_port, client_name="worker-1")
    admin = redis.Redis(port=sonic_port, protocol=2)
    assert named.client_getname() == "worker-1"  # redis-py decodes the name itself
    listing = admin.client_list()
    target = [e for e in listing if e["name"] == "worker-1"]
    assert len(target) == 1 and set(target[0]) >= {"id", "addr", "laddr", "fd", "age", "idle", "flags", "cmd"}
    assert admin.client_kill_filter(_id=target[0]["id"]) == 1
    assert not [e for e in admin.client_list() if e["name"] == "worker-1"]
    assert named.ping() is True  # redis-py reconnects after the kill
    named.close()
    admin.close()


# -- pipelines, transactions, WATCH ------------------------------------------------------

def test_pipeline_transaction(client):
    """pipeline() (MULTI/EXEC) returns each reply; queued commands all ran."""
    with client.pipeline() as p:
        p.set("p", "1").incr("p").get("p").exists("p", "q")
        assert p.execute() == [True, 2, b"2", 1]


def test_pipeline_without_transaction(client):
    """pipeline(transaction=False) sends plain pipelined commands."""
    with client.pipeline(transaction=False) as p:
        for i in range(50):
            p.set("n%d" % i, i)
        p.get("n49")
        out = p.execute()
    assert out[:50] == [True] * 50 and out[50] == b"49"


def test_pipeline_runtime_error(client):
    """A runtime error inside EXEC raises by default, or comes back as an exception in the list."""
    client.set("s", "notanumber")
    with client.pipeline() as p:
        p.incr("s").set("t", "1")
        with pytest.raises(redis.ResponseError, match="not an integer"):
            p.execute()
    assert client.get("t") == b"1"
    with client.pipeline() as p:
        p.incr("s").get("t")
        out = p.execute(raise_on_error=False)
    assert isinstance(out[0], redis.ResponseError) and out[1] == b"1"


def test_pipeline_queue_error_is_execabort(client):
    """An unknown command inside a transaction pipeline aborts it with redis-py's error."""
    with client.pipeline() as p:
        p.set("never", "1")
        p.execute_command("NOSUCHCOMMAND")
        with pytest.raises(redis.ResponseError) as info:
            p.execute()
    assert "EXECABORT" in str(info.value) or "unknown command" in str(info.value)
    assert client.get("never") is None


def test_watch_pipeline(client, sonic_port):
    """WATCH through a pipeline: unchanged key commits, a write from another client raises WatchError."""
    client.set("bal", "10")
    with client.pipeline() as p:
        p.watch("bal")
        value = int(p.get("bal"))
        p.multi()
        p.set("bal", value + 5)
        assert p.execute() == [True]
    assert client.get("bal") == b"15"
    other = redis.Redis(port=sonic_port)
    with client.pipeline() as p:
        p.watch("bal")
        p.get("bal")
        other.set("bal", "0")
        p.multi()
        p.set("bal", "999")
        with pytest.raises(redis.WatchError):
            p.execute()
    assert client.get("bal") == b"0"
    other.close()


def test_transaction_helper_retries(client, sonic_port):
    """Redis.transaction() retries after a WatchError until the update commits."""
    client.set("ctr", "0")
    other = redis.Redis(port=sonic_port)
    attempts = []

    def update(pipe):
        n = int(pipe.get("ctr"))
        if not attempts:
            other.incr("ctr")  # a concurrent change on the first attempt only
        attempts.append(n)
        pipe.multi()
        pipe.set("ctr", n + 10)
    client.transaction(update, "ctr")
    assert attempts == [0, 1] and client.get("ctr") == b"11"
    other.close()


# -- errors -> exception classes ---------------------------------------------------------

def test_error_classes(client):
    """sonic's errors become redis-py's ResponseError subclasses by their code."""
    with pytest.raises(redis.ResponseError, match="unknown command"):
        client.execute_command("NOSUCHCOMMAND", "x")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        client.execute_command("GET")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        client.execute_command("SET", "k", "v", "BOGUS")
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        client.execute_command("SELECT", "99")
    with pytest.raises(redis.AuthenticationError):
        client.execute_command("AUTH", "nopassword")
    with pytest.raises(redis.ResponseError, match="EXEC without MULTI"):
        client.execute_command("EXEC")


def test_execabort_error_class(sonic_port):
    """-EXECABORT maps to redis-py's ExecAbortError."""
    c = redis.Redis(port=sonic_port, protocol=2, single_connection_client=True)
    c.execute_command("MULTI")
    with pytest.raises(redis.ResponseError):
        c.execute_command("NOSUCHCOMMAND")
    with pytest.raises(redis.exceptions.ExecAbortError):
        c.execute_command("EXEC")
    c.close()


def test_authentication(auth_port):
    """With requirepass: the right password connects, a wrong one or none raises AuthenticationError."""
    for protocol in (2, 3):
        good = redis.Redis(port=auth_port, password=PASSWORD, protocol=protocol)
        assert good.ping() is True and good.set("k", "v") is True
        good.close()
        bad = redis.Redis(port=auth_port, password="wrong", protocol=protocol, **NO_RETRY)
        with pytest.raises(redis.AuthenticationError):
            bad.ping()
        bad.close()
    anon = redis.Redis(port=auth_port, protocol=2, **NO_RETRY)
    with pytest.raises(redis.AuthenticationError):
        anon.get("k")
    anon.close()
    user = redis.Redis(port=auth_port, username="default", password=PASSWORD)
    assert user.get("k") == b"v"
    user.close()


# -- asyncio ----------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3])
def test_asyncio_client(sonic_port, protocol):
    """redis.asyncio works in both protocols: commands, concurrency, pipelines and WATCH."""
    async def main():
        c = redis.asyncio.Redis(port=sonic_port, protocol=protocol)
        try:
            await c.flushall()
            assert await c.ping() is True
            await c.set("a", "1")
            assert await c.get("a") == b"1"
            results = await asyncio.gather(*(c.incr("counter") for _ in range(100)))
            assert sorted(results) == list(range(1, 101))
            async with c.pipeline(transaction=True) as p:
                p.set("b", "2").incr("b").get("b")
                assert await p.execute() == [True, 3, b"3"]
            async with c.pipeline(transaction=False) as p:
                p.get("a").get("nope")
                assert await p.execute() == [b"1", None]
            async with c.pipeline() as p:
                await p.watch("a")
                other = redis.asyncio.Redis(port=sonic_port, protocol=protocol)
                await other.set("a", "changed")
                await other.aclose()
                p.multi()
                p.set("a", "mine")
                with pytest.raises(redis.WatchError):
                    await p.execute()
            assert await c.get("a") == b"changed"
            assert (await c.client_info())["resp"] == str(protocol)
            with pytest.raises(redis.ResponseError):
                await c.execute_command("NOSUCHCOMMAND")
            await c.flushall()
        finally:
            await c.aclose()
    asyncio.run(main())


def test_asyncio_default_connection(sonic_port):
    """redis.asyncio.Redis() with defaults (HELLO 3 and CLIENT SETINFO) works."""
    async def main():
        c = redis.asyncio.Redis(port=sonic_port)
        try:
            assert await c.ping() is True
            info = await c.client_info()
            assert info["resp"] == "3" and info["lib-name"].startswith("redis-py")
        finally:
            await c.aclose()
    asyncio.run(main())

"""redis-py 8's client-side caching (CacheConfig, RESP3 CLIENT TRACKING) against sonic and redis-server.

redis-py 8.1 enables its cache only for servers that call themselves Redis
7.4 or later in HELLO; sonic, like the redis-server 7.0.15 it is compared
with, says 7.0.15.  The tests lower that gate (the class attribute
C{CacheProxyConnection.MIN_ALLOWED_VERSION}) so the cache runs unchanged
otherwise: what it relies on (CLIENT TRACKING ON, the invalidation pushes,
the null push of FLUSHALL) is Redis 7.0's.  Each test runs on both servers.
"""

import time

import pytest
import redis

cache_mod = pytest.importorskip("redis.cache")


@pytest.fixture
def cached(server_port, monkeypatch):
    """(caching RESP3 client, plain writer client, a function counting the server's GET calls)."""
    from redis.connection import CacheProxyConnection
    monkeypatch.setattr(CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.0.0")
    writer = redis.Redis(port=server_port, socket_timeout=5)
    writer.flushall()
    reader = redis.Redis(port=server_port, protocol=3, socket_timeout=5,
                         cache_config=cache_mod.CacheConfig())

    def get_calls():
        stats = writer.info("commandstats").get("cmdstat_get")
        return stats["calls"] if stats else 0

    yield reader, writer, get_calls
    reader.close()
    writer.flushall()
    writer.close()


def test_cached_get_is_served_locally(cached):
    """A second GET of an unchanged key comes from the cache: the server sees one GET."""
    reader, writer, get_calls = cached
    writer.set("foo", "1")
    before = get_calls()
    assert reader.get("foo") == b"1"
    assert reader.get("foo") == b"1"
    assert get_calls() - before == 1
    assert reader.get_cache().size == 1


def test_other_clients_write_invalidates(cached):
    """After another client's SET the cached value is dropped and the next GET reads the new one."""
    reader, writer, get_calls = cached
    writer.set("foo", "1")
    assert reader.get("foo") == b"1"
    writer.set("foo", "2")  # the push reaches the reader before this reply reaches us
    assert reader.get("foo") == b"2"
    writer.mset({"a": "1", "b": "2"})
    assert reader.mget("a", "b") == [b"1", b"2"]
    writer.set("a", "x")
    assert reader.mget("a", "b") == [b"x", b"2"]


def test_flushall_empties_the_cache(cached):
    """FLUSHALL's null invalidation empties the whole cache."""
    reader, writer, get_calls = cached
    writer.mset({"a": "1", "b": "2"})
    assert reader.get("a") == b"1" and reader.get("b") == b"2"
    writer.flushall()
    assert reader.get("a") is None
    assert reader.get_cache().size == 0


def test_expiry_invalidates(cached):
    """A cached key that expires is invalidated and read again as missing."""
    reader, writer, get_calls = cached
    writer.set("e", "1", px=50)
    assert reader.get("e") == b"1"
    deadline = time.time() + 5
    while reader.get("e") is not None:
        assert time.time() < deadline, "the expired key is still served from the cache"
        time.sleep(0.02)

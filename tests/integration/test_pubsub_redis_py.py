"""Pub/Sub through redis-py 8 (sync and asyncio, RESP2 and RESP3) and a slow subscriber's memory bound.

The redis-py tests run against sonic and redis-server alike (the C{server_port}
fixture) and check what an application sees: subscription confirmations,
messages from channels and patterns, C{get_message}, C{listen},
C{run_in_thread} and the asyncio client.  The last test starts its own sonic
process and shows that a subscriber which never reads is disconnected by
C{client-output-buffer-limit pubsub} while the server's RSS stays bounded.
"""

import asyncio
import socket
import time

import pytest
import redis
import redis.asyncio

from tests.conftest import start_sonic, stop
from tests.resp_reader import encode_command


def _wait_message(ps, timeout=5.0):
    """The next message (not a confirmation) of a redis-py PubSub, or None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = ps.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if m is not None:
            return m
    return None


@pytest.fixture(params=[2, 3])
def client(server_port, request):
    """A redis-py client speaking RESP2 or RESP3, on sonic and on redis-server."""
    c = redis.Redis(port=server_port, protocol=request.param)
    yield c
    c.close()


def test_subscribe_get_message(client):
    """Confirmations and messages arrive through get_message with redis-py's fields."""
    ps = client.pubsub()
    ps.subscribe("it:news")
    confirm = ps.get_message(timeout=2)
    assert confirm == {"type": "subscribe", "pattern": None, "channel": b"it:news", "data": 1}
    assert client.publish("it:news", "hello") == 1
    m = _wait_message(ps)
    assert m == {"type": "message", "pattern": None, "channel": b"it:news", "data": b"hello"}
    assert client.pubsub_numsub("it:news") == [(b"it:news", 1)]
    ps.unsubscribe("it:news")
    assert ps.get_message(timeout=2)["type"] == "unsubscribe"
    ps.close()


def test_pattern_subscription(client):
    """A pattern subscriber receives pmessage with the pattern and the channel."""
    ps = client.pubsub()
    ps.psubscribe("it:p.*")
    ps.get_message(timeout=2)
    assert client.publish("it:p.one", "x") == 1
    assert client.publish("it:q.one", "y") == 0
    m = _wait_message(ps)
    assert m == {"type": "pmessage", "pattern": b"it:p.*", "channel": b"it:p.one", "data": b"x"}
    assert client.pubsub_numpat() >= 1
    ps.close()


def test_handlers_and_run_in_thread(client):
    """Handlers registered at subscribe time are called from run_in_thread's worker."""
    got = []
    ps = client.pubsub(ignore_subscribe_messages=True)
    ps.subscribe(**{"it:thread": lambda m: got.append(m["data"])})
    worker = ps.run_in_thread(sleep_time=0.05, daemon=True)
    try:
        deadline = time.time() + 5
        while client.pubsub_numsub("it:thread")[0][1] != 1 and time.time() < deadline:
            time.sleep(0.02)
        for i in range(3):
            client.publish("it:thread", "m%d" % i)
        while len(got) < 3 and time.time() < deadline:
            time.sleep(0.02)
    finally:
        worker.stop()
        worker.join(5)
        ps.close()
    assert got == [b"m0", b"m1", b"m2"]


def test_listen(client):
    """listen() yields the confirmation then the messages in order."""
    ps = client.pubsub()
    ps.subscribe("it:listen")
    client.publish("it:listen", "a")
    client.publish("it:listen", "b")
    seen = []
    for m in ps.listen():
        seen.append((m["type"], m["data"]))
        if len(seen) == 3:
            break
    assert seen == [("subscribe", 1), ("message", b"a"), ("message", b"b")]
    ps.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_asyncio_pubsub(server_port, protocol):
    """The asyncio client subscribes, receives channel and pattern messages, and unsubscribes."""
    async def scenario():
        c = redis.asyncio.Redis(port=server_port, protocol=protocol)
        ps = c.pubsub()
        await ps.subscribe("it:async")
        await ps.psubscribe("it:as*")
        for _ in range(2):
            await ps.get_message(timeout=2)
        assert await c.publish("it:async", "hi") == 2
        got = []
        deadline = time.time() + 5
        while len(got) < 2 and time.time() < deadline:
            m = await ps.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if m is not None:
                got.append((m["type"], m["channel"], m["data"]))
        await ps.unsubscribe()
        await ps.punsubscribe()
        await ps.aclose()
        await c.aclose()
        return got
    got = asyncio.run(scenario())
    assert got == [("message", b"it:async", b"hi"), ("pmessage", b"it:async", b"hi")]


# -- a subscriber that never reads ------------------------------------------------------------------

def _rss_kb(pid):
    """VmRSS and VmHWM (peak) of a process, in kB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0])
    return out["VmRSS"], out["VmHWM"]


def test_slow_subscriber_disconnected_with_bounded_rss():
    """Publishing 100 MB to a subscriber that never reads disconnects it (pubsub hard limit 32mb); RSS stays bounded."""
    proc, port, log = start_sonic()
    try:
        sub = socket.create_connection(("127.0.0.1", port))
        sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sub.sendall(encode_command(("SUBSCRIBE", "it:flood")))
        time.sleep(0.2)
        sub.recv(100)  # the confirmation; nothing more is ever read
        pub = redis.Redis(port=port)
        assert pub.pubsub_numsub("it:flood") == [(b"it:flood", 1)]
        rss_before, _ = _rss_kb(proc.pid)
        message = b"x" * 65536
        total = 0
        receivers = []
        for _ in range(100):  # 100 batches of 16 x 64 KB = 100 MB
            pipe = pub.pipeline(transaction=False)
            for _ in range(16):
                pipe.publish("it:flood", message)
            receivers.extend(pipe.execute())
            total += 16 * len(message)
        rss_after, peak = _rss_kb(proc.pid)
        assert total == 100 * 1024 * 1024
        assert receivers[0] == 1 and receivers[-1] == 0  # dropped along the way
        assert pub.pubsub_numsub("it:flood") == [(b"it:flood", 0)]
        growth_mb = (peak - rss_before) / 1024.0
        print("\nslow subscriber: RSS before %.1f MB, after %.1f MB, peak %.1f MB (growth %.1f MB for 100 MB published)"
              % (rss_before / 1024.0, rss_after / 1024.0, peak / 1024.0, growth_mb))
        assert growth_mb < 60, growth_mb
        with open(log) as f:
            assert "scheduled to be closed ASAP for overcoming of output buffer limits" in f.read()
        sub.close()
        pub.close()
    finally:
        stop(proc)


def test_publish_reaches_replica_subscribers():
    """PUBLISH on a master is propagated, so a subscriber of its replica receives the message (Redis 7.0)."""
    master, mport, _ = start_sonic()
    replica, rport, _ = start_sonic()
    try:
        r = redis.Redis(port=rport)
        r.execute_command("REPLICAOF", "127.0.0.1", str(mport))
        deadline = time.time() + 10
        while r.info("replication").get("master_link_status") != "up" and time.time() < deadline:
            time.sleep(0.05)
        ps = r.pubsub()
        ps.subscribe("it:repl")
        ps.get_message(timeout=2)
        m = redis.Redis(port=mport)
        assert m.publish("it:repl", "across") == 0  # no subscriber on the master itself
        got = _wait_message(ps)
        assert got is not None and got["data"] == b"across"
        ps.close()
        r.close()
        m.close()
    finally:
        stop(replica)
        stop(master)

"""Blocking list pops with several redis-py clients against a real sonic process (and redis-server).

Each test runs on both servers (the C{server_port} fixture): a few client
threads block, a main client pushes, and the wake-up order, replies and
disconnect handling must be what Redis does.  Threads only wait on sockets,
each with a timeout, so a hang fails the test in seconds.
"""

import asyncio
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import redis.asyncio

TIMEOUT = 5


def _blocked(r):
    return r.info("clients")["blocked_clients"]


def _wait_blocked(r, n):
    """Wait until exactly C{n} clients are blocked."""
    deadline = time.time() + TIMEOUT
    while _blocked(r) != n:
        if time.time() > deadline:
            raise AssertionError("expected %d blocked clients, have %d" % (n, _blocked(r)))
        time.sleep(0.005)


@pytest.fixture
def clients(server_port):
    """A factory of redis-py clients on a flushed server; closes them all afterwards."""
    made = []

    def make(**kw):
        c = redis.Redis(port=server_port, socket_timeout=TIMEOUT, **kw)
        made.append(c)
        return c
    first = make()
    first.flushall()
    yield make
    first.flushall()
    for c in made:
        c.close()


def _block_in_order(pool, main, calls):
    """Start each blocking call in its own thread, waiting until it blocks before the next."""
    futures = []
    for i, fn in enumerate(calls):
        futures.append(pool.submit(fn))
        _wait_blocked(main, i + 1)
    return futures


def test_fifo_wakeup_order(clients):
    """Three clients blocked on one key are served in the order they blocked, one element each."""
    main = clients()
    workers = [clients() for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        futures = _block_in_order(pool, main, [lambda w=w: w.blpop(["queue"], 0) for w in workers])
        assert main.rpush("queue", "a", "b", "c", "d") == 4
        assert [f.result(TIMEOUT) for f in futures] == [(b"queue", b"a"), (b"queue", b"b"), (b"queue", b"c")]
    assert main.lrange("queue", 0, -1) == [b"d"]
    assert _blocked(main) == 0


def test_lpush_serves_after_the_whole_push(clients):
    """LPUSH k a b c with two BLPOP waiters: the first gets c, the second b, as in Redis."""
    main = clients()
    workers = [clients(), clients()]
    with ThreadPoolExecutor(2) as pool:
        futures = _block_in_order(pool, main, [lambda w=w: w.blpop("k", 0) for w in workers])
        assert main.lpush("k", "a", "b", "c") == 3
        assert [f.result(TIMEOUT) for f in futures] == [(b"k", b"c"), (b"k", b"b")]
    assert main.lrange("k", 0, -1) == [b"a"]


def test_waiter_on_several_keys(clients):
    """A client blocked on two keys is served from whichever is pushed first; the other waiter keeps waiting."""
    main = clients()
    a, b = clients(), clients()
    with ThreadPoolExecutor(2) as pool:
        futures = _block_in_order(pool, main, [lambda: a.brpop(["k1", "k2"], 0), lambda: b.brpop(["k2"], 0)])
        main.rpush("k2", "x")
        assert futures[0].result(TIMEOUT) == (b"k2", b"x")
        assert _blocked(main) == 1
        main.rpush("k2", "y")
        assert futures[1].result(TIMEOUT) == (b"k2", b"y")


def test_reliable_queue_with_blmove(clients):
    """A worker blocked in BLMOVE gets the job, which lands in its processing list."""
    main = clients()
    worker = clients()
    with ThreadPoolExecutor(1) as pool:
        (future,) = _block_in_order(pool, main, [lambda: worker.blmove("jobs", "processing", 0, "RIGHT", "LEFT")])
        main.lpush("jobs", "job-1", "job-2")
        assert future.result(TIMEOUT) == b"job-1"
    assert main.lrange("processing", 0, -1) == [b"job-1"]
    assert main.lrange("jobs", 0, -1) == [b"job-2"]


def test_blmove_wakes_destination_waiter(clients):
    """A BLMOVE served into a key another client waits on wakes that client too."""
    main = clients()
    mover, popper = clients(), clients()
    with ThreadPoolExecutor(2) as pool:
        futures = _block_in_order(pool, main, [lambda: mover.blmove("src", "dst", 0, "LEFT", "RIGHT"),
                                               lambda: popper.blpop("dst", 0)])
        main.rpush("src", "v")
        assert [f.result(TIMEOUT) for f in futures] == [b"v", (b"dst", b"v")]
    assert main.exists("src", "dst") == 0


def test_timeouts(clients):
    """Fractional timeouts expire with None for each blocking pop; nobody stays blocked."""
    r = clients()
    start = time.time()
    assert r.blpop("nokey", 0.1) is None
    assert r.brpoplpush("nokey", "d", 0.1) is None
    assert r.blmpop(0.1, 1, "nokey", direction="LEFT") is None
    assert time.time() - start < 2
    assert _blocked(r) == 0


def test_disconnect_while_blocked(clients, server_port):
    """A client that disconnects while blocked is forgotten: the next push is not lost."""
    main = clients()
    sock = socket.create_connection(("127.0.0.1", server_port), timeout=TIMEOUT)
    sock.sendall(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n")
    _wait_blocked(main, 1)
    sock.close()
    _wait_blocked(main, 0)
    assert main.rpush("k", "v") == 1
    assert main.lrange("k", 0, -1) == [b"v"]
    # and with a live waiter behind the departed one, the waiter gets the push
    sock = socket.create_connection(("127.0.0.1", server_port), timeout=TIMEOUT)
    sock.sendall(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
    _wait_blocked(main, 1)
    other = clients()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: other.blpop("q", 0))
        _wait_blocked(main, 2)
        sock.close()
        _wait_blocked(main, 1)
        main.rpush("q", "w")
        assert future.result(TIMEOUT) == (b"q", b"w")
    assert main.exists("q") == 0


def test_client_unblock(clients):
    """CLIENT UNBLOCK ends a wait with the timeout reply, or with an UNBLOCKED error."""
    main = clients()
    a, b = clients(), clients()
    a_id, b_id = a.client_id(), b.client_id()
    with ThreadPoolExecutor(2) as pool:
        futures = _block_in_order(pool, main, [lambda: a.blpop("k", 0), lambda: b.blmove("k", "d", 0, "LEFT", "LEFT")])
        assert main.client_unblock(a_id) is True
        assert futures[0].result(TIMEOUT) is None
        assert main.client_unblock(b_id, error=True) is True
        with pytest.raises(redis.exceptions.ResponseError, match="UNBLOCKED"):
            futures[1].result(TIMEOUT)
    assert main.client_unblock(a_id) is False


def test_asyncio_clients_resp3(server_port):
    """Async RESP3 clients block concurrently and are served in FIFO order, without threads."""
    async def scenario():
        main = redis.asyncio.Redis(port=server_port, protocol=3)
        await main.flushall()
        waiters = [redis.asyncio.Redis(port=server_port, protocol=3) for _ in range(3)]
        tasks = []
        try:
            for i, w in enumerate(waiters):
                tasks.append(asyncio.ensure_future(w.blmpop(0, 1, "k", direction="LEFT", count=2)))
                while (await main.info("clients"))["blocked_clients"] != i + 1:
                    await asyncio.sleep(0.005)
            await main.rpush("k", *"abcde")
            return await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
        finally:
            await main.flushall()
            for c in waiters + [main]:
                await c.aclose()
    assert asyncio.run(scenario()) == [[b"k", [b"a", b"b"]], [b"k", [b"c", b"d"]], [b"k", [b"e"]]]

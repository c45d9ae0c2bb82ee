"""sonic as a master of a real redis-server 7.0.15 replica: full sync, the live stream, INFO on both sides, partial resync.

A sonic process gets keys of every type (compact and big encodings, TTLs,
several databases); a redis-server started with C{--replicaof} on it must
end up with the same data after the full sync, then follow the writes made
after it (rewritten commands, transactions, served blocking pops, expiry),
and resume with a partial resync (C{+CONTINUE}) after sonic kills the link.
"""

import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from tests.conftest import free_port, start_sonic, stop, wait_for_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed")


def snapshot(client, dbs=(0, 1, 2)):
    """Every key of C{dbs} as (db, key) -> (type, value, has_ttl), values read per type."""
    out = {}
    for db in dbs:
        client.execute_command("SELECT", db)
        for key in client.scan_iter(count=1000):
            t = client.type(key).decode()
            if t == "string":
                v = client.get(key)
            elif t == "list":
                v = client.lrange(key, 0, -1)
            elif t == "hash":
                v = client.hgetall(key)
            elif t == "set":
                v = client.smembers(key)
            elif t == "zset":
                v = client.zrange(key, 0, -1, withscores=True)
            else:
                v = None
            pttl = client.pttl(key)
            out[(db, key)] = (t, v, pttl > 0)
    client.execute_command("SELECT", 0)
    return out


def wait_until(predicate, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s" % what)


@pytest.fixture
def pair():
    """A sonic master and a connection to it; the replica is started by the test."""
    proc, port, log = start_sonic()
    master = redis.Redis(port=port)
    procs = []
    workdir = tempfile.mkdtemp(prefix="sonic-repl-")

    def start_replica():
        rport = free_port()
        rlog = os.path.join(workdir, "replica-%d.log" % rport)
        p = subprocess.Popen(["redis-server", "--port", str(rport), "--save", "", "--appendonly", "no",
                              "--dir", workdir, "--replicaof", "127.0.0.1", str(port),
                              "--logfile", rlog], stdout=subprocess.DEVNULL)
        procs.append(p)
        wait_for_port(rport, p)
        return redis.Redis(port=rport), rlog

    yield master, start_replica
    master.close()
    for p in procs:
        stop(p)
    stop(proc)
    shutil.rmtree(workdir, ignore_errors=True)


def in_sync(master, replica):
    """The replica's link is up and it has applied everything the master produced."""
    r = replica.info("replication")
    m = master.info("replication")
    return (r.get("master_link_status") == "up"
            and r.get("slave_repl_offset") == m.get("master_repl_offset"))


def fill(m):
    """Keys of every type, compact and big, with and without TTLs, in dbs 0 and 2."""
    m.set("str", "value")
    m.set("int", 12345)
    m.set("big", "x" * 100000)
    m.set("ttl", "v", ex=1000)
    m.rpush("list", *[b"e%d" % i for i in range(10)])
    m.rpush("biglist", *[b"e%d" % i for i in range(5000)])
    m.hset("hash", mapping={"a": "1", "b": "2"})
    m.hset("bighash", mapping={b"f%d" % i: b"v%d" % i for i in range(1000)})
    m.sadd("intset", 1, 2, 3)
    m.sadd("set", "a", "b")
    m.sadd("bigset", *range(1000))
    m.zadd("zset", {"a": 1.5, "b": -2})
    m.zadd("bigzset", {b"m%d" % i: i / 3 for i in range(500)})
    m.expire("hash", 5000)
    m.execute_command("SELECT", 2)
    m.set("in2", "x")
    m.execute_command("SELECT", 0)


def test_redis_replica_of_sonic(pair):
    """A redis-server replica gets every key by full sync, then every later write, and resumes with +CONTINUE."""
    m, start_replica = pair
    fill(m)
    before = snapshot(m)
    replica, rlog = start_replica()
    wait_until(lambda: in_sync(m, replica), what="the full sync")
    assert snapshot(replica) == before
    assert abs(replica.pttl("ttl") - m.pttl("ttl")) < 2000

    # The stream: rewritten commands, a transaction, a served blocking pop, expiry.
    m.set("after", "1", px=100000)
    m.execute_command("SETEX", "sx", 100, "v")
    m.expire("str", 1000)
    m.incrbyfloat("flt", "1.5")
    m.hincrbyfloat("hash", "a", "0.5")
    m.spop("bigset", 10)
    m.spop("set")
    m.getex("int", ex=500)
    pipe = m.pipeline(transaction=True)
    pipe.incr("counter")
    pipe.lpush("list", "new")
    pipe.execute()
    m.execute_command("SELECT", 1)
    m.set("in1", "y")
    m.execute_command("SELECT", 0)
    popped = []
    blocker = redis.Redis(port=m.connection_pool.connection_kwargs["port"])
    t = threading.Thread(target=lambda: popped.append(blocker.blpop("queue", 5)))
    t.start()
    time.sleep(0.3)
    m.rpush("queue", "a", "b")
    t.join()
    m.set("shortlived", "1", px=200)
    time.sleep(0.5)
    m.zpopmin("bigzset", 3)
    wait_until(lambda: in_sync(m, replica), what="the stream")
    assert popped == [(b"queue", b"a")]
    assert snapshot(replica) == snapshot(m)
    assert replica.exists("shortlived") == 0
    assert abs(replica.pttl("after") - m.pttl("after")) < 2000

    # INFO on both sides.
    minfo = m.info("replication")
    rinfo = replica.info("replication")
    assert minfo["role"] == "master" and minfo["connected_slaves"] == 1
    assert minfo["slave0"]["state"] == "online"
    assert rinfo["role"] == "slave" and rinfo["master_replid"] == minfo["master_replid"]
    assert m.execute_command("ROLE")[0] == b"master"

    # A dropped link resumes with a partial resync.
    assert m.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
    m.set("during", "1")
    wait_until(lambda: in_sync(m, replica) and replica.get("during") == b"1",
               what="the partial resync")
    assert m.info("stats")["sync_partial_ok"] == 1
    assert m.info("stats")["sync_full"] == 1
    with open(rlog) as f:
        assert "Successful partial resynchronization with master" in f.read()
    assert snapshot(replica) == snapshot(m)


def test_chain_sonic_sonic_redis_and_promotion(pair):
    """sonic -> sonic -> redis-server: writes at the top reach the bottom; REPLICAOF NO ONE in the middle continues with PSYNC."""
    top, start_replica = pair
    proc, port, log = start_sonic()
    try:
        middle = redis.Redis(port=port)
        top.set("before", "1")
        top.rpush("l", "x")
        assert middle.execute_command("REPLICAOF", "127.0.0.1",
                                      top.connection_pool.connection_kwargs["port"]) == b"OK"
        wait_until(lambda: in_sync(top, middle), what="the middle's sync")
        rport = free_port()
        workdir = tempfile.mkdtemp(prefix="sonic-chain-")
        rlog = os.path.join(workdir, "bottom.log")
        bottom_proc = subprocess.Popen(
            ["redis-server", "--port", str(rport), "--save", "", "--dir", workdir,
             "--replicaof", "127.0.0.1", str(port), "--logfile", rlog], stdout=subprocess.DEVNULL)
        try:
            wait_for_port(rport, bottom_proc)
            bottom = redis.Redis(port=rport)
            wait_until(lambda: in_sync(middle, bottom), what="the bottom's sync")
            top.set("after", "2")
            top.incr("n")
            top.lpush("l", "y")
            wait_until(lambda: in_sync(top, middle) and in_sync(middle, bottom), what="the chain")
            assert snapshot(bottom) == snapshot(top)
            assert (bottom.info("replication")["master_replid"]
                    == top.info("replication")["master_replid"])
            assert middle.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
            middle.set("from_middle", "1")
            wait_until(lambda: bottom.get("from_middle") == b"1", what="the promoted stream")
            with open(rlog) as f:
                assert "Successful partial resynchronization with master" in f.read()
            assert middle.info("stats")["sync_full"] == 1
        finally:
            stop(bottom_proc)
            shutil.rmtree(workdir, ignore_errors=True)
    finally:
        stop(proc)

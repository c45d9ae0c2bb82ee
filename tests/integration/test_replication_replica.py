"""redis-server 7.0 master -> sonic replica, with real processes.

A redis-server started here on a free port is the master; a sonic process
started with C{--replicaof} replicates it.  Keys of every type and
encoding, with TTLs, written before the sync (disk-based and diskless
payloads) and after it (the stream) must read the same on both; a killed
and restarted master and a dropped link (resumed with +CONTINUE) too.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import redis

from tests.conftest import free_port, start_sonic, stop, wait_for_port

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")


class Master(object):
    """A redis-server process on a free port (restartable on the same port and dir)."""

    def __init__(self, diskless, password=None):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sonic-master-")
        self.diskless = diskless
        self.password = password
        self.proc = None
        self.start()

    def start(self):
        args = [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--dir", self.dir, "--repl-diskless-sync", "yes" if self.diskless else "no",
                "--repl-diskless-sync-delay", "0", "--daemonize", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc)
        self.r = redis.Redis(port=self.port, password=self.password)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def info(client, section="replication"):
    return client.info(section)


def wait_until(check, timeout=20.0, what="condition"):
    """Poll C{check()} until it is true."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s" % what)


def caught_up(master, replica):
    """The replica's link is up and its offset equals the master's."""
    m = info(master)["master_repl_offset"]
    s = info(replica)
    return s["master_link_status"] == "up" and s["slave_repl_offset"] == m


def write_everything(r, prefix):
    """Keys of every type and encoding (some with TTLs) in databases 0 and 3."""
    p = prefix
    r.set(p + "int", 12345)
    r.set(p + "embstr", "short")
    r.set(p + "raw", "r" * 100)
    r.set(p + "big", "abc" * 4000)                    # LZF-compressible in the RDB
    r.set(p + "random", os.urandom(20000))
    r.set(p + "ttl_s", "v", ex=1000)
    r.set(p + "ttl_ms", "v", px=987654)
    r.rpush(p + "list_small", "a", "b", 1, 2)
    r.rpush(p + "list_big", *["item%d" % i for i in range(3000)])
    r.rpush(p + "list_longel", "x" * 10000, "y")
    r.sadd(p + "set_int", *range(100))
    r.sadd(p + "set_int_big", *range(1000))           # intset past 512 -> hashtable
    r.sadd(p + "set_str", "a", "b", "c")
    r.hset(p + "hash_small", mapping={"f1": "v1", "f2": 2})
    r.hset(p + "hash_big", mapping={"f%d" % i: "v%d" % i for i in range(600)})
    r.hset(p + "hash_longval", mapping={"f": "v" * 100})
    r.zadd(p + "zset_small", {"a": 1, "b": 2.5, "c": -3})
    r.zadd(p + "zset_big", {"m%d" % i: i / 7.0 for i in range(300)})
    r.zadd(p + "zset_inf", {"lo": float("-inf"), "hi": float("inf")})
    r.expire(p + "hash_big", 5000)
    r.pexpire(p + "zset_small", 123456)
    db3 = redis.Redis(port=r.connection_pool.connection_kwargs["port"], db=3)
    db3.set(p + "in3", "three")
    db3.sadd(p + "set3", "x", "y")
    db3.expire(p + "in3", 3000)
    db3.close()


def snapshot(port, db):
    """Every key of C{db}: (type, encoding, contents, PEXPIRETIME)."""
    r = redis.Redis(port=port, db=db)
    out = {}
    for key in r.scan_iter(count=1000):
        t = r.type(key).decode()
        if t == "string":
            v = r.get(key)
        elif t == "list":
            v = r.lrange(key, 0, -1)
        elif t == "set":
            v = sorted(r.smembers(key))
        elif t == "hash":
            v = sorted(r.hgetall(key).items())
        elif t == "zset":
            v = r.zrange(key, 0, -1, withscores=True)
        else:
            v = None
        out[key] = (t, r.object("encoding", key), v, r.execute_command("PEXPIRETIME", key))
    r.close()
    return out


def assert_same(master_port, replica_port):
    for db in (0, 3):
        m = snapshot(master_port, db)
        s = snapshot(replica_port, db)
        assert sorted(m) == sorted(s)
        for key in m:
            assert m[key] == s[key], key


@pytest.fixture(params=["disk", "diskless"])
def pair(request):
    """A redis-server master with data, and a sonic replica started on it."""
    master = Master(diskless=request.param == "diskless")
    write_everything(master.r, "pre:")
    proc, port, log = start_sonic("--replicaof", "127.0.0.1 %d" % master.port)
    replica = redis.Redis(port=port)
    try:
        wait_until(lambda: caught_up(master.r, replica), what="the first sync")
        yield master, replica, port, log
    finally:
        replica.close()
        stop(proc)
        master.stop()


def test_full_sync_then_stream_end_up_identical(pair):
    """Keys of every type/encoding with TTLs, before (full sync) and after (stream), read the same."""
    master, replica, port, log = pair
    assert_same(master.port, port)
    assert info(replica)["master_host"] == "127.0.0.1"
    assert info(master.r)["slave0"]["state"] == "online"
    # The stream: every kind of write, MULTI/EXEC, other databases, expiry.
    write_everything(master.r, "post:")
    r = master.r
    r.incr("post:int")
    r.incrbyfloat("post:float", 1.5)
    r.lpush("post:list_small", "z")
    r.spop("pre:set_str")
    r.hincrby("pre:hash_small", "f2", 40)
    r.zincrby("pre:zset_big", 3, "m5")
    r.delete("pre:raw")
    r.set("post:short_ttl", "v", px=200)
    with r.pipeline(transaction=True) as p:
        p.set("post:tx1", "1")
        p.lpush("post:txl", "a", "b")
        p.execute()
    r.getex("pre:embstr", ex=777)
    r.persist("pre:ttl_s")
    wait_until(lambda: caught_up(master.r, replica), what="the stream")
    assert_same(master.port, port)
    # The master expires the short-TTL key and sends DEL: it disappears from the replica too.
    time.sleep(0.3)
    wait_until(lambda: not r.exists("post:short_ttl") and caught_up(master.r, replica),
               what="the expiry")
    assert replica.execute_command("DBSIZE") == r.dbsize()
    with pytest.raises(redis.ReadOnlyError):
        replica.set("x", "1")


def test_dropped_link_resumes_with_continue(pair):
    """CLIENT KILL TYPE replica on the master: the replica reconnects with PSYNC and gets +CONTINUE."""
    master, replica, port, log = pair
    before = info(master.r, "stats")["sync_full"]
    master.r.client_kill_filter(_type="replica")
    master.r.set("during", "1")
    master.r.rpush("pre:list_small", "more")
    wait_until(lambda: info(master.r, "stats")["sync_partial_ok"] == 1, what="+CONTINUE")
    wait_until(lambda: caught_up(master.r, replica), what="the stream after +CONTINUE")
    assert info(master.r, "stats")["sync_full"] == before
    assert_same(master.port, port)


def test_killed_and_restarted_master(pair):
    """A master killed and restarted (with its saved data, a new replid) is fully resynced."""
    master, replica, port, log = pair
    master.r.set("saved", "yes")
    master.r.save()
    master.kill()
    wait_until(lambda: info(replica)["master_link_status"] == "down", what="the link down")
    assert replica.get("saved") == b"yes"  # stale data is served meanwhile
    master.start()
    master.r.set("after_restart", "1")
    master.r.delete("pre:int")
    wait_until(lambda: caught_up(master.r, replica), timeout=30, what="the resync")
    assert info(replica)["master_replid"] == info(master.r)["master_replid"]
    assert_same(master.port, port)
    assert replica.get("after_restart") == b"1"


def test_stream_keys_are_skipped_and_the_rest_replicates():
    """A master holding a stream (a type sonic lacks): the other keys sync, later XADDs fail alone."""
    master = Master(diskless=False)
    proc = None
    try:
        master.r.xadd("events", {"a": "1"})
        master.r.set("plain", "1")
        proc, port, log = start_sonic("--replicaof", "127.0.0.1 %d" % master.port)
        replica = redis.Redis(port=port)
        wait_until(lambda: caught_up(master.r, replica), what="the sync")
        assert replica.get("plain") == b"1" and not replica.exists("events")
        master.r.xadd("events", {"b": "2"})
        master.r.set("plain", "2")
        wait_until(lambda: caught_up(master.r, replica), what="the stream")
        assert replica.get("plain") == b"2"
        assert info(replica)["master_link_status"] == "up"
        replica.close()
    finally:
        if proc is not None:
            stop(proc)
        master.stop()


@pytest.mark.parametrize("user", [None, "repl"])
def test_masterauth_and_masteruser(user):
    """A master with requirepass (or an ACL user) is reached with masterauth (and masteruser)."""
    master = Master(diskless=True, password="s3cret")
    proc = None
    try:
        extra = ["--masterauth", "s3cret"]
        if user:
            master.r.execute_command("ACL", "SETUSER", user, "on", ">userpw", "+@all", "~*")
            extra = ["--masterauth", "userpw", "--masteruser", user]
        master.r.set("k", "v")
        proc, port, log = start_sonic("--replicaof", "127.0.0.1 %d" % master.port, *extra)
        replica = redis.Redis(port=port)
        wait_until(lambda: caught_up(master.r, replica), what="the authenticated sync")
        assert replica.get("k") == b"v"
        replica.close()
    finally:
        if proc is not None:
            stop(proc)
        master.stop()

"""The append-only file with real processes: restarts, SIGKILL crash rounds, redis-check-aof and redis-server interop.

Crash rounds: a client writes acknowledged keys (one SET at a time) as fast
as it can while the server is killed with SIGKILL at a random moment; after
a restart, with appendfsync always every acknowledged key must be there,
with everysec every key acknowledged more than two seconds before the kill.
The figures (rounds, keys acknowledged, keys missing) are printed (-s).
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import redis

from tests.conftest import free_port
from tests.resp_reader import RawClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           PYTHONUNBUFFERED="1")

needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


def wait_port(port, proc, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("server exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.03)
    raise AssertionError("nothing listening on %d" % port)


class Proc(object):
    """A sonic (or redis-server) process on a free port in C{directory}."""

    def __init__(self, directory, *args, redis_server=False, wait_loaded=True):
        self.port = free_port()
        self.dir = directory
        if redis_server:
            cmd = ["redis-server", "--port", str(self.port), "--dir", directory, "--save", ""]
        else:
            cmd = [sys.executable, "-m", "sonic.cli", "--port", str(self.port), "--dir", directory,
                   "--bind", "127.0.0.1", "--save", ""]
        self.log = open(os.path.join(directory, "server-%d.log" % self.port), "wb")
        self.proc = subprocess.Popen(cmd + list(args), env=ENV, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)
        self.client = redis.Redis(port=self.port)
        if wait_loaded:
            self.wait_loaded()

    def wait_loaded(self, timeout=60.0):
        """Wait until the dataset is loaded (the server answers -LOADING until then)."""
        raw = RawClient(self.port)
        deadline = time.time() + timeout
        try:
            while raw.call("PING").startswith(b"-LOADING"):
                if time.time() > deadline:
                    raise AssertionError("still loading after %.0f s" % timeout)
                time.sleep(0.01)
        finally:
            raw.sock.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        finally:
            self.log.close()


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="sonic-aof-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def fill_every_type(r):
    """Data of every type, some with TTLs, in two dbs."""
    r.set("s", "v")
    r.set("ttl", "x", ex=1000)
    r.rpush("l", *[str(i) for i in range(100)])
    r.hset("h", mapping={"f%d" % i: "v%d" % i for i in range(50)})
    r.sadd("set", *range(30))
    r.zadd("z", {"m%d" % i: i * 1.5 for i in range(40)})
    r.pexpire("z", 500000)
    r.execute_command("SELECT", "3")
    r.set("db3", "yes")
    r.execute_command("SELECT", "0")


def check_every_type(r):
    assert r.get("s") == b"v"
    assert 900 < r.ttl("ttl") <= 1000
    assert r.lrange("l", 0, -1) == [str(i).encode() for i in range(100)]
    assert r.hgetall("h") == {("f%d" % i).encode(): ("v%d" % i).encode() for i in range(50)}
    assert r.scard("set") == 30
    assert r.zscore("z", "m39") == 39 * 1.5
    assert 0 < r.pttl("z") <= 500000
    assert redis.Redis(port=r.connection_pool.connection_kwargs["port"], db=3).get("db3") == b"yes"


def test_restart_keeps_every_type_with_ttls(workdir):
    """Data of every type with TTLs survives SIGTERM/start and SHUTDOWN/start with appendonly yes."""
    p = Proc(workdir, "--appendonly", "yes")
    fill_every_type(p.client)
    p.client.bgrewriteaof()  # part in the base, part in the incr file
    time.sleep(0.3)
    p.client.set("after-rewrite", "1")
    p.stop()
    p = Proc(workdir, "--appendonly", "yes")
    check_every_type(p.client)
    assert p.client.get("after-rewrite") == b"1"
    try:
        p.client.shutdown(nosave=True)
    except redis.ConnectionError:
        pass
    p.proc.wait(timeout=15)
    p.log.close()
    p = Proc(workdir, "--appendonly", "yes")
    check_every_type(p.client)
    p.stop()


def _writer(port, prefix, acked, stop):
    """SET prefix:i i, one at a time on a raw socket; record i and the time once +OK is read."""
    sock = socket.create_connection(("127.0.0.1", port))
    f = sock.makefile("rb")
    i = 0
    try:
        while not stop.is_set():
            key = b"%s:%d" % (prefix.encode(), i)
            val = b"%d" % i
            sock.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                         % (len(key), key, len(val), val))
            if f.readline() != b"+OK\r\n":
                return
            acked.append((i, time.time()))
            i += 1
    except OSError:
        return
    finally:
        sock.close()


def _crash_rounds(policy, rounds, lo, hi):
    """Run crash rounds on one directory (each restart serves the next round); per round
    (acked, checked, missing)."""
    results = []
    d = tempfile.mkdtemp(prefix="sonic-crash-")
    args = ("--appendonly", "yes", "--appendfsync", policy)
    p = Proc(d, *args)
    try:
        for n in range(rounds):
            acked, stop = [], threading.Event()
            t = threading.Thread(target=_writer, args=(p.port, "r%d" % n, acked, stop))
            t.start()
            time.sleep(random.uniform(lo, hi))
            killed_at = time.time()
            p.kill()
            stop.set()
            t.join(10)
            p = Proc(d, *args)
            if policy == "always":
                must = [i for i, _ in acked]
            else:
                must = [i for i, at in acked if at < killed_at - 2.0]
            missing = 0
            for start in range(0, len(must), 1000):
                chunk = must[start:start + 1000]
                values = p.client.mget(["r%d:%d" % (n, i) for i in chunk])
                missing += sum(1 for v in values if v is None)
            results.append((len(acked), len(must), missing))
    finally:
        p.kill()
        shutil.rmtree(d, ignore_errors=True)
    return results


def test_crash_rounds_always_and_everysec():
    """SIGKILL at random moments, 20 rounds per policy: with always every acknowledged key survives, with everysec every key older than 2 s."""
    random.seed()
    always = _crash_rounds("always", 20, 0.2, 0.7)
    # A fresh directory every 5 rounds: each round writes ~25,000 keys, and
    # restarts replaying an ever longer AOF would dominate the test's time.
    everysec = [r for _ in range(4) for r in _crash_rounds("everysec", 5, 2.2, 2.6)]
    for name, res in (("always", always), ("everysec", everysec)):
        print("\n%s: %d rounds, acked %d keys, checked %d, missing %d"
              % (name, len(res), sum(a for a, _, _ in res), sum(m for _, m, _ in res),
                 sum(x for _, _, x in res)))
    assert all(missing == 0 for _, _, missing in always)
    assert all(missing == 0 for _, _, missing in everysec)
    # Every round wrote something and checked something.
    assert all(acked > 0 for acked, _, _ in always + everysec)
    assert all(must > 0 for _, must, _ in everysec)


@needs_redis
def test_redis_check_aof_accepts_sonic_dir(workdir):
    """redis-check-aof validates sonic's manifest, RDB base and incr files, before and after a rewrite."""
    p = Proc(workdir, "--appendonly", "yes")
    fill_every_type(p.client)
    p.stop()
    manifest = os.path.join(workdir, "appendonlydir", "appendonly.aof.manifest")
    out = subprocess.run(["redis-check-aof", manifest], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All AOF files and manifest are valid" in out.stdout
    p = Proc(workdir, "--appendonly", "yes")
    p.client.bgrewriteaof()
    time.sleep(0.5)
    p.client.set("x", "y")
    p.stop()
    out = subprocess.run(["redis-check-aof", manifest], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "RDB preamble is OK" in out.stdout


@needs_redis
def test_redis_server_starts_from_sonic_dir_and_back(workdir):
    """redis-server 7.0 loads sonic's AOF directory, writes to it, and sonic loads the result."""
    p = Proc(workdir, "--appendonly", "yes")
    fill_every_type(p.client)
    p.client.bgrewriteaof()
    time.sleep(0.5)
    p.client.set("sonic-incr", "1")
    p.stop()
    rs = Proc(workdir, "--appendonly", "yes", redis_server=True)
    try:
        check_every_type(rs.client)
        assert rs.client.get("sonic-incr") == b"1"
        rs.client.set("from-redis", "1")
        rs.client.bgrewriteaof()
        time.sleep(0.5)
        rs.client.rpush("l", "tail")
    finally:
        rs.client.shutdown(nosave=True) if rs.proc.poll() is None else None
        rs.proc.wait(timeout=10)
        rs.log.close()
    p = Proc(workdir, "--appendonly", "yes")
    assert p.client.get("from-redis") == b"1"
    assert p.client.lindex("l", -1) == b"tail"
    assert p.client.llen("l") == 101
    assert 900 < p.client.ttl("ttl") <= 1000
    p.stop()


def test_corrupt_aof_stops_startup(workdir):
    """A corrupt incr file stops sonic's start-up with the file name and offset on its output."""
    p = Proc(workdir, "--appendonly", "yes")
    p.client.set("a", "1")
    p.stop()
    path = os.path.join(workdir, "appendonlydir", "appendonly.aof.1.incr.aof")
    size = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(b"!garbage\r\n*1\r\n$4\r\nPING\r\n")
    out = subprocess.run([sys.executable, "-m", "sonic.cli", "--port", str(free_port()), "--dir",
                          workdir, "--appendonly", "yes"], env=ENV, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "appendonly.aof.1.incr.aof" in text and "offset %d" % size in text


def test_clients_get_loading_while_a_big_aof_replays(workdir):
    """While a large AOF replays at start-up sonic listens and answers -LOADING, then serves the data."""
    adir = os.path.join(workdir, "appendonlydir")
    os.makedirs(adir)
    n = 300000
    with open(os.path.join(adir, "appendonly.aof.1.incr.aof"), "wb") as f:
        f.write(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n")
        for i in range(n):
            key = b"key:%d" % i
            f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nval\r\n" % (len(key), key))
    with open(os.path.join(adir, "appendonly.aof.manifest"), "wb") as f:
        f.write(b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    p = Proc(workdir, "--appendonly", "yes", wait_loaded=False)
    try:
        # A raw socket: redis-py retries BusyLoadingError by itself.
        raw = RawClient(p.port)
        replies = []
        infos = []
        deadline = time.time() + 60
        while time.time() < deadline:
            reply = raw.call("DBSIZE")
            replies.append(reply)
            if not reply.startswith(b"-LOADING"):
                break
            infos.append(raw.call("INFO", "persistence"))
            time.sleep(0.01)
        assert replies[0] == b"-LOADING Redis is loading the dataset in memory\r\n"
        assert replies[-1] == b":%d\r\n" % n
        assert b"loading:1\r\n" in infos[0] and b"loading_total_bytes:0\r\n" not in infos[-1]
        assert p.client.info("persistence")["loading"] == 0
        p.client.set("after", "1")  # the AOF is open for appending after the load
        p.stop()
        p2 = Proc(workdir, "--appendonly", "yes")
        for _ in range(3000):
            try:
                assert p2.client.get("after") == b"1"
                break
            except redis.exceptions.BusyLoadingError:
                time.sleep(0.01)
        assert p2.client.dbsize() == n + 1
        p2.stop()
    finally:
        p.kill()


def _wait(cond, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in %.0f s" % timeout)


def _dump_all(r):
    """Every key of dbs 0 and 3 with its DUMP payload (type and value) and whether it has a TTL."""
    out = {}
    for db in (0, 3):
        c = redis.Redis(port=r.connection_pool.connection_kwargs["port"], db=db)
        for key in c.keys("*"):
            out[(db, key)] = (c.dump(key), c.pttl(key) > 0)
    return out


def test_replica_aof_logs_the_full_sync_and_the_stream(workdir):
    """A replica with appendonly yes restarts its AOF after the full sync and logs the master's stream, so it restarts alone with the same data."""
    mdir = os.path.join(workdir, "master")
    rdir = os.path.join(workdir, "replica")
    os.makedirs(mdir)
    os.makedirs(rdir)
    master = Proc(mdir)
    replica = Proc(rdir, "--appendonly", "yes")
    try:
        m = master.client
        fill_every_type(m)  # travels in the full sync (the replica's new AOF base)
        assert replica.client.execute_command("REPLICAOF", "127.0.0.1", master.port) == b"OK"
        _wait(lambda: replica.client.info("replication")["master_link_status"] == "up")
        # The stream after the sync: the replica's incr file.
        m.set("after", "1")
        m.incr("counter")
        m.expire("after", 5000)
        with m.pipeline(transaction=True) as p:
            p.rpush("l", "x")
            p.hset("h", "new", "1")
            p.execute()
        m.execute_command("SELECT", "3")
        m.delete("db3")
        m.set("db3b", "z")
        m.execute_command("SELECT", "0")
        _wait(lambda: replica.client.get("counter") == b"1" and _dump_all(m) == _dump_all(replica.client))
        expected = _dump_all(m)
        replica.stop()
        out = subprocess.run(["redis-check-aof", os.path.join(rdir, "appendonlydir", "appendonly.aof.manifest")],
                             capture_output=True, text=True) if shutil.which("redis-check-aof") else None
        assert out is None or out.returncode == 0, out.stdout + out.stderr
        alone = Proc(rdir, "--appendonly", "yes")
        try:
            _wait(lambda: alone.client.info("persistence")["loading"] == 0)
            assert _dump_all(alone.client) == expected
            assert alone.client.get("counter") == b"1" and alone.client.ttl("after") > 4000
        finally:
            alone.stop()
    finally:
        replica.kill()
        master.kill()

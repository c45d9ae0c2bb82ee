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
    with open(rlog) as f:
        assert "receiving streamed RDB from master with EOF" in f.read()  # diskless
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


class StreamTap(object):
    """A raw PSYNC connection that reads a master's replication stream."""

    def __init__(self, port):
        import socket
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        self.sock.sendall(b"REPLCONF capa psync2\r\n")
        self._read_until(b"+OK\r\n")
        self.sock.sendall(b"PSYNC ? -1\r\n")
        self._read_until(b"\r\n")           # +FULLRESYNC
        while self.buf.startswith(b"\n"):
            self.buf = self.buf[1:]
        self._read_until(b"\r\n")
        while self.buf.startswith(b"\n") or not self.buf.startswith(b"$"):
            self.buf = self.buf[1:]
            self._read_until(b"\r\n")
        line, self.buf = self.buf.split(b"\r\n", 1)
        size = int(line[1:])
        while len(self.buf) < size:
            self.buf += self.sock.recv(65536)
        self.buf = self.buf[size:]

    def _read_until(self, token):
        while token not in self.buf:
            self.buf += self.sock.recv(65536)
        if token == b"+OK\r\n":
            self.buf = self.buf.split(token, 1)[1]
        elif token == b"\r\n" and self.buf.startswith(b"+"):
            self.buf = self.buf.split(token, 1)[1]

    def commands(self, settle=0.3):
        """Every command received so far (after C{settle} seconds), PINGs left out."""
        import socket
        self.sock.settimeout(settle)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.buf += data
        except socket.timeout:
            pass
        from sonic.resp import RespParser
        parser = RespParser()
        parser.feed(self.buf)
        self.buf = b""
        out = []
        while True:
            argv = parser.gets()
            if argv is None:
                return [c for c in out if c[0].lower() != b"ping"]
            out.append([re.sub(rb"^1\d{12}$", b"<ms>", w) for w in argv])

    def close(self):
        self.sock.close()


import re  # noqa: E402  (used by StreamTap)

#: Command sequences whose replication streams must match redis-server's
#: (13-digit millisecond timestamps are compared as <ms>).
STREAM_CASES = [
    [("SET", "a", "1"), ("SET", "a", "1", "EX", "100"), ("SET", "a", "2", "PX", "100000", "NX"),
     ("SET", "b", "1", "EX", "100", "GET"), ("SET", "b", "2", "EXAT", "2000000000"),
     ("SET", "b", "3", "KEEPTTL"), ("SET", "b", "4", "GET"), ("GETSET", "b", "5")],
    [("SETEX", "c", "100", "v"), ("PSETEX", "c", "100000", "v"), ("EXPIRE", "c", "100"),
     ("PEXPIRE", "c", "100000"), ("EXPIREAT", "c", "2000000000"), ("EXPIRE", "c", "100", "NX"),
     ("EXPIRE", "c", "-1"), ("EXPIRE", "nokey", "10"), ("SET", "q", "1"), ("PEXPIREAT", "q", "100")],
    [("SET", "a", "1"), ("GETEX", "a", "EX", "100"), ("GETEX", "a", "PERSIST"), ("GETEX", "a"),
     ("GETEX", "a", "PXAT", "1000")],
    [("INCRBYFLOAT", "f", "1.5"), ("INCRBYFLOAT", "f", "1e3"), ("HSET", "h", "f", "1"),
     ("HINCRBYFLOAT", "h", "f", "2.5"), ("HSETNX", "h", "f", "v"), ("DEL", "nothing"),
     ("GETDEL", "f")],
    [("SADD", "s", "a"), ("SPOP", "s"), ("SADD", "s", "a", "b"), ("SPOP", "s", "5"),
     ("SPOP", "s"), ("SPOP", "s", "0")],
    [("MULTI",), ("SET", "m1", "1"), ("INCR", "m1"), ("GET", "m1"), ("EXEC",),
     ("MULTI",), ("SET", "m2", "1"), ("EXEC",), ("MULTI",), ("GET", "m2"), ("EXEC",)],
    [("SELECT", "1"), ("SET", "x", "1"), ("SELECT", "0"), ("SET", "y", "1"), ("SWAPDB", "0", "1"),
     ("FLUSHDB",), ("FLUSHALL",)],
    [("RPUSH", "l", "a", "b", "c", "d"), ("LPOP", "l", "2"), ("LMPOP", "1", "l", "RIGHT"),
     ("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "5"), ("BLPOP", "l", "0.01"),
     ("RPUSH", "l", "x", "y"), ("BRPOP", "l", "0"), ("BLMOVE", "l", "d", "LEFT", "RIGHT", "0"),
     ("BRPOPLPUSH", "d", "l", "0"), ("LMOVE", "l", "d", "RIGHT", "LEFT")],
    [("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), ("ZMPOP", "1", "z", "MIN", "COUNT", "2"),
     ("BZPOPMAX", "z", "0"), ("BZMPOP", "0", "1", "z", "MAX", "COUNT", "9"), ("ZPOPMIN", "z"),
     ("ZADD", "z", "INCR", "5", "m")],
    [("SINTERSTORE", "dst", "none1"), ("SADD", "s1", "a", "b"), ("SADD", "s2", "b"),
     ("SINTERSTORE", "dst", "s1", "s2"), ("SINTERSTORE", "dst", "none1"),
     ("ZUNIONSTORE", "zd", "1", "none"), ("RPUSH", "sl", "3", "1", "2"),
     ("SORT", "sl", "STORE", "sorted"), ("COPY", "sorted", "c2"), ("RENAME", "c2", "c3"),
     ("SMOVE", "s1", "s2", "a"), ("SMOVE", "s1", "s2", "zz"), ("LSET", "sl", "0", "x"),
     ("LTRIM", "sl", "0", "0"), ("LREM", "sl", "0", "nomatch"),
     ("HDEL", "nohash", "f"), ("SREM", "s2", "missing"), ("ZREM", "zd", "m")],
    [("APPEND", "k", ""), ("APPEND", "k", "a"), ("SETRANGE", "n", "0", ""),
     ("SETRANGE", "k", "0", "b"), ("INCR", "i"), ("DECRBY", "i", "5"), ("MSET", "m1", "1", "m2", "2"),
     ("MSETNX", "m1", "x", "m3", "y"), ("PERSIST", "k"), ("SET", "t", "1", "EX", "100"),
     ("EXPIRE", "t", "50", "GT"), ("EXPIRE", "t", "500", "GT"), ("PERSIST", "t"),
     ("SETNX", "k", "v"), ("SETNX", "new", "v"), ("RENAMENX", "new", "k")],
    [("SET", "src", "v"), ("RESTORE", "r1", "0", "$DUMP:src"),
     ("RESTORE", "r2", "100000", "$DUMP:src"), ("RESTORE", "r3", "2000000000000", "$DUMP:src", "ABSTTL"),
     ("RESTORE", "r3", "100000", "$DUMP:src", "REPLACE")],
]


@pytest.mark.parametrize("case", range(len(STREAM_CASES)))
def test_stream_matches_redis(case):
    """The same commands make sonic and redis-server 7.0.15 send the same replication stream."""
    streams = []
    sproc, sport, _ = start_sonic()
    rport = free_port()
    # A disk-based full sync writes dump.rdb: keep it out of the checkout.
    rdir = tempfile.mkdtemp(prefix="sonic-stream-")
    rproc = subprocess.Popen(["redis-server", "--port", str(rport), "--save", "", "--dir", rdir,
                              "--repl-diskless-sync", "no", "--repl-ping-replica-period", "1000"],
                             stdout=subprocess.DEVNULL)
    try:
        wait_for_port(rport, rproc)
        for port in (sport, rport):
            tap = StreamTap(port)
            client = redis.Redis(port=port)
            for cmd in STREAM_CASES[case]:
                cmd = [client.dump(w[6:]) if w.startswith("$DUMP:") else w for w in cmd]
                try:
                    client.execute_command(*cmd)
                except redis.ResponseError:
                    pass
            streams.append(tap.commands())
            tap.close()
            client.close()
    finally:
        stop(rproc)
        stop(sproc)
        shutil.rmtree(rdir, ignore_errors=True)
    assert streams[0] == streams[1]


def test_wait_and_redis_cli_replica(pair):
    """WAIT counts a redis-server replica's ACK to REPLCONF GETACK; redis-cli --replica prints sonic's stream."""
    m, start_replica = pair
    replica, _ = start_replica()
    wait_until(lambda: in_sync(m, replica), what="the full sync")
    m.set("w", "1")
    assert m.execute_command("WAIT", 1, 2000) == 1
    assert m.execute_command("WAIT", 2, 200) == 1
    port = m.connection_pool.connection_kwargs["port"]
    cli = subprocess.Popen(["redis-cli", "-p", str(port), "--replica"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: m.info("replication")["connected_slaves"] == 2, what="redis-cli")
        wait_until(lambda: "online" in str(m.info("replication").get("slave1", "")),
                   what="redis-cli online")
        m.set("seen", "by-cli", px=100000)
        m.lpush("list", "x")
        time.sleep(0.5)
    finally:
        cli.terminate()
        out = cli.communicate(timeout=10)[0].decode()
    assert "SYNC done. Logging commands from master." in out
    assert '"SET","seen","by-cli","PXAT",' in out
    assert '"LPUSH","list","x"' in out


def test_replication_commands_parity(parity):
    """ROLE, WAIT and REPLCONF of a master without replicas, and their errors, reply as Redis does."""
    parity(("ROLE",), ("WAIT", "0", "0"), ("WAIT", "1", "10"), ("WAIT", "a", "0"),
           ("WAIT", "1", "-1"), ("WAIT", "1", "a"), ("WAIT", "1"),
           ("REPLCONF", "foo", "bar"), ("REPLCONF", "ack"), ("REPLCONF", "listening-port", "x"),
           ("REPLCONF", "listening-port", "6380"), ("REPLCONF", "capa", "eof", "capa", "psync2"),
           ("REPLCONF",), ("PSYNC", "?"), ("PSYNC", "?", "x"))
    parity.resp3()
    parity(("ROLE",), ("WAIT", "0", "0"))

"""Snapshots with real processes: data survives restarts, TTLs keep counting, files interoperate with redis-server 7.0.

Every server here runs in its own temporary directory (C{--dir}), so no
dump.rdb is ever written into the repository.
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

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed")


def populate(r):
    """Keys of every type, some with TTLs, in two databases."""
    r.set("str", "hello")
    r.set("int", 12345)
    r.set("big", "x" * 5000)
    r.rpush("list", *[str(i) for i in range(300)])
    r.hset("hash", mapping={"f%d" % i: "v%d" % i for i in range(10)})
    r.hset("bighash", mapping={"f%d" % i: "v" * 100 for i in range(600)})
    r.sadd("intset", 1, 2, 3)
    r.sadd("set", "a", "b", "c")
    r.zadd("zset", {"m%d" % i: i / 2.0 for i in range(200)})
    r.set("ttl", "v", px=600000)
    r.expire("list", 900)
    r.execute_command("SELECT", 3)
    r.set("db3", "three")
    r.execute_command("SELECT", 0)


def contents(r):
    """Everything populate() wrote, as comparable Python values, plus the TTLs in ms."""
    out = {
        "str": r.get("str"), "int": r.get("int"), "big": r.get("big"),
        "list": r.lrange("list", 0, -1), "hash": r.hgetall("hash"), "bighash": r.hgetall("bighash"),
        "intset": r.smembers("intset"), "set": r.smembers("set"),
        "zset": r.zrange("zset", 0, -1, withscores=True),
        "ttl": r.get("ttl"), "dbsize": r.dbsize(),
    }
    r.execute_command("SELECT", 3)
    out["db3"] = r.get("db3")
    r.execute_command("SELECT", 0)
    ttls = {"ttl": r.pttl("ttl"), "list": r.pttl("list")}
    return out, ttls


def sonic_in(workdir, *extra):
    """A sonic process on a free port with C{workdir} as its dir; (process, port, client)."""
    proc, port, log = start_sonic("--dir", workdir, *extra)
    r = redis.Redis(port=port, socket_timeout=30)
    wait_loaded(r)
    return proc, port, r


def wait_loaded(r, timeout=60):
    """Wait until the server has loaded its dataset (INFO loading:0)."""
    deadline = time.time() + timeout
    while r.info("persistence")["loading"]:
        assert time.time() < deadline
        time.sleep(0.02)


def wait_exit(proc, timeout=30):
    proc.wait(timeout)
    return proc.returncode


def roundtrip(stopper):
    """Populate a sonic, stop it with C{stopper(proc, client)}, start another on the same dir; both contents."""
    workdir = tempfile.mkdtemp(prefix="sonic-rdb-")
    proc, port, r = sonic_in(workdir)
    try:
        populate(r)
        before, ttls_before = contents(r)
        stopper(proc, r)
        wait_exit(proc)
        assert os.path.exists(os.path.join(workdir, "dump.rdb"))
        proc2, port2, r2 = sonic_in(workdir)
        try:
            after, ttls_after = contents(r2)
        finally:
            stop(proc2)
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    assert after == before
    for key in ttls_before:
        assert 0 < ttls_after[key] <= ttls_before[key]


def test_data_survives_shutdown():
    """SHUTDOWN saves (default save points) and a new process loads every type with its TTL."""
    def shutdown(proc, r):
        try:
            r.execute_command("SHUTDOWN")
        except redis.ConnectionError:
            pass
    roundtrip(shutdown)


def test_data_survives_sigterm():
    """SIGTERM saves (default save points) and a new process loads every type with its TTL."""
    roundtrip(lambda proc, r: proc.send_signal(signal.SIGTERM))


def test_data_survives_bgsave_then_kill_9():
    """After a finished BGSAVE, kill -9 loses nothing that the BGSAVE saw."""
    def bgsave_kill(proc, r):
        assert r.execute_command("BGSAVE") in (True, b"Background saving started")
        deadline = time.time() + 30
        while r.info("persistence")["rdb_bgsave_in_progress"]:
            assert time.time() < deadline
            time.sleep(0.05)
        assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
        proc.kill()
    roundtrip(bgsave_kill)


def test_shutdown_nosave_and_save_empty_write_nothing():
    """SHUTDOWN NOSAVE, and SIGTERM with `save ""`, leave no dump.rdb."""
    workdir = tempfile.mkdtemp(prefix="sonic-rdb-")
    try:
        proc, port, r = sonic_in(workdir)
        r.set("a", "1")
        try:
            r.execute_command("SHUTDOWN", "NOSAVE")
        except redis.ConnectionError:
            pass
        wait_exit(proc)
        proc, port, r = sonic_in(workdir, "--save", "")
        r.set("a", "1")
        proc.send_signal(signal.SIGTERM)
        assert wait_exit(proc) == 0
        assert not os.path.exists(os.path.join(workdir, "dump.rdb"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_ttls_keep_counting_across_a_restart():
    """Deadlines are absolute: time spent down counts, and a key that expired meanwhile is gone."""
    workdir = tempfile.mkdtemp(prefix="sonic-rdb-")
    try:
        proc, port, r = sonic_in(workdir)
        r.set("short", "v", px=1500)
        r.set("long", "v", px=4000)
        r.execute_command("SAVE")
        proc.kill()
        wait_exit(proc)
        time.sleep(2)
        proc, port, r = sonic_in(workdir)
        try:
            assert r.exists("short") == 0
            assert 0 < r.pttl("long") <= 2000
        finally:
            stop(proc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def start_redis(workdir):
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--daemonize", "no", "--logfile", os.path.join(workdir, "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for_port(port, proc)
    return proc, port, redis.Redis(port=port, socket_timeout=30)


def test_redis_server_loads_sonics_file_and_redis_check_rdb_accepts_it():
    """redis-check-rdb accepts sonic's dump.rdb (compressed or not) and redis-server 7.0 loads the same data from it."""
    for compression in ("yes", "no"):
        workdir = tempfile.mkdtemp(prefix="sonic-rdb-")
        try:
            proc, port, r = sonic_in(workdir, "--rdbcompression", compression)
            try:
                populate(r)
                before, ttls = contents(r)
                assert r.execute_command("BGSAVE") in (True, b"Background saving started")
                while r.info("persistence")["rdb_bgsave_in_progress"]:
                    time.sleep(0.05)
            finally:
                stop(proc)
            check = subprocess.run(["redis-check-rdb", os.path.join(workdir, "dump.rdb")],
                                   capture_output=True, text=True)
            assert check.returncode == 0, check.stdout + check.stderr
            assert "RDB looks OK" in check.stdout
            rproc, rport, rr = start_redis(workdir)
            try:
                after, _ = contents(rr)
            finally:
                stop(rproc)
            assert after == before
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def test_sonic_loads_redis_servers_file():
    """sonic starts from the dump.rdb a redis-server 7.0 wrote, every type and TTL included."""
    workdir = tempfile.mkdtemp(prefix="sonic-rdb-")
    try:
        rproc, rport, rr = start_redis(workdir)
        try:
            populate(rr)
            before, ttls_before = contents(rr)
            assert rr.execute_command("SAVE") in (True, b"OK")
        finally:
            stop(rproc)
        proc, port, r = sonic_in(workdir)
        try:
            after, ttls_after = contents(r)
            encodings = {k: r.object("encoding", k) for k in ("hash", "bighash", "intset", "zset")}
        finally:
            stop(proc)
        assert after == before
        for key in ttls_before:
            assert 0 < ttls_after[key] <= ttls_before[key]
        assert encodings == {"hash": b"listpack", "bighash": b"hashtable", "intset": b"intset",
                             "zset": b"skiplist"}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_flushall_then_kill_9_restarts_empty():
    """FLUSHALL with save points rewrites dump.rdb at once: after kill -9 the flushed keys stay gone."""
    workdir = tempfile.mkdtemp(prefix="sonic-rdb-")
    try:
        proc, port, r = sonic_in(workdir)
        r.set("a", "1")
        r.execute_command("SAVE")
        r.flushall()
        proc.kill()
        wait_exit(proc)
        proc, port, r = sonic_in(workdir)
        try:
            assert r.dbsize() == 0
        finally:
            stop(proc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_clients_get_loading_while_a_big_file_loads():
    """While dump.rdb loads, commands get -LOADING and INFO shows loading:1 with its progress; then the data is there."""
    from tests.resp_reader import RawClient
    workdir = tempfile.mkdtemp(prefix="sonic-rdb-")
    try:
        proc, port, r = sonic_in(workdir)
        n = 400000
        lines = [b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(b"k%d" % i), b"k%d" % i)
                 for i in range(n)]
        subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=b"".join(lines),
                       stdout=subprocess.DEVNULL, check=True)
        r.execute_command("SAVE")
        proc.kill()
        wait_exit(proc)
        proc, port, log = start_sonic("--dir", workdir)
        try:
            c = RawClient(port)
            assert c.call("GET", "k1") == b"-LOADING Redis is loading the dataset in memory\r\n"
            info = c.call("INFO", "persistence").decode()
            assert "loading:1" in info and "loading_loaded_perc:" in info
            assert "loading_eta_seconds:" in info
            r = redis.Redis(port=port, socket_timeout=30)
            wait_loaded(r)
            assert r.dbsize() == n and r.get("k1") == b"v"
            assert r.info("persistence")["rdb_last_load_keys_loaded"] == n
        finally:
            stop(proc)
        assert "Loading" in open(log).read()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

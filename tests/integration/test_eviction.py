"""maxmemory with an eviction policy on a real sonic process, driven by redis-py."""

import os
import shutil
import time

import redis

from tests.conftest import start_sonic, stop


def _rss(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _fill(r, n, prefix=b"key:", size=200):
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set(b"%s%08d" % (prefix, i), b"v" * size)
        if i % 2000 == 1999:
            assert all(p.execute())
    assert all(p.execute())


def test_allkeys_lru_bounds_memory_and_logs_evictions_in_the_aof():
    """Writing ~3x maxmemory: every write succeeds, used_memory stays at the limit, RSS levels off,
    subscribers get "evicted" events, and the AOF replays to the same keys after a restart."""
    limit = 16 * 1024 * 1024
    proc, port, log = start_sonic("--maxmemory", str(limit), "--maxmemory-policy", "allkeys-lru",
                                  "--appendonly", "yes", "--notify-keyspace-events", "Ee")
    workdir = os.path.dirname(log)
    try:
        r = redis.Redis(port=port)
        base = r.info("memory")["used_memory_startup"]
        sub = redis.Redis(port=port).pubsub()
        sub.subscribe("__keyevent@0__:evicted")
        assert sub.get_message(timeout=5)["type"] == "subscribe"
        _fill(r, 60000)  # about 3x what fits
        memory = r.info("memory")
        evicted = r.info("stats")["evicted_keys"]
        keys = r.dbsize()
        assert evicted > 0 and keys + evicted == 60000
        assert memory["mem_not_counted_for_evict"] == base > 0
        assert memory["used_memory"] - base <= limit + 4096
        assert memory["maxmemory_policy"] == "allkeys-lru"
        # RSS stays within a fraction of the limit (CPython's heap does not shrink, but is reused).
        assert _rss(proc.pid) < base + 1.6 * limit
        got = 0
        deadline = time.time() + 10
        while got < 100 and time.time() < deadline:
            m = sub.get_message(timeout=1)
            if m and m["type"] == "message":
                got += 1
        assert got == 100
        r.execute_command("CONFIG", "SET", "appendfsync", "always")
        r.set(b"marker", b"1")  # may evict one more key; fsynced with all before it
        keys = r.dbsize()
        sample = [b"key:%08d" % i for i in range(0, 60000, 97)]
        present = [r.exists(k) for k in sample]
    finally:
        stop(proc)
    # The AOF holds the DELs of the evictions: the same keys come back.
    proc2, port2, _ = start_sonic("--appendonly", "yes", "--dir", workdir)
    try:
        r2 = redis.Redis(port=port2)
        for _ in range(200):
            try:
                if r2.info("persistence")["loading"] == 0:
                    break
            except redis.exceptions.BusyLoadingError:
                pass
            time.sleep(0.1)
        assert r2.dbsize() == keys
        assert [r2.exists(k) for k in sample] == present
    finally:
        stop(proc2)
        shutil.rmtree(workdir, ignore_errors=True)


def test_evictions_reach_a_redis_server_replica():
    """A real redis-server replicating from a sonic master that evicts ends with exactly the master's keys
    (the evictions travel as DELs; the replica ignores maxmemory, as by default)."""
    import shutil as _shutil
    import tempfile
    from tests.integration.test_replication_chain import start_redis
    from tests.integration.test_replication_master import in_sync, snapshot, wait_until
    if _shutil.which("redis-server") is None:
        import pytest
        pytest.skip("redis-server is not installed")
    workdir = tempfile.mkdtemp(prefix="sonic-evict-repl-")
    master_proc, port, _ = start_sonic("--maxmemory", str(8 * 1024 * 1024),
                                       "--maxmemory-policy", "allkeys-random")
    replica_proc, replica_port, _ = start_redis(workdir, "replica", "--replicaof", "127.0.0.1", str(port))
    try:
        master = redis.Redis(port=port)
        replica = redis.Redis(port=replica_port)
        wait_until(lambda: in_sync(master, replica), what="the replica's sync")
        _fill(master, 40000)
        assert master.info("stats")["evicted_keys"] > 0
        wait_until(lambda: in_sync(master, replica), what="the stream")
        assert replica.dbsize() == master.dbsize()
        assert snapshot(replica) == snapshot(master)
    finally:
        stop(master_proc)
        stop(replica_proc)
        _shutil.rmtree(workdir, ignore_errors=True)

"""The chain the issue names: redis-server -> sonic -> sonic -> redis-server, with real processes.

Writes at the top must reach the bottom through both sonic replicas, which
pass their master's stream on unchanged (same replication id and offsets);
REPLICAOF NO ONE on the upper sonic must let the sonic below it continue with
a partial resync (PSYNC answered +CONTINUE), so the bottom keeps following.
"""

import os
import shutil
import subprocess
import tempfile

import pytest
import redis

from tests.conftest import free_port, start_sonic, stop, wait_for_port
from tests.integration.test_replication_master import fill, in_sync, snapshot, wait_until

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed")


def start_redis(workdir, name, *extra):
    """A redis-server on a free port (a replica of something when C{extra} says so)."""
    port = free_port()
    log = os.path.join(workdir, name + ".log")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", workdir, "--logfile", log] + list(extra),
                            stdout=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc, port, log


def test_redis_sonic_sonic_redis_chain():
    """Writes at a redis-server master reach a redis-server at the end of a sonic -> sonic chain, before and after a promotion."""
    workdir = tempfile.mkdtemp(prefix="sonic-chain4-")
    procs = []
    try:
        top_proc, top_port, _ = start_redis(workdir, "top")
        procs.append(top_proc)
        top = redis.Redis(port=top_port)
        fill(top)  # written before any replica exists: travels in full syncs

        upper_proc, upper_port, _ = start_sonic()
        procs.append(upper_proc)
        lower_proc, lower_port, _ = start_sonic()
        procs.append(lower_proc)
        upper = redis.Redis(port=upper_port)
        lower = redis.Redis(port=lower_port)
        assert upper.execute_command("REPLICAOF", "127.0.0.1", top_port) == b"OK"
        wait_until(lambda: in_sync(top, upper), what="the upper sonic's sync")
        assert lower.execute_command("REPLICAOF", "127.0.0.1", upper_port) == b"OK"
        wait_until(lambda: in_sync(upper, lower), what="the lower sonic's sync")
        bottom_proc, bottom_port, bottom_log = start_redis(
            workdir, "bottom", "--replicaof", "127.0.0.1", str(lower_port))
        procs.append(bottom_proc)
        bottom = redis.Redis(port=bottom_port)
        wait_until(lambda: in_sync(lower, bottom), what="the bottom's sync")

        # The stream: written at the top after every link is up.
        top.set("after", "1", px=500000)
        top.incrbyfloat("f", 1.5)
        top.rpush("list", "tail")
        top.hset("hash", "c", "3")
        top.zincrby("zset", 2, "a")
        top.spop("set")
        top.delete("int")
        top.execute_command("SELECT", 2)
        top.set("in2", "y")
        top.execute_command("SELECT", 0)
        wait_until(lambda: in_sync(top, upper) and in_sync(upper, lower) and in_sync(lower, bottom),
                   what="the whole chain")
        expected = snapshot(top)
        assert snapshot(upper) == expected
        assert snapshot(lower) == expected
        assert snapshot(bottom) == expected
        # Every link carries the top's history: same replication id everywhere.
        replid = top.info("replication")["master_replid"]
        for node in (upper, lower, bottom):
            assert node.info("replication")["master_replid"] == replid

        # Promote the upper sonic: the lower one continues with PSYNC, not a full sync.
        full_before = upper.info("stats")["sync_full"]
        assert upper.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        upper.set("from_upper", "2")
        upper.lpush("list", "head")
        wait_until(lambda: bottom.get("from_upper") == b"2", what="the promoted stream at the bottom")
        wait_until(lambda: in_sync(upper, lower) and in_sync(lower, bottom), what="the chain below the promotion")
        assert snapshot(bottom) == snapshot(upper)
        stats = upper.info("stats")
        assert stats["sync_partial_ok"] >= 1
        assert stats["sync_full"] == full_before
        with open(bottom_log) as f:
            assert f.read().count("MASTER <-> REPLICA sync: Finished with success") == 1
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(workdir, ignore_errors=True)

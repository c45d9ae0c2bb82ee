"""Unit tests of sonic.persistence.snapshot: SAVE, BGSAVE, save points, MISCONF, loading."""

import os

import pytest

from sonic.persistence import snapshot
from sonic.rdb.reader import RdbParser
from sonic.replication import master as master_mod
from sonic.resp import Error
from tests.helpers import Client, call, make_server


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A server on a task.Clock whose working directory (where dump.rdb goes) is a temp dir."""
    monkeypatch.chdir(tmp_path)
    server = make_server(dir=str(tmp_path))
    server.lastsave = int(server.clock.seconds())  # the server took the wall clock's
    snapshot.get(server).active = True  # as the service makes it
    return server


def read_rdb(path):
    """{key: (kind, value, deadline)} of the RDB file at C{path}."""
    parser = RdbParser()
    with open(path, "rb") as f:
        entries = parser.feed(f.read()) + parser.close()
    return {e.key: (e.kind, e.value, e.expire_ms) for e in entries}


def finish(server, turns=10000):
    """Run reactor turns until no BGSAVE is in progress."""
    snaps = snapshot.get(server)
    for _ in range(turns):
        if snaps.bgsave_job is None:
            return
        server.clock.advance(0)
    raise AssertionError("BGSAVE did not finish")


def one_turn(server):
    """Run only the first due delayed call (task.Clock.advance(0) would run the calls it schedules too)."""
    clock = server.clock
    due = [d for d in clock.calls if d.getTime() <= clock.seconds()]
    first = min(due, key=lambda d: d.getTime())
    clock.calls.remove(first)
    first.called = True
    first.func(*first.args, **first.kw)


def info_field(client, name):
    for line in call(client, "INFO", "persistence").decode().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]


def test_save_writes_every_type_with_deadlines(server, tmp_path):
    """SAVE writes dump.rdb in dir with every type and absolute deadlines, and resets the change counter."""
    c = Client(server)
    call(c, "SET", "s", "v")
    call(c, "RPUSH", "l", "a", "b")
    call(c, "HSET", "h", "f", "v")
    call(c, "SADD", "st", "1", "2")
    call(c, "ZADD", "z", "1.5", "m")
    call(c, "PEXPIRE", "l", "100000")
    deadline = server.store.dbs[0].get_expire(b"l")
    assert info_field(c, "rdb_changes_since_last_save") != "0"
    assert call(c, "SAVE") == b"OK"
    data = read_rdb(str(tmp_path / "dump.rdb"))
    assert data[b"s"] == ("string", b"v", None)
    assert data[b"l"] == ("list", [b"a", b"b"], deadline)
    assert data[b"h"][1] == [(b"f", b"v")]
    assert sorted(data[b"st"][1]) == [b"1", b"2"]
    assert data[b"z"][1] == [(b"m", 1.5)]
    assert info_field(c, "rdb_changes_since_last_save") == "0"
    assert info_field(c, "rdb_saves") == "1"
    assert not [n for n in os.listdir(tmp_path) if n.startswith("temp-")]


def test_bgsave_replies_and_in_progress_errors(server, tmp_path):
    """BGSAVE answers as Redis, refuses a second BGSAVE/SAVE meanwhile, and bad options are a syntax error."""
    c = Client(server)
    call(c, "SET", "a", "1")
    assert call(c, "BGSAVE", "now") == Error("ERR syntax error")
    assert call(c, "BGSAVE", "schedule", "x") == Error("ERR syntax error")
    assert call(c, "BGSAVE") == b"Background saving started"
    assert info_field(c, "rdb_bgsave_in_progress") == "1"
    assert call(c, "BGSAVE") == Error("ERR Background save already in progress")
    assert call(c, "BGSAVE", "SCHEDULE") == Error("ERR Background save already in progress")
    assert call(c, "SAVE") == Error("ERR Background save already in progress")
    finish(server)
    assert info_field(c, "rdb_bgsave_in_progress") == "0"
    assert info_field(c, "rdb_last_bgsave_status") == "ok"
    assert read_rdb(str(tmp_path / "dump.rdb")) == {b"a": ("string", b"1", None)}


def test_bgsave_is_written_in_slices_as_a_point_in_time_snapshot(server, tmp_path, monkeypatch):
    """BGSAVE spreads the file over many reactor turns, and writes during it do not reach the file."""
    monkeypatch.setattr(master_mod, "SLICE_SECONDS", 0)
    c = Client(server)
    for i in range(500):
        call(c, "SET", "k%d" % i, "v")
    call(c, "RPUSH", "list", "a")
    call(c, "HSET", "hash", "f", "old")
    assert call(c, "BGSAVE") == b"Background saving started"
    one_turn(server)
    assert snapshot.get(server).bgsave_job is not None  # not done in one turn
    call(c, "RPUSH", "list", "b")       # in place: copied first (copy-on-write)
    call(c, "HSET", "hash", "f", "new")
    call(c, "SET", "k1", "changed")
    call(c, "DEL", "k2")
    call(c, "SET", "fresh", "x")
    turns = 1
    while snapshot.get(server).bgsave_job is not None:
        one_turn(server)
        turns += 1
    assert turns > 5
    data = read_rdb(str(tmp_path / "dump.rdb"))
    assert data[b"list"][1] == [b"a"]
    assert data[b"hash"][1] == [(b"f", b"old")]
    assert data[b"k1"][1] == b"v" and b"k2" in data and b"fresh" not in data
    assert len(data) == 502
    # The propagator made only for the snapshot is gone: the fast path again.
    assert server.propagator is None


def test_bgsave_copies_shards_lazily_and_stays_exact(server, tmp_path, monkeypatch):
    """BGSAVE starts without copying the keyspace: a shard is copied when a write is about to touch it, a keyless write (FLUSHDB) copies them all, and INFO's cow sizes count those bytes."""
    monkeypatch.setattr(master_mod, "SLICE_SECONDS", 0)
    c = Client(server)
    for i in range(2000):
        call(c, "SET", "k%d" % i, "v")
    assert call(c, "BGSAVE") == b"Background saving started"
    job = snapshot.get(server).bgsave_job
    shards = job.snap[0]
    assert all(s[3] is not None for s in shards)  # nothing copied at the start
    assert info_field(c, "current_cow_size") == "0"
    idx = server.store.dbs[0].shard(b"k7").index
    call(c, "SET", "k7", "changed")
    assert shards[idx][3] is None and sum(s[3] is None for s in shards) == 1
    one_shard = int(info_field(c, "current_cow_size"))
    assert one_shard > 0 and info_field(c, "current_cow_peak") == str(one_shard)
    call(c, "FLUSHDB")
    assert all(s[3] is None for s in shards)
    call(c, "SET", "after", "x")
    finish(server)
    data = read_rdb(str(tmp_path / "dump.rdb"))
    assert len(data) == 2000 and data[b"k7"][1] == b"v" and b"after" not in data
    # INFO: the bytes copied because of writes (Redis: the pages its child copied).
    assert int(info_field(c, "rdb_last_cow_size")) > one_shard
    assert info_field(c, "current_cow_size") == "0"


def test_save_points_fire_once_enough_changes_and_seconds(server, tmp_path):
    """A `save 10 2` point starts a BGSAVE once 2 changes are older than 10 seconds, not before."""
    server.config.apply("save", ["10", "2"], runtime=True)
    snaps = snapshot.get(server)
    snaps.start_cron()
    c = Client(server)
    call(c, "SET", "a", "1")
    server.clock.advance(11)
    finish(server)
    assert not (tmp_path / "dump.rdb").exists()
    call(c, "SET", "b", "2")
    server.clock.advance(1)
    finish(server)
    assert set(read_rdb(str(tmp_path / "dump.rdb"))) == {b"a", b"b"}
    assert info_field(c, "rdb_changes_since_last_save") == "0"
    snaps.stop_cron()


def test_save_empty_disables_save_points(server, tmp_path):
    """With `save ""` no save ever starts by itself."""
    server.config.apply("save", [""], runtime=True)
    snapshot.get(server).start_cron()
    c = Client(server)
    for i in range(20):
        call(c, "SET", "k%d" % i, "v")
    server.clock.advance(4000)
    assert not (tmp_path / "dump.rdb").exists()
    snapshot.get(server).stop_cron()


def test_failed_bgsave_refuses_writes_with_misconf(server, tmp_path):
    """A failed BGSAVE sets rdb_last_bgsave_status:err and writes (and PING) get Redis' -MISCONF until a save succeeds."""
    c = Client(server)
    call(c, "SET", "a", "1")
    server.config.set_value("dir", str(tmp_path / "missing"))
    assert call(c, "BGSAVE") == b"Background saving started"
    finish(server)
    assert info_field(c, "rdb_last_bgsave_status") == "err"
    misconf = Error(
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
        "to disk. Commands that may modify the data set are disabled, because this instance is "
        "configured to report errors during writes if RDB snapshotting fails "
        "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the "
        "RDB error.")
    assert call(c, "SET", "b", "2") == misconf
    assert call(c, "PING") == misconf
    assert call(c, "GET", "a") == b"1"
    call(c, "CONFIG", "SET", "stop-writes-on-bgsave-error", "no")
    assert call(c, "SET", "b", "2") == b"OK"
    call(c, "CONFIG", "SET", "stop-writes-on-bgsave-error", "yes")
    assert call(c, "SET", "b", "3") == misconf
    server.config.set_value("dir", str(tmp_path))
    assert call(c, "BGSAVE") == b"Background saving started"
    finish(server)
    assert info_field(c, "rdb_last_bgsave_status") == "ok"
    assert call(c, "SET", "b", "4") == b"OK"


def test_failed_bgsave_without_save_points_does_not_refuse(server, tmp_path):
    """As in Redis, -MISCONF needs save points: with `save ""` a failed BGSAVE refuses nothing."""
    server.config.apply("save", [""], runtime=True)
    c = Client(server)
    server.config.set_value("dir", str(tmp_path / "missing"))
    call(c, "BGSAVE")
    finish(server)
    assert info_field(c, "rdb_last_bgsave_status") == "err"
    assert call(c, "SET", "a", "1") == b"OK"


def test_load_restores_keys_and_skips_expired_ones(server, tmp_path):
    """load_rdb brings back every key with its absolute deadline and skips the keys already past it."""
    c = Client(server)
    call(c, "SET", "keep", "v", "PX", "100000")
    call(c, "SET", "gone", "v", "PX", "5000")
    call(c, "SADD", "s", "x")
    deadline = server.store.dbs[0].get_expire(b"keep")
    assert call(c, "SAVE") == b"OK"
    other = make_server(clock=None, dir=str(tmp_path))
    other.clock.advance(server.clock.seconds() - other.clock.seconds() + 10)
    assert snapshot.load_rdb(other) == 2
    c2 = Client(other)
    assert call(c2, "GET", "keep") == b"v"
    assert other.store.dbs[0].get_expire(b"keep") == deadline
    assert call(c2, "EXISTS", "gone") == 0
    assert call(c2, "SMEMBERS", "s") == [b"x"] or call(c2, "SMEMBERS", "s") == {b"x"}
    assert info_field(c2, "rdb_last_load_keys_loaded") == "2"
    assert info_field(c2, "rdb_last_load_keys_expired") == "1"


def test_load_at_startup_without_a_file_loads_nothing(server):
    """No dump.rdb: start-up loads nothing and raises nothing."""
    assert snapshot.load_at_startup(server) is None


def test_prepare_shutdown_saves_only_when_asked_or_with_save_points(server, tmp_path):
    """SHUTDOWN NOSAVE writes nothing, SHUTDOWN with save points (or SAVE) writes the file."""
    c = Client(server)
    call(c, "SET", "a", "1")
    assert snapshot.prepare_shutdown(server, save=False)
    assert not (tmp_path / "dump.rdb").exists()
    server.config.apply("save", [""], runtime=True)
    assert snapshot.prepare_shutdown(server, save=None)
    assert not (tmp_path / "dump.rdb").exists()
    assert snapshot.prepare_shutdown(server, save=True)
    assert b"a" in read_rdb(str(tmp_path / "dump.rdb"))


def test_shutdown_fails_when_the_save_fails(server, tmp_path):
    """SHUTDOWN answers Redis' error and stays up when the final save fails (FORCE exits anyway)."""
    c = Client(server)
    stopped = []
    server.shutdown = lambda: stopped.append(1)
    server.config.set_value("dir", str(tmp_path / "missing"))
    assert call(c, "SHUTDOWN") == Error("ERR Errors trying to SHUTDOWN. Check logs.")
    assert not stopped
    call(c, "SHUTDOWN", "NOSAVE")
    assert stopped


def test_flushall_with_save_points_writes_the_empty_dataset(server, tmp_path):
    """FLUSHALL with save points saves at once, so a restart does not bring the keys back (Redis 7.0)."""
    c = Client(server)
    call(c, "SET", "a", "1")
    assert call(c, "SAVE") == b"OK"
    call(c, "FLUSHALL")
    assert read_rdb(str(tmp_path / "dump.rdb")) == {}
    assert info_field(c, "rdb_changes_since_last_save") == "1"


def test_in_process_servers_never_save_by_themselves(tmp_path, monkeypatch):
    """A server not started by the service (unit tests) writes no file on SHUTDOWN or FLUSHALL."""
    monkeypatch.chdir(tmp_path)
    server = make_server()
    server.shutdown = lambda: None
    c = Client(server)
    call(c, "SET", "a", "1")
    call(c, "FLUSHALL")
    call(c, "SET", "a", "1")
    call(c, "SHUTDOWN")
    assert os.listdir(tmp_path) == []


def test_loading_logs_its_progress_every_two_seconds(server):
    """While a dataset loads, a progress line (percent, bytes, time left) is logged every two seconds until loading ends."""
    from twisted.logger import formatEvent, globalLogPublisher
    lines = []

    def observer(event):
        if event.get("log_namespace") == "sonic":
            lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observer)
    try:
        done = [0]
        server.loading = True
        server.loading_progress = (0.0, 1000, done)
        snapshot.log_loading_progress(server)
        server.clock.advance(1.9)
        assert not [l for l in lines if "Loading the dataset" in l]
        done[0] = 250
        server.clock.advance(0.2)
        done[0] = 500
        server.clock.advance(2.0)
        progress = [l for l in lines if "Loading the dataset" in l]
        assert len(progress) == 2
        assert progress[0].startswith("Loading the dataset: 25.0% (250 of 1000 bytes")
        assert progress[1].startswith("Loading the dataset: 50.0% (500 of 1000 bytes")
        server.loading = False
        server.clock.advance(10)
        assert len([l for l in lines if "Loading the dataset" in l]) == 2
    finally:
        globalLogPublisher.removeObserver(observer)

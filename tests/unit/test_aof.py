"""Unit tests of the append-only file (sonic.persistence.aof): manifest, appends, fsync policies, rewrite, loading."""

import os

import pytest

from sonic.persistence.aof import AofError, Manifest, parse_commands, _Short, _Bad
from sonic.replication.propagate import encode_command
from tests.helpers import Client, call, connect, make_server


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Every test runs in its own directory (appenddirname is relative to dir)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


class Fsyncs(object):
    """An injected fsync that counts its calls (and still syncs)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, fd):
        self.calls += 1


def aof_server(**config):
    """A server with appendonly yes, its AOF open, fsync counted."""
    config.setdefault("appendonly", True)
    server = make_server(**config)
    server.aof.fsync = Fsyncs()
    server.aof.open()
    server._aof_service_running = True
    return server


def run_rewrite(server):
    """Drive a rewrite's slices on the test clock until it ends."""
    for _ in range(100000):
        if server.aof.rewrite is None:
            return
        server.clock.advance(0)
    raise AssertionError("rewrite did not end")


def incr_bytes(server):
    server.clock.advance(0)  # the end of the reactor turn writes the buffer
    name = server.aof.manifest.incrs[-1][0]
    with open(os.path.join("appendonlydir", name), "rb") as f:
        return f.read()


def reload(prev=None, **config):
    """A fresh server loading the AOF directory of the current one (C{prev}, whose turn ends first)."""
    if prev is not None:
        prev.clock.advance(0)
    server = make_server(appendonly=True, **config)
    server.aof.load()
    return server


def test_manifest_round_trip():
    """The manifest is parsed and written back byte for byte in Redis 7.0's format."""
    text = ("file appendonly.aof.3.base.rdb seq 3 type b\n"
            "file appendonly.aof.3.incr.aof seq 3 type i\n"
            "file appendonly.aof.4.incr.aof seq 4 type i\n")
    m = Manifest.parse(text)
    assert m.base == ("appendonly.aof.3.base.rdb", 3, True)
    assert m.incrs == [("appendonly.aof.3.incr.aof", 3), ("appendonly.aof.4.incr.aof", 4)]
    assert m.dump() == text


def test_manifest_malformed():
    """A manifest line with a missing field is an error naming the line."""
    with pytest.raises(AofError, match="line 2"):
        Manifest.parse("file a.rdb seq 1 type b\nfile b seq 2\n")


def test_new_aof_layout(in_tmp):
    """appendonly yes on an empty directory creates base 1 (RDB, aof-base 1), incr 1 and the manifest."""
    aof_server()
    names = sorted(os.listdir("appendonlydir"))
    assert names == ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof",
                     "appendonly.aof.manifest"]
    with open("appendonlydir/appendonly.aof.manifest") as f:
        assert f.read() == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                            "file appendonly.aof.1.incr.aof seq 1 type i\n")
    with open("appendonlydir/appendonly.aof.1.base.rdb", "rb") as f:
        base = f.read()
    assert base.startswith(b"REDIS0010") and b"aof-base" in base


def test_append_writes_the_propagated_stream():
    """Writes land in the incr file as Redis propagates them: SELECT first, SET EX as PXAT."""
    server = aof_server()
    c = Client(server)
    call(c, "SET", "a", "1")
    call(c, "GET", "a")
    call(c, "SET", "b", "2", "EX", "100")
    deadline = server.store.dbs[0].get_expire(b"b")
    assert incr_bytes(server) == (encode_command([b"SELECT", b"0"])
                                  + encode_command([b"SET", b"a", b"1"])
                                  + encode_command([b"SET", b"b", b"2", b"PXAT", b"%d" % deadline]))


def test_everysec_writes_at_the_end_of_the_turn():
    """everysec gathers the units of a reactor turn into one write at its end."""
    server = aof_server(appendfsync="everysec")
    c = Client(server)
    name = os.path.join("appendonlydir", server.aof.manifest.incrs[-1][0])
    size = os.path.getsize(name)
    call(c, "SET", "a", "1")
    call(c, "SET", "b", "2")
    assert os.path.getsize(name) == size
    server.clock.advance(0)
    assert os.path.getsize(name) > size


def test_fsync_always_group_commit_holds_replies_until_on_disk():
    """appendfsync always: the replies of a reactor turn wait until one fsync has put every write of the turn on disk."""
    server = aof_server(appendfsync="always")
    fsyncs = server.aof.fsync
    (p1, t1), (p2, t2), (p3, t3) = connect(server), connect(server), connect(server)
    before = fsyncs.calls
    p1.dataReceived(b"SET a 1\r\nSET b 2\r\n")
    p2.dataReceived(b"INCR n\r\n")
    p3.dataReceived(b"GET a\r\n")
    assert (t1.value(), t2.value(), t3.value()) == (b"", b"", b"")  # nothing acknowledged yet
    assert fsyncs.calls == before
    with open(os.path.join("appendonlydir", server.aof.manifest.incrs[-1][0]), "rb") as f:
        assert b"INCR" not in f.read()
    server.clock.advance(0)  # the end of the turn: one write, one fsync, then the replies
    assert fsyncs.calls == before + 1
    assert (t1.value(), t2.value(), t3.value()) == (b"+OK\r\n+OK\r\n", b":1\r\n", b"$1\r\n1\r\n")
    assert b"INCR" in incr_bytes(server)
    # A turn without writes holds nothing and fsyncs nothing.
    p3.dataReceived(b"GET b\r\n")
    assert t3.value().endswith(b"$1\r\n2\r\n") and fsyncs.calls == before + 1


def test_fsync_always_quit_after_write_closes_after_the_reply():
    """A client that writes then QUITs under appendfsync always gets both replies, then the connection closes."""
    server = aof_server(appendfsync="always")
    p, t = connect(server)
    p.dataReceived(b"SET a 1\r\nQUIT\r\n")
    assert t.value() == b"" and not t.disconnecting
    server.clock.advance(0)
    assert t.value() == b"+OK\r\n+OK\r\n" and t.disconnecting


def test_fsync_everysec_in_background_once_a_second():
    """appendfsync everysec never fsyncs in the command; the once-a-second cron does, off the reactor."""
    server = aof_server(appendfsync="everysec")
    c = Client(server)
    before = server.aof.fsync.calls
    for i in range(10):
        call(c, "SET", "k%d" % i, "v")
    assert server.aof.fsync.calls == before
    server.clock.advance(1)
    assert server.aof.fsync.calls == before + 1
    server.clock.advance(1)  # nothing new written: no fsync
    assert server.aof.fsync.calls == before + 1


def test_fsync_no():
    """appendfsync no never fsyncs."""
    server = aof_server(appendfsync="no")
    c = Client(server)
    before = server.aof.fsync.calls
    call(c, "SET", "a", "1")
    server.clock.advance(3)
    assert server.aof.fsync.calls == before


def test_restart_keeps_every_type():
    """The AOF reloads strings, lists, hashes, sets, zsets, TTLs and several dbs."""
    server = aof_server()
    c = Client(server)
    call(c, "SET", "s", "v")
    call(c, "RPUSH", "l", "a", "b")
    call(c, "HSET", "h", "f", "v")
    call(c, "SADD", "set", "1", "2")
    call(c, "ZADD", "z", "1.5", "m")
    call(c, "EXPIRE", "s", "100")
    call(c, "SELECT", "4")
    call(c, "SET", "other", "x")
    server2 = reload(server)
    c2 = Client(server2)
    assert call(c2, "GET", "s") == b"v"
    assert (call(c2, "LINDEX", "l", "0"), call(c2, "LINDEX", "l", "1")) == (b"a", b"b")
    assert call(c2, "HGET", "h", "f") == b"v"
    assert call(c2, "SCARD", "set") == 2
    assert call(c2, "ZSCORE", "z", "m") == 1.5
    assert 0 < call(c2, "TTL", "s") <= 100
    call(c2, "SELECT", "4")
    assert call(c2, "GET", "other") == b"x"


def test_rewrite_while_writing_loses_nothing():
    """Writes (including in-place changes of collections) made during a rewrite are in the result exactly once."""
    server = aof_server()
    c = Client(server)
    for i in range(3000):
        call(c, "SET", "k%d" % i, "v%d" % i)
    call(c, "RPUSH", "list", "a")
    assert call(c, "BGREWRITEAOF") == b"Background append only file rewriting started"
    assert call(c, "BGREWRITEAOF").message == \
        "ERR Background append only file rewriting already in progress"
    # Changes while the base is being written in slices.
    call(c, "RPUSH", "list", "b")
    call(c, "SET", "k1", "changed")
    call(c, "DEL", "k2")
    server.clock.advance(0)
    call(c, "RPUSH", "list", "c")
    run_rewrite(server)
    assert server.aof.rewrites == 1
    with open("appendonlydir/appendonly.aof.manifest") as f:
        assert f.read() == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                            "file appendonly.aof.2.incr.aof seq 2 type i\n")
    assert sorted(os.listdir("appendonlydir")) == [
        "appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
    call(c, "SET", "after", "1")
    c2 = Client(reload(server))
    assert [call(c2, "LINDEX", "list", i) for i in range(4)] == [b"a", b"b", b"c", None]
    assert call(c2, "GET", "k1") == b"changed"
    assert call(c2, "GET", "k2") is None
    assert call(c2, "GET", "k2999") == b"v2999"
    assert call(c2, "GET", "after") == b"1"
    assert call(c2, "DBSIZE") == 3000 + 1 - 1 + 1


def test_rewrite_aof_form_base():
    """With aof-use-rdb-preamble no the base is written as commands (.base.aof) and reloads."""
    server = aof_server(aof_use_rdb_preamble=False)
    c = Client(server)
    call(c, "ZADD", "z", "1", "a", "2", "b")
    call(c, "HSET", "h", "f", "v")
    call(c, "SET", "t", "x", "PX", "50000")
    server.aof.start_rewrite()
    run_rewrite(server)
    assert server.aof.manifest.base[0] == "appendonly.aof.2.base.aof"
    c2 = Client(reload(server))
    assert (call(c2, "ZSCORE", "z", "a"), call(c2, "ZSCORE", "z", "b")) == (1.0, 2.0)
    assert call(c2, "HGET", "h", "f") == b"v"
    assert call(c2, "PTTL", "t") > 0


def test_auto_rewrite_on_growth():
    """auto-aof-rewrite-percentage/min-size start a rewrite from the cron once the log grew enough."""
    server = aof_server(auto_aof_rewrite_min_size=1000, auto_aof_rewrite_percentage=100)
    c = Client(server)
    for i in range(200):
        call(c, "SET", "k", "x" * 20)
    assert server.aof.rewrites == 0
    server.clock.advance(1)  # the cron starts it; the test clock runs its slices at once
    run_rewrite(server)
    assert server.aof.rewrites == 1
    assert server.aof.current_size < 1000


def test_truncated_tail_is_cut_and_loaded(in_tmp):
    """A command cut short at the end of the last incr file is dropped and the file truncated (aof-load-truncated yes)."""
    server = aof_server()
    c = Client(server)
    call(c, "SET", "a", "1")
    server.aof.close()
    path = os.path.join("appendonlydir", server.aof.manifest.incrs[-1][0])
    good = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$5\r\nab")
    c2 = Client(reload(server))
    assert call(c2, "GET", "a") == b"1"
    assert call(c2, "GET", "b") is None
    assert os.path.getsize(path) == good


def test_truncated_tail_refused_without_aof_load_truncated():
    """With aof-load-truncated no, a cut command stops loading with an error naming the file."""
    server = aof_server()
    call(Client(server), "SET", "a", "1")
    server.aof.close()
    path = os.path.join("appendonlydir", server.aof.manifest.incrs[-1][0])
    with open(path, "ab") as f:
        f.write(b"*2\r\n$3\r\nGET")
    with pytest.raises(AofError, match="appendonly.aof.1.incr.aof"):
        reload(aof_load_truncated=False)


def test_incomplete_multi_is_reverted():
    """A MULTI without its EXEC at the end of the file is dropped, as Redis reverts it."""
    server = aof_server()
    call(Client(server), "SET", "a", "1")
    server.aof.close()
    path = os.path.join("appendonlydir", server.aof.manifest.incrs[-1][0])
    good = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(encode_command([b"MULTI"]) + encode_command([b"SET", b"b", b"2"]))
    c2 = Client(reload(server))
    assert call(c2, "GET", "b") is None
    assert os.path.getsize(path) == good


def test_corrupt_file_names_file_and_offset():
    """Garbage in the middle of an incr file stops loading with the file name and the offset."""
    server = aof_server()
    call(Client(server), "SET", "a", "1")
    server.aof.close()
    path = os.path.join("appendonlydir", server.aof.manifest.incrs[-1][0])
    size = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(b"garbage\r\n" + encode_command([b"SET", b"c", b"3"]))
    with pytest.raises(AofError) as e:
        reload(server)
    assert "appendonly.aof.1.incr.aof" in str(e.value)
    assert "offset %d" % size in str(e.value)


def test_parse_commands_short_and_bad():
    """The parser tells a cut command (with its start) from malformed data."""
    data = encode_command([b"SET", b"a", b"1"])
    assert [a for a, _, _ in parse_commands(data)] == [[b"SET", b"a", b"1"]]
    with pytest.raises(_Short) as e:
        list(parse_commands(data + data[:-3]))
    assert e.value.offset == len(data)
    with pytest.raises(_Bad):
        list(parse_commands(b"*1\r\n$3\r\nabcXX"))


def test_config_set_appendonly_yes_at_run_time():
    """CONFIG SET appendonly yes rewrites the dataset into a new base, then appends."""
    server = make_server()
    server.aof.fsync = Fsyncs()
    server._aof_service_running = True
    c = Client(server)
    call(c, "SET", "before", "1")
    call(c, "CONFIG", "SET", "appendonly", "yes")
    call(c, "SET", "during", "2")
    run_rewrite(server)
    call(c, "SET", "after", "3")
    with open("appendonlydir/appendonly.aof.manifest") as f:
        assert f.read() == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                            "file appendonly.aof.1.incr.aof seq 1 type i\n")
    c2 = Client(reload(server))
    assert call(c2, "MGET", "before", "during", "after") == [b"1", b"2", b"3"]


def test_info_fields_order():
    """info_fields gives Redis 7.0's aof rows in order, the size rows only while enabled."""
    server = make_server()
    names = [n for n, _ in server.aof.info_fields()]
    assert names[:3] == ["aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled"]
    assert "aof_current_size" not in names
    server = aof_server()
    names = [n for n, _ in server.aof.info_fields()]
    assert names[-6:] == ["aof_current_size", "aof_base_size", "aof_pending_rewrite",
                          "aof_buffer_length", "aof_pending_bio_fsync", "aof_delayed_fsync"]


def test_background_load_answers_loading_until_done():
    """Loading in the background replays a slice per reactor turn; clients get -LOADING until the end."""
    server = aof_server()
    c = Client(server)
    for i in range(5000):
        call(c, "SET", "k%d" % i, "v%d" % i)
    server.clock.advance(0)
    server2 = make_server(appendonly=True)
    done = []
    turns_queue = []

    class OneTurn(object):
        """A clock whose callLater(0) waits for the test to run the next turn."""

        def callLater(self, delay, f, *args):
            turns_queue.append((f, args))

    d = server2.aof.load_in_background(step_seconds=0, clock=OneTurn())
    d.addCallback(done.append)
    c2 = Client(server2)
    turns = 0
    seen_progress = False
    while not done:
        assert server2.loading
        reply = call(c2, "GET", "k1")
        assert reply.message == "LOADING Redis is loading the dataset in memory"
        info = call(c2, "INFO", "persistence").decode()
        assert "loading:1" in info
        seen_progress = seen_progress or "loading_loaded_perc:0.00" not in info
        f, args = turns_queue.pop(0)
        f(*args)
        turns += 1
        assert turns < 100
    assert done == [5000] and turns > 3 and seen_progress
    assert not server2.loading
    assert call(c2, "GET", "k4999") == b"v4999"


def test_background_load_failure_fires_errback():
    """A corrupt incr file fails the background load's Deferred with the file and offset, and ends loading."""
    server = aof_server()
    call(Client(server), "SET", "a", "1")
    name = server.aof.manifest.incrs[-1][0]
    size = len(incr_bytes(server))
    with open(os.path.join("appendonlydir", name), "ab") as f:
        f.write(b"!garbage\r\n")
    server2 = make_server(appendonly=True)
    failures = []
    server2.aof.load_in_background().addErrback(failures.append)
    for _ in range(10):
        server2.clock.advance(0)
    assert len(failures) == 1 and failures[0].check(AofError)
    assert name in str(failures[0].value) and "offset %d" % size in str(failures[0].value)
    assert not server2.loading


def test_pre_7_single_file_aof_is_upgraded(in_tmp):
    """A pre-7.0 appendonly.aof (no directory) is loaded and moved into appendonlydir as the base, as Redis 7.0 upgrades it."""
    with open("appendonly.aof", "wb") as f:
        f.write(encode_command([b"SELECT", b"0"]) + encode_command([b"SET", b"old", b"1"])
                + encode_command([b"RPUSH", b"l", b"a", b"b"]))
    server = make_server(appendonly=True)
    assert server.aof.exists()
    server.aof.open()
    assert not os.path.exists("appendonly.aof")
    assert os.path.exists(os.path.join("appendonlydir", "appendonly.aof"))
    with open(os.path.join("appendonlydir", "appendonly.aof.manifest")) as f:
        text = f.read()
    assert text == ("file appendonly.aof seq 1 type b\n"
                    "file appendonly.aof.1.incr.aof seq 1 type i\n")
    c = Client(server)
    assert call(c, "GET", "old") == b"1"
    call(c, "SET", "new", "2")
    server2 = reload(server)
    c2 = Client(server2)
    assert (call(c2, "GET", "old"), call(c2, "GET", "new"), call(c2, "LLEN", "l")) == (b"1", b"2", 2)


def test_pre_7_single_file_with_rdb_preamble_is_upgraded(in_tmp):
    """An old appendonly.aof that starts with an RDB preamble loads as an RDB base after the upgrade."""
    donor = make_server()
    call(Client(donor), "SET", "from-rdb", "x")
    from sonic.persistence.snapshot import get
    get(donor).save_sync("appendonly.aof")
    server = make_server(appendonly=True)
    assert server.aof.load() == 1
    assert call(Client(server), "GET", "from-rdb") == b"x"
    assert os.path.exists(os.path.join("appendonlydir", "appendonly.aof"))


def test_failed_write_refuses_writes_keeps_the_data_and_recovers():
    """A failed AOF write (full disk) keeps the unwritten bytes, answers writes and PING -MISCONF, and the cron's retry restores both."""
    server = aof_server(appendfsync="everysec")
    aof = server.aof
    c = Client(server)
    real_write = aof.write

    def full_disk(fd, data):
        raise OSError(28, "No space left on device")

    aof.write = full_disk
    assert call(c, "SET", "a", "1") == b"OK"  # buffered for the end of the turn
    server.clock.advance(0)  # the write fails
    error = "MISCONF Errors writing to the AOF file: No space left on device"
    assert call(c, "SET", "b", "2").message == error
    assert call(c, "PING").message == error
    assert call(c, "GET", "a") == b"1"  # reads go on
    assert "aof_last_write_status:err" in call(c, "INFO", "persistence").decode()
    server.clock.advance(1)  # the cron retries: still full
    assert call(c, "DEL", "a").message == error
    aof.write = real_write
    server.clock.advance(1)  # the retry succeeds
    assert call(c, "SET", "b", "2") == b"OK"
    assert "aof_last_write_status:ok" in call(c, "INFO", "persistence").decode()
    data = incr_bytes(server)
    assert data.count(b"SET") == 2 and b"$1\r\na\r\n$1\r\n1" in data  # nothing lost


def test_short_write_keeps_the_rest():
    """A short write (the disk filled mid-write) keeps the rest of the data for the retry."""
    server = aof_server(appendfsync="everysec")
    aof = server.aof
    real_write = aof.write
    aof.write = lambda fd, data: real_write(fd, data[:5])
    call(Client(server), "SET", "key", "value")
    server.clock.advance(0)
    assert server.aof_write_error == "No space left on device"
    aof.write = real_write
    server.clock.advance(1)
    assert server.aof_write_error is None
    assert incr_bytes(server).endswith(encode_command([b"SET", b"key", b"value"]))

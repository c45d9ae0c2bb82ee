"""Compression at rest: the policy (threshold, min saving, level, on/off), the thread path, the counters.

Servers come from L{make_server}: its C{run_in_thread} runs the thread job
synchronously; the tests that need a job to finish later pass a runner that
keeps the Deferreds (L{LaterRunner}) and fire them by hand.
"""

import os
import zlib

from twisted.internet.defer import Deferred

from sonic.store.compression import Compressed
from tests.helpers import Client, call, make_server, run_sync

#: 4 KB of JSON-like text: compresses about 10x at level 1.
JSON = b"".join(b'{"id": %d, "name": "user%d", "active": true}\n' % (i, i) for i in range(100))[:4096]
#: Over the default thread threshold (64 KB).
HUGE = JSON * 20


def _stored(client, key):
    """The object the keyspace holds at C{key} (bytes, Compressed or None)."""
    if isinstance(key, str):
        key = key.encode()
    return client.db.shard(key).data.get(key)


def _setup(**config):
    server = make_server(**config)
    return server, server.compressor, Client(server)


class LaterRunner(object):
    """A C{run_in_thread} whose jobs complete only when L{fire} is called."""

    def __init__(self):
        self.jobs = []

    def __call__(self, func, *args):
        d = Deferred()
        self.jobs.append((d, func, args))
        return d

    def fire(self, index):
        d, func, args = self.jobs[index]
        d.callback(func(*args))


# -- policy ----------------------------------------------------------------------

def test_below_threshold_stays_raw():
    """A value one byte under compression-threshold is stored as bytes; at the threshold it is compressed."""
    server, comp, c = _setup()
    call(c, "SET", "small", JSON[:1023])
    call(c, "SET", "edge", JSON[:1024])
    assert type(_stored(c, "small")) is bytes
    assert type(_stored(c, "edge")) is Compressed
    assert _stored(c, "edge").size == 1024
    assert call(c, "GET", "edge") == JSON[:1024]


def test_min_saving_keeps_incompressible_raw():
    """Random bytes do not compress by 20%, so they stay raw and count as a rejected compression."""
    server, comp, c = _setup()
    data = os.urandom(8192)
    call(c, "SET", "rand", data)
    assert _stored(c, "rand") is not None and type(_stored(c, "rand")) is bytes
    assert comp.rejected == 1 and comp.compressed_keys == 0
    assert call(c, "GET", "rand") == data


def test_min_saving_setting_is_a_percentage():
    """With compression-min-saving 95 even JSON (about 90% saved) stays raw; at 50 it is compressed."""
    server, comp, c = _setup()
    server.config.set_value("compression-min-saving", 95)
    call(c, "SET", "a", JSON)
    assert type(_stored(c, "a")) is bytes
    server.config.set_value("compression-min-saving", 50)
    call(c, "SET", "a", JSON)
    assert type(_stored(c, "a")) is Compressed


def test_level_reaches_zlib():
    """compression-level picks zlib's level: the gzip header says 'fastest' at 1 and 'best' at 9."""
    server, comp, c = _setup()
    call(c, "SET", "fast", JSON)
    call(c, "CONFIG", "SET", "compression-level", "9")
    call(c, "SET", "best", JSON)
    fast, best = _stored(c, "fast"), _stored(c, "best")
    assert fast.data[8] == 4 and best.data[8] == 2   # gzip XFL byte
    assert zlib.decompress(best.data, 31) == JSON


def test_compression_none():
    """With compression none, nothing is compressed; switching back on affects later writes only."""
    server, comp, c = _setup(compression="none")
    call(c, "SET", "a", JSON)
    assert type(_stored(c, "a")) is bytes
    call(c, "CONFIG", "SET", "compression", "gzip")
    assert type(_stored(c, "a")) is bytes
    call(c, "SET", "b", JSON)
    assert type(_stored(c, "b")) is Compressed
    call(c, "CONFIG", "SET", "compression", "none")
    assert call(c, "GET", "b") == JSON   # values already compressed still read back
    call(c, "APPEND", "b", "x")
    assert type(_stored(c, "b")) is bytes


def test_threshold_change_takes_effect():
    """compression-threshold changed at run time (config or CONFIG SET) applies to the next write."""
    server, comp, c = _setup()
    call(c, "SET", "a", JSON[:600])
    assert type(_stored(c, "a")) is bytes
    server.config.set_value("compression-threshold", 500)
    call(c, "SET", "a", JSON[:600])
    assert type(_stored(c, "a")) is Compressed
    call(c, "CONFIG", "SET", "compression-threshold", "2000")
    call(c, "SET", "a", JSON[:1500])
    assert type(_stored(c, "a")) is bytes


# -- commands see no difference -----------------------------------------------------

def test_commands_on_compressed_values():
    """APPEND, SETRANGE, GETRANGE, STRLEN, GETSET, GETDEL, MGET, LCS give the same results on compressed values."""
    plain = Client(make_server(compression="none"))
    server, comp, c = _setup()
    script = [("SET", "k", JSON), ("STRLEN", "k"), ("GETRANGE", "k", "-20", "-1"),
              ("APPEND", "k", "tail"), ("GETRANGE", "k", "-10", "-1"), ("SETRANGE", "k", "5", "XYZ"),
              ("GETRANGE", "k", "0", "10"), ("SETRANGE", "k", "5000", "end"), ("STRLEN", "k"),
              ("GET", "k"), ("MGET", "k", "nokey"), ("SET", "k2", JSON[100:1500]), ("LCS", "k", "k2", "LEN"),
              ("GETSET", "k", JSON[:2000]), ("GETEX", "k"), ("GETDEL", "k"), ("EXISTS", "k")]
    for cmd in script:
        assert call(c, *cmd) == call(plain, *cmd), cmd
    assert comp.compressions > 0 and comp.decompressions > 0


def test_strlen_does_not_decompress():
    """STRLEN, SETRANGE with an empty value and a GETRANGE that selects nothing read Compressed.size only."""
    server, comp, c = _setup()
    call(c, "SET", "k", JSON)
    before = comp.decompressions
    assert call(c, "STRLEN", "k") == len(JSON)
    assert call(c, "SETRANGE", "k", "10", "") == len(JSON)
    assert call(c, "GETRANGE", "k", "-1", "-5") == b""
    assert call(c, "GETRANGE", "k", "5000", "6000") == b""
    assert comp.decompressions == before


def test_incrbyfloat_on_compressed_number():
    """A long numeric string that compresses still works with INCRBYFLOAT; INCR refuses it as Redis does."""
    server, comp, c = _setup()
    number = b"1" + b"0" * 1500
    call(c, "SET", "f", number)
    assert type(_stored(c, "f")) is Compressed
    assert call(c, "INCR", "f").message == "ERR value is not an integer or out of range"
    result = call(c, "INCRBYFLOAT", "f", "1")
    assert result.startswith(b"1000000000000000000") and len(result) == 1501


def test_in_place_writes_keep_ttl_when_recompressing():
    """APPEND and SETRANGE on a compressed value keep its TTL."""
    server, comp, c = _setup()
    call(c, "SET", "k", JSON, "EX", "100")
    call(c, "APPEND", "k", "x")
    call(c, "SETRANGE", "k", "3", "abc")
    assert call(c, "TTL", "k") == 100
    assert type(_stored(c, "k")) is Compressed


# -- the thread path -----------------------------------------------------------------

def test_thread_path_stores_raw_first():
    """A value over the thread threshold is in the keyspace raw when the job starts, compressed after."""
    seen = []
    holder = []

    def spy(func, *args):
        seen.append(type(_stored(holder[0], "big")))
        return run_sync(func, *args)

    server = make_server(run_in_thread=spy)
    c = Client(server)
    holder.append(c)
    call(c, "SET", "big", HUGE)
    assert seen == [bytes]
    assert type(_stored(c, "big")) is Compressed
    assert call(c, "GET", "big") == HUGE
    assert server.compressor.compressed_keys == 1


def test_small_values_are_compressed_inline():
    """A value under the thread threshold never goes to the thread runner."""
    runner = LaterRunner()
    server = make_server(run_in_thread=runner)
    c = Client(server)
    call(c, "SET", "k", JSON)
    assert runner.jobs == []
    assert type(_stored(c, "k")) is Compressed


def test_thread_result_applies_when_value_unchanged():
    """Until the job completes the raw value is served; then the compressed form replaces it."""
    runner = LaterRunner()
    server = make_server(run_in_thread=runner)
    c = Client(server)
    call(c, "SET", "big", HUGE, "EX", "100")
    assert type(_stored(c, "big")) is bytes
    assert call(c, "GET", "big") == HUGE
    runner.fire(0)
    assert type(_stored(c, "big")) is Compressed
    assert call(c, "GET", "big") == HUGE
    assert call(c, "TTL", "big") == 100
    assert server.compressor.compressed_keys == 1


def test_concurrent_overwrite_wins():
    """A SET made while the job runs is never replaced by the stale compressed value."""
    runner = LaterRunner()
    server = make_server(run_in_thread=runner)
    c = Client(server)
    other = HUGE[::-1]
    call(c, "SET", "big", HUGE)
    call(c, "SET", "big", other)
    runner.fire(0)                      # the job for the first value ends last-but-one
    assert _stored(c, "big") == other   # still the raw second value
    assert server.compressor.compressed_keys == 0
    runner.fire(1)
    assert type(_stored(c, "big")) is Compressed
    assert call(c, "GET", "big") == other
    comp = server.compressor
    assert (comp.compressed_keys, comp.raw_bytes) == (1, len(other))


def test_concurrent_equal_overwrite_and_delete():
    """An equal value written again, a small overwrite, or a DEL all keep the stale job from applying."""
    runner = LaterRunner()
    server = make_server(run_in_thread=runner)
    c = Client(server)
    call(c, "SET", "a", HUGE)
    call(c, "SET", "a", HUGE)          # equal bytes, a new object
    call(c, "SET", "b", HUGE)
    call(c, "SET", "b", "small")
    call(c, "SET", "d", HUGE)
    call(c, "DEL", "d")
    call(c, "SET", "f", HUGE)
    call(c, "FLUSHALL")
    for i in (0, 2, 3, 4):
        runner.fire(i)
    assert call(c, "EXISTS", "a", "b", "d", "f") == 0
    assert server.compressor.compressed_keys == 0
    call(c, "SET", "a", HUGE)
    runner.fire(5)
    runner.fire(1)                      # stale job for a flushed key
    assert type(_stored(c, "a")) is Compressed
    assert server.compressor.compressed_keys == 1


# -- counters ------------------------------------------------------------------------

def _counters(comp):
    return comp.compressed_keys, comp.raw_bytes, comp.stored_bytes


def _expected(client):
    """The counters computed from every value the keyspace holds, in every database."""
    held = [v for db in client.server.store.dbs for sh in db.shards for v in sh.data.values()
            if type(v) is Compressed]
    return len(held), sum(v.size for v in held), sum(len(v.data) for v in held)


def test_counters_follow_overwrite_delete_flush():
    """compressed_keys, raw_bytes and stored_bytes match the keyspace after every kind of change."""
    server, comp, c = _setup()
    steps = [("SET", "a", JSON), ("SET", "b", JSON[:2000]), ("SET", "a", JSON[:3000]),
             ("SET", "b", "small"), ("APPEND", "a", "xyz"), ("SETRANGE", "c", "1500", "x"),
             ("GETSET", "c", JSON), ("MSET", "d", JSON, "a", JSON), ("DEL", "a"),
             ("GETDEL", "c"), ("SET", "c", JSON, "EX", "5"), ("RENAME", "d", "b"),
             ("SET", "a", JSON), ("FLUSHDB",), ("SET", "a", JSON), ("SELECT", "1"),
             ("SET", "a", JSON), ("FLUSHALL",), ("SET", "a", JSON)]
    for step in steps:
        call(c, *step)
        assert _counters(comp) == _expected(c), step
    assert _counters(comp)[0] == 1


def test_counters_after_expiry():
    """A compressed key removed by expiry leaves the counters."""
    server, comp, c = _setup()
    call(c, "SET", "k", JSON, "PX", "100")
    call(c, "SET", "keep", JSON)
    assert comp.compressed_keys == 2
    server.clock.advance(0.2)
    assert call(c, "GET", "k") is None
    assert _counters(comp) == _expected(c)


def test_info_reports_the_counters():
    """INFO compression shows the same numbers as the compressor."""
    server, comp, c = _setup()
    call(c, "SET", "a", JSON)
    info = call(c, "INFO", "compression")
    text = info.decode() if isinstance(info, bytes) else str(info)
    assert "compressed_keys:1" in text
    assert "raw_bytes:%d" % len(JSON) in text
    assert "stored_bytes:%d" % len(_stored(c, "a").data) in text

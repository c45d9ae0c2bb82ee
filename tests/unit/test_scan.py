"""SCAN's guarantee: every key present for the whole scan is returned, whatever changes meanwhile."""

import random

from sonic.commands.keys import SCAN_HASH_BITS, scan_hash
from tests.helpers import Client, call, make_server


def _client(**config):
    server = make_server(**config)
    return server, Client(server)


def _fill(c, names):
    for k in names:
        call(c, "SET", k, "v")


def _scan_all(c, count=10, step=None, **opts):
    """Run a full scan; C{step(i)} runs between calls; return (keys seen, calls made)."""
    seen = []
    cursor = b"0"
    calls = 0
    extra = []
    for name, value in opts.items():
        extra += [name.upper(), value]
    while True:
        cursor, batch = call(c, "SCAN", cursor, "COUNT", str(count), *extra)
        calls += 1
        seen.extend(batch)
        if cursor == b"0":
            return seen, calls
        if step is not None:
            step(calls)


def test_full_scan_returns_every_key_once():
    """Without changes, a scan returns each key exactly once, across shards and COUNTs."""
    server, c = _client()
    names = [b"k%d" % i for i in range(3000)]
    _fill(c, names)
    for count in (1, 10, 97, 10000):
        seen, calls = _scan_all(c, count=count)
        assert sorted(seen) == sorted(names)
        assert len(seen) == len(names)


def test_count_is_a_hint_bounding_each_reply():
    """Each call returns about COUNT keys (more only to keep equal hashes together)."""
    server, c = _client()
    _fill(c, [b"k%d" % i for i in range(1000)])
    seen, calls = _scan_all(c, count=10)
    assert calls >= 100


def test_keys_present_throughout_survive_inserts_and_deletes():
    """Keys inserted and deleted between calls never hide a key present for the whole scan."""
    rng = random.Random(7)
    server, c = _client()
    stable = [b"stable:%d" % i for i in range(2000)]
    churn = [b"churn:%d" % i for i in range(2000)]
    _fill(c, stable + churn)
    fresh = iter(range(10 ** 9))

    def step(i):
        # Delete some churn keys, add many new keys (growing the shard dicts).
        if i > 100:
            return
        for _ in range(20):
            call(c, "DEL", rng.choice(churn))
        for _ in range(60):
            call(c, "SET", b"new:%d" % next(fresh), "v")

    seen, calls = _scan_all(c, count=25, step=step)
    assert set(stable) <= set(seen)
    assert calls > 50
    # Nothing returned twice within one reply, and every returned key was really there once.
    assert all(k.startswith((b"stable:", b"churn:", b"new:")) for k in seen)


def test_guarantee_with_one_shard_and_heavy_growth():
    """With a single shard growing tenfold during the scan, no stable key is missed."""
    server, c = _client(shards=1)
    stable = [b"s%d" % i for i in range(500)]
    _fill(c, stable)
    counter = iter(range(10 ** 9))

    def step(i):
        if i <= 20:     # 4,000 new keys over the first calls, then let the scan finish
            for _ in range(200):
                call(c, "SET", b"g%d" % next(counter), "v")

    seen, calls = _scan_all(c, count=10, step=step)
    assert set(stable) <= set(seen)


def test_deleted_keys_not_returned_and_reinserted_not_duplicated_in_a_reply():
    """Keys deleted before their turn are not returned; a key deleted and re-added appears once per reply."""
    server, c = _client(shards=1)
    names = [b"k%d" % i for i in range(100)]
    _fill(c, names)
    cursor, first = call(c, "SCAN", "0", "COUNT", "10")
    rest = set(names) - set(first)
    gone = sorted(rest)[:20]
    for k in gone:
        call(c, "DEL", k)
    again = sorted(rest)[20:30]
    for k in again:
        call(c, "DEL", k)
        call(c, "SET", k, "v")
    seen = list(first)
    while cursor != b"0":
        cursor, batch = call(c, "SCAN", cursor, "COUNT", "1000")
        assert len(batch) == len(set(batch))
        seen.extend(batch)
    assert not set(gone) & set(seen)
    assert set(names) - set(gone) <= set(seen)


def test_expired_keys_filtered_and_removed():
    """Logically expired keys are not returned, and SCAN removes them as Redis' does."""
    server, c = _client()
    _fill(c, [b"a", b"b", b"c"])
    call(c, "PEXPIRE", "b", "10")
    server.store.active_expire = False
    server.clock.advance(1)
    seen, _ = _scan_all(c)
    assert sorted(seen) == [b"a", b"c"]
    assert len(c.db) == 2


def test_match_and_type_filter_after_selection():
    """MATCH and TYPE filter the selected keys: replies may be short or empty mid-scan."""
    server, c = _client(shards=1)
    _fill(c, [b"user:%d" % i for i in range(50)] + [b"other:%d" % i for i in range(50)])
    seen, calls = _scan_all(c, count=10, match="user:*")
    assert sorted(seen) == sorted(b"user:%d" % i for i in range(50))
    assert calls >= 10
    seen, _ = _scan_all(c, count=10, type="hash")
    assert seen == []


def test_cursor_layout():
    """A cursor is shard << 50 | hash threshold, and always below 2**64."""
    server, c = _client()
    _fill(c, [b"k%d" % i for i in range(500)])
    cursor = b"0"
    while True:
        cursor, batch = call(c, "SCAN", cursor, "COUNT", "5")
        n = int(cursor)
        assert 0 <= n < 2 ** 64
        if n == 0:
            break
        shard, threshold = n >> SCAN_HASH_BITS, n & ((1 << SCAN_HASH_BITS) - 1)
        assert shard < server.store.nshards
        for key in batch:
            sh = c.db.shard(key)
            # Returned keys lie before the cursor's position.
            assert (sh.index, scan_hash(key)) < (shard, threshold)


def test_out_of_range_cursor_ends_the_scan():
    """A cursor past the last shard (e.g. 2**64-1 or -1) answers an empty, finished scan."""
    server, c = _client()
    _fill(c, [b"a"])
    assert call(c, "SCAN", "18446744073709551615") == [b"0", []]
    assert call(c, "SCAN", "-1") == [b"0", []]


def test_snapshot_freed_after_shard_done_and_by_flush():
    """A shard's snapshot is dropped once a scan moves past it, and by FLUSHDB and SWAPDB."""
    server, c = _client(shards=2)
    _fill(c, [b"k%d" % i for i in range(200)])
    cursor, _ = call(c, "SCAN", "0", "COUNT", "5")
    held = [sh for sh in c.db.shards if sh.scan is not None]
    assert len(held) == 1
    while cursor != b"0":
        cursor, _ = call(c, "SCAN", cursor, "COUNT", "5")
    assert all(sh.scan is None for sh in c.db.shards)
    call(c, "SCAN", "0", "COUNT", "5")
    call(c, "SWAPDB", "0", "1")
    assert all(sh.scan is None for db in server.store.dbs for sh in db.shards)


def test_pending_inserts_bounded_without_scan():
    """Inserts after an abandoned scan do not pile up: the snapshot is dropped past a limit."""
    server, c = _client(shards=1)
    _fill(c, [b"k%d" % i for i in range(100)])
    call(c, "SCAN", "0", "COUNT", "5")
    sh = c.db.shards[0]
    assert sh.scan is not None
    _fill(c, [b"n%d" % i for i in range(3000)])
    assert sh.scan is None or len(sh.scan.pending) <= 1025


def test_scan_after_flushdb_and_refill():
    """FLUSHDB mid-scan then refilling: the scan finishes and returns only live keys."""
    server, c = _client(shards=1)
    _fill(c, [b"k%d" % i for i in range(100)])
    cursor, first = call(c, "SCAN", "0", "COUNT", "10")
    for i in range(100):
        call(c, "DEL", "k%d" % i)
    _fill(c, [b"z%d" % i for i in range(100)])
    seen = []
    while cursor != b"0":
        cursor, batch = call(c, "SCAN", cursor, "COUNT", "10")
        seen.extend(batch)
    assert all(k.startswith(b"z") for k in seen)


def test_keys_inserted_after_a_snapshot_seen_by_a_later_scan():
    """Keys added while an abandoned scan's snapshot exists are merged in for the next scan."""
    server, c = _client(shards=1)
    _fill(c, [b"old%d" % i for i in range(300)])
    call(c, "SCAN", "0", "COUNT", "5")          # leaves a snapshot behind
    assert c.db.shards[0].scan is not None
    added = [b"new%d" % i for i in range(50)]
    _fill(c, added)
    seen, _ = _scan_all(c, count=7)
    assert set(added) <= set(seen)
    assert len(seen) == 350


def test_swapdb_mid_scan_sees_the_swapped_in_keys():
    """A scan started after SWAPDB returns the keys that moved in, not a stale snapshot's."""
    server, c = _client(shards=1)
    _fill(c, [b"a%d" % i for i in range(100)])
    call(c, "SCAN", "0", "COUNT", "5")
    call(c, "SELECT", "1")
    _fill(c, [b"b%d" % i for i in range(100)])
    call(c, "SWAPDB", "0", "1")
    call(c, "SELECT", "0")
    seen, _ = _scan_all(c, count=9)
    assert sorted(seen) == sorted(b"b%d" % i for i in range(100))


def test_unannounced_inserts_trigger_a_rebuild():
    """Keys put straight into a shard's dict (bypassing Database.set) are still found."""
    server, c = _client(shards=1)
    _fill(c, [b"k%d" % i for i in range(100)])
    call(c, "SCAN", "0", "COUNT", "5")
    sh = c.db.shards[0]
    for i in range(10):
        sh.data[b"direct%d" % i] = b"v"
    seen, _ = _scan_all(c, count=7)
    assert len(seen) == 110

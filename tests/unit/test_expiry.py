"""Expiry on a task.Clock: lazy on access, active through one timer per shard, bounded per tick."""

from sonic.resp import NULL_ARRAY
from sonic.store import expiry
from tests.helpers import Client, call, make_server


def _setup(**config):
    server = make_server(**config)
    return server, server.clock, server.store, Client(server)


def _now_ms(clock):
    return int(clock.seconds() * 1000)


def test_lazy_expiry_on_access():
    """A key past its deadline is gone on the next read even with active expiry off."""
    server, clock, store, c = _setup()
    store.active_expire = False
    call(c, "SET", "k", "v")
    call(c, "PEXPIRE", "k", "100")
    clock.advance(0.1)
    assert call(c, "GET", "k") == b"v"          # deadline == now: still alive
    clock.advance(0.002)
    assert call(c, "PTTL", "k") == -2
    assert store.expired_keys == 1
    assert len(c.db) == 0


def test_active_expiry_removes_unread_keys():
    """The shard timer removes keys nobody reads again."""
    server, clock, store, c = _setup()
    for i in range(50):
        call(c, "SET", "k%d" % i, "v")
        call(c, "PEXPIRE", "k%d" % i, "1000")
    call(c, "SET", "keep", "v")
    clock.advance(1.0)
    assert len(c.db) == 51
    clock.advance(0.002)
    assert len(c.db) == 1
    assert store.expired_keys == 50


def test_one_timer_per_shard():
    """10,000 keys with TTLs arm at most one timer per shard, never one per key."""
    server, clock, store, c = _setup()
    for i in range(10000):
        call(c, "SET", "k%d" % i, "v")
        call(c, "PEXPIRE", "k%d" % i, str(1000 + i))
    nshards = sum(len(db.shards) for db in store.dbs if len(db))
    assert len(clock.getDelayedCalls()) <= nshards
    assert len(clock.getDelayedCalls()) <= store.nshards
    clock.advance(11)
    assert len(c.db) == 0
    assert clock.getDelayedCalls() == []


def test_timer_reaimed_at_sooner_deadline():
    """A sooner deadline moves the shard's timer; a later one leaves it."""
    server, clock, store, c = _setup(shards=1)
    sh = c.db.shards[0]
    call(c, "SET", "late", "v")
    call(c, "PEXPIRE", "late", "10000")
    (timer,) = clock.getDelayedCalls()
    first = timer.getTime()
    call(c, "SET", "soon", "v")
    call(c, "PEXPIRE", "soon", "100")
    (timer,) = clock.getDelayedCalls()
    assert timer.getTime() < first
    assert sh.timer_at == _now_ms(clock) + 100
    call(c, "SET", "later", "v")
    call(c, "PEXPIRE", "later", "50000")
    (timer2,) = clock.getDelayedCalls()
    assert timer2.getTime() == timer.getTime()
    clock.advance(0.101)
    assert call(c, "EXISTS", "soon", "late", "later") == 2
    assert sh.timer_at == _now_ms(clock) - 101 + 10000


def test_bounded_work_per_tick(monkeypatch):
    """5,000 keys expiring at once are removed over several ticks of at most expire_batch keys."""
    server, clock, store, c = _setup(shards=1)
    store.expire_batch = 1000
    per_tick = []
    real_tick = expiry.tick

    def counting_tick(st, sh):
        before = st.expired_keys
        real_tick(st, sh)
        per_tick.append(st.expired_keys - before)

    monkeypatch.setattr(expiry, "tick", counting_tick)
    for i in range(5000):
        call(c, "SET", "k%d" % i, "v")
        call(c, "PEXPIRE", "k%d" % i, "500")
    clock.advance(0.501)
    assert len(c.db) == 0
    assert sum(per_tick) == 5000
    assert max(per_tick) <= 1000
    assert len(per_tick) >= 5


def test_stale_heap_entries_bounded_per_tick(monkeypatch):
    """Deleted keys' heap entries are skipped over several ticks too, not all in one."""
    server, clock, store, c = _setup(shards=1)
    store.expire_batch = 100
    sh = c.db.shards[0]
    ticks = []
    real_tick = expiry.tick

    def counting_tick(st, shard):
        before = len(shard.heap)
        real_tick(st, shard)
        ticks.append(before - len(shard.heap))

    monkeypatch.setattr(expiry, "tick", counting_tick)
    for i in range(2000):
        call(c, "SET", "k%d" % i, "v")
        call(c, "PEXPIRE", "k%d" % i, "500")
    for i in range(2000):
        call(c, "DEL", "k%d" % i)
    clock.advance(0.501)
    assert sh.heap == []
    assert max(ticks) <= 4 * store.expire_batch
    assert sum(ticks) == 2000 and len(ticks) >= 2000 // (4 * store.expire_batch)


def test_persist_makes_heap_entry_stale():
    """After PERSIST the old heap entry fires but does not expire the key."""
    server, clock, store, c = _setup()
    call(c, "SET", "k", "v")
    call(c, "PEXPIRE", "k", "100")
    call(c, "PERSIST", "k")
    clock.advance(1)
    assert call(c, "GET", "k") == b"v"
    assert store.expired_keys == 0


def test_overwrite_makes_heap_entry_stale():
    """A SET over a key with a TTL clears it; the old deadline expires nothing."""
    server, clock, store, c = _setup()
    call(c, "SET", "k", "old")
    call(c, "PEXPIRE", "k", "100")
    call(c, "SET", "k", "new")
    clock.advance(1)
    assert call(c, "GET", "k") == b"new"
    assert store.expired_keys == 0


def test_new_deadline_replaces_old():
    """A later EXPIRE replaces the deadline: the first one passes harmlessly, the second expires."""
    server, clock, store, c = _setup()
    call(c, "SET", "k", "v")
    call(c, "PEXPIRE", "k", "100")
    call(c, "PEXPIRE", "k", "5000")
    clock.advance(1)
    assert call(c, "EXISTS", "k") == 1
    clock.advance(4.1)
    assert call(c, "EXISTS", "k") == 0
    assert store.expired_keys == 1


def test_stop_service_cancels_timers():
    """stopService leaves no pending timer; startService re-arms from the deadlines."""
    server, clock, store, c = _setup()
    for i in range(20):
        call(c, "SET", "k%d" % i, "v")
        call(c, "PEXPIRE", "k%d" % i, "1000")
    assert clock.getDelayedCalls()
    store.stopService()
    assert clock.getDelayedCalls() == []
    clock.advance(2)
    assert sum(len(sh.data) for sh in c.db.shards) == 20   # nothing ran
    store.startService()
    clock.advance(0.01)
    assert sum(len(sh.data) for sh in c.db.shards) == 0


def test_expire_hook_called_once_per_key():
    """Every expired key goes through store.expire_hooks exactly once, lazy or active."""
    server, clock, store, c = _setup()
    seen = []
    store.expire_hooks.append(lambda db, key: seen.append((db.index, key)))
    for k in ("a", "b", "c"):
        call(c, "SET", k, "v")
        call(c, "PEXPIRE", k, "100")
    clock.advance(0.05)
    store.active_expire = False
    clock.advance(0.06)
    assert call(c, "GET", "a") is None       # lazy
    store.active_expire = True
    for db in store.dbs:
        for sh in db.shards:
            expiry.reschedule(store, sh)
    clock.advance(0.01)                     # active
    assert sorted(seen) == [(0, b"a"), (0, b"b"), (0, b"c")]
    assert store.expired_keys == 3
    call(c, "GET", "a")
    assert len(seen) == 3


def test_expired_keys_stat_and_del_not_counted():
    """expired_keys counts expiries only, not DEL nor EXPIRE in the past."""
    server, clock, store, c = _setup()
    call(c, "SET", "a", "v")
    call(c, "SET", "b", "v")
    call(c, "SET", "c", "v")
    call(c, "DEL", "a")
    call(c, "EXPIRE", "b", "-1")
    call(c, "PEXPIRE", "c", "10")
    clock.advance(0.1)
    assert store.expired_keys == 1
    assert len(c.db) == 0


def test_watch_dirty_on_active_expiry():
    """A WATCHed key removed by the expiry timer makes EXEC fail."""
    server, clock, store, c = _setup()
    call(c, "SET", "w", "v")
    call(c, "PEXPIRE", "w", "100")
    call(c, "WATCH", "w")
    clock.advance(0.2)
    assert len(c.db) == 0
    call(c, "MULTI")
    call(c, "SET", "x", "1")
    assert call(c, "EXEC") is NULL_ARRAY


def test_watch_dirty_on_lazy_expiry():
    """A WATCHed key that expired lazily (active expiry off) makes EXEC fail too."""
    server, clock, store, c = _setup()
    store.active_expire = False
    call(c, "SET", "w", "v")
    call(c, "PEXPIRE", "w", "100")
    call(c, "WATCH", "w")
    clock.advance(0.2)
    other = Client(server)
    assert call(other, "GET", "w") is None
    call(c, "MULTI")
    call(c, "SET", "x", "1")
    assert call(c, "EXEC") is NULL_ARRAY


def test_replica_hides_but_keeps_expired_keys():
    """On a replica an expired key reads as missing but stays until the master's DEL."""
    server, clock, store, c = _setup()
    call(c, "SET", "k", "v")
    call(c, "PEXPIRE", "k", "100")
    store.replica = True
    clock.advance(1)
    assert call(c, "GET", "k") is None
    assert len(c.db) == 1
    assert store.expired_keys == 0


def test_expire_in_past_on_replica_sets_deadline():
    """EXPIRE in the past on a replica records the deadline instead of deleting (checkAlreadyExpired)."""
    server, clock, store, c = _setup()
    call(c, "SET", "k", "v")
    store.replica = True
    assert call(c, "PEXPIREAT", "k", "100") == 1
    assert len(c.db) == 1
    assert c.db.get_expire(b"k") == 100


def test_swapdb_moves_deadlines_and_timers():
    """After SWAPDB the swapped keys still expire on time in their new database."""
    server, clock, store, c = _setup()
    call(c, "SELECT", "1")
    call(c, "SET", "k", "v")
    call(c, "PEXPIRE", "k", "100")
    call(c, "SWAPDB", "0", "1")
    call(c, "SELECT", "0")
    assert call(c, "PTTL", "k") == 100
    clock.advance(0.2)
    assert len(store.dbs[0]) == 0 and len(store.dbs[1]) == 0
    assert store.expired_keys == 1


def test_rename_and_move_carry_deadline_to_timer():
    """A renamed or moved key expires at its original deadline via the timer."""
    server, clock, store, c = _setup()
    call(c, "SET", "a", "v")
    call(c, "PEXPIRE", "a", "100")
    call(c, "RENAME", "a", "b")
    call(c, "SET", "m", "v")
    call(c, "PEXPIRE", "m", "100")
    call(c, "MOVE", "m", "3")
    clock.advance(0.2)
    assert len(store.dbs[0]) == 0 and len(store.dbs[3]) == 0
    assert store.expired_keys == 2


def test_ttl_rounding_and_expiretime():
    """TTL rounds to the nearest second; EXPIRETIME/PEXPIRETIME give the absolute deadline."""
    server, clock, store, c = _setup()
    now = _now_ms(clock)
    call(c, "SET", "k", "v")
    call(c, "PEXPIRE", "k", "1499")
    assert call(c, "TTL", "k") == 1
    call(c, "PEXPIRE", "k", "1500")
    assert call(c, "TTL", "k") == 2
    assert call(c, "PEXPIRETIME", "k") == now + 1500
    assert call(c, "EXPIRETIME", "k") == (now + 1500 + 500) // 1000


def test_read_lookups_count_keyspace_stats():
    """TTL, EXISTS, TYPE, TOUCH, OBJECT and COPY count hits/misses; PERSIST and EXPIRE do not (as Redis)."""
    server, clock, store, c = _setup()
    call(c, "SET", "k", "v")
    h0, m0 = server.stat_keyspace_hits, server.stat_keyspace_misses
    for cmd in (("TTL", "k"), ("EXISTS", "k", "nokey"), ("TYPE", "k"), ("TOUCH", "k"),
                ("OBJECT", "ENCODING", "k"), ("COPY", "k", "k2"), ("PTTL", "nokey"),
                ("EXPIRETIME", "k"), ("PERSIST", "k"), ("EXPIRE", "k", "100")):
        call(c, *cmd)
    assert server.stat_keyspace_hits - h0 == 7
    assert server.stat_keyspace_misses - m0 == 2

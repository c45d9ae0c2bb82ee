"""maxmemory: the dataset's byte count, the eviction policies and their side effects (sonic.store.eviction)."""

import pytest

from sonic.resp import NULL_ARRAY, Error, Raw
from sonic.store.eviction import Accounting, EVICT_RUNNING, entry_size
from tests.helpers import Client, call, make_server


def _server(policy, maxmemory=0, **config):
    """A server under C{policy} whose used memory is the dataset alone (no start-up memory)."""
    server = make_server(**config)
    server.startup_memory = 0
    c = Client(server)
    server.add_client(c)
    assert call(c, "CONFIG", "SET", "maxmemory-policy", policy) == b"OK"
    if maxmemory:
        assert call(c, "CONFIG", "SET", "maxmemory", str(maxmemory)) == b"OK"
        # The dict tables are measured with the wall clock: keep them out of
        # these figures (test_tables_are_counted covers them).
        server.store.acct.count_tables = False
        server.store.acct.tables = 0
    return server, c


def _fresh_count(server):
    """The byte count a recount from scratch gives (leaving the live estimates alone)."""
    saved = [(v, getattr(v, "acct", None)) for db in server.store.dbs for sh in db.shards
             for v in sh.data.values() if not isinstance(v, bytes)]
    acct = Accounting(server.store)
    acct.memory = True
    acct.mode = server.store.acct.mode
    acct.recount()
    for v, a in saved:
        v.acct = a
    return acct.dataset


def _pushes(client):
    out = [bytes(p) if isinstance(p, Raw) else p for p in (client.pushes or [])]
    client.pushes = []
    return out


# -- the byte count -----------------------------------------------------------------------------

def test_count_is_off_without_maxmemory():
    """Without maxmemory and under noeviction there is no accounting object: writes pay one test."""
    server = make_server()
    assert server.store.acct is None
    assert all(sh.access is None for db in server.store.dbs for sh in db.shards)


def test_string_count_follows_every_write_path():
    """SET, overwrite, APPEND, TTLs, DEL, expiry, RENAME, MOVE, FLUSHDB: the count equals a recount."""
    server, c = _server("noeviction", 10 ** 9)
    acct = server.store.acct
    for i in range(50):
        call(c, "SET", "k%d" % i, "v" * i)
    call(c, "SET", "k1", "x" * 500)
    call(c, "APPEND", "k2", "yyy")
    call(c, "EXPIRE", "k3", "100")
    call(c, "SET", "k4", "z", "PX", "10")
    call(c, "PERSIST", "k3")
    call(c, "SETEX", "k5", "100", "w")
    call(c, "DEL", "k6", "k7")
    call(c, "RENAME", "k8", "r8")
    call(c, "MOVE", "k9", "1")
    call(c, "INCR", "counter")
    assert acct.dataset == _fresh_count(server)
    server.clock.advance(1)
    call(c, "GET", "k4")  # lazy expiry
    assert acct.dataset == _fresh_count(server)
    call(c, "SWAPDB", "0", "1")
    assert acct.dataset == _fresh_count(server)
    call(c, "FLUSHALL")
    assert acct.dataset == 0


def test_collections_return_to_zero():
    """Collections grown and shrunk in place are counted, and deleting them brings the count back to 0."""
    server, c = _server("noeviction", 10 ** 9)
    acct = server.store.acct
    for i in range(300):
        call(c, "RPUSH", "l", "e%d" % i)
        call(c, "HSET", "h", "f%d" % i, "v" * 20)
        call(c, "SADD", "s", "m%d" % i)
        call(c, "ZADD", "z", str(i), "m%d" % i)
    grown = acct.dataset
    assert grown > 300 * 4 * 40
    assert abs(grown - _fresh_count(server)) < grown * 0.2  # extrapolated between estimates
    call(c, "LPOP", "l", "250")
    assert acct.dataset < grown
    call(c, "DEL", "l", "h", "s", "z")
    assert acct.dataset == 0


def test_used_memory_under_maxmemory_is_startup_plus_dataset():
    """INFO used_memory is what eviction compares: start-up memory plus the count; the RSS stays apart."""
    server, c = _server("noeviction", 10 ** 9)
    server.store.acct.base = 1000
    call(c, "SET", "k", "v" * 100)
    info = dict(line.split(":", 1) for line in call(c, "INFO", "memory").decode().split("\r\n")
                if ":" in line)
    assert int(info["used_memory"]) == 1000 + server.store.acct.dataset
    assert int(info["used_memory_rss"]) > 1000000


# -- policies -----------------------------------------------------------------------------------

def _fill(c, n, prefix="k", size=100, start=0):
    for i in range(start, start + n):
        reply = call(c, "SET", "%s%d" % (prefix, i), "x" * size)
        assert reply == b"OK", reply


def _limit_for(n):
    """A maxmemory that holds about C{n} of _fill's keys (the dict tables are left out of these tests' count)."""
    return n * entry_size(b"k10000", b"x" * 100)


def _write_over_the_limit(policy):
    """90 keys under C{policy}, the limit lowered to about 50 of them, then a SET: (server, client, reply)."""
    server, c = _server(policy, _limit_for(100))
    _fill(c, 90)
    call(c, "CONFIG", "SET", "maxmemory", str(_limit_for(50)))
    return server, c, call(c, "SET", "new", "v")


def test_noeviction_refuses_writes_not_reads():
    """noeviction: over the limit, denyoom commands get -OOM, reads and DEL still run."""
    server, c, reply = _write_over_the_limit("noeviction")
    assert isinstance(reply, Error) and reply.message.startswith("OOM command not allowed")
    assert call(c, "GET", "k1") == b"x" * 100
    assert call(c, "DEL", "k1") == 1
    assert server.store.evicted_keys == 0


@pytest.mark.parametrize("policy", ["allkeys-random", "allkeys-lru", "allkeys-lfu"])
def test_allkeys_policies_stay_under_the_limit(policy):
    """Writing ten times what fits: every write succeeds, memory stays under maxmemory, keys are evicted."""
    server, c = _server(policy, _limit_for(200))
    _fill(c, 2000)
    acct = server.store.acct
    # Eviction runs before each write, so the last write may pass the limit by its own size.
    assert acct.used() <= server.config.maxmemory + _limit_for(1)
    assert 150 <= call(c, "DBSIZE") <= 201
    assert server.store.evicted_keys == 2000 - call(c, "DBSIZE")
    assert b"evicted_keys:%d" % server.store.evicted_keys in call(c, "INFO", "stats")


def test_lru_keeps_recently_used_keys():
    """allkeys-lru: keys read after the others survive a wave of new keys; the idle ones go."""
    server, c = _server("allkeys-lru", _limit_for(400))
    call(c, "CONFIG", "SET", "maxmemory-samples", "10")  # closer to true LRU, as Redis documents
    _fill(c, 300)
    server.clock.advance(100)
    for i in range(50):
        call(c, "GET", "k%d" % i)  # the first 50 are now the most recently used
    server.clock.advance(100)
    _fill(c, 300, prefix="new")
    survivors = sum(call(c, "EXISTS", "k%d" % i) for i in range(50))
    others = sum(call(c, "EXISTS", "k%d" % i) for i in range(50, 300))
    assert survivors >= 45
    assert others < 150


def test_lfu_keeps_frequently_used_keys():
    """allkeys-lfu: keys read many times survive; OBJECT FREQ shows their counters."""
    server, c = _server("allkeys-lfu", _limit_for(400))
    _fill(c, 300)
    assert call(c, "OBJECT", "FREQ", "k1") == 5  # Redis' initial counter
    for _ in range(100):
        for i in range(50):
            call(c, "GET", "k%d" % i)
    assert call(c, "OBJECT", "FREQ", "k1") > 6  # logarithmic: ~10 after 100 hits with lfu-log-factor 10
    _fill(c, 300, prefix="new")
    survivors = sum(call(c, "EXISTS", "k%d" % i) for i in range(50))
    assert survivors >= 45


def test_lfu_counter_decays_with_time():
    """lfu-decay-time 1: the counter loses one per idle minute."""
    server, c = _server("allkeys-lfu")
    call(c, "SET", "k", "v")
    for _ in range(3):
        call(c, "GET", "k")
    before = call(c, "OBJECT", "FREQ", "k")
    server.clock.advance(120)
    assert call(c, "OBJECT", "FREQ", "k") == before - 2


def test_object_idletime_under_lru():
    """Under an LRU policy OBJECT IDLETIME counts the seconds since the last access; OBJECT leaves it alone."""
    server, c = _server("allkeys-lru")
    call(c, "SET", "k", "v")
    server.clock.advance(42)
    assert call(c, "OBJECT", "IDLETIME", "k") == 42
    assert call(c, "OBJECT", "IDLETIME", "k") == 42  # not an access
    assert b"lru_seconds_idle:42" in call(c, "DEBUG", "OBJECT", "k")
    call(c, "GET", "k")
    assert call(c, "OBJECT", "IDLETIME", "k") == 0


def test_volatile_ttl_evicts_the_nearest_deadlines_and_spares_persistent_keys():
    """volatile-ttl: keys without a TTL are never evicted; among the others the soonest deadlines go first."""
    server, c = _server("volatile-ttl", _limit_for(300))
    _fill(c, 100, prefix="p")
    for i in range(150):
        call(c, "SET", "t%d" % i, "x" * 100, "EX", str(1000 + i))
    call(c, "CONFIG", "SET", "maxmemory", str(_limit_for(200)))
    assert call(c, "SET", "one", "more") == b"OK"
    assert all(call(c, "EXISTS", "p%d" % i) for i in range(100))
    kept = [i for i in range(150) if call(c, "EXISTS", "t%d" % i)]
    assert kept and server.store.evicted_keys > 0
    assert sum(kept) / len(kept) > 75  # the later deadlines survive


def test_volatile_policy_without_volatile_keys_refuses():
    """volatile-lru with nothing that has a TTL: nothing may go, so -OOM (as Redis)."""
    server, c, reply = _write_over_the_limit("volatile-lru")
    assert isinstance(reply, Error) and reply.message.startswith("OOM")
    assert call(c, "DBSIZE") == 90


def test_lowering_maxmemory_evicts_at_the_next_turn():
    """CONFIG SET maxmemory below the memory in use starts evicting without waiting for a write."""
    server, c = _server("allkeys-random", _limit_for(1000))
    _fill(c, 500)
    call(c, "CONFIG", "SET", "maxmemory", str(_limit_for(100)))
    assert call(c, "DBSIZE") == 500
    server.clock.advance(0)
    assert call(c, "DBSIZE") <= 100


def test_out_of_time_goes_on_later_and_does_not_refuse():
    """maxmemory-eviction-tenacity 0: one key per call, the rest in later turns; the command still runs."""
    server, c = _server("allkeys-random", _limit_for(1000))
    _fill(c, 500)
    call(c, "CONFIG", "SET", "maxmemory-eviction-tenacity", "0")
    call(c, "CONFIG", "SET", "maxmemory", str(_limit_for(100)))
    server.evictor.stop()
    assert server.evictor.perform() == EVICT_RUNNING
    assert call(c, "SET", "x", "y") == b"OK"
    for _ in range(1000):
        server.clock.advance(0)
    assert call(c, "DBSIZE") <= 101


# -- side effects -------------------------------------------------------------------------------

def test_eviction_sends_evicted_events_and_propagates_del():
    """Each evicted key: an "evicted" keyspace event, the expire/evict hook (DEL to replicas and the AOF)."""
    server, c = _server("allkeys-random", _limit_for(100))
    sub = Client(server)
    server.add_client(sub)
    call(c, "CONFIG", "SET", "notify-keyspace-events", "Ee")
    call(sub, "SUBSCRIBE", "__keyevent@0__:evicted")
    _pushes(sub)
    hooked = []
    server.store.expire_hooks.append(lambda db, key: hooked.append(key))
    _fill(c, 150)
    n = server.store.evicted_keys
    assert n >= 40
    messages = _pushes(sub)
    assert len(messages) == n == len(hooked)
    assert all(call(c, "EXISTS", key) == 0 for key in hooked)


def test_eviction_invalidates_watch_and_tracking():
    """An evicted key breaks a WATCH on it and sends tracking clients an invalidation."""
    server, c = _server("allkeys-lru")
    watcher = Client(server)
    tracker = Client(server)
    for cl in (watcher, tracker):
        server.add_client(cl)
    _fill(c, 1)
    call(tracker, "HELLO", "3")
    call(tracker, "CLIENT", "TRACKING", "ON")
    call(tracker, "GET", "k0")
    call(watcher, "WATCH", "k0")
    call(c, "CONFIG", "SET", "maxmemory", "1")  # evicts everything at the next turn
    server.clock.advance(0)
    assert call(c, "EXISTS", "k0") == 0
    call(c, "CONFIG", "SET", "maxmemory", "0")
    call(watcher, "MULTI")
    call(watcher, "SET", "k0", "mine")
    assert call(watcher, "EXEC") is NULL_ARRAY
    assert any(b"k0" in p for p in _pushes(tracker))


def test_replica_ignores_maxmemory():
    """replica-ignore-maxmemory yes (the default): a replica neither evicts nor refuses."""
    server, c = _server("allkeys-random", _limit_for(100))
    server.master_host = "127.0.0.1"
    assert server.evictor.perform() == 0
    server.master_host = None


def test_tables_are_counted():
    """used_memory counts the shards' dict tables, which do not shrink when keys go."""
    server, c = _server("allkeys-lru", 10 ** 9)
    acct = server.store.acct
    acct.count_tables = True
    empty = acct.table_bytes()
    _fill(c, 2000)
    grown = acct.table_bytes()
    assert grown > empty + 2000 * 8 * 2  # data and access dicts: 8+ bytes a key each
    call(c, "FLUSHALL")
    acct._tables_at = -1.0
    assert acct.used() == acct.base + acct.dataset + acct.table_bytes()


def test_allkeys_lru_evicts_exactly_the_least_recently_used():
    """allkeys-lru keeps each shard's keys in access order: the key read longest ago goes first."""
    server, c = _server("allkeys-lru", _limit_for(1000))
    _fill(c, 100)
    for i in range(100):
        server.clock.advance(1)
        call(c, "GET", "k%d" % ((i * 37) % 100))  # every key read once, in a scrambled order
    acct = server.store.acct
    call(c, "CONFIG", "SET", "maxmemory", str(acct.counted() - 1))  # one key too many
    server.clock.advance(0)
    assert server.store.evicted_keys >= 1
    assert call(c, "EXISTS", "k0") == 0  # read first, at i == 0
    assert call(c, "EXISTS", "k37") == 1


def test_object_on_an_expired_key_under_lru_leaves_no_stale_clock():
    """OBJECT IDLETIME on a key past its TTL expires it and forgets its access clock (no stale LRU entry)."""
    server, c = _server("allkeys-lru", _limit_for(1000))
    call(c, "SET", "gone", "v", "PX", "10")
    _fill(c, 10)
    server.clock.advance(1)
    assert call(c, "OBJECT", "IDLETIME", "gone") is None
    sh = server.store.dbs[0].shard(b"gone")
    assert b"gone" not in sh.access
    call(c, "CONFIG", "SET", "maxmemory", str(server.store.acct.counted() - 1))
    server.clock.advance(0)
    assert server.store.evicted_keys == 1

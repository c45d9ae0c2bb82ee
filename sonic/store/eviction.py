"""Memory accounting and eviction: C{maxmemory} and C{maxmemory-policy}.

Redis compares its allocator's count of bytes in use with C{maxmemory}.
CPython has no such count that falls when keys go: freed objects go back to
pymalloc's arenas and to malloc, and the process's RSS stays where it was
(measured: deleting half of a million keys leaves RSS unchanged).  Evicting
until RSS falls would empty the database.  So sonic counts what the dataset
holds instead (L{Accounting}):

  - every key costs an estimate of what CPython holds for it: the key and
    value objects as C{sys.getsizeof} sees them (rounded to pymalloc's 16
    bytes), the shard dict's entry, and the TTL's entry, heap slot and
    integer when the key has one;
  - a collection's size is its C{memory_usage()} estimate (the one MEMORY
    USAGE gives), cached on the object (its C{acct} slot) and re-estimated
    when its length has moved by more than a sixteenth since the last
    estimate, extrapolated in between, so a write to a big collection costs
    O(1);
  - the shards' dict tables are measured apart every 100 ms (a dict never
    shrinks when keys go);
  - what is compared with C{maxmemory} is that count; INFO's
    C{used_memory} adds the process's memory at start-up
    (C{server.startup_memory}, its RSS before any data, some 45 MB), shown
    as C{mem_not_counted_for_evict}.

The count is kept only while C{maxmemory} is set: without it writes pay one
attribute test.  Memory freed by eviction is reused by the keys written
next, so RSS levels off near C{maxmemory} instead of falling.

Eviction follows Redis' design (evict.c), reimplemented from its documented
behaviour: before a command that may grow memory (C{denyoom}), while used
memory is over the limit, sample C{maxmemory-samples} keys per database
into a pool of the 16 best candidates and evict the best one, until under
the limit or out of time (C{maxmemory-eviction-tenacity}: 500 us per call
at the default, then the work goes on in the next reactor turns and
commands are not refused meanwhile).  Each eviction is a deletion with
Redis' effects: an C{evicted} keyspace event, tracking invalidation, WATCH
invalidation, C{DEL} propagated to replicas and the AOF, INFO
C{evicted_keys}.

LRU and LFU need each key's last access, which CPython objects do not have
room for: under an LRU or LFU policy each shard keeps C{access}, key ->
Redis' 24-bit LRU clock (seconds) or LFU word (minutes << 8 | log counter),
written on every lookup.  A key missing from it (loaded, or written before
the policy was chosen) counts as accessed when tracking started, with
Redis' initial LFU counter.

Python dicts cannot pick a random key in O(1), so sampling draws from a
list of each shard's keys (L{_Sampler}), rebuilt when too many of its keys
are gone or too many new keys are missing from it.
"""

import random
import sys
import time
from bisect import insort
from collections import OrderedDict

from sonic.notify import NOTIFY_EVICTED

__all__ = ["Accounting", "Evictor", "entry_size", "value_size",
           "EVICT_OK", "EVICT_RUNNING", "EVICT_FAIL"]

EVICT_OK = 0
EVICT_RUNNING = 1
EVICT_FAIL = 2

#: Bytes per TTL besides the expires dict's table: the deadline integer and
#: the (deadline, key) tuple in the shard's heap.  A key costs its key and
#: value objects besides the tables (the data and access dicts' tables are
#: measured apart, L{Accounting.tables}; LRU clocks are shared integers).
TTL_ENTRY = 32 + 64

LFU_INIT_VAL = 5
EVPOOL_SIZE = 16

_getsizeof = sys.getsizeof


def _rounded(n):
    """C{n} bytes as pymalloc hands them out (16-byte steps)."""
    return (n + 15) & ~15


def value_size(value):
    """Bytes counted for a stored value (strings exactly, collections estimated)."""
    if isinstance(value, bytes):  # bytes or Compressed
        return _rounded(_getsizeof(value))
    try:
        return value.acct[0]
    except AttributeError:
        return _estimate(value)[0]


def _estimate(value, previous=None):
    """(accounted, base size, base length) for collection C{value}, reusing C{previous}."""
    n = len(value)
    if previous is not None:
        _, base, base_n = previous
        if base_n and abs(n - base_n) * 16 <= base_n:
            return (base + (n - base_n) * base // base_n, base, base_n)
    usage = getattr(value, "memory_usage", None)
    size = usage() if usage is not None else _getsizeof(value)
    acct = (size, size, n)
    try:
        value.acct = acct
    except AttributeError:
        pass
    return acct


def entry_size(key, value, ttl=False):
    """Bytes counted for C{key} holding C{value} (with a TTL if C{ttl})."""
    size = _rounded(_getsizeof(key)) + value_size(value)
    return size + TTL_ENTRY if ttl else size


class _Sampler(object):
    """A list of one dict's keys to draw random keys from (dicts cannot)."""
    __slots__ = ("keys", "misses", "draws")

    def __init__(self, d):
        self.keys = list(d)
        self.misses = 0
        self.draws = 0

    def stale(self, d):
        """Whether the list should be rebuilt: many keys added, or half of the recent draws missed.

        The draws are counted in windows of 64, so a list that served well
        for long still goes as soon as evictions have emptied half of it.
        """
        n = len(self.keys)
        if len(d) > n + (n >> 2) + 16:
            return True
        if self.draws >= 64:
            if self.misses * 2 > self.draws:
                return True
            self.draws = self.misses = 0
        return False


def sample(samplers, ident, d, count, choices=random.choices):
    """Up to C{count} keys of dict C{d} drawn at random (keys may repeat); none only if C{d} is empty.

    A list that yields nothing is rebuilt at once and drawn from again.
    """
    s = samplers.get(ident)
    fresh = s is None or s.stale(d)
    while True:
        if fresh:
            s = samplers[ident] = _Sampler(d)
        keys = s.keys
        if not keys:
            return []
        drawn = choices(keys, k=count)
        out = [key for key in drawn if key in d]
        s.draws += count
        s.misses += count - len(out)
        if out or fresh:
            return out
        fresh = True


class Accounting(object):
    """The dataset's byte count and the keys' access clocks (see the module docstring).

    @ivar memory: whether bytes are counted (C{maxmemory} is set).
    @ivar mode: C{"lru"}, C{"lfu"} or None: what C{Shard.access} holds.
    @ivar dataset: bytes counted for all keys; C{per_db}: per database.
    """

    def __init__(self, store):
        self.store = store
        self.memory = False
        self.mode = None
        self.dataset = 0
        self.per_db = [0] * len(store.dbs)
        self.base = 0
        self.lfu_log_factor = 10
        self.lfu_decay_time = 1
        self.samplers = {}
        # The LRU clock's current value, shared by every access this second.
        self._lru_ms = -1000
        self._lru = 0
        #: Seconds (LRU) / minutes (LFU) when tracking started: the access
        #: time of keys missing from the access dicts.
        self.epoch_s = store.now // 1000
        #: The shards' dict tables and heaps, re-measured at most every
        #: 100 ms: a dict never shrinks when keys go, and under the churn
        #: of eviction its table settles at two to four times its keys.
        self.tables = 0
        self.count_tables = True
        self._tables_at = -1.0

    # -- the byte count -----------------------------------------------------

    def used(self):
        """Bytes in use (INFO used_memory): start-up memory, the keys and the tables."""
        return self.base + self.counted()

    def counted(self):
        """Bytes compared with maxmemory: the keys and the tables, not the start-up memory.

        The interpreter, Twisted and sonic's code take some 45 MB before any
        data (Redis: about 1 MB); counting them would leave a small
        maxmemory nothing.  INFO shows them as C{mem_not_counted_for_evict}.
        """
        if self.count_tables:
            now = time.monotonic()
            if now - self._tables_at > 0.1:
                self._tables_at = now
                self.tables = self.table_bytes()
        return self.dataset + self.tables

    def table_bytes(self):
        """What the shards' dicts (data, expires, access) and expiry heaps take themselves."""
        total = 0
        for db in self.store.dbs:
            for sh in db.shards:
                total += _getsizeof(sh.data) + _getsizeof(sh.expires) + _getsizeof(sh.heap)
                if sh.access is not None:
                    total += _getsizeof(sh.access)
        return total

    def recount(self):
        """Count every key from scratch (maxmemory set, a dataset loaded)."""
        self.samplers = {}
        if not self.memory:
            self.dataset = 0
            self.per_db = [0] * len(self.store.dbs)
            return
        total = 0
        per_db = []
        for db in self.store.dbs:
            n = 0
            for sh in db.shards:
                exp = sh.expires
                for key, value in sh.data.items():
                    if not isinstance(value, bytes):
                        _estimate(value)
                    n += entry_size(key, value, key in exp)
            per_db.append(n)
            total += n
        self.per_db = per_db
        self.dataset = total

    def added(self, sh, key, value):
        """C{key} was created in shard C{sh} holding C{value} (no TTL yet)."""
        if self.memory:
            n = entry_size(key, value)
            self.dataset += n
            self.per_db[sh.db.index] += n
        if sh.access is not None:
            self.touch_new(sh, key)

    def replaced(self, sh, key, old, value):
        """The value at C{key} changed from C{old} to C{value} (another object)."""
        if self.memory:
            n = -value_size(old)  # first: old may be value itself, changed in place
            if not isinstance(value, bytes):
                _estimate(value)
            n += value_size(value)
            self.dataset += n
            self.per_db[sh.db.index] += n

    def removed(self, sh, key, old, had_ttl):
        """C{key} (holding C{old}) left shard C{sh}."""
        if self.memory:
            n = entry_size(key, old, had_ttl)
            self.dataset -= n
            self.per_db[sh.db.index] -= n
        if sh.access is not None:
            sh.access.pop(key, None)

    def ttl_changed(self, sh, added):
        """A key of C{sh} gained (C{added}) or lost its TTL."""
        if self.memory:
            n = TTL_ENTRY if added else -TTL_ENTRY
            self.dataset += n
            self.per_db[sh.db.index] += n

    def resized(self, sh, value):
        """Collection C{value} of shard C{sh} changed in place: re-estimate it."""
        try:
            previous = value.acct
        except AttributeError:
            return
        acct = _estimate(value, previous)
        n = acct[0] - previous[0]
        if n:
            value.acct = acct
            self.dataset += n
            self.per_db[sh.db.index] += n

    def flushed(self, db):
        """Database C{db} was emptied."""
        self.dataset -= self.per_db[db.index]
        self.per_db[db.index] = 0
        self.samplers = {}

    def swapped(self, a, b):
        """Databases C{a} and C{b} exchanged their contents."""
        self.per_db[a.index], self.per_db[b.index] = self.per_db[b.index], self.per_db[a.index]
        self.samplers = {}

    # -- access clocks --------------------------------------------------------

    def lru_clock(self):
        """The LRU clock: seconds (one int object per second, shared; Redis keeps 24 bits of it)."""
        now = self.store.now
        if not 0 <= now - self._lru_ms < 1000:
            self._lru_ms = now
            self._lru = now // 1000
        return self._lru

    def new_access(self, sh):
        """A shard's access dict for the current mode, every key in it.

        LRU: an OrderedDict kept in access order (each access moves its key
        to the end), so the shard's least recently used key is its first
        and allkeys-lru evicts exactly, where Redis approximates by
        sampling.  Keys already there count as accessed now.  LFU: a plain
        dict; keys missing from it count as accessed when tracking began.
        """
        if self.mode == "lru":
            return OrderedDict.fromkeys(sh.data, self.lru_clock())
        return {}

    def touch(self, sh, key):
        """C{key} was read or written: record the access (Redis' updateLFU / LRU_CLOCK)."""
        access = sh.access
        if self.mode == "lru":
            access[key] = self.lru_clock()
            access.move_to_end(key)
        else:
            counter = self.lfu_decayed(access.get(key))
            counter = self._lfu_incr(counter)
            access[key] = (self._minutes() << 8) | counter

    def touch_new(self, sh, key):
        """C{key} was created: a fresh access (LFU: Redis' initial counter, 5)."""
        if self.mode == "lru":
            sh.access[key] = self.lru_clock()  # a new key goes last
        else:
            sh.access[key] = (self._minutes() << 8) | LFU_INIT_VAL

    def _minutes(self):
        return (self.store.now // 60000) & 0xFFFF

    def _lfu_incr(self, counter):
        """Redis' logarithmic counter: the higher it is, the less likely a hit raises it."""
        if counter >= 255:
            return 255
        base = counter - LFU_INIT_VAL
        if base < 0:
            base = 0
        if random.random() < 1.0 / (base * self.lfu_log_factor + 1):
            counter += 1
        return counter

    def lfu_decayed(self, word):
        """The LFU counter of access word C{word}, decayed by the minutes since (Redis' LFUDecrAndReturn)."""
        if word is None:
            word = ((self.epoch_s // 60) & 0xFFFF) << 8 | LFU_INIT_VAL
        ldt = word >> 8
        counter = word & 255
        if self.lfu_decay_time:
            now = self._minutes()
            elapsed = now - ldt if now >= ldt else 65535 - ldt + now
            periods = elapsed // self.lfu_decay_time
            if periods:
                counter = 0 if periods > counter else counter - periods
        return counter

    def idle_ms(self, sh, key):
        """Milliseconds since C{key} was last accessed (LRU; OBJECT IDLETIME)."""
        access = sh.access
        lru = access.get(key) if access is not None else None
        if lru is None or self.mode != "lru":
            lru = self.epoch_s
        return max(self.lru_clock() - lru, 0) * 1000

    def freq(self, sh, key):
        """The decayed LFU counter of C{key} (OBJECT FREQ)."""
        access = sh.access
        return self.lfu_decayed(access.get(key) if access is not None else None)


class Evictor(object):
    """Redis' performEvictions: free keys until used memory is under maxmemory."""

    def __init__(self, server):
        self.server = server
        self.pool = _Pool()
        self.next_db = 0
        self.timer = None
        self.running = False

    def perform(self):
        """Evict while over the limit; EVICT_OK, EVICT_RUNNING (out of time, goes on) or EVICT_FAIL."""
        server = self.server
        config = server.config
        limit = config.maxmemory
        store = server.store
        acct = store.acct
        if not limit or acct is None or acct.counted() <= limit:
            return EVICT_OK
        if server.master_host is not None and config.replica_ignore_maxmemory:
            return EVICT_OK
        if server.loading or server.script_busy:
            return EVICT_OK
        policy = config.maxmemory_policy
        if policy == "noeviction":
            return EVICT_FAIL
        deadline = time.perf_counter() + _time_limit(config.maxmemory_eviction_tenacity)
        volatile = policy.startswith("volatile")
        kind = policy.split("-", 1)[1]
        samples = config.maxmemory_samples
        while acct.counted() > limit:
            if kind == "random":
                picked = self._random(store, volatile)
            elif kind == "lru" and not volatile:
                picked = self._least_recent(store, acct)
            else:
                picked = self._best(store, acct, kind, volatile, samples)
            if picked is None:
                return EVICT_FAIL  # nothing left that the policy may evict
            db, key = picked
            self.evict(db, key)
            if time.perf_counter() > deadline and acct.counted() > limit:
                self._continue_later()
                return EVICT_RUNNING
        return EVICT_OK

    def evict(self, db, key):
        """Delete C{key} of C{db} as an eviction, with Redis' side effects."""
        server = self.server
        store = server.store
        prop = server.propagator
        if prop is not None and prop.cow is not None:
            # A snapshot being written shares the live shard: give it its copy first.
            from sonic.registry import TABLE
            prop.cow(_DbHolder(db), TABLE[b"del"], [b"DEL", key])
        store.evicted_keys += 1
        store.drop(db.shard(key), key, NOTIFY_EVICTED, b"evicted")

    def _continue_later(self):
        """Out of time with memory still over: go on in the next reactor turns (Redis' evictionTimeProc)."""
        if self.timer is not None and self.timer.active():
            return
        self.timer = self.server.clock.callLater(0, self._tick)

    def _tick(self):
        self.timer = None
        self.server.store.snapshot()
        self.perform()

    def stop(self):
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None

    # -- picking --------------------------------------------------------------

    def _shard(self, db, volatile):
        """A random shard of C{db} holding keys (with a TTL if C{volatile}), or None."""
        shards = db.shards
        for _ in range(4):
            sh = shards[int(random.random() * len(shards))]
            if sh.expires if volatile else sh.data:
                return sh
        shards = [sh for sh in shards if (sh.expires if volatile else sh.data)]
        return random.choice(shards) if shards else None

    def _dbs(self, store, acct):
        """The databases that may hold keys (those with bytes counted)."""
        per_db = acct.per_db
        return [db for db in store.dbs if per_db[db.index] > 0] if acct.memory else store.dbs

    def _random(self, store, volatile):
        """A random key (or key with a TTL) from the databases in turn (Redis' next_db)."""
        dbs = self._dbs(store, store.acct)
        samplers = store.acct.samplers
        for i in range(len(dbs)):
            db = dbs[(self.next_db + i) % len(dbs)]
            for _ in range(8):
                sh = self._shard(db, volatile)
                if sh is None:
                    break
                d = sh.expires if volatile else sh.data
                keys = sample(samplers, (volatile, db.index, sh.index), d, 1)
                if keys and keys[0] in sh.data:
                    self.next_db = (self.next_db + i + 1) % len(dbs)
                    return db, keys[0]
        return None

    def _least_recent(self, store, acct):
        """allkeys-lru: the least recently used key of all, from the fronts of the shards' ordered access dicts."""
        best = None
        best_clock = None
        for db in self._dbs(store, acct):
            for sh in db.shards:
                access = sh.access
                while access:
                    key = next(iter(access))
                    if key in sh.data:
                        break
                    del access[key]  # a stale entry: never expected, never fatal
                if access:
                    clock = access[key]
                    if best_clock is None or clock < best_clock:
                        best, best_clock = (db, key), clock
        return best

    def _best(self, store, acct, kind, volatile, samples):
        """The best candidate of Redis' eviction pool, refilled with fresh samples."""
        pool = self.pool
        samplers = acct.samplers
        dbs = store.dbs
        for _ in range(8):
            found = False
            for db in self._dbs(store, acct):
                sh = self._shard(db, volatile)
                if sh is None:
                    continue
                found = True
                d = sh.expires if volatile else sh.data
                for key in sample(samplers, (volatile, db.index, sh.index), d, samples):
                    if kind == "lru":
                        score = -sh.access.get(key, acct.epoch_s)
                    elif kind == "lfu":
                        score = 255 - acct.freq(sh, key)
                    else:  # ttl: the sooner the deadline, the better
                        score = -sh.expires[key]
                    pool.add(score, db.index, key)
            while pool.entries:
                score, dbnum, key = pool.pop()
                db = dbs[dbnum]
                sh = db.shard(key)
                if key in sh.data and (not volatile or key in sh.expires):
                    return db, key
            if not found:
                return None
        return None


class _Pool(object):
    """Redis' eviction pool: the EVPOOL_SIZE best candidates, ascending by score, one entry per key."""
    __slots__ = ("entries", "members")

    def __init__(self):
        self.entries = []
        self.members = set()

    def add(self, score, dbnum, key):
        entries = self.entries
        if len(entries) >= EVPOOL_SIZE and score <= entries[0][0]:
            return
        member = (dbnum, key)
        if member in self.members:
            for i, entry in enumerate(entries):
                if entry[1] == dbnum and entry[2] == key:
                    del entries[i]
                    break
        else:
            self.members.add(member)
        insort(entries, (score, dbnum, key))
        if len(entries) > EVPOOL_SIZE:
            _, d, k = entries.pop(0)
            self.members.discard((d, k))

    def pop(self):
        entry = self.entries.pop()
        self.members.discard((entry[1], entry[2]))
        return entry


class _DbHolder(object):
    """What the snapshot's copy-on-write hook needs of a client: its database."""
    __slots__ = ("db",)

    def __init__(self, db):
        self.db = db


def _time_limit(tenacity):
    """Seconds one eviction call may take (Redis' evictionTimeLimitUs)."""
    if tenacity <= 10:
        return 50e-6 * tenacity
    if tenacity < 100:
        return 500e-6 * 1.15 ** (tenacity - 10)
    return float("inf")

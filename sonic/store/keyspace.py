"""The keyspace: C{ShardedStore}, its databases and their shards.

Each of the C{databases} (16 by default) is split into C{shards} shards; a
key's shard is chosen from its Redis Cluster hash slot (CRC16/XMODEM of the
key, or of its C{{hash tag}}, modulo 16384), so related keys stay together.
Why shards: a Python dict grows by rebuilding itself all at once, and one
dict of millions of keys stalls the server for a long time when it does;
many smaller dicts each grow in a fraction of that time (see
C{bench/shard_pause.py} for the figures).

Each shard keeps its values in one dict and, apart, the deadlines of the
keys that have one in another dict (keys without a TTL pay nothing), plus a
heap of (deadline, key) for its one expiry timer (L{sonic.store.expiry}).

Values are plain Python objects: C{bytes} (or L{Compressed}) for strings;
the collection types add theirs.  Deadlines are absolute Unix times in
milliseconds, as Redis keeps them.  The store's C{now} is set once per
command by the dispatcher (Redis' commandTimeSnapshot), so one command sees
one instant.
"""

import random
import time
from binascii import crc_hqx

from twisted.application.service import Service

from sonic import errors
from sonic.errors import CommandError
from sonic.notify import NOTIFY_EXPIRED, NOTIFY_NEW
from sonic.store.compression import Compressed, Compressor
from sonic.store import expiry

__all__ = ["ShardedStore", "Database", "Shard", "key_hash_slot", "type_name"]

SLOTS = 16384


def key_hash_slot(key):
    """Redis Cluster's hash slot of C{key} (bytes), hash tags included."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return crc_hqx(key, 0) & (SLOTS - 1)


#: Python type of a stored value -> Redis' TYPE name.  The collection
#: modules add their types here.
TYPE_NAMES = {bytes: "string", Compressed: "string"}

#: Python type of a stored value -> function(value, server) giving Redis'
#: OBJECT ENCODING name.  Strings are filled in by L{sonic.commands.keys};
#: the collection modules add theirs.
ENCODERS = {}

#: Python type of a stored value -> function(value) giving an independent
#: copy (COPY).  Immutable values (strings) need none; types not listed are
#: copied with C{copy.deepcopy}.
COPIERS = {}


def type_name(value):
    """Redis' name (TYPE) for a stored value."""
    return TYPE_NAMES.get(type(value), "none")


class Shard(object):
    """One slice of a database's keyspace.

    @ivar data: key -> value.
    @ivar expires: key -> deadline (ms), only for keys with a TTL.
    @ivar heap: (deadline, key) entries, some stale, for the expiry timer.
    @ivar timer: the one DelayedCall aimed at the earliest deadline, or None.
    @ivar access: under an LRU or LFU maxmemory-policy, key -> its access
        clock (L{sonic.store.eviction}); None otherwise.
    """
    __slots__ = ("db", "index", "data", "expires", "heap", "timer", "timer_at", "scan", "access")

    def __init__(self, db, index):
        self.db = db
        self.index = index
        self.data = {}
        self.expires = {}
        self.heap = []
        self.timer = None
        self.timer_at = None
        self.access = None
        # SCAN's hash-ordered snapshot of this shard (sonic.commands.keys),
        # told of every new key while it exists; None most of the time.
        self.scan = None


class Database(object):
    """One numbered database (SELECT n): a fixed set of shards.

    @ivar watched: key -> set of clients WATCHing it (MULTI/EXEC).
    @ivar blocking: key -> deque of L{sonic.blocking.Waiter}s blocked on it
        (BLPOP...); a key created while listed here is signalled ready.
    """

    def __init__(self, store, index, nshards):
        self.store = store
        self.index = index
        self.nshards = nshards
        self.shards = [Shard(self, i) for i in range(nshards)]
        self.watched = {}
        self.blocking = {}
        self.avg_ttl = 0

    # -- locating ---------------------------------------------------------

    def shard(self, key):
        """The shard that holds C{key}."""
        if 123 in key:  # ord("{"): an int test is 7x faster than b"{" in key
            return self.shards[key_hash_slot(key) % self.nshards]
        return self.shards[(crc_hqx(key, 0) & 16383) % self.nshards]

    # -- reading ----------------------------------------------------------

    def lookup(self, key):
        """The value stored at C{key} (maybe L{Compressed}), or None.

        A key past its deadline is deleted here (lazy expiry), except on a
        replica, which only hides it and waits for its master's DEL.
        """
        if 123 in key:  # ord("{"): an int test is 7x faster than b"{" in key
            sh = self.shards[key_hash_slot(key) % self.nshards]
        else:
            sh = self.shards[(crc_hqx(key, 0) & 16383) % self.nshards]
        value = sh.data.get(key)
        if value is None:
            return None
        if sh.expires:
            deadline = sh.expires.get(key)
            if deadline is not None and deadline < self.store.now:
                return self._past_deadline(sh, key, value)
        if sh.access is not None:
            self.store.acct.touch(sh, key)  # LRU/LFU policies only
        return value

    def _past_deadline(self, sh, key, value):
        """L{lookup} met C{key} past its deadline: expire it, or on a replica hide it."""
        if self.store.replica:
            # Hidden from clients; the master's own commands still
            # see it (Redis' expireIfNeeded for the master client).
            return value if self.store.applying_master else None
        self.store.expire_key(sh, key)
        return None

    def peek(self, key):
        """L{lookup} without recording an access (OBJECT, DEBUG OBJECT: Redis' LOOKUP_NOTOUCH)."""
        sh = self.shard(key)
        value = sh.data.get(key)
        if value is not None and sh.expires:
            deadline = sh.expires.get(key)
            if deadline is not None and deadline < self.store.now:
                return self._past_deadline(sh, key, value)
        return value

    def get_string(self, key):
        """The string at C{key} as bytes, None if absent; WRONGTYPE otherwise."""
        value = self.lookup(key)
        return None if value is None else self.string_value(value)

    def string_value(self, value):
        """A stored string value as bytes (decompressed); WRONGTYPE for other types."""
        if type(value) is bytes:
            return value
        if type(value) is Compressed:
            return self.store.compressor.decompress(value)
        raise CommandError(errors.WRONGTYPE)

    def get_typed(self, key, pytype):
        """The value at C{key} if it is a C{pytype}, None if absent; WRONGTYPE otherwise."""
        value = self.lookup(key)
        if value is None or type(value) is pytype:
            return value
        raise CommandError(errors.WRONGTYPE)

    def get_expire(self, key):
        """The deadline (ms) of C{key}, or None if it has none (or is absent)."""
        sh = self.shard(key)
        return sh.expires.get(key)

    # -- writing ----------------------------------------------------------

    def set(self, key, value, deadline=None, keepttl=False):
        """Store C{value} at C{key}, replacing anything there.

        @param deadline: absolute ms deadline, or None for no TTL.
        @param keepttl: keep the key's current deadline (SET ... KEEPTTL).
        """
        # The hot path of every write: the shard lookup and the watch signal
        # are inlined, and compression is considered only past the threshold.
        if 123 in key:  # ord("{"): an int test is 7x faster than b"{" in key
            sh = self.shards[key_hash_slot(key) % self.nshards]
        else:
            sh = self.shards[(crc_hqx(key, 0) & 16383) % self.nshards]
        store = self.store
        later = False
        comp = store.compressor
        if type(value) is bytes and len(value) >= comp.threshold and comp.enabled:
            if comp.in_thread(value) and store._run_in_thread is not False:
                # Stored raw now; the thread job starts only once the value
                # is in place, or a job that completes at once (a
                # synchronous runner) would find the key without it.
                later = True
            else:
                value = comp.compress(value)
                if type(value) is Compressed:
                    comp.added(value)
        data = sh.data
        old = data.get(key)
        if store.notify_flags:
            old = self._notify_add(sh, key, old)
        data[key] = value
        if old is None:
            if sh.scan is not None:
                sh.scan.inserted(key)
            if self.blocking and key in self.blocking:
                store.signal_ready(self, key)
        elif type(old) is Compressed:
            comp.removed(old)
        if store.acct is not None:
            self._account_set(sh, key, old, value, deadline, keepttl)
        if not keepttl:
            if deadline is not None:
                sh.expires[key] = deadline
                expiry.schedule(store, sh, key, deadline)
            elif sh.expires:
                sh.expires.pop(key, None)
        store.dirty += 1
        if self.watched:
            self.modified(key)
            store.dirty -= 1
        elif store.tracking is not None:
            store.tracking.invalidate(key)  # what modified() does besides WATCH
        if later:
            store._compress_later(sh, key, value)

    def _account_set(self, sh, key, old, value, deadline, keepttl):
        """L{set}'s memory accounting and access clock (maxmemory or an LRU/LFU policy on)."""
        acct = self.store.acct
        if old is None:
            acct.added(sh, key, value)
        else:
            acct.replaced(sh, key, old, value)
            if sh.access is not None:
                acct.touch(sh, key)
        if not keepttl:
            had = key in sh.expires
            if had != (deadline is not None):
                acct.ttl_changed(sh, not had)

    def set_raw(self, key, value):
        """Put C{value} at C{key} keeping its TTL, with no compression or watch signal.

        For commands that modify a value in place and then call L{modified}.
        """
        sh = self.shard(key)
        old = sh.data.get(key)
        sh.data[key] = value
        if self.store.acct is not None:
            self._account_set(sh, key, old, value, None, True)
        if old is None:
            if sh.scan is not None:
                sh.scan.inserted(key)
            if self.blocking and key in self.blocking:
                self.store.signal_ready(self, key)
            if self.store.notify_flags & NOTIFY_NEW:
                self.store.notifier(NOTIFY_NEW, b"new", key, self.index)
        if type(old) is Compressed:
            self.store.compressor.removed(old)
        if type(value) is Compressed:
            self.store.compressor.added(value)

    def _notify_add(self, sh, key, old):
        """L{set} with notifications on: an expired C{old} is expired first
        (Redis' lookupKeyWrite in setKey), and a key added gets "new" (dbAdd).
        Returns the old value still in place, or None."""
        store = self.store
        if old is not None and sh.expires and not store.replica:
            deadline = sh.expires.get(key)
            if deadline is not None and deadline < store.now:
                store.expire_key(sh, key)
                old = None
        if old is None and store.notify_flags & NOTIFY_NEW:
            store.notifier(NOTIFY_NEW, b"new", key, self.index)
        return old

    def delete(self, key):
        """Remove C{key}; return whether it existed (and was live)."""
        if self.lookup(key) is None:
            return False
        sh = self.shard(key)
        self._remove(sh, key)
        self.modified(key)
        return True

    def _remove(self, sh, key):
        old = sh.data.pop(key)
        had_ttl = False
        if sh.expires:
            had_ttl = sh.expires.pop(key, None) is not None
        if type(old) is Compressed:
            self.store.compressor.removed(old)
        if self.store.acct is not None:
            self.store.acct.removed(sh, key, old, had_ttl)
        return old

    def set_expire(self, key, deadline):
        """Give an existing C{key} the absolute deadline C{deadline} (ms)."""
        sh = self.shard(key)
        if self.store.acct is not None and key not in sh.expires:
            self.store.acct.ttl_changed(sh, True)
        sh.expires[key] = deadline
        expiry.schedule(self.store, sh, key, deadline)
        self.modified(key)

    def persist(self, key):
        """Remove C{key}'s TTL; return whether it had one."""
        sh = self.shard(key)
        if sh.expires.pop(key, None) is None:
            return False
        if self.store.acct is not None:
            self.store.acct.ttl_changed(sh, False)
        self.modified(key)
        return True

    def modified(self, key):
        """Signal a change to C{key}: WATCH invalidation and the dirty counter.

        Every write path calls this once per changed key (Redis'
        signalModifiedKey); commands that change a value in place call it
        themselves.
        """
        self.store.dirty += 1
        if self.watched:
            clients = self.watched.get(key)
            if clients:
                for client in clients:
                    client.dirty_cas = True
        if self.store.tracking is not None:
            # Client-side caching (sonic.tracking): None while nobody tracks.
            self.store.tracking.invalidate(key)
        acct = self.store.acct
        if acct is not None and acct.memory:
            # A collection changed in place: its byte count follows.
            sh = self.shard(key)
            value = sh.data.get(key)
            if value is not None and not isinstance(value, bytes):
                acct.resized(sh, value)

    def touch_all_watched(self):
        """Invalidate the WATCHes on every key that exists (FLUSHDB, SWAPDB)."""
        for key, clients in list(self.watched.items()):
            if self.lookup(key) is not None:
                for client in clients:
                    client.dirty_cas = True

    # -- whole database -----------------------------------------------------

    def __len__(self):
        return sum(len(sh.data) for sh in self.shards)

    def expires_count(self):
        """How many keys have a TTL."""
        return sum(len(sh.expires) for sh in self.shards)

    def live_keys(self):
        """Every live key, expiring the dead ones met on the way."""
        now = self.store.now
        for sh in self.shards:
            exp = sh.expires
            for key in list(sh.data):
                if exp:
                    d = exp.get(key)
                    if d is not None and d < now:
                        if not self.store.replica:
                            self.store.expire_key(sh, key)
                        continue
                yield key

    def random_key(self):
        """A random live key, or None if the database is empty."""
        shards = [sh for sh in self.shards if sh.data]
        for _ in range(100):
            if not shards:
                return None
            sh = random.choice(shards)
            if not sh.data:
                shards.remove(sh)
                continue
            key = random.choice(list(sh.data))  # TODO: O(n) per pick
            if self.lookup(key) is not None:
                return key
        for key in self.live_keys():
            return key
        return None

    def flush(self):
        """Remove every key (FLUSHDB)."""
        self.touch_all_watched()
        comp = self.store.compressor
        for sh in self.shards:
            for value in sh.data.values():
                if type(value) is Compressed:
                    comp.removed(value)
            sh.data = {}
            sh.expires = {}
            sh.heap = []
            sh.scan = None
            if sh.access is not None:
                sh.access = self.store.acct.new_access(sh)
            expiry.cancel(sh)
        if self.store.acct is not None:
            self.store.acct.flushed(self)
        self.store.dirty += 1

    def swap_contents(self, other):
        """Exchange all keys with database C{other} (SWAPDB)."""
        self.touch_all_watched()
        other.touch_all_watched()
        for a, b in zip(self.shards, other.shards):
            a.data, b.data = b.data, a.data
            a.expires, b.expires = b.expires, a.expires
            a.heap, b.heap = b.heap, a.heap
            a.access, b.access = b.access, a.access
            a.scan = b.scan = None
            expiry.cancel(a)
            expiry.cancel(b)
            expiry.reschedule(self.store, a)
            expiry.reschedule(self.store, b)
        self.touch_all_watched()
        other.touch_all_watched()
        if self.store.acct is not None:
            self.store.acct.swapped(self, other)
        # Clients blocked in either database may now find their keys.
        for db in (self, other):
            for key in list(db.blocking):
                if db.lookup(key) is not None:
                    self.store.signal_ready(db, key)


class _ClockOnFirstRead(object):
    """C{ShardedStore.now} while the instance has none: read the clock (L{ShardedStore.snapshot}).

    The protocol's lean path forgets the snapshot as each command begins
    (C{del store.now} while L{ShardedStore.has_now} says there is one), so
    the command's first read comes here and later reads find the snapshot.
    A descriptor without C{__set__}, so the instance's value wins while it
    is there.  (Not a C{__getattr__}, nor popping from the instance's
    C{__dict__}: either makes every other attribute read of the store
    several times slower, as CPython 3.11 then no longer specializes them
    or keeps the values in a dictionary.)
    """

    def __get__(self, store, cls=None):
        if store is None:
            return self
        return store.snapshot()


class ShardedStore(Service):
    """The whole keyspace as a Twisted service: starting it starts the expiry timers.

    @ivar clock: the L{IReactorTime} that gives time and runs the timers.
    @ivar now: the time snapshot (ms) of the command running now, read
        from C{clock} once per command: by the dispatcher before the command
        runs (L{snapshot}), or, on the protocol's lean path, when the
        command first asks for it (L{_ClockOnFirstRead}), so that a command that
        never needs the time (a GET on a keyspace without TTLs) does not
        read the clock.
    @ivar has_now: whether the instance holds a snapshot in C{now}; every
        write of C{now} goes through L{snapshot} or L{set_now}, which set it.
    @ivar replica: while true, keys are never expired here (the master's DEL
        does it); logically expired keys are only hidden.
    @ivar expire_hooks: callables C{(db, key)} run for every key removed by
        expiry or eviction, for propagation to replicas and the AOF.
    @ivar ready_keys: (db, key) pairs created while clients were blocked on
        them, in order, for L{sonic.blocking.Blocking.serve_ready}.
    """

    name = "store"
    now = _ClockOnFirstRead()

    def __init__(self, databases=16, shards=16, clock=None, compressor=None,
                 run_in_thread=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.nshards = shards
        self.dbs = [Database(self, i, shards) for i in range(databases)]
        self.compressor = compressor or Compressor()
        self._run_in_thread = run_in_thread
        self.set_now(int(clock.seconds() * 1000))
        self.replica = False
        self.applying_master = False
        self.active_expire = True
        self.expire_hooks = []
        self.dirty = 0
        self.expired_keys = 0
        self.evicted_keys = 0
        self.expire_batch = 1000
        self.running = 0
        self.ready_keys = []
        self.ready_set = set()
        #: Keyspace notification flags and the callable(flag, event, key,
        #: dbnum) that publishes (sonic.notify.install); 0/None while off.
        self.notify_flags = 0
        self.notifier = None
        #: The sonic.tracking.Tracking while any key or prefix is tracked,
        #: else None: the one test a write pays for client-side caching.
        self.tracking = None
        #: The L{sonic.store.eviction.Accounting} while maxmemory is set or
        #: the policy is LRU/LFU, else None: one test per write when off.
        self.acct = None

    def signal_ready(self, db, key):
        """C{key} of C{db} was created and clients wait for it (Redis' signalKeyAsReady)."""
        if (db.index, key) not in self.ready_set:
            self.ready_set.add((db.index, key))
            self.ready_keys.append((db, key))

    def snapshot(self):
        """Read the clock once for the command about to run (ms)."""
        self.now = now = int(self.clock.seconds() * 1000)
        self.has_now = True
        return now

    def set_now(self, now):
        """Make C{now} (ms) the time snapshot (the expiry timer's, between commands)."""
        self.now = now
        self.has_now = True

    def startService(self):
        Service.startService(self)
        for db in self.dbs:
            for sh in db.shards:
                expiry.reschedule(self, sh)

    def stopService(self):
        for db in self.dbs:
            for sh in db.shards:
                expiry.cancel(sh)
        return Service.stopService(self)

    def expire_key(self, sh, key):
        """Remove C{key} from C{sh} because its deadline passed."""
        self.expired_keys += 1
        self.drop(sh, key, NOTIFY_EXPIRED, b"expired")

    def drop(self, sh, key, flag, event):
        """Remove C{key} from C{sh} on the server's own account (expiry, eviction): the one hook.

        WATCH and tracking are told, the keyspace event C{event} goes out
        under class C{flag}, and C{expire_hooks} propagate a DEL.
        """
        db = sh.db
        db._remove(sh, key)
        db.modified(key)
        if self.notify_flags & flag:
            self.notifier(flag, event, key, db.index)
        for hook in self.expire_hooks:
            hook(db, key)

    def _compress_later(self, sh, key, value):
        from sonic.store.compression import gzip_compress
        comp = self.compressor
        level = comp.level
        run = self._run_in_thread
        if run is None:
            from twisted.internet import reactor
            from twisted.internet.threads import deferToThreadPool
            run = lambda f, *a: deferToThreadPool(reactor, reactor.getThreadPool(), f, *a)

        def timed(v, lvl):
            start = time.perf_counter()
            data = gzip_compress(v, lvl)
            return data, time.perf_counter() - start

        def done(result):
            data, seconds = result
            stored = comp.build(value, data, seconds)
            # Only if the key still holds this very object: a later write wins.
            if type(stored) is Compressed and sh.data.get(key) is value:
                sh.data[key] = stored
                comp.added(stored)
                if self.acct is not None:
                    self.acct.replaced(sh, key, value, stored)

        d = run(timed, value, level)
        if d is not None and hasattr(d, "addCallback"):
            d.addCallback(done)
            d.addErrback(lambda f: None)
        return d

    def flushall(self):
        """Empty every database."""
        for db in self.dbs:
            db.flush()
        self.compressor.reset()

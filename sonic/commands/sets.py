"""Sets (Redis' t_set.c): SADD, SREM, SPOP, SINTER and family, SSCAN...

Why a Python C{set} (L{Set} subclasses it): Redis keeps a set as a hash
table of members (an intset while small and all-integer), and so does
CPython's C{set}: O(1) SADD, SREM, SISMEMBER and SMOVE, O(n) SMEMBERS, and
SINTER, SUNION and SDIFF run as C-speed set operations.  SINTER walks the
smallest set and probes the others (O(N*M) worst case, N the smallest
cardinality), as Redis does.

Two things a plain C{set} lacks are kept beside it:

 - Redis' encoding (OBJECT ENCODING): C{intset} while every member is an
   integer in canonical form (as string2ll reads it) and there are at most
   C{set-max-intset-entries} of them, then C{hashtable}, one way (Redis 7.0
   has no listpack sets).  An intset replies in ascending numeric order, so
   small integer sets answer SMEMBERS, SUNION, SSCAN... in Redis' own order.
 - A random-access pool for SPOP and SRANDMEMBER: a C{set} cannot pick a
   random member without walking it, so big sets keep, once first asked, a
   list of their members (see L{Set}) that makes each pick O(1).

Members are never compressed at rest (unlike list elements and hash
values): a set member is an identity that every SADD, SISMEMBER and SINTER
hashes and compares, so it must stay as the bytes the client sent.

Read lookups (SMEMBERS, SISMEMBER, SRANDMEMBER, the sources of SINTER and
its *STORE forms...) count keyspace hits and misses as Redis'
lookupKeyRead does; SADD, SREM, SPOP and SMOVE look up for writing.
"""

import random
import sys
from itertools import islice

from sonic import errors
from sonic.commands.containers import check_random_count, drop_if_empty, read, scan_container, write_lookup
from sonic.notify import NOTIFY_GENERIC, NOTIFY_SET, notify, notify_emptied
from sonic.commands.keys import _parse_cursor
from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import RSet
from sonic.store.keyspace import COPIERS, ENCODERS, TYPE_NAMES
from sonic.util import LLONG_MAX, string2ll

__all__ = ["Set", "new_set", "fits_intset", "ordered_members", "is_intset_member"]

#: Sets at most this big pick random members from a fresh tuple; bigger
#: ones keep a L{Set.pool}.
_SMALL = 64

#: SPOP's "keep the few remaining members" path, as Redis' SPOP_MOVE_STRATEGY_MUL.
_SPOP_MOVE_STRATEGY_MUL = 5


def is_intset_member(member):
    """Whether Redis could keep C{member} in an intset (string2ll reads it: canonical integer)."""
    return string2ll(member) is not None


class Set(set):
    """A set value: the members (bytes), with Redis' encoding and a pool for random picks.

    @ivar intset: True while Redis would keep it as an intset (see the module
        docstring); one-way, except that SPOP rebuilding the set re-encodes it,
        as Redis' SPOP does.
    @ivar scan_order: SSCAN's snapshot (L{sonic.commands.containers}).
    @ivar pool: None, or a list holding every member once (for O(1) random
        picks), plus members removed since it was built, which are listed in
        C{stale} and dropped when a pick meets them.  Every change to a set
        that has a pool must go through L{add_members} / L{remove_members}
        (or L{pop_random}), which keep the two in step.
    @ivar stale: the removed members still in C{pool}.
    """
    __slots__ = ("intset", "scan_order", "pool", "stale", "acct")

    def __init__(self, members=(), intset=False):
        set.__init__(self, members)
        self.intset = intset
        self.scan_order = None
        self.pool = None
        self.stale = None

    def __repr__(self):
        return "Set(%r, intset=%r)" % (sorted(self), self.intset)

    def __reduce__(self):
        return (Set, (list(self), self.intset))

    def copy(self):
        """An independent copy with the same encoding (COPY, Redis' setTypeDup)."""
        return Set(self, self.intset)

    def add_members(self, members, max_intset):
        """Add C{members}; return how many were new.

        An intset turns into a hashtable when a new member is not an integer
        or the set outgrows C{max_intset} (Redis' setTypeAdd).
        """
        n = len(self)
        if self.pool is None:
            self.update(members)
        else:
            pool, stale = self.pool, self.stale
            for m in members:
                if m not in self:
                    self.add(m)
                    if m in stale:
                        stale.discard(m)  # its old pool slot is valid again
                    else:
                        pool.append(m)
        added = len(self) - n
        if added and self.intset:
            if len(self) > max_intset or not all(string2ll(m) is not None for m in members):
                self.intset = False
        return added

    def remove_members(self, members):
        """Remove C{members}; return how many were there."""
        n = len(self)
        if self.pool is None:
            self.difference_update(members)
        else:
            stale = self.stale
            for m in members:
                if m in self:
                    self.remove(m)
                    stale.add(m)
            if len(stale) > len(self) + _SMALL:
                self.pool = self.stale = None  # mostly dead: rebuild on the next pick
        return n - len(self)

    def _pick(self):
        """(pool index, member) of a uniformly random member; the set is not empty."""
        pool = self.pool
        if pool is None:
            pool = self.pool = list(self)
            self.stale = set()
        # random() * n is uniform enough (53 random bits) and a third of
        # randrange's cost.
        rand = random.random
        while True:
            if not pool:
                # Only stale slots were left (cannot happen while every change
                # goes through this class): start over from the set itself.
                pool = self.pool = list(self)
                self.stale = set()
            i = int(rand() * len(pool))
            m = pool[i]
            if m in self:
                return i, m
            self.stale.discard(m)
            self._drop_slot(i)

    def _drop_slot(self, i):
        pool = self.pool
        last = pool.pop()
        if i < len(pool):
            pool[i] = last

    def random_member(self):
        """A random member (SRANDMEMBER); the set is not empty."""
        if len(self) <= _SMALL:
            return random.choice(tuple(self))
        return self._pick()[1]

    def pop_random(self):
        """Remove and return a random member (SPOP); the set is not empty."""
        if len(self) <= _SMALL and self.pool is None:
            m = random.choice(tuple(self))
        else:
            i, m = self._pick()
            pool = self.pool
            last = pool.pop()  # _drop_slot(i), inlined
            if i < len(pool):
                pool[i] = last
        self.remove(m)
        return m

    def reset(self, members, max_intset):
        """Replace the contents by C{members}, re-encoded as a new set would be (SPOP's rebuild)."""
        self.clear()
        self.update(members)
        self.pool = self.stale = None
        self.intset = fits_intset(self, max_intset)

    def memory_usage(self):
        """Bytes held, estimated: the hash table, and the members (sampled past 64)."""
        n = len(self)
        size = sys.getsizeof(self)
        if self.pool is not None:
            size += sys.getsizeof(self.pool) + sys.getsizeof(self.stale)
        if not n:
            return size
        sample = list(islice(self, 64))
        per = sum(sys.getsizeof(m) for m in sample) / len(sample)
        return int(size + per * n)


def fits_intset(members, max_intset):
    """Whether a set of C{members} built from nothing is an intset (Redis' setTypeCreate + setTypeAdd)."""
    return len(members) <= max_intset and all(string2ll(m) is not None for m in members)


def new_set(members, server):
    """A L{Set} of C{members} encoded as Redis encodes a set built by SADD or a *STORE."""
    s = Set(members)
    s.intset = fits_intset(s, server.config.set_max_intset_entries)
    return s


def ordered_members(s):
    """The members in Redis' iteration order where it is known: ascending for an intset."""
    if s.intset:
        return sorted(s, key=int)
    return list(s)


def _encoding(value, server):
    return "intset" if value.intset else "hashtable"


TYPE_NAMES[Set] = "set"
ENCODERS[Set] = _encoding
COPIERS[Set] = Set.copy


# -- single-key commands ------------------------------------------------------------

@command("sadd")
def sadd(client, key, *members):
    """SADD key member [member ...]"""
    db = client.db
    s = db.lookup(key)
    if s is None:
        s = new_set(members, client.server)
        db.set(key, s)
        if client.server.notify_flags:
            notify(client.server, NOTIFY_SET, b"sadd", key, client.dbnum)
        return len(s)
    if type(s) is not Set:
        raise CommandError(errors.WRONGTYPE)
    if len(members) == 1 and not s.intset and s.pool is None:
        # The common one-member add to a hashtable set, without the general path.
        member = members[0]
        if member in s:
            return 0
        s.add(member)
        db.modified(key)
        if client.server.notify_flags:
            notify(client.server, NOTIFY_SET, b"sadd", key, client.dbnum)
        return 1
    added = s.add_members(members, client.server.config.set_max_intset_entries)
    if added:
        db.modified(key)
        notify(client.server, NOTIFY_SET, b"sadd", key, client.dbnum)
    return added


@command("srem")
def srem(client, key, *members):
    """SREM key member [member ...]"""
    db = client.db
    s = write_lookup(db, key, Set)
    if s is None:
        return 0
    removed = s.remove_members(members)
    if removed:
        drop_if_empty(db, key, s)
        notify_emptied(client.server, NOTIFY_SET, b"srem", key, db, s)
    return removed


@command("smembers")
def smembers(client, key):
    """SMEMBERS key"""
    s = read(client, key, Set)
    if s is None:
        return RSet()
    return RSet(ordered_members(s))


@command("sismember")
def sismember(client, key, member):
    """SISMEMBER key member"""
    s = read(client, key, Set)
    return 1 if s is not None and member in s else 0


@command("smismember")
def smismember(client, key, *members):
    """SMISMEMBER key member [member ...]"""
    s = read(client, key, Set)
    if s is None:
        return [0] * len(members)
    return [1 if m in s else 0 for m in members]


@command("scard")
def scard(client, key):
    """SCARD key"""
    s = read(client, key, Set)
    return 0 if s is None else len(s)


@command("spop")
def spop(client, key, *args):
    """SPOP key [count]"""
    if args:
        if len(args) > 1:
            raise CommandError(errors.SYNTAX)
        return _spop_count(client, key, args[0])
    db = client.db
    s = db.lookup(key)
    if s is None:
        return None
    if type(s) is not Set:
        raise CommandError(errors.WRONGTYPE)
    member = s.pop_random()
    if s:
        db.modified(key)
    else:
        db.delete(key)
    if client.server.notify_flags:
        notify_emptied(client.server, NOTIFY_SET, b"spop", key, db, s)
    return member


def _spop_count(client, key, word):
    """spopWithCountCommand: SPOP key count, a set reply (RESP3) of distinct members."""
    count = string2ll(word)
    if count is None or count < 0:
        raise CommandError(errors.NOT_POSITIVE)
    db = client.db
    s = write_lookup(db, key, Set)
    if s is None or count == 0:
        return RSet()
    size = len(s)
    if count >= size:
        # Everything: Redis replies through SUNION's temporary set (ascending
        # when that is an intset, whatever the source's encoding) and deletes the key.
        db.delete(key)
        if client.server.notify_flags:
            notify(client.server, NOTIFY_SET, b"spop", key, client.dbnum)
            notify(client.server, NOTIFY_GENERIC, b"del", key, client.dbnum)
        return _reply_set(client, s)
    remaining = size - count
    if remaining * _SPOP_MOVE_STRATEGY_MUL > count:
        # Few to pop: pick them one by one.
        out = [s.pop_random() for _ in range(count)]
    else:
        # Most of the set goes: choose the few that stay instead, and rebuild
        # the set from them (which re-encodes it, as Redis' SPOP does).
        keep = random.sample(list(s), remaining)
        was_intset = s.intset
        s.difference_update(keep)
        out = sorted(s, key=int) if was_intset else list(s)
        s.reset(keep, client.server.config.set_max_intset_entries)
    db.modified(key)
    notify(client.server, NOTIFY_SET, b"spop", key, client.dbnum)
    return RSet(out)


@command("srandmember")
def srandmember(client, key, *args):
    """SRANDMEMBER key [count]"""
    if args:
        if len(args) > 1:
            raise CommandError(errors.SYNTAX)
        return _srandmember_count(client, key, args[0])
    s = read(client, key, Set)
    if s is None:
        return None
    return s.random_member()


def _srandmember_count(client, key, word):
    """srandmemberWithCountCommand: distinct members for a positive count, repeats for a negative one."""
    count = string2ll(word)
    if count is None:
        raise CommandError(errors.NOT_INTEGER)
    if count < -LLONG_MAX:
        raise CommandError(errors.LONG_OUT_OF_RANGE % (-LLONG_MAX, LLONG_MAX))
    s = read(client, key, Set)
    if s is None or count == 0:
        return []
    size = len(s)
    if count < 0:
        count = -count
        check_random_count(count)
        if size <= _SMALL:
            return random.choices(tuple(s), k=count)
        pick = s.random_member
        return [pick() for _ in range(count)]
    if count >= size:
        return ordered_members(s)
    if count * 3 > size or size <= _SMALL:
        return random.sample(list(s), count)
    # A few out of many: O(count) expected picks from the pool.
    chosen = set()
    pick = s.random_member
    while len(chosen) < count:
        chosen.add(pick())
    return list(chosen)


@command("smove")
def smove(client, source, destination, member):
    """SMOVE source destination member"""
    db = client.db
    src = db.lookup(source)
    dst = db.lookup(destination)
    if src is None:
        return 0
    if type(src) is not Set or (dst is not None and type(dst) is not Set):
        raise CommandError(errors.WRONGTYPE)
    if src is dst:
        return 1 if member in src else 0
    if not src.remove_members((member,)):
        return 0
    drop_if_empty(db, source, src)
    # Redis' order: srem (and del) on the source, then new and sadd on the destination.
    notify_emptied(client.server, NOTIFY_SET, b"srem", source, db, src)
    if dst is None:
        db.set(destination, new_set((member,), client.server))
    elif dst.add_members((member,), client.server.config.set_max_intset_entries):
        db.modified(destination)
    else:
        return 1
    notify(client.server, NOTIFY_SET, b"sadd", destination, client.dbnum)
    return 1


# -- SINTER, SUNION, SDIFF and their STORE forms -----------------------------------------

def _sources(client, keys):
    """The sets at C{keys} (None for a missing key), read as Redis does: WRONGTYPE for any other type."""
    return [read(client, key, Set) for key in keys]


def _by_size(sets):
    """The sets smallest first; ties keep their order (Redis' sort, glibc's stable merge sort)."""
    return sorted(sets, key=len)


def _intersection(sets):
    """The members of the intersection of C{sets} (none missing), in Redis' order where known."""
    sets = _by_size(sets)
    first = sets[0]
    result = first.intersection(*sets[1:]) if len(sets) > 1 else first
    # Redis replies as it walks the smallest set: ascending when it is an intset.
    return sorted(result, key=int) if first.intset else list(result)


def _reply_set(client, members):
    """A *STORE-less algebra reply: ascending when Redis' temporary set would be an intset."""
    if fits_intset(members, client.server.config.set_max_intset_entries):
        return RSet(sorted(members, key=int))
    return RSet(members)


def _store(client, key, members, event):
    """Store a result set as Redis' setKey does (TTL cleared), with C{event}; an empty one deletes C{key}."""
    db = client.db
    if not members:
        if db.delete(key):
            notify(client.server, NOTIFY_GENERIC, b"del", key, client.dbnum)
        return 0
    db.set(key, new_set(members, client.server))
    notify(client.server, NOTIFY_SET, event, key, client.dbnum)
    return len(members)


@command("sinter")
def sinter(client, *keys):
    """SINTER key [key ...]"""
    sets = _sources(client, keys)
    if None in sets:
        return RSet()
    return RSet(_intersection(sets))


@command("sinterstore")
def sinterstore(client, destination, *keys):
    """SINTERSTORE destination key [key ...]"""
    sets = _sources(client, keys)
    if None in sets:
        return _store(client, destination, (), b"sinterstore")
    return _store(client, destination, _intersection(sets), b"sinterstore")


@command("sintercard")
def sintercard(client, numkeys, *args):
    """SINTERCARD numkeys key [key ...] [LIMIT limit]"""
    n = string2ll(numkeys)
    if n is None or n < 1:
        raise CommandError(errors.NUMKEYS_NOT_POSITIVE)
    if n > len(args):
        raise CommandError(errors.NUMKEYS_TOO_MANY)
    keys, opts = args[:n], args[n:]
    limit = 0
    i = 0
    while i < len(opts):
        if opts[i].lower() == b"limit" and i + 1 < len(opts):
            limit = string2ll(opts[i + 1])
            if limit is None or limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    sets = _sources(client, keys)
    if None in sets:
        return 0
    sets = _by_size(sets)
    first, others = sets[0], sets[1:]
    if not limit or limit >= len(first):
        return len(first.intersection(*others)) if others else len(first)
    # Walk the smallest set through chained C-speed membership filters,
    # stopping once LIMIT members are found.
    common = iter(first)
    for other in others:
        common = filter(other.__contains__, common)
    return len(list(islice(common, limit)))


def _union(sets):
    present = [s for s in sets if s is not None]
    if not present:
        return set()
    return present[0].union(*present[1:])


def _difference(sets):
    first = sets[0]
    if first is None:
        return set()
    others = [s for s in sets[1:] if s is not None]
    return first.difference(*others)


@command("sunion")
def sunion(client, *keys):
    """SUNION key [key ...]"""
    return _reply_set(client, _union(_sources(client, keys)))


@command("sunionstore")
def sunionstore(client, destination, *keys):
    """SUNIONSTORE destination key [key ...]"""
    return _store(client, destination, _union(_sources(client, keys)), b"sunionstore")


@command("sdiff")
def sdiff(client, *keys):
    """SDIFF key [key ...]"""
    return _reply_set(client, _difference(_sources(client, keys)))


@command("sdiffstore")
def sdiffstore(client, destination, *keys):
    """SDIFFSTORE destination key [key ...]"""
    return _store(client, destination, _difference(_sources(client, keys)), b"sdiffstore")


# -- SSCAN ----------------------------------------------------------------------------

@command("sscan")
def sscan(client, key, cursor, *opts):
    """SSCAN key cursor [MATCH pattern] [COUNT count]"""
    _parse_cursor(cursor)  # Redis checks the cursor before the key
    s = read(client, key, Set)
    if s is None:
        # Redis answers a missing key before it reads the options.
        return [b"0", []]
    return scan_container(s, cursor, opts, s.intset, lambda: ordered_members(s))

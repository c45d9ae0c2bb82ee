"""Generic keyspace commands (db.c, expire.c, object.c): DEL, EXPIRE and family, SCAN, RENAME, COPY, OBJECT...

SCAN's cursor.  Redis walks its hash table in reverse-binary bucket order so
a cursor survives rehashing; a Python dict offers no such walk, and an
offset into its iteration order is wrong once keys before it are deleted.
sonic orders each shard's keys by a per-process hash instead: the cursor is
C{shard << 50 | h}, "continue in this shard with the keys whose hash is at
least C{h}" (C{h} is the top 50 bits of C{hash(key)} made unsigned, so a
cursor is a decimal unsigned 64-bit integer as clients expect, and C{0}
starts and ends a scan).  A key's hash never changes, so every key present
for the whole scan is returned whatever was inserted, deleted or resized
meanwhile; keys with equal hashes are never split across two calls.

To find "the next COUNT keys at or above C{h}" cheaply, a shard being scanned
keeps a L{ScanSnapshot}: its keys sorted by hash (a list, plus an array of
the hashes for bisecting).  Deleted keys may stay in it (they are filtered
when returned); keys inserted since it was built are appended to a pending
list by the store (C{Shard.scan.inserted}) and merged in at the next call
with one bisect each and C{O(n)} slicing in C, so inserts never force a
re-sort.  The snapshot is dropped when a scan moves past the shard, when too
many inserts piled up with no SCAN to merge them, and by FLUSHDB/SWAPDB.
"""

import copy
from array import array
from bisect import bisect_left, bisect_right

from sonic import errors
from sonic.commands.args import to_int
from sonic.errors import CommandError
from sonic.glob import compile_pattern
from sonic.notify import NOTIFY_GENERIC, NOTIFY_NEW, keymiss, notify
from sonic.registry import command
from sonic.resp import OK, Status
from sonic.store import expiry
from sonic.store.compression import Compressed
from sonic.store.keyspace import COPIERS, ENCODERS, TYPE_NAMES, type_name
from sonic.util import LLONG_MAX, LLONG_MIN, string2ll

__all__ = ["ScanSnapshot", "scan_hash", "string_encoding", "SCAN_HASH_BITS"]

INT_MIN = -(1 << 31)
INT_MAX = (1 << 31) - 1
ULLONG_MAX = (1 << 64) - 1

#: Bits of the cursor that hold the position inside a shard; the shard index
#: (< 16384, 14 bits) sits above them, so a cursor fits in 64 bits.
SCAN_HASH_BITS = 50
_HASH_SHIFT = 64 - SCAN_HASH_BITS
_HASH_MASK = (1 << SCAN_HASH_BITS) - 1
_OFFSET = 1 << 63

#: OBJECT REFCOUNT of Redis' shared integers (OBJ_SHARED_REFCOUNT).
SHARED_REFCOUNT = INT_MAX
#: Redis shares the integers 0..9999 (OBJ_SHARED_INTEGERS).
SHARED_INTEGERS = 10000
#: Strings up to this length are "embstr" (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
EMBSTR_LIMIT = 44

LFU_POLICIES = ("allkeys-lfu", "volatile-lfu")
LRU_LFU_POLICIES = ("allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu")

OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]


# -- helpers ------------------------------------------------------------------


def _db_index(client, value, message=None):
    """getIntFromObjectOrReply: a 32-bit int, with Redis' errors (or C{message} for both)."""
    n = string2ll(value)
    if n is None:
        raise CommandError(message or errors.NOT_INTEGER)
    if n < INT_MIN or n > INT_MAX:
        raise CommandError(message or errors.INT_OUT_OF_RANGE)
    return n


def _other_db(client, n):
    """Database C{n}, or Redis' out-of-range error."""
    dbs = client.server.store.dbs
    if n < 0 or n >= len(dbs):
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    return dbs[n]


def _place(db, key, value, deadline):
    """Store C{value} at C{key} as it is (a compressed value stays compressed), with C{deadline}.

    For RENAME, MOVE and COPY: the value is neither recompressed nor
    decompressed, and the deadline travels with it.
    """
    sh = db.shard(key)
    store = db.store
    if store.notify_flags & NOTIFY_NEW and key in sh.data:
        # Redis deletes the value it replaces and adds the key anew
        # (dbDelete + dbAdd), so "new" is sent even then; set_raw sends it
        # for keys that were absent.
        store.notifier(NOTIFY_NEW, b"new", key, db.index)
    db.set_raw(key, value)
    # set_raw signals only new keys; a key replaced by one of the type its
    # waiters need serves them too (Redis signals on every overwrite).
    if db.blocking and key in db.blocking:
        db.store.signal_ready(db, key)
    if deadline is not None:
        sh.expires[key] = deadline
        expiry.schedule(db.store, sh, key, deadline)
    elif sh.expires:
        sh.expires.pop(key, None)
    db.modified(key)


def _take(db, key):
    """Remove C{key} from C{db} and return its (value, deadline); it must be live."""
    sh = db.shard(key)
    deadline = sh.expires.get(key)
    value = db._remove(sh, key)
    db.modified(key)
    return value, deadline


def _read(client, key, db=None, quiet=False):
    """A read lookup (lookupKeyRead): the live value or None, counted in keyspace_hits/misses.

    A miss sends the C{keymiss} event unless C{quiet} (OBJECT's
    LOOKUP_NONOTIFY), which also leaves the key's access clock alone
    (LOOKUP_NOTOUCH).
    """
    db = db or client.db
    value = db.peek(key) if quiet else db.lookup(key)
    server = client.server
    if value is None:
        server.stat_keyspace_misses += 1
        if server.notify_flags and not quiet:
            keymiss(client, key, db)
    else:
        server.stat_keyspace_hits += 1
    return value


def _copy_value(value):
    if type(value) is bytes or type(value) is Compressed:
        return value
    copier = COPIERS.get(type(value))
    if copier is not None:
        return copier(value)
    return copy.deepcopy(value)


# -- DEL, EXISTS, TOUCH, TYPE ----------------------------------------------------


def _del_generic(client, keys):
    """delGenericCommand: remove each key that exists, with a "del" event each."""
    db = client.db
    server = client.server
    if not server.notify_flags:
        return sum(1 for key in keys if db.delete(key))
    deleted = 0
    for key in keys:
        if db.delete(key):
            deleted += 1
            notify(server, NOTIFY_GENERIC, b"del", key, client.dbnum)
    return deleted


@command("del")
def del_(client, *keys):
    """DEL key [key ...]"""
    return _del_generic(client, keys)


@command("unlink")
def unlink(client, *keys):
    """UNLINK key [key ...]"""
    return _del_generic(client, keys)


@command("exists")
def exists(client, *keys):
    """EXISTS key [key ...]"""
    return sum(1 for key in keys if _read(client, key) is not None)


@command("touch")
def touch(client, *keys):
    """TOUCH key [key ...]"""
    return sum(1 for key in keys if _read(client, key) is not None)


@command("type")
def type_(client, key):
    """TYPE key"""
    value = _read(client, key)
    if value is None:
        return Status(b"none")
    return Status(type_name(value).encode())


# -- expiry ------------------------------------------------------------------------


def _expire_generic(client, key, when, opts, basetime, unit_seconds):
    """expireGenericCommand: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (and EXP)."""
    nx = xx = gt = lt = False
    for opt in opts:
        o = opt.lower()
        if o == b"nx":
            nx = True
        elif o == b"xx":
            xx = True
        elif o == b"gt":
            gt = True
        elif o == b"lt":
            lt = True
        else:
            raise CommandError(errors.sanitize(
                errors.UNSUPPORTED_OPTION % opt.decode("utf-8", "replace")))
    if nx and (xx or gt or lt):
        raise CommandError(errors.EXPIRE_NX_INCOMPATIBLE)
    if gt and lt:
        raise CommandError(errors.EXPIRE_GT_LT_INCOMPATIBLE)
    when = to_int(when)
    name = client.argv[0].decode("utf-8", "replace").lower()
    if unit_seconds:
        # C's LLONG_MAX / 1000 truncates toward zero.
        if when > LLONG_MAX // 1000 or when < -(-LLONG_MIN // 1000):
            raise CommandError(errors.INVALID_EXPIRE % name)
        when *= 1000
    if when > LLONG_MAX - basetime:
        raise CommandError(errors.INVALID_EXPIRE % name)
    when += basetime
    db = client.db
    if db.lookup(key) is None:
        return 0
    if nx or xx or gt or lt:
        current = db.get_expire(key)
        if nx and current is not None:
            return 0
        if xx and current is None:
            return 0
        if gt and (current is None or when <= current):
            return 0
        if lt and current is not None and when >= current:
            return 0
    store = client.server.store
    if when <= store.now and not store.replica:
        db.delete(key)
        notify(client.server, NOTIFY_GENERIC, b"del", key, client.dbnum)
        return 1
    db.set_expire(key, when)
    notify(client.server, NOTIFY_GENERIC, b"expire", key, client.dbnum)
    return 1


@command("expire")
def expire(client, key, seconds, *opts):
    """EXPIRE key seconds [NX | XX | GT | LT]"""
    return _expire_generic(client, key, seconds, opts, client.server.store.now, True)


@command("exp", arity=-3, flags=["write", "fast"], first=1, last=1, step=1,
         acl=["@keyspace", "@write", "@fast"],
         key_specs=[{"flags": ["RW", "update"],
                     "begin_search": {"type": "index", "spec": {"index": 1}},
                     "find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}],
         summary="Set a key's time to live in seconds (sonic's alias of EXPIRE)",
         since="1.0.0", group="generic", complexity="O(1)",
         arguments=[{"name": "key", "type": "key", "key_spec_index": 0},
                    {"name": "seconds", "type": "integer"},
                    {"name": "condition", "type": "oneof", "flags": ["optional"],
                     "arguments": [{"name": "nx", "type": "pure-token", "token": "NX"},
                                   {"name": "xx", "type": "pure-token", "token": "XX"},
                                   {"name": "gt", "type": "pure-token", "token": "GT"},
                                   {"name": "lt", "type": "pure-token", "token": "LT"}]}])
def exp(client, key, seconds, *opts):
    """EXP key seconds [NX | XX | GT | LT]

    sonic's first design named EXPIRE so; kept as an alias with the same behaviour.
    """
    return _expire_generic(client, key, seconds, opts, client.server.store.now, True)


@command("pexpire")
def pexpire(client, key, milliseconds, *opts):
    """PEXPIRE key milliseconds [NX | XX | GT | LT]"""
    return _expire_generic(client, key, milliseconds, opts, client.server.store.now, False)


@command("expireat")
def expireat(client, key, timestamp, *opts):
    """EXPIREAT key unix-time-seconds [NX | XX | GT | LT]"""
    return _expire_generic(client, key, timestamp, opts, 0, True)


@command("pexpireat")
def pexpireat(client, key, timestamp, *opts):
    """PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]"""
    return _expire_generic(client, key, timestamp, opts, 0, False)


def _ttl_generic(client, key, absolute, ms):
    """ttlGenericCommand: -2 absent, -1 no TTL, else the (rounded) TTL or deadline."""
    db = client.db
    if _read(client, key) is None:
        return -2
    deadline = db.get_expire(key)
    if deadline is None:
        return -1
    ttl = deadline if absolute else deadline - client.server.store.now
    if ttl < 0:
        ttl = 0
    return ttl if ms else (ttl + 500) // 1000


@command("ttl")
def ttl(client, key):
    """TTL key"""
    return _ttl_generic(client, key, False, False)


@command("pttl")
def pttl(client, key):
    """PTTL key"""
    return _ttl_generic(client, key, False, True)


@command("expiretime")
def expiretime(client, key):
    """EXPIRETIME key"""
    return _ttl_generic(client, key, True, False)


@command("pexpiretime")
def pexpiretime(client, key):
    """PEXPIRETIME key"""
    return _ttl_generic(client, key, True, True)


@command("persist")
def persist(client, key):
    """PERSIST key"""
    db = client.db
    if db.lookup(key) is None:
        return 0
    if db.persist(key):
        notify(client.server, NOTIFY_GENERIC, b"persist", key, client.dbnum)
        return 1
    return 0


# -- KEYS, RANDOMKEY -------------------------------------------------------------


@command("keys")
def keys(client, pattern):
    """KEYS pattern"""
    db = client.db
    now = client.server.store.now
    allkeys = pattern == b"*"
    match = None if allkeys else compile_pattern(pattern).match
    out = []
    for sh in db.shards:
        exp = sh.expires
        for key in list(sh.data) if allkeys else [k for k in sh.data if match(k)]:
            # Like Redis' KEYS, skip logically expired keys without deleting them.
            if exp:
                d = exp.get(key)
                if d is not None and d < now:
                    continue
            out.append(key)
    return out


@command("randomkey")
def randomkey(client):
    """RANDOMKEY"""
    return client.db.random_key()


# -- SCAN --------------------------------------------------------------------------


def scan_hash(key):
    """The position of C{key} in SCAN's order: the top bits of C{hash(key)}, unsigned."""
    return (hash(key) + _OFFSET) >> _HASH_SHIFT


def _position(h):
    """The SCAN position of a full (signed 64-bit) hash C{h}; monotonic in C{h}."""
    return (h + _OFFSET) >> _HASH_SHIFT


def _lowest_hash(position):
    """The smallest full hash whose SCAN position is C{position}."""
    return (position << _HASH_SHIFT) - _OFFSET


class ScanSnapshot(object):
    """One shard's keys in SCAN order (by L{scan_hash}), kept while the shard is scanned.

    @ivar keys: keys sorted by C{hash()} (some may since have been deleted).
    @ivar hashes: their full signed hashes, same order, for bisecting (an
        array built in C: no Python call per key).
    @ivar pending: keys inserted since the last merge (told by the store).
    """

    __slots__ = ("shard", "keys", "hashes", "pending")

    def __init__(self, shard):
        self.shard = shard
        self.pending = []
        self.build()

    def build(self):
        """Sort the shard's current keys (Python's C sort on the cached key hashes)."""
        keys = sorted(self.shard.data, key=hash)
        self.keys = keys
        self.hashes = array("q", map(hash, keys))
        self.pending = []

    def inserted(self, key):
        """The store added C{key} to the shard: remember it for the next merge."""
        pending = self.pending
        pending.append(key)
        if len(pending) > 1024 and len(pending) > len(self.keys):
            # Nobody is merging: drop the snapshot rather than grow without bound.
            self.shard.scan = None

    def refresh(self):
        """Merge pending inserts, or rebuild if the snapshot went too stale."""
        live = len(self.shard.data)
        # More keys than the snapshot and the notices account for means some
        # writer bypassed Database.set/set_raw: rebuild rather than miss keys.
        if (len(self.pending) * 4 > len(self.keys) or len(self.keys) > 2 * live + 64
                or live > len(self.keys) + len(self.pending)):
            self.build()
            return
        if not self.pending:
            return
        add = sorted(set(self.pending), key=hash)
        self.pending = []
        keys, hashes = self.keys, self.hashes
        new_keys, new_hashes = [], array("q")
        start = 0
        for key in add:
            h = hash(key)
            i = bisect_right(hashes, h, start)
            new_keys.extend(keys[start:i])
            new_hashes.extend(hashes[start:i])
            new_keys.append(key)
            new_hashes.append(h)
            start = i
        new_keys.extend(keys[start:])
        new_hashes.extend(hashes[start:])
        self.keys, self.hashes = new_keys, new_hashes

    def take(self, threshold, want):
        """Up to C{want} keys (more to keep equal hashes together) at or above C{threshold}.

        @return: (keys, next threshold or None when the shard is done).
        """
        hashes = self.hashes
        n = len(hashes)
        i = bisect_left(hashes, _lowest_hash(threshold))
        j = min(i + want, n)
        if i < j < n:
            j = bisect_left(hashes, _lowest_hash(_position(hashes[j - 1]) + 1), j)
        return self.keys[i:j], (_position(hashes[j]) if j < n else None)


def _parse_cursor(value):
    """parseScanCursorOrReply: strtoul rules (leading +, zeros, and a wrapping - allowed)."""
    text = value
    if text[:1] and text[:1].isspace():
        raise CommandError(errors.INVALID_CURSOR)
    neg = False
    if text[:1] in (b"+", b"-"):
        neg = text[:1] == b"-"
        text = text[1:]
    if not text:
        if value:
            raise CommandError(errors.INVALID_CURSOR)
        return 0
    if not text.isdigit():
        raise CommandError(errors.INVALID_CURSOR)
    n = int(text)
    if n > ULLONG_MAX:
        raise CommandError(errors.INVALID_CURSOR)
    return (-n) & ULLONG_MAX if neg else n


def scan_db(db, cursor, count):
    """Select about C{count} keys of C{db} from C{cursor}; return (next cursor, keys).

    Keys are not filtered here (MATCH, TYPE and expiry come after, as in Redis).
    """
    shard_index = cursor >> SCAN_HASH_BITS
    threshold = cursor & _HASH_MASK
    shards = db.shards
    nshards = len(shards)
    out = []
    while shard_index < nshards:
        sh = shards[shard_index]
        if sh.data:
            snap = sh.scan
            if snap is None:
                snap = sh.scan = ScanSnapshot(sh)
            else:
                snap.refresh()
            got, nxt = snap.take(threshold, count - len(out))
            out.extend(got)
            if nxt is not None:
                return (shard_index << SCAN_HASH_BITS) | nxt, out
        # This shard is done: free its snapshot.
        sh.scan = None
        shard_index += 1
        threshold = 0
        if len(out) >= count:
            while shard_index < nshards and not shards[shard_index].data:
                shard_index += 1
            if shard_index >= nshards:
                return 0, out
            return shard_index << SCAN_HASH_BITS, out
    return 0, out


@command("scan")
def scan(client, cursor, *opts):
    """SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]"""
    cursor = _parse_cursor(cursor)
    count = 10
    pattern = None
    typename = None
    i = 0
    n = len(opts)
    while i < n:
        opt = opts[i].lower()
        more = n - i - 1
        if opt == b"count" and more >= 1:
            count = to_int(opts[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX)
            i += 2
        elif opt == b"match" and more >= 1:
            pattern = opts[i + 1]
            i += 2
        elif opt == b"type" and more >= 1:
            typename = opts[i + 1].decode("utf-8", "replace").lower()
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    db = client.db
    cursor, selected = scan_db(db, cursor, count)
    match = None if pattern is None or pattern == b"*" else compile_pattern(pattern).match
    out = []
    seen = set()
    for key in selected:
        if key in seen:
            continue
        seen.add(key)
        if match is not None and not match(key):
            continue
        value = db.lookup(key) if typename is None else _read(client, key)
        if value is None:
            continue
        if typename is not None and type_name(value) != typename:
            continue
        out.append(key)
    return [b"%d" % cursor, out]


# -- RENAME, MOVE, COPY, SWAPDB --------------------------------------------------------


def _rename(client, src, dst, nx):
    db = client.db
    if db.lookup(src) is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else OK
    if db.lookup(dst) is not None and nx:
        return 0
    value, deadline = _take(db, src)
    _place(db, dst, value, deadline)
    server = client.server
    if server.notify_flags:
        notify(server, NOTIFY_GENERIC, b"rename_from", src, client.dbnum)
        notify(server, NOTIFY_GENERIC, b"rename_to", dst, client.dbnum)
    return 1 if nx else OK


@command("rename")
def rename(client, key, newkey):
    """RENAME key newkey"""
    return _rename(client, key, newkey, False)


@command("renamenx")
def renamenx(client, key, newkey):
    """RENAMENX key newkey"""
    return _rename(client, key, newkey, True)


@command("move")
def move(client, key, db_index):
    """MOVE key db"""
    dst = _other_db(client, _db_index(client, db_index))
    src = client.db
    if dst is src:
        raise CommandError(errors.SAME_OBJECT)
    if src.lookup(key) is None:
        return 0
    if dst.lookup(key) is not None:
        return 0
    value, deadline = _take(src, key)
    _place(dst, key, value, deadline)
    server = client.server
    if server.notify_flags:
        notify(server, NOTIFY_GENERIC, b"move_from", key, src.index)
        notify(server, NOTIFY_GENERIC, b"move_to", key, dst.index)
    return 1


@command("copy")
def copy_(client, key, newkey, *opts):
    """COPY source destination [DB destination-db] [REPLACE]"""
    src = dst = client.db
    replace = False
    i = 0
    n = len(opts)
    while i < n:
        opt = opts[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and n - i - 1 >= 1:
            dst = _other_db(client, _db_index(client, opts[i + 1]))
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if src is dst and key == newkey:
        raise CommandError(errors.SAME_OBJECT)
    value = _read(client, key)
    if value is None:
        return 0
    deadline = src.get_expire(key)
    if dst.lookup(newkey) is not None and not replace:
        return 0
    _place(dst, newkey, _copy_value(value), deadline)
    notify(client.server, NOTIFY_GENERIC, b"copy_to", newkey, dst.index)
    return 1


@command("swapdb")
def swapdb(client, index1, index2):
    """SWAPDB index1 index2"""
    a = _db_index(client, index1, errors.INVALID_FIRST_DB)
    b = _db_index(client, index2, errors.INVALID_SECOND_DB)
    dbs = client.server.store.dbs
    if a < 0 or a >= len(dbs) or b < 0 or b >= len(dbs):
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    if a != b:
        dbs[a].swap_contents(dbs[b])
    client.server.store.dirty += 1
    return OK


# -- OBJECT ----------------------------------------------------------------------------


def string_encoding(value, server=None):
    """Redis' encoding of a string value: int (string2ll), embstr (<= 44 bytes) or raw."""
    if type(value) is Compressed:
        if value.size > EMBSTR_LIMIT:
            return "raw"
        value = server.store.compressor.decompress(value)
    if len(value) <= 20 and string2ll(value) is not None:
        return "int"
    return "embstr" if len(value) <= EMBSTR_LIMIT else "raw"


ENCODERS.setdefault(bytes, string_encoding)
ENCODERS.setdefault(Compressed, string_encoding)


def _shared_integers(server):
    """Whether Redis would share small integers (not under a maxmemory LRU/LFU policy)."""
    config = server.config
    return not config.maxmemory or config.maxmemory_policy not in LRU_LFU_POLICIES


@command("object|encoding")
def object_encoding(client, key):
    """OBJECT ENCODING key"""
    value = _read(client, key, quiet=True)
    if value is None:
        return None
    encoder = ENCODERS.get(type(value))
    if encoder is None:
        return TYPE_NAMES.get(type(value), "unknown").encode()
    return encoder(value, client.server).encode()


@command("object|refcount")
def object_refcount(client, key):
    """OBJECT REFCOUNT key"""
    value = _read(client, key, quiet=True)
    if value is None:
        return None
    if type(value) is bytes and len(value) <= 4 and _shared_integers(client.server):
        n = string2ll(value)
        if n is not None and 0 <= n < SHARED_INTEGERS:
            return SHARED_REFCOUNT
    return 1


@command("object|idletime")
def object_idletime(client, key):
    """OBJECT IDLETIME key

    Access times are kept only under an LRU maxmemory-policy (each costs
    every read a dict write, sonic.store.eviction); under other policies
    sonic answers 0, "just used", where Redis always knows.
    """
    value = _read(client, key, quiet=True)
    if value is None:
        return None
    if client.server.config.maxmemory_policy in LFU_POLICIES:
        raise CommandError(errors.OBJECT_LFU_IDLETIME)
    acct = client.server.store.acct
    if acct is None or acct.mode != "lru":
        return 0
    return acct.idle_ms(client.db.shard(key), key) // 1000


@command("object|freq")
def object_freq(client, key):
    """OBJECT FREQ key

    The logarithmic access counter Redis keeps under an LFU policy
    (sonic.store.eviction), decayed by lfu-decay-time.
    """
    value = _read(client, key, quiet=True)
    if value is None:
        return None
    if client.server.config.maxmemory_policy not in LFU_POLICIES:
        raise CommandError(errors.OBJECT_NO_LFU)
    acct = client.server.store.acct
    return acct.freq(client.db.shard(key), key) if acct is not None else 0


@command("object|help")
def object_help(client):
    """OBJECT HELP"""
    return [Status(line.encode()) for line in OBJECT_HELP]

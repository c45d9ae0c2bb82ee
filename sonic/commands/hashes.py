"""Hashes (Redis' t_hash.c): HSET, HGET, HGETALL, HINCRBY, HRANDFIELD, HSCAN...

Why a C{dict} (L{Hash} subclasses it): Redis keeps a big hash as a hash
table of field -> value, and so does CPython's C{dict}, so HSET, HGET,
HDEL, HEXISTS and HSTRLEN are O(1) and HGETALL, HKEYS and HVALS O(n), as
Redis documents.  A dict also remembers insertion order, an update keeping
its place and a delete-then-set moving to the end: exactly the order of a
small hash's listpack, so small hashes answer HGETALL, HKEYS, HSCAN... in
Redis' own order.

What a plain C{dict} lacks is kept beside it, in C{__slots__} (no per-value
C{__dict__}, so a million small hashes cost no more than a million dicts):

 - C{big}: Redis' encoding (OBJECT ENCODING).  A hash starts as a listpack
   and becomes a hashtable once it holds more than C{hash-max-listpack-entries}
   fields or once a field or a value longer than C{hash-max-listpack-value}
   is written to it (HSET, HSETNX, HINCRBY's field, HINCRBYFLOAT's result),
   one way, as in Redis.
 - C{scan_order}: HSCAN's hash-ordered snapshot while a big hash is scanned
   (L{sonic.commands.containers.scan_container}).
 - C{sampler}: a dict cannot pick a random field without walking it, so a
   big hash asked for random fields (HRANDFIELD) keeps, from then on, a
   L{_Sampler} (a list of its fields) that makes each pick O(1) on average,
   as Redis' dictGetFairRandomKey is.

Values of C{compression-threshold} bytes or more are kept gzip-compressed
(L{Compressed}, see L{sonic.commands.containers.pack}) when that saves
enough; every read path decompresses them (HSTRLEN reads the original
length from the gzip trailer without decompressing).  Fields are never
compressed: they are the dict's keys, hashed and compared on every access.

Redis' order of checks is kept: HINCRBY, HINCRBYFLOAT and HRANDFIELD parse
their numeric arguments before the lookup; HSCAN parses its cursor first,
then looks the key up, then its options (a missing key ignores bad
options).  Reads that Redis does with lookupKeyRead (HGET, HMGET, HGETALL,
HLEN, HRANDFIELD, HSCAN...) count keyspace hits and misses.
"""

import math
import random
import sys
from itertools import islice

from sonic import errors
from sonic.commands.containers import check_random_count, drop_if_empty, read, scan_container, write_lookup
from sonic.notify import NOTIFY_HASH, notify, notify_emptied
from sonic.commands.keys import _parse_cursor
from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import OK
from sonic.store.compression import Compressed
from sonic.store.keyspace import COPIERS, ENCODERS, TYPE_NAMES
from sonic.util import LLONG_MAX, LLONG_MIN, LongDouble, format_ld, string2ld, string2ll

__all__ = ["Hash", "hash_value"]

#: Hashes at most this big pick random fields by walking themselves (as a
#: listpack does in Redis); bigger ones build a L{_Sampler}.
_SMALL = 64

#: HRANDFIELD's CASE 3 threshold (Redis' HRANDFIELD_SUB_STRATEGY_MUL).
_SUB_STRATEGY_MUL = 3

#: HRANDFIELD's count range: -LONG_MAX..LONG_MAX, halved with WITHVALUES.
_LONG_MAX = LLONG_MAX
_HALF_LONG_MAX = LLONG_MAX // 2

_ZERO = LongDouble(0)


class _Sampler(object):
    """Every field of a big hash once, in a list, for O(1) random picks.

    Deleted fields stay in the list (and in C{stale}) until a pick meets
    them or too many pile up; a field set again while stale takes its old
    slot back, so each live field is listed exactly once and every pick is
    uniform.

    @ivar fields: the listed fields, live or stale.
    @ivar stale: fields deleted from the hash but still in C{fields}.
    """
    __slots__ = ("fields", "stale")

    def __init__(self, fields):
        self.fields = list(fields)
        self.stale = set()

    def added(self, field):
        """C{field} is new in the hash."""
        if field in self.stale:
            self.stale.discard(field)
        else:
            self.fields.append(field)

    def pick(self, h):
        """A uniformly random field of C{h} (not empty)."""
        fields = self.fields
        randrange = random.randrange
        while True:
            i = randrange(len(fields))
            f = fields[i]
            if f in h:
                return f
            # A stale slot: drop it (swap with the last) and try again.
            self.stale.discard(f)
            last = fields.pop()
            if i < len(fields):
                fields[i] = last


class Hash(dict):
    """A hash value: field (bytes) -> value (bytes, or L{Compressed} for big ones).

    @ivar big: True once Redis would have converted it to a hashtable.
    @ivar scan_order: HSCAN's snapshot, or None.
    @ivar sampler: a L{_Sampler} once HRANDFIELD was asked of a big hash,
        else None.  Every new field and every deletion must be told to it
        (L{_set} and L{_delete} do).
    """
    __slots__ = ("big", "scan_order", "sampler", "acct")

    def __init__(self, *args):
        dict.__init__(self, *args)
        self.big = False
        self.scan_order = None
        self.sampler = None

    def __repr__(self):
        return "Hash(%s, big=%r)" % (dict.__repr__(self), self.big)

    def __reduce__(self):
        return (_rebuild, (dict(self), self.big))

    def copy(self):
        """An independent copy with the same encoding (COPY, Redis' hashTypeDup)."""
        other = Hash(self)
        other.big = self.big
        return other

    def memory_usage(self):
        """Bytes held, estimated: the table, and fields and values (sampled past 64)."""
        n = len(self)
        size = sys.getsizeof(self)
        if self.sampler is not None:
            size += sys.getsizeof(self.sampler.fields) + sys.getsizeof(self.sampler.stale)
        if not n:
            return size
        sample = list(islice(self.items(), 64))
        per = sum(sys.getsizeof(f) + sys.getsizeof(v) for f, v in sample) / len(sample)
        return int(size + per * n)


def _rebuild(items, big):
    h = Hash(items)
    h.big = big
    return h


def _encoding(value, server):
    return "hashtable" if value.big else "listpack"


TYPE_NAMES[Hash] = "hash"
ENCODERS[Hash] = _encoding
COPIERS[Hash] = Hash.copy


# -- helpers -----------------------------------------------------------------------

def _word(arg):
    """An option word as Redis' strcasecmp sees it: lower-cased, cut at the first NUL."""
    nul = arg.find(b"\0")
    if nul >= 0:
        arg = arg[:nul]
    return arg.lower()


def hash_value(server, h, field):
    """The value of C{field} in C{h} as the client sees it (decompressed), or None.

    For SORT's C{key->field} patterns too.
    """
    v = h.get(field)
    if v is None or type(v) is bytes:
        return v
    return server.compressor.decompress(v)


def _values(server, h):
    """Every value of C{h}, decompressed, in field order."""
    decompress = server.compressor.decompress
    return [v if type(v) is bytes else decompress(v) for v in h.values()]


def _set(server, h, field, value):
    """Set one field (HSETNX, HINCRBY, HINCRBYFLOAT); return whether it is new.

    Converts to a hashtable as Redis' hashTypeSet does: a field or value
    longer than C{hash-max-listpack-value}, or more fields than
    C{hash-max-listpack-entries}.
    """
    size = len(value)
    comp = server.compressor
    if size >= comp.threshold and comp.enabled:
        value = comp.compress(value)
    new = field not in h
    if new and h.sampler is not None:
        h.sampler.added(field)
    h[field] = value
    if not h.big:
        config = server.config
        limit = config.hash_max_listpack_value
        if len(field) > limit or size > limit or len(h) > config.hash_max_listpack_entries:
            h.big = True
    return new


def _set_pairs(server, h, args):
    """HSET/HMSET: set each field/value pair of C{args}; return how many fields are new.

    The length check covers every word first (hashTypeTryConversion), the
    field count is checked after the inserts (it only grows, so once at the
    end is the same as after each insert, as hashTypeSet does).
    """
    before = len(h)
    comp = server.compressor
    threshold = comp.threshold if comp.enabled else None
    sampler = h.sampler
    for i in range(0, len(args), 2):
        field = args[i]
        value = args[i + 1]
        if threshold is not None and len(value) >= threshold:
            value = comp.compress(value)
        if sampler is not None and field not in h:
            sampler.added(field)
        h[field] = value
    if not h.big:
        config = server.config
        limit = config.hash_max_listpack_value
        if len(h) > config.hash_max_listpack_entries or max(map(len, args)) > limit:
            h.big = True
    return len(h) - before


def _delete(h, field):
    """Remove C{field} from C{h}; return whether it was there."""
    if field not in h:
        return False
    del h[field]
    if h.sampler is not None:
        h.sampler.stale.add(field)
        if len(h.sampler.stale) > len(h) + _SMALL:
            h.sampler = None  # mostly dead: rebuilt on the next pick
    return True


def _write_hash(db, key):
    """hashTypeLookupWriteOrCreate: (the Hash at C{key} or a new empty one, whether it is new)."""
    h = write_lookup(db, key, Hash)
    if h is None:
        return Hash(), True
    return h, False


def _store(db, key, h, created):
    """Signal a write to C{key}: store a new hash, or mark the changed one modified."""
    if created:
        db.set(key, h)
    else:
        db.modified(key)


# -- setting ---------------------------------------------------------------------

@command("hset")
def hset(client, key, *pairs):
    """HSET key field value [field value ...]"""
    if len(pairs) % 2:
        raise errors.wrong_arity("hset")
    db = client.db
    h = db.lookup(key)
    if len(pairs) == 2 and type(h) is Hash:
        # The common one-field HSET on an existing hash, inlined: no loop,
        # and the listpack limits read only while the hash is small.
        field, value = pairs
        server = client.server
        comp = server.compressor
        if len(value) >= comp.threshold and comp.enabled:
            value = comp.compress(value)
        n = len(h)
        h[field] = value
        added = len(h) - n
        if added and h.sampler is not None:
            h.sampler.added(field)
        if not h.big:
            config = server.config
            limit = config.hash_max_listpack_value
            if len(field) > limit or len(pairs[1]) > limit or n + added > config.hash_max_listpack_entries:
                h.big = True
        db.modified(key)
        if server.notify_flags:
            notify(server, NOTIFY_HASH, b"hset", key, client.dbnum)
        return added
    if h is not None and type(h) is not Hash:
        raise CommandError(errors.WRONGTYPE)
    if h is None:
        h = Hash()
        added = _set_pairs(client.server, h, pairs)
        db.set(key, h)
    else:
        added = _set_pairs(client.server, h, pairs)
        db.modified(key)
    if client.server.notify_flags:
        notify(client.server, NOTIFY_HASH, b"hset", key, client.dbnum)
    return added


@command("hmset")
def hmset(client, key, *pairs):
    """HMSET key field value [field value ...]"""
    if len(pairs) % 2:
        raise errors.wrong_arity("hmset")
    db = client.db
    h, created = _write_hash(db, key)
    _set_pairs(client.server, h, pairs)
    _store(db, key, h, created)
    notify(client.server, NOTIFY_HASH, b"hset", key, client.dbnum)
    return OK


@command("hsetnx")
def hsetnx(client, key, field, value):
    """HSETNX key field value"""
    db = client.db
    h, created = _write_hash(db, key)
    if field in h:
        return 0
    _set(client.server, h, field, value)
    _store(db, key, h, created)
    notify(client.server, NOTIFY_HASH, b"hset", key, client.dbnum)
    return 1


@command("hincrby")
def hincrby(client, key, field, increment):
    """HINCRBY key field increment"""
    incr = string2ll(increment)
    if incr is None:
        raise CommandError(errors.NOT_INTEGER)
    db = client.db
    server = client.server
    h, created = _write_hash(db, key)
    current = hash_value(server, h, field)
    if current is None:
        value = 0
    else:
        value = string2ll(current)
        if value is None:
            raise CommandError(errors.HASH_NOT_INTEGER)
    total = value + incr
    if total > LLONG_MAX or total < LLONG_MIN:
        raise CommandError(errors.OVERFLOW)
    _set(server, h, field, b"%d" % total)
    _store(db, key, h, created)
    notify(server, NOTIFY_HASH, b"hincrby", key, client.dbnum)
    return total


@command("hincrbyfloat")
def hincrbyfloat(client, key, field, increment):
    """HINCRBYFLOAT key field increment

    In long double, formatted as INCRBYFLOAT does (L{sonic.util.format_ld}).
    """
    incr = string2ld(increment)
    if incr is None:
        raise CommandError(errors.NOT_FLOAT)
    if math.isinf(incr):  # string2ld never answers NaN
        raise CommandError(errors.NAN_OR_INFINITY)
    db = client.db
    server = client.server
    h, created = _write_hash(db, key)
    current = hash_value(server, h, field)
    if current is None:
        value = _ZERO
    else:
        value = string2ld(current)
        if value is None:
            raise CommandError(errors.HASH_NOT_FLOAT)
    total = value + incr
    if math.isnan(total) or math.isinf(total):
        raise CommandError(errors.INCR_NAN_OR_INF)
    text = format_ld(total)
    _set(server, h, field, text)
    _store(db, key, h, created)
    notify(server, NOTIFY_HASH, b"hincrbyfloat", key, client.dbnum)
    return text


# -- reading ---------------------------------------------------------------------

@command("hget")
def hget(client, key, field):
    """HGET key field"""
    h = read(client, key, Hash)
    if h is None:
        return None
    v = h.get(field)
    if v is None or type(v) is bytes:
        return v
    return client.server.compressor.decompress(v)


@command("hmget")
def hmget(client, key, *fields):
    """HMGET key field [field ...]"""
    h = read(client, key, Hash)
    if h is None:
        return [None] * len(fields)
    server = client.server
    return [hash_value(server, h, f) for f in fields]


@command("hexists")
def hexists(client, key, field):
    """HEXISTS key field"""
    h = read(client, key, Hash)
    return 1 if h is not None and field in h else 0


@command("hlen")
def hlen(client, key):
    """HLEN key"""
    h = read(client, key, Hash)
    return 0 if h is None else len(h)


@command("hstrlen")
def hstrlen(client, key, field):
    """HSTRLEN key field"""
    h = read(client, key, Hash)
    if h is None:
        return 0
    v = h.get(field)
    if v is None:
        return 0
    return v.size if type(v) is Compressed else len(v)


@command("hkeys")
def hkeys(client, key):
    """HKEYS key"""
    h = read(client, key, Hash)
    return [] if h is None else list(h)


@command("hvals")
def hvals(client, key):
    """HVALS key"""
    h = read(client, key, Hash)
    return [] if h is None else _values(client.server, h)


@command("hgetall")
def hgetall(client, key):
    """HGETALL key"""
    h = read(client, key, Hash)
    if h is None:
        return {}
    decompress = client.server.compressor.decompress
    return {f: v if type(v) is bytes else decompress(v) for f, v in h.items()}


# -- deleting --------------------------------------------------------------------

@command("hdel")
def hdel(client, key, *fields):
    """HDEL key field [field ...]"""
    db = client.db
    h = write_lookup(db, key, Hash)
    if h is None:
        return 0
    deleted = 0
    for f in fields:
        if _delete(h, f):
            deleted += 1
    if deleted:
        drop_if_empty(db, key, h)
        notify_emptied(client.server, NOTIFY_HASH, b"hdel", key, db, h)
    return deleted


# -- random fields ---------------------------------------------------------------

def _random_field(h):
    """One uniformly random field of C{h} (not empty)."""
    n = len(h)
    if n <= _SMALL:
        return next(islice(h, random.randrange(n), None))
    if h.sampler is None:
        h.sampler = _Sampler(h)
    return h.sampler.pick(h)


def _reply_fields(server, h, fields, withvalues, resp):
    """HRANDFIELD's reply for C{fields}: flat in RESP2, [field, value] pairs in RESP3."""
    if not withvalues:
        return fields
    if resp == 2:
        out = []
        for f in fields:
            out.append(f)
            out.append(hash_value(server, h, f))
        return out
    return [[f, hash_value(server, h, f)] for f in fields]


@command("hrandfield")
def hrandfield(client, key, *args):
    """HRANDFIELD key [count [WITHVALUES]]"""
    if not args:
        h = read(client, key, Hash)
        if h is None:
            return None
        return _random_field(h)
    count = string2ll(args[0])
    if count is None:
        raise CommandError(errors.NOT_INTEGER)
    if count < -_LONG_MAX:
        raise CommandError(errors.LONG_OUT_OF_RANGE % (-_LONG_MAX, _LONG_MAX))
    withvalues = False
    if len(args) > 2 or (len(args) == 2 and _word(args[1]) != b"withvalues"):
        raise CommandError(errors.SYNTAX)
    if len(args) == 2:
        withvalues = True
        if count < -_HALF_LONG_MAX or count > _HALF_LONG_MAX:
            raise CommandError(errors.VALUE_OUT_OF_RANGE)
    h = read(client, key, Hash)
    if h is None or count == 0:
        return []
    server = client.server
    resp = client.resp
    size = len(h)
    if count < 0 or count == 1:
        # CASE 1: -count fields, repetitions allowed (also a single field).
        count = -count if count < 0 else 1
        check_random_count(count)
        if size <= _SMALL:
            fields = random.choices(list(h), k=count)
        else:
            fields = [_random_field(h) for _ in range(count)]
        return _reply_fields(server, h, fields, withvalues, resp)
    if count >= size:
        # CASE 2: the whole hash, in its own order.
        return _reply_fields(server, h, list(h), withvalues, resp)
    if not h.big:
        # CASE 2.5 (listpack): distinct fields, in the hash's order.
        fields = list(h)
        chosen = sorted(random.sample(range(size), count))
        return _reply_fields(server, h, [fields[i] for i in chosen], withvalues, resp)
    if count * _SUB_STRATEGY_MUL > size:
        # CASE 3: most of the hash; Redis copies it and removes fields.
        return _reply_fields(server, h, random.sample(list(h), count), withvalues, resp)
    # CASE 4: few fields of a big hash: pick until enough distinct ones.
    picked = {}
    while len(picked) < count:
        picked[_random_field(h)] = None
    return _reply_fields(server, h, list(picked), withvalues, resp)


# -- HSCAN -------------------------------------------------------------------------

@command("hscan")
def hscan(client, key, cursor, *opts):
    """HSCAN key cursor [MATCH pattern] [COUNT count]"""
    _parse_cursor(cursor)
    h = read(client, key, Hash)
    if h is None:
        return [b"0", []]
    server = client.server

    def pairs(field):
        v = h.get(field)
        if v is None:
            return None
        return (field, v if type(v) is bytes else server.compressor.decompress(v))

    return scan_container(h, cursor, opts, not h.big, lambda: list(h), pairs)

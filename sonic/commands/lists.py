"""Lists (Redis' t_list.c): pushes, pops, ranges, LMOVE and the blocking pops.

The value is L{List}, a C{collections.deque} subclass.  A deque is a
doubly-linked list of 64-slot blocks, which gives what Redis documents for
its quicklist: O(1) pushes and pops at both ends (LPUSH, RPUSH, LPOP, RPOP,
LMOVE), O(min(i, n - i)) access by index (LINDEX, LSET, LINSERT), and
LRANGE in O(s + m) by slicing from the nearer end.  A Python list would make
every LPUSH and LPOP O(n).

Elements of C{compression-threshold} bytes or more are kept gzip-compressed
(L{Compressed}, through the same L{sonic.store.compression.Compressor} as
string values) when that saves enough.  Every read path decompresses
(L{unpack}); comparisons (LPOS, LREM, LINSERT, in L{_find}) compare the
decompressed contents, never the gzip bytes, since the compressed form of a
value depends on settings that may change.  Each L{List} carries a sticky
C{packed} flag, true once it may hold a compressed element, so the common
case (small elements) pays nothing: LRANGE copies a slice as it is, and the
scans run in C (C{operator.indexOf}).

LRANGE, which answers hundreds of elements (and is benchmarked), returns its
reply already encoded (L{sonic.resp.bulk_array}, a L{Raw}); an array of bulk strings is
the same bytes in RESP2 and RESP3.

Redis' order of checks is kept everywhere: most commands parse their
numeric arguments before the lookup (LRANGE, LTRIM, LREM, LPOS, LPOP's
count), others look the key up first (LINDEX, LSET).  Reads that Redis does
with lookupKeyRead (LRANGE, LLEN, LINDEX, LPOS) count keyspace hits and
misses.

Blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) go through
L{sonic.blocking}: when no key can serve them now they park the client with
a C{serve} closure that performs the pop once a key is pushed to.  A timed
out list pop answers a null array, even BLMOVE (Redis'
replyToBlockedClientTimedOut); inside MULTI, BLMOVE's non-blocking form
answers a null bulk instead, as LMOVE would.
"""

import sys
from collections import deque
from itertools import islice
from operator import indexOf

from sonic import errors
from sonic.blocking import NOT_SERVED, can_block, parse_timeout
from sonic.commands.containers import drop_if_empty, pack, read, unpack, write_lookup
from sonic.errors import CommandError
from sonic.notify import NOTIFY_LIST, notify, notify_emptied
from sonic.registry import command
from sonic.resp import NULL_ARRAY, OK, Raw, bulk_array
from sonic.store.compression import Compressed
from sonic.store.keyspace import COPIERS, ENCODERS, TYPE_NAMES
from sonic.util import LLONG_MIN, string2ll

__all__ = ["List"]

# t_list.c's own error texts.
RANK_ZERO = ("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
             "or use negative to start from the end of the list")

#: Index words as they usually come (LRANGE 0 99, LINDEX -1): a dict hit is
#: a fifth of the cost of parsing them.
_SMALL_INTS = {b"%d" % i: i for i in range(-1024, 1025)}


class List(deque):
    """A list value: a deque of elements (bytes, or L{Compressed} for big ones).

    Build one from any iterable of bytes (SORT ... STORE does) and store it
    with C{db.set}.  Readers that iterate it must pass each element through
    L{sonic.commands.containers.unpack} (or check C{packed}).

    @ivar packed: whether the list may hold L{Compressed} elements (sticky).
    """
    __slots__ = ("packed", "acct")

    def __init__(self, iterable=(), maxlen=None):
        # maxlen is accepted (and ignored) because deque.copy() passes it.
        deque.__init__(self, iterable)
        self.packed = bool(self) and Compressed in map(type, self)

    def memory_usage(self):
        """Bytes held (estimated): the deque's blocks plus its elements, sampled past 16."""
        n = len(self)
        size = sys.getsizeof(self)
        if n <= 16:
            return size + sum(sys.getsizeof(v) for v in self)
        # Redis' MEMORY USAGE samples too (5 elements by default): average
        # a few from each end.
        sample = list(islice(self, 8)) + list(islice(reversed(self), 8))
        return size + sum(sys.getsizeof(v) for v in sample) * n // len(sample)


TYPE_NAMES[List] = "list"
# Redis 7.0 always answers "quicklist" for lists (a listpack-node quicklist).
ENCODERS[List] = lambda value, server: "quicklist"
COPIERS[List] = List


# -- helpers ---------------------------------------------------------------------

def _word(arg):
    """An option word as Redis' strcasecmp sees it: lower-cased, cut at the first NUL."""
    nul = arg.find(b"\0")
    if nul >= 0:
        arg = arg[:nul]
    return arg.lower()


def _where(arg):
    """LEFT (True) or RIGHT (False): getListPositionFromObjectOrReply."""
    w = _word(arg)
    if w == b"left":
        return True
    if w == b"right":
        return False
    raise CommandError(errors.SYNTAX)


def _index(arg):
    """A signed 64-bit index argument."""
    n = _SMALL_INTS.get(arg)
    if n is None:
        n = string2ll(arg)
        if n is None:
            raise CommandError(errors.NOT_INTEGER)
    return n


def _in_range(arg, low, message):
    """getRangeLongFromObjectOrReply(low..LONG_MAX, message): a bad number gives C{message} too."""
    n = string2ll(arg)
    if n is None or n < low:
        raise CommandError(message)
    return n


def _pack(server, elements):
    """C{elements} as stored, big ones compressed: (elements, whether any was compressed)."""
    out = [pack(server, e) for e in elements]
    return out, Compressed in map(type, out)


def _unpack_all(server, elements):
    """Elements as the client sees them."""
    decompress = server.compressor.decompress
    return [decompress(e) if type(e) is Compressed else e for e in elements]


def _find(server, value, element, reverse=False, need=None, maxlen=0):
    """Indexes (from the head) of the elements equal to C{element}, in scan order.

    Scans from the tail if C{reverse}, stops after C{need} matches (None:
    all) and after C{maxlen} elements (0: all).  Compressed elements are
    compared by their decompressed contents (size first, from the gzip
    trailer).  A list without compressed elements is scanned in C by
    C{operator.indexOf}, resuming one iterator from match to match.
    """
    n = len(value)
    it = reversed(value) if reverse else iter(value)
    if maxlen:
        it = islice(it, maxlen)
    out = []
    if not value.packed:
        pos = -1
        while need is None or len(out) < need:
            try:
                pos += indexOf(it, element) + 1
            except ValueError:
                break
            out.append(pos)
    else:
        size = len(element)
        decompress = server.compressor.decompress
        for i, e in enumerate(it):
            if type(e) is Compressed:
                if e.size != size or decompress(e) != element:
                    continue
            elif e != element:
                continue
            out.append(i)
            if need is not None and len(out) >= need:
                break
    if reverse:
        return [n - 1 - i for i in out]
    return out


# -- pushes ------------------------------------------------------------------------

def _push(client, key, elements, left, xx):
    """pushGenericCommand: LPUSH, RPUSH, LPUSHX (C{xx}) and RPUSHX.

    The common push (one small element onto an existing list) is handled
    first with nothing but the lookup, the append and the signal.
    """
    db = client.db
    value = db.lookup(key)
    if type(value) is List and len(elements) == 1:
        e = elements[0]
        server = client.server
        comp = server.compressor
        if len(e) < comp.threshold or not comp.enabled:
            if left:
                value.appendleft(e)
            else:
                value.append(e)
            db.modified(key)
            if server.notify_flags:
                notify(server, NOTIFY_LIST, b"lpush" if left else b"rpush", key, client.dbnum)
            return len(value)
    if value is not None and type(value) is not List:
        raise CommandError(errors.WRONGTYPE)
    if value is None and xx:
        return 0
    comp = client.server.compressor
    packed = False
    if comp.enabled and (len(elements[0]) if len(elements) == 1
                         else max(map(len, elements))) >= comp.threshold:
        elements, packed = _pack(client.server, elements)
    if value is None:
        value = List()
        if left:
            value.extendleft(elements)
        else:
            value.extend(elements)
        value.packed = packed
        db.set(key, value)
    else:
        if left:
            value.extendleft(elements)
        else:
            value.extend(elements)
        if packed:
            value.packed = True
        db.modified(key)
    if client.server.notify_flags:
        notify(client.server, NOTIFY_LIST, b"lpush" if left else b"rpush", key, client.dbnum)
    return len(value)


@command("lpush")
def lpush(client, key, *elements):
    """LPUSH key element [element ...]"""
    return _push(client, key, elements, True, False)


@command("rpush")
def rpush(client, key, *elements):
    """RPUSH key element [element ...]"""
    return _push(client, key, elements, False, False)


@command("lpushx")
def lpushx(client, key, *elements):
    """LPUSHX key element [element ...]"""
    return _push(client, key, elements, True, True)


@command("rpushx")
def rpushx(client, key, *elements):
    """RPUSHX key element [element ...]"""
    return _push(client, key, elements, False, True)


@command("linsert")
def linsert(client, key, where, pivot, element):
    """LINSERT key BEFORE | AFTER pivot element"""
    w = _word(where)
    if w == b"after":
        after = True
    elif w == b"before":
        after = False
    else:
        raise CommandError(errors.SYNTAX)
    db = client.db
    value = write_lookup(db, key, List)
    if value is None:
        return 0
    server = client.server
    found = _find(server, value, pivot, need=1)
    if not found:
        return -1
    i = found[0]
    (stored,), packed = _pack(server, (element,))
    value.insert(i + 1 if after else i, stored)
    if packed:
        value.packed = True
    db.modified(key)
    notify(server, NOTIFY_LIST, b"linsert", key, client.dbnum)
    return len(value)


@command("lset")
def lset(client, key, index, element):
    """LSET key index element"""
    db = client.db
    value = db.lookup(key)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if type(value) is not List:
        raise CommandError(errors.WRONGTYPE)
    i = _index(index)
    n = len(value)
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise CommandError(errors.INDEX_OUT_OF_RANGE)
    (stored,), packed = _pack(client.server, (element,))
    value[i] = stored
    if packed:
        value.packed = True
    db.modified(key)
    notify(client.server, NOTIFY_LIST, b"lset", key, client.dbnum)
    return OK


# -- pops ----------------------------------------------------------------------------

def _pop_count(server, value, count, left):
    """Pop up to C{count} elements from one end, in pop order, decompressed."""
    if count >= len(value):
        out = list(value)
        if not left:
            out.reverse()
        value.clear()
    elif left:
        pop = value.popleft
        out = [pop() for _ in range(count)]
    else:
        pop = value.pop
        out = [pop() for _ in range(count)]
    if value.packed:
        out = _unpack_all(server, out)
    return out


def _pop(client, key, count, left, name):
    """popGenericCommand: LPOP and RPOP with a count (LPOP/RPOP without one are L{lpop}/L{rpop})."""
    if len(count) > 1:
        raise errors.wrong_arity(name)
    n = string2ll(count[0])
    if n is None or n < 0:
        raise CommandError(errors.NOT_POSITIVE)
    db = client.db
    value = db.lookup(key)
    if value is None:
        return NULL_ARRAY
    if type(value) is not List:
        raise CommandError(errors.WRONGTYPE)
    if not n:
        return []
    out = _pop_count(client.server, value, n, left)
    _popped(client, db, key, value, left)
    return out


def _popped(client, db, key, value, left):
    """After a pop from the List C{value}: signal C{key}, delete it if emptied, and the events."""
    if value:
        db.modified(key)
    else:
        db.delete(key)
    if client.server.notify_flags:
        notify_emptied(client.server, NOTIFY_LIST, b"lpop" if left else b"rpop", key, db, value)


def _pop_one(client, key, left):
    """LPOP/RPOP without a count: one element (decompressed), or None."""
    db = client.db
    value = db.lookup(key)
    if value is None:
        return None
    if type(value) is not List:
        raise CommandError(errors.WRONGTYPE)
    out = value.popleft() if left else value.pop()
    if type(out) is Compressed:
        out = client.server.compressor.decompress(out)
    if value:
        db.modified(key)
        if client.server.notify_flags:
            notify(client.server, NOTIFY_LIST, b"lpop" if left else b"rpop", key, client.dbnum)
    else:
        _popped(client, db, key, value, left)
    return out


@command("lpop")
def lpop(client, key, *count):
    """LPOP key [count]"""
    if count:
        return _pop(client, key, count, True, "lpop")
    return _pop_one(client, key, True)


@command("rpop")
def rpop(client, key, *count):
    """RPOP key [count]"""
    if count:
        return _pop(client, key, count, False, "rpop")
    return _pop_one(client, key, False)


def _mpop_args(args, first):
    """LMPOP/BLMPOP's arguments from C{args[first]} (numkeys): (keys, left, count)."""
    numkeys = _in_range(args[first], 1, errors.NUMKEYS_NOT_POSITIVE)
    where_at = first + 1 + numkeys
    if where_at >= len(args):
        raise CommandError(errors.SYNTAX)
    left = _where(args[where_at])
    count = -1
    i = where_at + 1
    n = len(args)
    while i < n:
        if count == -1 and i + 1 < n and _word(args[i]) == b"count":
            count = _in_range(args[i + 1], 1, errors.COUNT_NOT_POSITIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    return args[first + 1:where_at], left, (1 if count == -1 else count)


def _mpop_now(client, keys, left, count):
    """The first non-empty list of C{keys}, popped: [key, [elements]], or None if every key is empty."""
    db = client.db
    for key in keys:
        value = write_lookup(db, key, List)
        if value is not None:
            out = _pop_count(client.server, value, count, left)
            drop_if_empty(db, key, value)
            notify_emptied(client.server, NOTIFY_LIST, b"lpop" if left else b"rpop", key, db, value)
            return [key, out]
    return None


@command("lmpop")
def lmpop(client, *args):
    """LMPOP numkeys key [key ...] LEFT | RIGHT [COUNT count]"""
    keys, left, count = _mpop_args(args, 0)
    reply = _mpop_now(client, keys, left, count)
    return NULL_ARRAY if reply is None else reply


# -- reads ----------------------------------------------------------------------------

@command("llen")
def llen(client, key):
    """LLEN key"""
    value = read(client, key, List)
    return 0 if value is None else len(value)


@command("lindex")
def lindex(client, key, index):
    """LINDEX key index"""
    value = read(client, key, List)
    if value is None:
        return None
    i = _index(index)
    n = len(value)
    if i < 0:
        i += n
    if not 0 <= i < n:
        return None
    e = value[i]
    if type(e) is Compressed:
        return client.server.compressor.decompress(e)
    return e


def _slice(value, start, end):
    """Elements C{start}..C{end} (inclusive, already clamped) read from the nearer end."""
    n = len(value)
    if start <= n - 1 - end:
        return list(islice(value, start, end + 1))
    out = list(islice(reversed(value), n - 1 - end, n - start))
    out.reverse()
    return out


@command("lrange")
def lrange(client, key, start, stop):
    """LRANGE key start stop"""
    s = _SMALL_INTS.get(start)
    if s is None:
        s = _index(start)
    e = _SMALL_INTS.get(stop)
    if e is None:
        e = _index(stop)
    value = read(client, key, List)
    if value is None:
        return []
    server = client.server
    n = len(value)
    if s < 0:
        s += n
        if s < 0:
            s = 0
    if e < 0:
        e += n
    if s > e or s >= n:
        return []
    if e >= n:
        e = n - 1
    if s == 0 and e == n - 1:
        out = list(value)  # the whole list (LRANGE 0 -1): a third faster than islice
    elif s == 0 and e < 64:
        out = list(islice(value, e + 1))
    else:
        out = _slice(value, s, e)
    if value.packed:
        out = _unpack_all(server, out)
    return Raw(bulk_array(out))


@command("lpos")
def lpos(client, key, element, *opts):
    """LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]"""
    rank, count, maxlen = 1, -1, 0
    i = 0
    n = len(opts)
    while i < n:
        opt = _word(opts[i])
        if i + 1 >= n:
            raise CommandError(errors.SYNTAX)
        arg = opts[i + 1]
        if opt == b"rank":
            rank = _index(arg)
            if rank == 0:
                raise CommandError(RANK_ZERO)
        elif opt == b"count":
            count = _in_range(arg, 0, errors.COUNT_NEGATIVE)
        elif opt == b"maxlen":
            maxlen = _in_range(arg, 0, errors.MAXLEN_NEGATIVE)
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    value = read(client, key, List)
    if value is None:
        return [] if count != -1 else None
    reverse = rank < 0
    if rank == LLONG_MIN:
        # C cannot negate it: Redis keeps it negative, so every match
        # qualifies and no COUNT ends the scan.
        rank = 1
        if count != -1:
            count = 0
    elif reverse:
        rank = -rank
    if count == -1:
        found = _find(client.server, value, element, reverse, rank, maxlen)
        return found[rank - 1] if len(found) >= rank else None
    need = rank + count - 1 if count else None
    return _find(client.server, value, element, reverse, need, maxlen)[rank - 1:]


# -- in-place edits ---------------------------------------------------------------------

@command("ltrim")
def ltrim(client, key, start, stop):
    """LTRIM key start stop"""
    s = _index(start)
    e = _index(stop)
    db = client.db
    value = write_lookup(db, key, List)
    if value is None:
        return OK
    n = len(value)
    if s < 0:
        s += n
        if s < 0:
            s = 0
    if e < 0:
        e += n
    if s > e or s >= n:
        value.clear()
    else:
        if e >= n:
            e = n - 1
        keep = e - s + 1
        if keep < n - keep:
            kept = _slice(value, s, e)
            value.clear()
            value.extend(kept)
        else:
            for _ in range(s):
                value.popleft()
            for _ in range(n - 1 - e):
                value.pop()
    drop_if_empty(db, key, value)  # Redis signals the key even when nothing went
    notify_emptied(client.server, NOTIFY_LIST, b"ltrim", key, db, value)
    return OK


@command("lrem")
def lrem(client, key, count, element):
    """LREM key count element"""
    limit = _index(count)
    db = client.db
    value = write_lookup(db, key, List)
    if value is None:
        return 0
    n = len(value)
    if not limit and not value.packed:
        kept = list(filter(element.__ne__, value))
        removed = n - len(kept)
    else:
        found = _find(client.server, value, element, limit < 0, abs(limit) or None)
        removed = len(found)
        found.sort()
        if removed > 16:
            items = list(value)
            kept = []
            prev = 0
            for i in found:
                kept += items[prev:i]
                prev = i + 1
            kept += items[prev:]
        else:
            kept = None
            for i in reversed(found):
                del value[i]  # O(min(i, n - i)) each
    if removed:
        if kept is not None:
            value.clear()
            value.extend(kept)
        drop_if_empty(db, key, value)
        notify_emptied(client.server, NOTIFY_LIST, b"lrem", key, db, value)
    return removed


# -- moves -------------------------------------------------------------------------------

def _move(client, db, src, value, dst, left_from, left_to):
    """Pop from the List C{value} at C{src} and push onto C{dst}: the element (decompressed).

    The destination's type is checked before anything moves (WRONGTYPE
    leaves both lists alone); a new destination is created with C{db.set},
    which wakes clients blocked on it.  Events, as Redis sends them: the
    push on C{dst}, then the pop on C{src} (and its C{del} if emptied).
    """
    server = client.server
    if dst == src:
        # One list: rotate it (LMOVE k k LEFT RIGHT).
        e = value.popleft() if left_from else value.pop()
        if left_to:
            value.appendleft(e)
        else:
            value.append(e)
        db.modified(src)
        if server.notify_flags:
            notify(server, NOTIFY_LIST, b"lpush" if left_to else b"rpush", dst, db.index)
            notify(server, NOTIFY_LIST, b"lpop" if left_from else b"rpop", src, db.index)
        return unpack(server, e)
    target = write_lookup(db, dst, List)
    e = value.popleft() if left_from else value.pop()
    if target is None:
        target = List((e,))
        db.set(dst, target)
    else:
        if left_to:
            target.appendleft(e)
        else:
            target.append(e)
        if type(e) is Compressed:
            target.packed = True
        db.modified(dst)
    drop_if_empty(db, src, value)
    if server.notify_flags:
        notify(server, NOTIFY_LIST, b"lpush" if left_to else b"rpush", dst, db.index)
        notify_emptied(server, NOTIFY_LIST, b"lpop" if left_from else b"rpop", src, db, value)
    return unpack(server, e)


def _lmove(client, src, dst, left_from, left_to):
    """lmoveGenericCommand."""
    db = client.db
    value = write_lookup(db, src, List)
    if value is None:
        return None
    return _move(client, db, src, value, dst, left_from, left_to)


@command("lmove")
def lmove(client, source, destination, wherefrom, whereto):
    """LMOVE source destination LEFT | RIGHT LEFT | RIGHT"""
    return _lmove(client, source, destination, _where(wherefrom), _where(whereto))


@command("rpoplpush")
def rpoplpush(client, source, destination):
    """RPOPLPUSH source destination"""
    return _lmove(client, source, destination, False, True)


# -- blocking pops ---------------------------------------------------------------------------

def _bpop(client, args, left):
    """blockingPopGenericCommand: BLPOP and BRPOP.

    The keys are tried in order: the first non-empty list is popped at
    once, a key of another type met first is WRONGTYPE.
    """
    deadline = parse_timeout(args[-1], client.server.store.now)
    keys = args[:-1]
    db = client.db
    server = client.server
    for key in keys:
        value = write_lookup(db, key, List)
        if value is not None:
            e = value.popleft() if left else value.pop()
            drop_if_empty(db, key, value)
            notify_emptied(server, NOTIFY_LIST, b"lpop" if left else b"rpop", key, db, value)
            return [key, unpack(server, e)]
    if not can_block(client):
        return NULL_ARRAY

    def serve(key):
        value = db.lookup(key)
        if type(value) is not List or not value:
            return NOT_SERVED
        e = value.popleft() if left else value.pop()
        drop_if_empty(db, key, value)
        notify_emptied(server, NOTIFY_LIST, b"lpop" if left else b"rpop", key, db, value)
        return [key, unpack(server, e)]
    return server.blocking.block(client, keys, deadline, serve, NULL_ARRAY)


@command("blpop")
def blpop(client, *args):
    """BLPOP key [key ...] timeout"""
    return _bpop(client, args, True)


@command("brpop")
def brpop(client, *args):
    """BRPOP key [key ...] timeout"""
    return _bpop(client, args, False)


def _blmove(client, src, dst, left_from, left_to, timeout):
    """blmoveGenericCommand: BLMOVE and BRPOPLPUSH.

    Only the source decides whether to block; the destination's type is
    checked when an element moves, and a client served into a destination
    of another type gets WRONGTYPE while the element stays in the source,
    as in Redis.
    """
    server = client.server
    deadline = parse_timeout(timeout, server.store.now)
    db = client.db
    value = write_lookup(db, src, List)
    if value is not None:
        return _move(client, db, src, value, dst, left_from, left_to)
    if not can_block(client):
        return None

    def serve(key):
        value = db.lookup(src)
        if type(value) is not List or not value:
            return NOT_SERVED
        return _move(client, db, src, value, dst, left_from, left_to)
    return server.blocking.block(client, (src,), deadline, serve, NULL_ARRAY)


@command("blmove")
def blmove(client, source, destination, wherefrom, whereto, timeout):
    """BLMOVE source destination LEFT | RIGHT LEFT | RIGHT timeout"""
    return _blmove(client, source, destination, _where(wherefrom), _where(whereto), timeout)


@command("brpoplpush")
def brpoplpush(client, source, destination, timeout):
    """BRPOPLPUSH source destination timeout"""
    return _blmove(client, source, destination, False, True, timeout)


@command("blmpop")
def blmpop(client, *args):
    """BLMPOP timeout numkeys key [key ...] LEFT | RIGHT [COUNT count]"""
    server = client.server
    keys, left, count = _mpop_args(args, 1)
    deadline = parse_timeout(args[0], server.store.now)  # after the other arguments, as Redis
    reply = _mpop_now(client, keys, left, count)
    if reply is not None:
        return reply
    if not can_block(client):
        return NULL_ARRAY
    db = client.db

    def serve(key):
        value = db.lookup(key)
        if type(value) is not List or not value:
            return NOT_SERVED
        out = _pop_count(server, value, count, left)
        drop_if_empty(db, key, value)
        notify_emptied(server, NOTIFY_LIST, b"lpop" if left else b"rpop", key, db, value)
        return [key, out]
    return server.blocking.block(client, keys, deadline, serve, NULL_ARRAY)

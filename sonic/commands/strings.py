"""String commands (Redis' t_string.c): GET, SET and family, counters, ranges, LCS.

As in Redis, families share one worker: L{set_generic} serves SET, SETNX,
SETEX and PSETEX; L{incr_decr} serves INCR, DECR, INCRBY and DECRBY;
L{parse_extended} reads the options of SET and GETEX.

Values may be held compressed (L{Compressed}, see L{sonic.store.compression});
reads go through L{Database.string_value}, which decompresses, and writes go through
C{db.set}, which may compress again, so no command can tell.  Lengths of a
compressed value come from C{Compressed.size}, without decompressing.

Reads that Redis does with C{lookupKeyRead} (GET, MGET, GETRANGE, STRLEN,
GETEX, GETDEL, GETSET, SET ... GET, LCS) count C{keyspace_hits} /
C{keyspace_misses} for INFO; write lookups (APPEND, INCR, SETRANGE...) do not.
"""

import math
from binascii import crc_hqx
from sonic import errors
from sonic.commands.args import to_int
from sonic.errors import CommandError
from sonic.notify import NOTIFY_GENERIC, NOTIFY_STRING, keymiss, notify
from sonic.registry import command
from sonic.resp import OK
from sonic.store.compression import Compressed
from sonic.store.keyspace import key_hash_slot
from sonic.util import LLONG_MAX, LLONG_MIN, LongDouble, format_ld, string2ld, string2ll

__all__ = ["set_generic", "incr_decr", "parse_extended"]

# SET / GETEX option flags (Redis' OBJ_SET_NX, OBJ_EX...).
NX = 1 << 0
XX = 1 << 1
GET = 1 << 2
KEEPTTL = 1 << 3
PERSIST = 1 << 4
EX = 1 << 5
PX = 1 << 6
EXAT = 1 << 7
PXAT = 1 << 8
SECONDS = EX | EXAT
RELATIVE = EX | PX
ABSOLUTE = EXAT | PXAT

#: Each expire option and the flags that forbid it (another expire option,
#: KEEPTTL or PERSIST); the same option twice is allowed, the last one wins.
_EXPIRE_OPTIONS = {
    b"EX": (EX, KEEPTTL | PERSIST | EXAT | PX | PXAT),
    b"PX": (PX, KEEPTTL | PERSIST | EX | EXAT | PXAT),
    b"EXAT": (EXAT, KEEPTTL | PERSIST | EX | PX | PXAT),
    b"PXAT": (PXAT, KEEPTTL | PERSIST | EX | EXAT | PX),
}

_ZERO = LongDouble(0)


# -- shared helpers ----------------------------------------------------------

def _option(word):
    """An option word as Redis compares it: upper-cased, cut at the first NUL (C strings)."""
    nul = word.find(b"\0")
    if nul >= 0:
        word = word[:nul]
    return word.upper()


def _length(value):
    """The length of a stored string value without decompressing it; WRONGTYPE for others."""
    if type(value) is bytes:
        return len(value)
    if type(value) is Compressed:
        return value.size
    raise CommandError(errors.WRONGTYPE)


def _lookup_read(client, key):
    """The value at C{key}, counting a keyspace hit or miss (Redis' lookupKeyRead)."""
    value = client.db.lookup(key)
    if value is None:
        client.server.stat_keyspace_misses += 1
        if client.server.notify_flags:
            keymiss(client, key)
    else:
        client.server.stat_keyspace_hits += 1
    return value


def _get_string(client, key):
    """getGenericCommand: the string at C{key} (bytes) or None, with stats; WRONGTYPE otherwise."""
    value = _lookup_read(client, key)
    if value is None:
        return None
    return client.db.string_value(value)


def _check_string_length(client, size, append):
    """Refuse a string that would grow past C{proto-max-bulk-len} (checkStringLength)."""
    if size + append > client.server.config.proto_max_bulk_len:
        raise CommandError(errors.STRING_TOO_LONG)


def parse_extended(args, is_set):
    """Parse SET's (C{is_set}) or GETEX's options; return (flags, expire word or None).

    Follows parseExtendedStringArgumentsOrReply: NX/XX/GET/KEEPTTL only for
    SET, PERSIST only for GETEX, one kind of expiry, and C{ERR syntax error}
    for anything else (including an expire option missing its value).
    """
    flags = 0
    expire = None
    i = 0
    n = len(args)
    while i < n:
        opt = _option(args[i])
        if opt == b"NX" and is_set and not flags & XX:
            flags |= NX
        elif opt == b"XX" and is_set and not flags & NX:
            flags |= XX
        elif opt == b"GET" and is_set:
            flags |= GET
        elif opt == b"KEEPTTL" and is_set and not flags & (PERSIST | EX | EXAT | PX | PXAT):
            flags |= KEEPTTL
        elif opt == b"PERSIST" and not is_set and not flags & (EX | EXAT | PX | PXAT | KEEPTTL):
            flags |= PERSIST
        else:
            entry = _EXPIRE_OPTIONS.get(opt)
            if entry is None or flags & entry[1] or i == n - 1:
                raise CommandError(errors.SYNTAX)
            flags |= entry[0]
            i += 1
            expire = args[i]
        i += 1
    return flags, expire


def expire_deadline(client, expire, flags, name):
    """getExpireMillisecondsOrReply: the absolute deadline (Unix ms) an expire word means.

    The value must be a positive integer; seconds are turned into
    milliseconds and relative times (EX, PX) added to the command's time,
    and any overflow of a signed 64-bit millisecond count gives
    C{invalid expire time in '<name>' command}.
    """
    ms = to_int(expire)
    seconds = flags & SECONDS
    if ms <= 0 or (seconds and ms > LLONG_MAX // 1000):
        raise CommandError(errors.INVALID_EXPIRE % name)
    if seconds:
        ms *= 1000
    if flags & RELATIVE:
        ms += client.server.store.now
        if ms > LLONG_MAX:  # a wrapped (negative) sum in C
            raise CommandError(errors.INVALID_EXPIRE % name)
    return ms


# -- GET / SET family ----------------------------------------------------------

@command("get")
def get(client, key):
    """GET key"""
    # Database.lookup's shard choice inlined (the most frequent command: a
    # Python call less); the lookup itself runs only where it has work: a
    # deadline to check or an access clock to touch.
    db = client.db
    if 123 in key:  # ord("{")
        sh = db.shards[key_hash_slot(key) % db.nshards]
    else:
        sh = db.shards[(crc_hqx(key, 0) & 16383) % db.nshards]
    value = sh.data.get(key)
    if value is not None and (sh.expires or sh.access is not None):
        value = db.lookup(key)
    if value is None:
        client.server.stat_keyspace_misses += 1
        if client.server.notify_flags:
            keymiss(client, key)
        return None
    client.server.stat_keyspace_hits += 1
    if type(value) is bytes:
        return value
    return db.string_value(value)


def set_generic(client, flags, key, value, expire, name, ok_reply=OK, abort_reply=None):
    """setGenericCommand: the worker behind SET, SETNX, SETEX and PSETEX.

    The expire time is validated first, then (with GET) the old value is
    read, which refuses a non-string before anything changes; NX/XX may
    then abort the write.  With GET the reply is always the old value.
    """
    deadline = None
    if expire is not None:
        deadline = expire_deadline(client, expire, flags, name)
    db = client.db
    old = None
    if flags & GET:
        old = _get_string(client, key)
    if flags & (NX | XX):
        found = db.lookup(key) is not None
        if (flags & NX and found) or (flags & XX and not found):
            return old if flags & GET else abort_reply
    db.set(key, value, deadline, keepttl=bool(flags & KEEPTTL))
    server = client.server
    if server.notify_flags:
        notify(server, NOTIFY_STRING, b"set", key, client.dbnum)
        if deadline is not None:
            notify(server, NOTIFY_GENERIC, b"expire", key, client.dbnum)
    return old if flags & GET else ok_reply


@command("set")
def set_(client, key, value, *opts):
    """SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"""
    if not opts:
        client.db.set(key, value)
        if client.server.notify_flags:
            notify(client.server, NOTIFY_STRING, b"set", key, client.dbnum)
        return OK
    flags, expire = parse_extended(opts, True)
    return set_generic(client, flags, key, value, expire, "set")


@command("setnx")
def setnx(client, key, value):
    """SETNX key value"""
    return set_generic(client, NX, key, value, None, "setnx", 1, 0)


@command("setex")
def setex(client, key, seconds, value):
    """SETEX key seconds value"""
    return set_generic(client, EX, key, value, seconds, "setex")


@command("psetex")
def psetex(client, key, milliseconds, value):
    """PSETEX key milliseconds value"""
    return set_generic(client, PX, key, value, milliseconds, "psetex")


@command("getset")
def getset(client, key, value):
    """GETSET key value"""
    old = _get_string(client, key)
    client.db.set(key, value)
    notify(client.server, NOTIFY_STRING, b"set", key, client.dbnum)
    return old


@command("getdel")
def getdel(client, key):
    """GETDEL key"""
    old = _get_string(client, key)
    if old is not None:
        client.db.delete(key)
        notify(client.server, NOTIFY_GENERIC, b"del", key, client.dbnum)
    return old


@command("getex")
def getex(client, key, *opts):
    """GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]"""
    flags, expire = parse_extended(opts, False)
    value = _lookup_read(client, key)
    if value is None:
        return None
    db = client.db
    _length(value)  # checkType before the expire time is validated, as Redis
    deadline = None
    if expire is not None:
        deadline = expire_deadline(client, expire, flags, "getex")
    reply = db.string_value(value)
    server = client.server
    if deadline is not None:
        if flags & ABSOLUTE and deadline <= server.store.now and server.master_host is None:
            db.delete(key)  # a deadline already past deletes the key at once
            notify(server, NOTIFY_GENERIC, b"del", key, client.dbnum)
        else:
            db.set_expire(key, deadline)
            notify(server, NOTIFY_GENERIC, b"expire", key, client.dbnum)
    elif flags & PERSIST:
        if db.persist(key):
            notify(server, NOTIFY_GENERIC, b"persist", key, client.dbnum)
    return reply


@command("mget")
def mget(client, *keys):
    """MGET key [key ...]"""
    db = client.db
    server = client.server
    out = []
    for key in keys:
        value = db.lookup(key)
        if value is None:
            server.stat_keyspace_misses += 1
            if server.notify_flags:
                keymiss(client, key)
            out.append(None)
            continue
        server.stat_keyspace_hits += 1
        if type(value) is bytes:
            out.append(value)
        elif type(value) is Compressed:
            out.append(db.store.compressor.decompress(value))
        else:
            out.append(None)  # MGET answers nil for other types, no WRONGTYPE
    return out


def _mset_generic(client, args, nx):
    """msetGenericCommand: MSET and MSETNX (all keys or, with NX, none)."""
    if len(args) % 2:
        raise errors.wrong_arity("msetnx" if nx else "mset")
    db = client.db
    if nx:
        for i in range(0, len(args), 2):
            if db.lookup(args[i]) is not None:
                return 0
    server = client.server
    for i in range(0, len(args), 2):
        db.set(args[i], args[i + 1])
        if server.notify_flags:
            notify(server, NOTIFY_STRING, b"set", args[i], client.dbnum)
    return 1 if nx else OK


@command("mset")
def mset(client, *args):
    """MSET key value [key value ...]"""
    return _mset_generic(client, args, False)


@command("msetnx")
def msetnx(client, *args):
    """MSETNX key value [key value ...]"""
    return _mset_generic(client, args, True)


# -- counters ------------------------------------------------------------------

def incr_decr(client, key, delta):
    """incrDecrCommand: add C{delta} to the integer at C{key}, keeping its TTL."""
    db = client.db
    value = db.lookup(key)
    if value is None:
        current = 0
    else:
        current = string2ll(value if type(value) is bytes else db.string_value(value))
        if current is None:
            raise CommandError(errors.NOT_INTEGER)
    new = current + delta
    if new > LLONG_MAX or new < LLONG_MIN:
        raise CommandError(errors.OVERFLOW)
    db.set(key, b"%d" % new, keepttl=True)
    if client.server.notify_flags:
        notify(client.server, NOTIFY_STRING, b"incrby", key, client.dbnum)
    return new


@command("incr")
def incr(client, key):
    """INCR key"""
    return incr_decr(client, key, 1)


@command("decr")
def decr(client, key):
    """DECR key"""
    return incr_decr(client, key, -1)


@command("incrby")
def incrby(client, key, increment):
    """INCRBY key increment"""
    return incr_decr(client, key, to_int(increment))


@command("decrby")
def decrby(client, key, decrement):
    """DECRBY key decrement"""
    n = to_int(decrement)
    if n == LLONG_MIN:  # its negation does not fit in 64 bits
        raise CommandError(errors.DECREMENT_OVERFLOW)
    return incr_decr(client, key, -n)


@command("incrbyfloat")
def incrbyfloat(client, key, increment):
    """INCRBYFLOAT key increment

    Computed in long double, as Redis does (L{LongDouble}), and stored in
    Redis' human-friendly format (C{%.17Lf} without trailing zeros).
    """
    db = client.db
    value = db.lookup(key)
    if value is None:
        current = _ZERO
    else:
        current = string2ld(db.string_value(value))
        if current is None:
            raise CommandError(errors.NOT_FLOAT)
    incr = string2ld(increment)
    if incr is None:
        raise CommandError(errors.NOT_FLOAT)
    total = current + incr
    if math.isnan(total) or math.isinf(total):
        raise CommandError(errors.INCR_NAN_OR_INF)
    text = format_ld(total)
    db.set(key, text, keepttl=True)
    notify(client.server, NOTIFY_STRING, b"incrbyfloat", key, client.dbnum)
    return text


# -- byte ranges -----------------------------------------------------------------

@command("append")
def append(client, key, value):
    """APPEND key value"""
    db = client.db
    old = db.lookup(key)
    if old is None:
        db.set(key, value)
        notify(client.server, NOTIFY_STRING, b"append", key, client.dbnum)
        return len(value)
    size = _length(old)
    _check_string_length(client, size, len(value))
    if not value:
        db.modified(key)  # Redis signals the key even for an empty append
        notify(client.server, NOTIFY_STRING, b"append", key, client.dbnum)
        return size
    new = db.string_value(old) + value
    db.set(key, new, keepttl=True)
    notify(client.server, NOTIFY_STRING, b"append", key, client.dbnum)
    return len(new)


@command("strlen")
def strlen(client, key):
    """STRLEN key"""
    value = _lookup_read(client, key)
    if value is None:
        return 0
    return _length(value)


@command("setrange")
def setrange(client, key, offset, value):
    """SETRANGE key offset value"""
    offset = to_int(offset)
    if offset < 0:
        raise CommandError(errors.OFFSET_OUT_OF_RANGE)
    db = client.db
    old = db.lookup(key)
    if old is None:
        if not value:
            return 0
        _check_string_length(client, offset, len(value))
        new = b"\0" * offset + value
        db.set(key, new)
        notify(client.server, NOTIFY_STRING, b"setrange", key, client.dbnum)
        return len(new)
    size = _length(old)
    if not value:
        return size
    _check_string_length(client, offset, len(value))
    current = db.string_value(old)
    end = offset + len(value)
    if offset >= size:
        new = current + b"\0" * (offset - size) + value
    else:
        new = current[:offset] + value + current[end:]
    db.set(key, new, keepttl=True)
    notify(client.server, NOTIFY_STRING, b"setrange", key, client.dbnum)
    return len(new)


def _getrange(client, key, start, end):
    """getrangeCommand, shared by GETRANGE and SUBSTR."""
    start = to_int(start)
    end = to_int(end)
    value = _lookup_read(client, key)
    if value is None:
        return b""
    size = _length(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start += size
    if end < 0:
        end += size
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= size:
        end = size - 1
    if start > end or size == 0:
        return b""
    return client.db.string_value(value)[start:end + 1]


@command("getrange")
def getrange(client, key, start, end):
    """GETRANGE key start end"""
    return _getrange(client, key, start, end)


@command("substr")
def substr(client, key, start, end):
    """SUBSTR key start end"""
    return _getrange(client, key, start, end)


# -- LCS -------------------------------------------------------------------------

def _lcs_rows(a, b):
    """The rows of the LCS length table of C{a} x C{b}, one bit vector (an int) per row.

    Hyyro's bit-parallel LCS: in row i (the first i bytes of C{a}), bit j is
    0 exactly when LCS(i, j+1) = LCS(i, j) + 1, so LCS(i, j) is j minus the
    number of 1 bits below bit j (L{_lcs_at}).  A row costs a few big-int
    operations instead of len(b) Python steps, and the whole table fits in
    len(a) * len(b) bits, so the walk back can still ask any cell, as Redis'
    uint32 table does.
    """
    m = len(b)
    mask = (1 << m) - 1
    rev = b[::-1]
    match = {}
    table = bytearray(b"0" * 256)
    for ch in set(b):
        table[ch] = 49  # "1": bit j of match[ch] is set where b[j] == ch
        match[ch] = int(rev.translate(table), 2)
        table[ch] = 48
    v = mask
    rows = [v]
    get = match.get
    for ch in a:
        u = v & get(ch, 0)
        if u:
            v = ((v + u) | (v - u)) & mask
        rows.append(v)
    return rows


def _lcs_at(rows, i, j):
    """LCS(a[:i], b[:j]) from the bit-vector rows."""
    return j - (rows[i] & ((1 << j) - 1)).bit_count()


def _lcs_walk(a, b, rows, minmatchlen, withmatchlen, want_ranges):
    """Walk the table back from the end as Redis does: the LCS string and the matched ranges."""
    alen = len(a)
    i, j = alen, len(b)
    idx = _lcs_at(rows, i, j)
    result = bytearray(idx)
    matches = []
    # alen in arange_start means "no range open" (Redis' own sentinel).
    arange_start = alen
    arange_end = brange_start = brange_end = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if arange_start == alen:
                arange_start = arange_end = i - 1
                brange_start = brange_end = j - 1
            elif arange_start == i and brange_start == j:
                arange_start -= 1
                brange_start -= 1
            else:
                emit = True
            if arange_start == 0 or brange_start == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            if _lcs_at(rows, i - 1, j) > _lcs_at(rows, i, j - 1):
                i -= 1
            else:
                j -= 1
            if arange_start != alen:
                emit = True
        if emit:
            match_len = arange_end - arange_start + 1
            if want_ranges and (minmatchlen == 0 or match_len >= minmatchlen):
                item = [[arange_start, arange_end], [brange_start, brange_end]]
                if withmatchlen:
                    item.append(match_len)
                matches.append(item)
            arange_start = alen
    return bytes(result), matches


@command("lcs")
def lcs(client, key1, key2, *opts):
    """LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]"""
    obj_a = _lookup_read(client, key1)
    obj_b = _lookup_read(client, key2)
    if (obj_a is not None and type(obj_a) not in (bytes, Compressed)) or \
            (obj_b is not None and type(obj_b) not in (bytes, Compressed)):
        raise CommandError(errors.LCS_NOT_STRINGS)
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    i = 0
    while i < len(opts):
        opt = _option(opts[i])
        if opt == b"IDX":
            getidx = True
        elif opt == b"LEN":
            getlen = True
        elif opt == b"WITHMATCHLEN":
            withmatchlen = True
        elif opt == b"MINMATCHLEN" and i < len(opts) - 1:
            minmatchlen = max(0, to_int(opts[i + 1]))
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if getidx and getlen:
        raise CommandError(errors.LCS_IDX_AND_LEN)
    db = client.db
    a = b"" if obj_a is None else db.string_value(obj_a)
    b = b"" if obj_b is None else db.string_value(obj_b)
    if len(a) >= 0xFFFFFFFE or len(b) >= 0xFFFFFFFE:
        raise CommandError(errors.LCS_TOO_LONG)
    # Redis allocates the whole uint32 table and refuses one bigger than
    # proto-max-bulk-len; the same bound keeps this one in check.
    if (len(a) + 1) * (len(b) + 1) * 4 > client.server.config.proto_max_bulk_len:
        raise CommandError(errors.LCS_OVER_BULK_LEN)
    try:
        rows = _lcs_rows(a, b)
    except MemoryError:
        raise CommandError(errors.LCS_NO_MEMORY)
    if getlen:
        return _lcs_at(rows, len(a), len(b))
    text, matches = _lcs_walk(a, b, rows, minmatchlen, withmatchlen, getidx)
    if getidx:
        return {b"matches": matches, b"len": _lcs_at(rows, len(a), len(b))}
    return text

"""What the collection types (lists, hashes, sets, sorted sets) share.

 - Key lookups with Redis' two flavours: L{read} (lookupKeyRead: counts
   keyspace hits and misses) and L{write_lookup} (lookupKeyWrite: no stats),
   both raising WRONGTYPE for a value of another type.
 - L{drop_if_empty}: an emptied collection disappears, as in Redis.
 - Compression of large members at rest (lists and hash values), with the
   same settings as string values: L{pack} and L{unpack}.
 - HSCAN, SSCAN and ZSCAN's cursor walk (L{scan_container}).
 - The limit on random replies with repetitions (L{check_random_count}).
"""

from array import array
from bisect import bisect_left

from sonic import errors
from sonic.commands.keys import _parse_cursor, _position, _lowest_hash
from sonic.commands.args import to_int
from sonic.errors import CommandError
from sonic.glob import compile_pattern
from sonic.notify import keymiss
from sonic.store.compression import Compressed

__all__ = ["read", "write_lookup", "drop_if_empty", "pack", "unpack", "scan_container",
           "check_random_count", "MAX_RANDOM_REPLY"]

#: The most members SRANDMEMBER, HRANDFIELD and ZRANDMEMBER answer with a
#: negative count (repetitions allowed).  Redis builds any such reply, and an
#: absurd count never finishes there; sonic refuses counts whose reply could
#: not be built in memory.
MAX_RANDOM_REPLY = 1 << 24


def check_random_count(n):
    """Refuse a reply of C{n} random members with repetitions past L{MAX_RANDOM_REPLY}."""
    if n > MAX_RANDOM_REPLY:
        raise CommandError(errors.RANDOM_COUNT_TOO_BIG % MAX_RANDOM_REPLY)


def read(client, key, pytype):
    """The C{pytype} value at C{key} or None, counted in keyspace hits/misses; WRONGTYPE otherwise.

    L{sonic.commands.keys._read} inlined (every collection read comes
    through here): a value of another type still counts as a hit.
    """
    value = client.db.lookup(key)
    server = client.server
    if value is None:
        server.stat_keyspace_misses += 1
        if server.notify_flags:
            keymiss(client, key)
        return None
    server.stat_keyspace_hits += 1
    if type(value) is pytype:
        return value
    raise CommandError(errors.WRONGTYPE)


def write_lookup(db, key, pytype):
    """The C{pytype} value at C{key} or None (no hit/miss stats); WRONGTYPE otherwise."""
    value = db.lookup(key)
    if value is None or type(value) is pytype:
        return value
    raise CommandError(errors.WRONGTYPE)


def drop_if_empty(db, key, value):
    """Signal the change to C{key}, deleting it if C{value} is now empty (Redis never keeps empty collections)."""
    if not value:
        db.delete(key)
    else:
        db.modified(key)


def pack(server, member):
    """A member as kept at rest: gzip-compressed past the threshold when that saves enough.

    Done in the reactor thread (unlike big string values): a member is
    compressed when pushed, and the thread hop would cost more than it saves
    for the sizes that collections usually hold.
    """
    comp = server.compressor
    if len(member) >= comp.threshold and comp.enabled:
        return comp.compress(member)
    return member


def unpack(server, member):
    """A member as the client sees it (decompressed)."""
    if type(member) is Compressed:
        return server.compressor.decompress(member)
    return member


class _ScanOrder(object):
    """A collection's members sorted by hash, kept on the value while it is scanned.

    The cursor is a hash threshold (like SCAN's, L{sonic.commands.keys}), so
    any snapshot taken while a member exists serves a scan that started
    before: members present for the whole scan are always returned.
    """
    __slots__ = ("members", "hashes")

    def __init__(self, members):
        self.members = sorted(members, key=hash)
        self.hashes = array("q", map(hash, self.members))


def scan_container(value, cursor, opts, compact, members, pairs=None):
    """HSCAN/SSCAN/ZSCAN: (next cursor, flat reply list).

    @param value: the collection, or None for a missing key.
    @param cursor: the cursor argument (bytes), already checked or not.
    @param opts: the MATCH/COUNT words.
    @param compact: the collection is in a small encoding (listpack,
        intset): Redis returns everything at once with cursor 0.
    @param members: function() -> iterable of members (field names...).
    @param pairs: function(member) -> the words to return for it (a field and
        its value); None returns the member alone.  Returns None if the
        member is gone.
    """
    cursor = _parse_cursor(cursor)
    count = 10
    pattern = None
    i = 0
    n = len(opts)
    while i < n:
        opt = opts[i].lower()
        if opt == b"count" and i + 1 < n:
            count = to_int(opts[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX)
            i += 2
        elif opt == b"match" and i + 1 < n:
            pattern = opts[i + 1]
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    if value is None:
        return [b"0", []]
    match = None if pattern is None or pattern == b"*" else compile_pattern(pattern).match
    if compact:
        chosen = list(members())
        cursor = 0
    else:
        order = getattr(value, "scan_order", None)
        if order is None or cursor == 0:
            order = _ScanOrder(members())
            value.scan_order = order
        hashes = order.hashes
        # Cursors are positions + 1, so that 0 keeps meaning "start/done".
        start = bisect_left(hashes, _lowest_hash(cursor - 1)) if cursor else 0
        end = min(start + count, len(hashes))
        if start < end < len(hashes):
            # Keep members of equal cursor positions together.
            end = bisect_left(hashes, _lowest_hash(_position(hashes[end - 1]) + 1), end)
        chosen = order.members[start:end]
        if end < len(hashes):
            cursor = _position(hashes[end]) + 1
        else:
            cursor = 0
            value.scan_order = None  # the walk is done: free the snapshot
    out = []
    for member in chosen:
        if match is not None and not match(member):
            continue
        if pairs is None:
            if compact or member in value:
                out.append(member)
        else:
            words = pairs(member)
            if words is not None:
                out.extend(words)
    return [b"%d" % cursor, out]

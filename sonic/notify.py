"""Keyspace notifications (Redis' notify.c): C{notify-keyspace-events} and L{notify}.

A change to a key publishes, when its class is enabled, C{event} on the
channel C{__keyspace@<db>__:<key>} (flag K) and C{key} on the channel
C{__keyevent@<db>__:<event>} (flag E), through C{server.pubsub.publish}, so
subscribers and pattern subscribers get them like any PUBLISH.

The classes are Redis 7.0's: g generic (DEL, EXPIRE, RENAME...), $ string,
l list, s set, h hash, z sorted set, x expired, e evicted, t stream,
m key miss, d module, n new key, and A for C{g$lshzxetd} (A leaves out m
and n, as in Redis).

Cost when off: the server keeps the parsed flags in C{server.notify_flags}
(0 unless K or E is on, since nothing could be published then) and the
store a copy in C{store.notify_flags}; callers test that int before doing
anything, so a server without notifications pays one attribute test.

Events that the store raises itself (L{sonic.store.keyspace}): C{new} when
a key is added (Redis' dbAdd), C{expired} when an expired key is really
removed (lazily or by the expiry timer).  The commands raise the rest, in
Redis' order; L{keymiss} is what a read command calls for a key it did not
find (Redis' lookupKeyRead misses).
"""

__all__ = [
    "NOTIFY_KEYSPACE", "NOTIFY_KEYEVENT", "NOTIFY_GENERIC", "NOTIFY_STRING",
    "NOTIFY_LIST", "NOTIFY_SET", "NOTIFY_HASH", "NOTIFY_ZSET", "NOTIFY_EXPIRED",
    "NOTIFY_EVICTED", "NOTIFY_STREAM", "NOTIFY_KEY_MISS", "NOTIFY_MODULE",
    "NOTIFY_NEW", "NOTIFY_ALL", "parse_flags", "format_flags", "notify",
    "keymiss", "notify_emptied", "install", "INVALID_CLASS",
]

# The bit values are Redis' own (server.h), for whoever compares.
NOTIFY_KEYSPACE = 1 << 0    # K
NOTIFY_KEYEVENT = 1 << 1    # E
NOTIFY_GENERIC = 1 << 2     # g
NOTIFY_STRING = 1 << 3      # $
NOTIFY_LIST = 1 << 4        # l
NOTIFY_SET = 1 << 5         # s
NOTIFY_HASH = 1 << 6        # h
NOTIFY_ZSET = 1 << 7        # z
NOTIFY_EXPIRED = 1 << 8     # x
NOTIFY_EVICTED = 1 << 9     # e
NOTIFY_STREAM = 1 << 10     # t
NOTIFY_KEY_MISS = 1 << 11   # m
NOTIFY_LOADED = 1 << 12     # modules only: no flag character
NOTIFY_MODULE = 1 << 13     # d
NOTIFY_NEW = 1 << 14        # n
NOTIFY_ALL = (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH
              | NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)

#: The reason CONFIG SET (and a config file) gives for any other character.
INVALID_CLASS = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."

_CHARS = {
    "A": NOTIFY_ALL, "g": NOTIFY_GENERIC, "$": NOTIFY_STRING, "l": NOTIFY_LIST,
    "s": NOTIFY_SET, "h": NOTIFY_HASH, "z": NOTIFY_ZSET, "x": NOTIFY_EXPIRED,
    "e": NOTIFY_EVICTED, "K": NOTIFY_KEYSPACE, "E": NOTIFY_KEYEVENT,
    "t": NOTIFY_STREAM, "m": NOTIFY_KEY_MISS, "d": NOTIFY_MODULE, "n": NOTIFY_NEW,
}

#: keyspaceEventsFlagsToString's order for the classes (when not all of A).
_ORDER = [("g", NOTIFY_GENERIC), ("$", NOTIFY_STRING), ("l", NOTIFY_LIST),
          ("s", NOTIFY_SET), ("h", NOTIFY_HASH), ("z", NOTIFY_ZSET),
          ("x", NOTIFY_EXPIRED), ("e", NOTIFY_EVICTED), ("t", NOTIFY_STREAM),
          ("d", NOTIFY_MODULE), ("n", NOTIFY_NEW)]


def parse_flags(text):
    """keyspaceEventsStringToFlags: the flags of C{text} (str), or None if a character is invalid."""
    flags = 0
    for ch in text:
        bit = _CHARS.get(ch)
        if bit is None:
            return None
        flags |= bit
    return flags


def format_flags(flags):
    """keyspaceEventsFlagsToString: the flags as CONFIG GET shows them.

    As Redis 7.0 does, C{A} replaces the classes it covers and then hides
    C{n} as well (CONFIG SET KEAn reads back as AKE, yet new-key events
    are sent).
    """
    if flags & NOTIFY_ALL == NOTIFY_ALL:
        out = ["A"]
    else:
        out = [ch for ch, bit in _ORDER if flags & bit]
    if flags & NOTIFY_KEYSPACE:
        out.append("K")
    if flags & NOTIFY_KEYEVENT:
        out.append("E")
    if flags & NOTIFY_KEY_MISS:
        out.append("m")
    return "".join(out)


def effective(flags):
    """The flags worth testing per event: 0 unless K or E can publish something."""
    return flags if flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT) else 0


def notify(server, flag, event, key, dbnum):
    """notifyKeyspaceEvent: publish C{event} (bytes) about C{key} in database C{dbnum}.

    Nothing happens unless class C{flag} is enabled.  The keyspace channel
    comes first, then the keyevent channel, as in Redis.
    """
    flags = server.notify_flags
    if not flags & flag:
        return
    publish = server.pubsub.publish
    if flags & NOTIFY_KEYSPACE:
        publish(b"__keyspace@%d__:%s" % (dbnum, key), event)
    if flags & NOTIFY_KEYEVENT:
        publish(b"__keyevent@%d__:%s" % (dbnum, event), key)


def keymiss(client, key, db=None):
    """A read command did not find C{key} (Redis' lookupKeyRead miss): the C{keymiss} event."""
    server = client.server
    if server.notify_flags & NOTIFY_KEY_MISS:
        notify(server, NOTIFY_KEY_MISS, b"keymiss", key,
               client.dbnum if db is None else db.index)


def install(server):
    """Keep C{server.notify_flags} and the store's copy in step with notify-keyspace-events."""
    store = server.store

    def changed(flags):
        server.notify_flags = store.notify_flags = effective(flags)

    # The store raises "new" and "expired" itself; it calls back here.
    store.notifier = lambda flag, event, key, dbnum: notify(server, flag, event, key, dbnum)
    server.config.on_change("notify-keyspace-events", changed)
    flags = server.config.notify_keyspace_events
    if isinstance(flags, str):
        # Config(notify_keyspace_events="KEA") stores its overrides unparsed:
        # keep the bits instead (the hook above then runs).
        server.config.set_value("notify-keyspace-events", parse_flags(flags) or 0)
    else:
        changed(flags)


def notify_emptied(server, flag, event, key, db, value):
    """A collection command's C{event}, then C{del} if it left C{value} empty (and so deleted it)."""
    if server.notify_flags:
        notify(server, flag, event, key, db.index)
        if not value:
            notify(server, NOTIFY_GENERIC, b"del", key, db.index)

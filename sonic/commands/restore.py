"""RESTORE: a key rebuilt from a DUMP payload (Redis' RDB object serialization).

The payload is checked (RDB version, CRC-64) and parsed by
L{sonic.rdb.reader.parse_dump_payload}, then turned into a sonic value by
L{sonic.rdb.keyspace.entry_to_value}, which encodes it as redis-server 7.0
encodes what it loads.  Payloads from redis-server's DUMP, from sonic's
DUMP, from MIGRATE-based tools and from C{redis-cli --rdb} files all use
this format.

The checks run in the order Redis' restoreCommand runs them, so the same
bad command gets the same error: options (syntax, IDLETIME, FREQ), the TTL
as an integer, BUSYKEY, the TTL's sign, the payload's footer, the payload's
data.  sonic keeps no per-key access time or frequency: IDLETIME and FREQ
are checked and then ignored.
"""

from sonic import errors
from sonic.commands.args import to_int
from sonic.errors import CommandError
from sonic.notify import NOTIFY_GENERIC, notify
from sonic.rdb import Entry, RdbError
from sonic.registry import command
from sonic.resp import OK

__all__ = ["restore"]

_INT64_MAX = (1 << 63) - 1


@command("restore")
def restore(client, key, ttl, payload, *options):
    """RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"""
    replace = absttl = False
    idle = freq = None
    i = 0
    n = len(options)
    while i < n:
        word = options[i].lower()
        if word == b"replace":
            replace = True
        elif word == b"absttl":
            absttl = True
        elif word == b"idletime" and i + 1 < n and freq is None:
            # Redis accepts IDLETIME or FREQ, not both: the second one
            # falls through to the syntax error.
            i += 1
            idle = to_int(options[i])
            if idle < 0:
                raise CommandError(errors.INVALID_IDLETIME)
        elif word == b"freq" and i + 1 < n and idle is None:
            i += 1
            freq = to_int(options[i])
            if not 0 <= freq <= 255:
                raise CommandError(errors.INVALID_FREQ)
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    ttl = to_int(ttl)
    db = client.db
    if not replace and db.lookup(key) is not None:
        raise CommandError(errors.BUSYKEY)
    if ttl < 0:
        raise CommandError(errors.INVALID_TTL)
    server = client.server
    from sonic.rdb.keyspace import entry_to_value  # on first use, not at start-up
    from sonic.rdb.reader import DumpPayloadError, parse_dump_payload
    try:
        kind, value, encoding = parse_dump_payload(payload)
        if kind != "string":
            value = entry_to_value(server, Entry(client.dbnum, key, kind, value, None, encoding))
    except DumpPayloadError:
        raise CommandError(errors.DUMP_PAYLOAD) from None
    except RdbError:
        raise CommandError(errors.BAD_DATA_FORMAT) from None
    deleted = False
    if replace:
        deleted = db.delete(key)
    deadline = None
    if ttl:
        store = server.store
        now = store.now
        if not absttl:
            # Redis adds in a signed 64-bit integer: an overflow wraps to a
            # deadline in the past, and the key is gone at once.
            ttl += now
            if ttl > _INT64_MAX:
                ttl -= 1 << 64
        if ttl <= now and not store.replica:
            # Already expired (a replica keeps it: its master will DEL it).
            # The old key, if REPLACE deleted one, stays deleted.
            if deleted:
                notify(server, NOTIFY_GENERIC, b"del", key, client.dbnum)
            return OK
        deadline = ttl
    db.set(key, value, deadline)
    notify(server, NOTIFY_GENERIC, b"restore", key, client.dbnum)
    return OK

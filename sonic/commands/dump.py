"""DUMP: a key's value in Redis' serialization (the RDB object format).

The payload is the one redis-server 7.0 produces: the RDB type byte, the
object as an RDB file holds it, the RDB version (2 bytes, little-endian)
and the CRC-64 of all that (8 bytes, little-endian), so RESTORE on
redis-server (MIGRATE, redis-cli --rdb tooling, cluster resharding tools)
rebuilds the same value with the same encoding.  For values that Redis
keeps the same way (strings, lists, listpacks, intsets, skiplist sorted
sets) the bytes are Redis' own; hashtable sets and hashes list their
members in sonic's order, which RESTORE does not care about.
"""

from sonic.commands.keys import _read
from sonic.registry import command

__all__ = ["dump"]


@command("dump")
def dump(client, key):
    """DUMP key"""
    from sonic.rdb import keyspace as rdb_keyspace  # on first use, not at start-up
    from sonic.rdb.writer import dump_payload
    value = _read(client, key)
    if value is None:
        return None
    server = client.server
    entry = rdb_keyspace.entry_of(server, client.dbnum, key, value, None)
    config = server.config
    return dump_payload(entry.kind, entry.value, entry.encoding,
                        compress=config.rdbcompression, list_fill=config.list_max_listpack_size)

"""Redis' RDB format (version 10, as Redis 7.0 writes it), usable without the server.

    python -m sonic.rdb dump.rdb          # a summary
    python -m sonic.rdb --json dump.rdb   # JSON lines, one per key

The reader and the writer speak in neutral L{Entry} records, so the format
code knows nothing of sonic's value classes; L{sonic.rdb.keyspace} converts
between entries and sonic's store (SAVE, full syncs, DUMP/RESTORE).

An entry's C{kind} and C{value}:
  - "string": bytes
  - "list":   list of bytes
  - "set":    list of bytes (distinct)
  - "hash":   list of (field, value) pairs
  - "zset":   list of (member, score) pairs, score a float
Its C{encoding} is a hint ("listpack", "intset", "quicklist", "hashtable",
"skiplist", "int", "embstr", "raw" or None) the writer may use to choose
the compact forms Redis would write.
"""

from collections import namedtuple

__all__ = ["Entry", "RdbError"]

#: One key of an RDB file.  C{expire_ms}: absolute Unix ms deadline or None.
Entry = namedtuple("Entry", "db key kind value expire_ms encoding")
Entry.__new__.__defaults__ = (None,)


class RdbError(Exception):
    """A corrupt, truncated or unsupported RDB payload; the message says what and where."""

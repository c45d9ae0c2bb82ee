"""One module per Redis command group; importing this package registers them all."""

from sonic.commands import (  # noqa: F401  (imported for their @command side effects)
    aof, clients, connection, dump, functions, hashes, keys, lists, migrate, persistence, pubsub, replicaof, replication, restore, scripting, server, sets, sort, strings, tracking, transactions,
    zsets, zsetops)
from sonic.commands import latency, slowlog  # noqa: F401,E402  (LATENCY, SLOWLOG)
from sonic.registry import release_metadata

# Every command has its metadata now; the rest of Redis' table need not stay loaded.
release_metadata()

__all__ = ["aof", "clients", "connection", "dump", "functions", "hashes", "keys", "lists", "migrate", "persistence", "pubsub", "replicaof", "replication", "restore", "scripting", "server", "sets", "sort",
           "strings", "tracking", "transactions", "zsets", "zsetops"]

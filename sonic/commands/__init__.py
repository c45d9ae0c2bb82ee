"""One module per Redis command group; importing this package registers them all."""

from sonic.commands import (  # noqa: F401  (imported for their @command side effects)
    clients, connection, keys, server, strings, transactions)

__all__ = ["clients", "connection", "keys", "server", "strings", "transactions"]

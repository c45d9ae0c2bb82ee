"""One module per Redis command group; importing this package registers them all."""

from sonic.commands import (  # noqa: F401  (imported for their @command side effects)
    connection, keys, server, strings, transactions)

__all__ = ["connection", "keys", "server", "strings", "transactions"]

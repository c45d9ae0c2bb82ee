"""Generic keyspace commands (db.c, expire.c)."""

from sonic.registry import command

__all__ = []


@command("del")
def del_(client, *keys):
    """DEL key [key ...]"""
    db = client.db
    return sum(1 for key in keys if db.delete(key))


@command("exists")
def exists(client, *keys):
    """EXISTS key [key ...]"""
    db = client.db
    return sum(1 for key in keys if db.lookup(key) is not None)

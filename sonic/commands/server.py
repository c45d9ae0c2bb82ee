"""Server commands: COMMAND, INFO, CONFIG, DBSIZE, FLUSHDB/FLUSHALL, TIME, DEBUG, MEMORY, SHUTDOWN."""

from sonic.registry import command

__all__ = []


@command("dbsize")
def dbsize(client):
    """DBSIZE"""
    return len(client.db)

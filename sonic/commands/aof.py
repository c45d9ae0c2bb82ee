"""BGREWRITEAOF: compact the append-only file (L{sonic.persistence.aof})."""

from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import Status

REWRITE_RUNNING = "ERR Background append only file rewriting already in progress"


@command("bgrewriteaof")
def bgrewriteaof(client):
    """BGREWRITEAOF

    Starts a rewrite (a new base from a snapshot, a new incr file from now
    on); while a BGSAVE runs it is scheduled for when it ends, as in Redis.
    """
    aof = client.server.aof
    if aof.rewrite is not None:
        raise CommandError(REWRITE_RUNNING)
    if aof.bgsave_active():
        aof.rewrite_scheduled = True
        aof._schedule_cron()
        return Status(b"Background append only file rewriting scheduled")
    aof.start_rewrite()
    return Status(b"Background append only file rewriting started")

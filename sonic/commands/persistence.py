"""Persistence commands: SAVE and BGSAVE (the work is in L{sonic.persistence.snapshot})."""

from sonic import errors
from sonic.errors import CommandError
from sonic.persistence import snapshot
from sonic.registry import command
from sonic.resp import OK, Status

IN_PROGRESS = "ERR Background save already in progress"
OTHER_CHILD = ("ERR Another child process is active (AOF?): can't BGSAVE right now. "
               "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")


@command("save")
def save(client):
    """SAVE"""
    snaps = snapshot.get(client.server)
    if snaps.child_active():
        raise CommandError(IN_PROGRESS)
    if not snaps.save():
        raise CommandError("ERR")
    return OK


@command("bgsave")
def bgsave(client, *args):
    """BGSAVE [SCHEDULE]"""
    schedule = False
    if args:
        if len(args) == 1 and args[0].lower() == b"schedule":
            schedule = True
        else:
            raise CommandError(errors.SYNTAX)
    snaps = snapshot.get(client.server)
    if snaps.child_active():
        raise CommandError(IN_PROGRESS)
    if snaps._aof_rewriting():
        if not schedule:
            raise CommandError(OTHER_CHILD)
        snaps.scheduled = True
        return Status(b"Background saving scheduled")
    if not snaps.bgsave():
        raise CommandError("ERR")
    return Status(b"Background saving started")

"""String commands: GET, SET and family (t_string.c)."""

from sonic import errors
from sonic.commands.args import to_int
from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import OK

__all__ = []


@command("get")
def get(client, key):
    """GET key"""
    return client.db.get_string(key)


@command("set")
def set_(client, key, value, *opts):
    """SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"""
    db = client.db
    if not opts:
        db.set(key, value)
        return OK
    raise CommandError(errors.SYNTAX)  # options: filled in by the strings module

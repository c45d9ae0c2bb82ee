"""Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT, CLIENT.

HELLO switches a connection between RESP2 and RESP3 and answers with the
same fields as Redis 7.0; redis-py 8 sends C{HELLO 3} on every connect.
"""

from sonic import errors
from sonic.commands.args import to_int
from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import OK, PONG, Status, Push

__all__ = []


@command("ping")
def ping(client, *args):
    """PING [message]"""
    if len(args) > 1:
        raise errors.wrong_arity("ping")
    if args:
        return args[0]
    return PONG


@command("echo")
def echo(client, message):
    """ECHO message"""
    return message


@command("quit", arity=-1, flags=["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
         acl=["@fast", "@connection"], summary="Close the connection", since="1.0.0",
         group="connection", complexity="O(1)")
def quit(client, *args):
    """QUIT"""
    client.close()
    return OK


@command("select")
def select(client, index):
    """SELECT index"""
    n = to_int(index)
    if n < 0 or n >= len(client.server.store.dbs):
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    client.select(n)
    return OK


def check_password(client, username, password):
    """Check AUTH credentials against requirepass, as Redis' default user does."""
    required = client.server.config.requirepass
    if username != b"default" or not required or password != required.encode("utf-8", "surrogateescape"):
        raise CommandError(errors.WRONGPASS)
    client.authenticate()


@command("auth")
def auth(client, *args):
    """AUTH [username] password"""
    if len(args) > 2:
        raise CommandError(errors.SYNTAX)
    if len(args) == 1 and not client.server.config.requirepass:
        raise CommandError(errors.AUTH_NOT_CONFIGURED)
    username = args[0] if len(args) == 2 else b"default"
    check_password(client, username, args[-1])
    return OK


@command("hello")
def hello(client, *args):
    """HELLO [protover [AUTH username password] [SETNAME clientname]]"""
    from sonic.server import REDIS_VERSION
    proto = None
    if args:
        n = to_int(args[0], "ERR Protocol version is not an integer or out of range")
        if n < 2 or n > 3:
            raise CommandError("NOPROTO unsupported protocol version")
        proto = n
    i = 1
    name = None
    creds = None
    while i < len(args):
        opt = args[i].upper()
        more = len(args) - i - 1
        if opt == b"AUTH" and more >= 2:
            creds = (args[i + 1], args[i + 2])
            i += 3
        elif opt == b"SETNAME" and more >= 1:
            name = args[i + 1]
            i += 2
        else:
            raise CommandError("ERR Syntax error in HELLO option '%s'" % args[i].decode("utf-8", "replace"))
    if creds is not None:
        check_password(client, creds[0], creds[1])
    if not client.authenticated:
        raise CommandError("NOAUTH HELLO must be called with the client already authenticated, "
                           "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                           "authenticate the client and select the RESP protocol version at the same time")
    if name is not None:
        from sonic.commands.clients import validate_name
        validate_name(name)
        client.name = name or None
    if proto is not None:
        client.resp = proto
    server = client.server
    return {
        "server": "redis",
        "version": REDIS_VERSION,
        "proto": client.resp,
        "id": client.id,
        "mode": "standalone",
        "role": "master" if server.master_host is None else "replica",
        "modules": [],
    }


@command("reset")
def reset(client):
    """RESET"""
    if client.multi is not None:
        client.multi = None
        client.multi_error = False
    client.unwatch()
    client.select(0)
    client.resp = 2
    client.name = None
    if hasattr(client, "set_reply_mode"):
        client.set_reply_mode("on")
    if client.server.config.requirepass:
        client.authenticated = False
        parser = getattr(client, "parser", None)
        if parser is not None:
            parser.auth_required = True
    return Status(b"RESET")

"""Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT, CLIENT.

HELLO switches a connection between RESP2 and RESP3 and answers with the
same fields as Redis 7.0; redis-py 8 sends C{HELLO 3} on every connect.
"""

from sonic import errors
from sonic.commands.args import to_int
from sonic.commands.clients import validate_name
from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import OK, PONG, Status

__all__ = []


@command("ping")
def ping(client, *args):
    """PING [message]"""
    if len(args) > 1:
        raise errors.wrong_arity("ping")
    if client.resp == 2 and (client.channels or client.patterns or client.shard_channels):
        # Redis' pingCommand in the RESP2 subscribed context: a "pong" array.
        return [b"pong", args[0] if args else b""]
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
    if n < -2**31 or n >= 2**31:  # Redis reads the index as a C int
        raise CommandError("ERR value is out of range, value must between -2147483648 and 2147483647")
    if n < 0 or n >= len(client.server.store.dbs):
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    client.select(n)
    return OK


def check_password(client, username, password):
    """Check AUTH credentials as Redis' only user, C{default}, does.

    Without requirepass the default user is C{nopass}: any password is
    accepted for it.  A wrong pair leaves the client as it was.
    """
    required = client.server.config.requirepass
    if username != b"default" or (required and password != required.encode("utf-8", "surrogateescape")):
        raise CommandError(errors.WRONGPASS)
    client.authenticated = True
    parser = getattr(client, "parser", None)
    if parser is not None:
        parser.auth_required = False  # lift the unauthenticated request-size limits


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
    # Options are handled in order, as Redis does: AUTH logs in at once (and
    # stays done even if a later option is wrong), SETNAME is checked at once.
    i = 1
    name = None
    while i < len(args):
        opt = args[i].upper()
        more = len(args) - i - 1
        if opt == b"AUTH" and more >= 2:
            check_password(client, args[i + 1], args[i + 2])
            i += 3
        elif opt == b"SETNAME" and more >= 1:
            name = args[i + 1]
            validate_name(name)
            i += 2
        else:
            raise CommandError("ERR Syntax error in HELLO option '%s'" % args[i].decode("utf-8", "replace"))
    if not client.authenticated:
        raise CommandError("NOAUTH HELLO must be called with the client already authenticated, "
                           "otherwise the HELLO AUTH <user> <pass> option can be used to "
                           "authenticate the client and select the RESP protocol version at the same time")
    if name is not None:
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
    # Redis' clearClientConnectionState: every subscription goes, silently.
    client.server.pubsub.unsubscribe_all(client)
    if client.server.monitors:
        from sonic.monitor import stop as stop_monitor
        stop_monitor(client)  # RESET ends monitor mode
    if client.tracking is not None:
        client.server.tracking.disable(client)  # CLIENT TRACKING OFF
    client.select(0)
    client.resp = 2
    client.name = None
    client.no_evict = False
    if hasattr(client, "set_reply_mode"):
        client.set_reply_mode("on")
    if client.server.config.requirepass:
        client.authenticated = False
        parser = getattr(client, "parser", None)
        if parser is not None:
            parser.auth_required = True
    return Status(b"RESET")

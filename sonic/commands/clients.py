"""CLIENT and its subcommands (naming, introspection, killing, pausing), and MONITOR.

Clients live in C{server.clients} (id -> client).  The text CLIENT LIST and
CLIENT INFO print has Redis 7.0's fields in Redis 7.0's order.  Real values:
flags, db, subscriptions (sub/psub/ssub from sonic.pubsub), multi, qbuf (the
parser's unread bytes, plus the running command for the caller, as Redis
still holds it), argv-mem, obl/oll/omem (replies the socket has not taken
yet, cut into Redis' 16 KB reply chunks), events, cmd (set when a command is
looked up, as Redis does), redir (sonic.tracking).  qbuf-free, rbs, rbp,
multi-mem and tot-mem, which Redis reads from its allocator, are estimates.
CLIENT SETINFO (Redis 7.2, which redis-py 8 sends on every connect) is
accepted as Redis 7.2 does, and its two values are shown as 7.2 shows them,
as the last two fields of each line.

CLIENT PAUSE really holds commands (L{Pause}); MONITOR is in sonic.monitor.
"""

import time

from sonic import errors, monitor
from sonic.commands.args import to_int
from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import OK, Raw, Status, Verbatim

__all__ = ["validate_name", "client_type", "client_info_string", "buffer_peaks", "Pause", "pause_of"]

#: Redis' reply chunk (PROTO_REPLY_CHUNK_BYTES): obl's fixed buffer and oll's blocks.
REPLY_CHUNK = 16 * 1024

NAME_ERROR = "ERR Client names cannot contain spaces, newlines or special characters."

#: CLIENT HELP, as Redis 7.0.15 prints it.
HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
]

#: Type names CLIENT LIST TYPE / CLIENT KILL TYPE accept (getClientTypeByName).
TYPES = {b"normal": "normal", b"slave": "replica", b"replica": "replica",
         b"master": "master", b"pubsub": "pubsub"}


def _printable(value):
    """Whether every byte is printable ASCII other than space ('!' to '~'), as Redis requires."""
    return all(33 <= c <= 126 for c in value)


def validate_name(name):
    """Raise Redis' error unless C{name} is a valid client name (empty clears it)."""
    if not _printable(name):
        raise CommandError(NAME_ERROR)


def client_type(c):
    """'normal', 'master', 'replica' or 'pubsub', as Redis' getClientType."""
    flags = c.flags
    if "M" in flags:
        return "master"
    if "S" in flags:
        return "replica"
    sub = _subscriptions(c)
    if "P" in flags or sub[0] or sub[1] or sub[2]:
        return "pubsub"
    return "normal"


def _subscriptions(c):
    """(channels, patterns, shard channels) counts, for modules that add pub/sub."""
    return (len(getattr(c, "channels", ()) or ()),
            len(getattr(c, "patterns", ()) or ()),
            len(getattr(c, "shard_channels", ()) or ()))


def _flags(c, sub):
    """The C{flags=} letters, in the order catClientInfoString writes them."""
    own = c.flags
    out = []
    for letter in "OSM":
        if letter in own:
            out.append(letter)
    if "P" in own or sub[0] or sub[1] or sub[2]:
        out.append("P")
    if c.multi is not None:
        out.append("x")
    blocked = c.blocked
    if blocked is not None and (blocked.keys is not None or blocked.command == POSTPONED):
        out.append("b")  # blocked, or postponed by CLIENT PAUSE; not a parked MIGRATE
    tracking = getattr(c, "tracking", None)
    if "t" in own or tracking is not None:
        out.append("t")
    if "R" in own or getattr(tracking, "broken", False):
        out.append("R")
    if "B" in own or getattr(tracking, "bcast", False):
        out.append("B")
    if c.dirty_cas:
        out.append("d")
    if c.close_after_reply:
        out.append("c")
    for letter in "uAUr":
        if letter in own:
            out.append(letter)
    if c.no_evict:
        out.append("e")
    return "".join(out) or "N"


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def _resp_size(argv):
    """Bytes of C{argv} as a multibulk request (what Redis still holds in the query buffer)."""
    size = 3 + len(str(len(argv)))
    for a in argv:
        size += 5 + len(str(len(a))) + len(a)
    return size


def output_pending(c):
    """Reply bytes written but not yet taken by the socket (the transport's buffers)."""
    transport = getattr(c, "transport", None)
    if transport is None:
        return 0
    return (sum(len(b) for b in getattr(transport, "_tempDataBuffer", ()) or ())
            + len(getattr(transport, "dataBuffer", b"") or b""))


def buffer_peaks(server):
    """INFO's client_recent_max_input/output_buffer: the largest unread input and unsent output now.

    Redis keeps the peaks of the last few seconds; sonic reports the current
    maxima, computed when INFO asks.
    """
    inp = out = 0
    for c in server.clients.values():
        parser = getattr(c, "parser", None)
        if parser is not None:
            inp = max(inp, parser.pending())
        out = max(out, output_pending(c))
    return inp, out


def client_info_string(c, now=None, current=None):
    """One line of CLIENT LIST for client C{c} (without the newline).

    C{current} is the client running CLIENT LIST/INFO: as in Redis, its
    command still counts in its query buffer (qbuf) and argv-mem, while an
    idle client's are 0.  Pending output maps onto Redis' reply buffers: the
    first 16 KB are C{obl} (the fixed buffer), the rest C{omem} in C{oll}
    blocks of 16 KB.
    """
    if now is None:
        now = time.time()
    sub = _subscriptions(c)
    parser = getattr(c, "parser", None)
    qbuf = parser.pending() if parser is not None else 0
    argv_mem = 0
    if c is current:
        qbuf += _resp_size(c.argv)
        argv_mem = sum(len(a) for a in c.argv)
    elif c.blocked is not None:
        argv_mem = sum(len(a) for a in c.argv)  # a blocked or held command keeps its argv
    pending = output_pending(c)
    obl = min(pending, REPLY_CHUNK)
    omem = pending - obl
    oll = -(-omem // REPLY_CHUNK)
    multi_mem = 0
    if c.multi:
        multi_mem = sum(sum(len(a) for a in argv) for _, argv in c.multi)
    rbs = max(16384, qbuf)
    tot_mem = 16384 + rbs + qbuf + argv_mem + multi_mem + pending
    tracking = getattr(c, "tracking", None)
    redir = -1 if tracking is None else getattr(tracking, "redirect", 0)
    fields = [
        ("id", c.id),
        ("addr", c.addr),
        ("laddr", c.laddr),
        ("fd", getattr(c, "fd", -1)),
        ("name", _text(c.name)),
        ("age", int(now - c.created)),
        ("idle", int(now - c.last_interaction)),
        ("flags", _flags(c, sub)),
        ("db", c.dbnum),
        ("sub", sub[0]),
        ("psub", sub[1]),
        ("ssub", sub[2]),
        ("multi", -1 if c.multi is None else len(c.multi)),
        ("qbuf", qbuf),
        ("qbuf-free", max(0, rbs - qbuf)),
        ("argv-mem", argv_mem),
        ("multi-mem", multi_mem),
        ("rbs", rbs),
        ("rbp", rbs),
        ("obl", obl),
        ("oll", oll),
        ("omem", omem),
        ("tot-mem", tot_mem),
        ("events", "rw" if pending else "r"),
        ("cmd", c.last_cmd),
        ("user", c.user),
        ("redir", redir),
        ("resp", c.resp),
        ("lib-name", _text(c.lib_name)),
        ("lib-ver", _text(c.lib_ver)),
    ]
    return " ".join("%s=%s" % kv for kv in fields)


def _listing(clients, current=None):
    now = time.time()
    text = "".join(client_info_string(c, now, current) + "\n" for c in clients)
    return Verbatim(text.encode("utf-8", "surrogateescape"))


@command("client|id")
def client_id(client):
    """CLIENT ID"""
    return client.id


@command("client|setname")
def client_setname(client, name):
    """CLIENT SETNAME connection-name"""
    validate_name(name)
    client.name = name or None
    return OK


@command("client|getname")
def client_getname(client):
    """CLIENT GETNAME"""
    return client.name


@command("client|setinfo", arity=4, flags=["noscript", "loading", "stale"],
         acl=["@slow", "@connection"], summary="Set client or connection specific info",
         since="7.2.0", group="connection", complexity="O(1)")
def client_setinfo(client, attr, value):
    """CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>

    Redis 7.2's subcommand (7.0 lacks it); redis-py 8 sends it on connect and
    ignores an error, so accepting it only makes the values visible.
    """
    which = attr.lower()
    if which not in (b"lib-name", b"lib-ver"):
        raise CommandError("ERR Unrecognized option '%s'" % attr.decode("utf-8", "replace"))
    if not _printable(value):
        raise CommandError("ERR %s cannot contain spaces, newlines or special characters."
                           % attr.decode("utf-8", "replace"))
    if which == b"lib-name":
        client.lib_name = value or None
    else:
        client.lib_ver = value or None
    return OK


@command("client|info")
def client_info(client):
    """CLIENT INFO"""
    return _listing([client], client)


@command("client|list")
def client_list(client, *args):
    """CLIENT LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]"""
    clients = client.server.clients
    if not args:
        return _listing(list(clients.values()), client)
    opt = args[0].lower()
    if opt == b"type" and len(args) == 2:
        kind = TYPES.get(args[1].lower())
        if kind is None:
            raise CommandError("ERR Unknown client type '%s'" % args[1].decode("utf-8", "replace"))
        return _listing([c for c in clients.values() if client_type(c) == kind], client)
    if opt == b"id" and len(args) > 1:
        found = []
        for word in args[1:]:
            cid = to_int(word, "ERR Invalid client ID")
            c = clients.get(cid)
            if c is not None:
                found.append(c)
        return _listing(found, client)
    raise CommandError(errors.SYNTAX)


def kill(target, by):
    """Close C{target} after the replies it already has; C{by} is the killer."""
    if target is by:
        # The killer gets its reply first, then the connection closes.
        target.close_after_reply = True
        return
    target.server.remove_client(target)
    target.close()


@command("client|kill")
def client_kill(client, *args):
    """CLIENT KILL <ip:port> | CLIENT KILL <option> <value> [<option> <value> ...]"""
    server = client.server
    if len(args) == 1:
        addr = args[0].decode("utf-8", "surrogateescape")
        for c in list(server.clients.values()):
            if c.addr == addr:
                kill(c, client)
                return OK
        raise CommandError("ERR No such client")
    cid = addr = laddr = user = kind = None
    skipme = True
    i = 0
    while i < len(args):
        opt = args[i].lower()
        if i + 1 >= len(args):
            raise CommandError(errors.SYNTAX)
        value = args[i + 1]
        if opt == b"id":
            cid = to_int(value, "ERR client-id should be greater than 0")
            if cid <= 0:
                raise CommandError("ERR client-id should be greater than 0")
        elif opt == b"type":
            kind = TYPES.get(value.lower())
            if kind is None:
                raise CommandError("ERR Unknown client type '%s'" % value.decode("utf-8", "replace"))
        elif opt == b"addr":
            addr = value.decode("utf-8", "surrogateescape")
        elif opt == b"laddr":
            laddr = value.decode("utf-8", "surrogateescape")
        elif opt == b"user":
            user = value.decode("utf-8", "surrogateescape")
            if user != "default":
                raise CommandError("ERR No such user '%s'" % user)
        elif opt == b"skipme":
            word = value.lower()
            if word == b"yes":
                skipme = True
            elif word == b"no":
                skipme = False
            else:
                raise CommandError(errors.SYNTAX)
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    killed = 0
    for c in list(server.clients.values()):
        if addr is not None and c.addr != addr:
            continue
        if laddr is not None and c.laddr != laddr:
            continue
        if kind is not None and client_type(c) != kind:
            continue
        if cid is not None and c.id != cid:
            continue
        if user is not None and c.user != user:
            continue
        if c is client and skipme:
            continue
        kill(c, client)
        killed += 1
    return killed


@command("client|no-evict")
def client_no_evict(client, mode):
    """CLIENT NO-EVICT ON|OFF"""
    word = mode.lower()
    if word == b"on":
        client.no_evict = True
    elif word == b"off":
        client.no_evict = False
    else:
        raise CommandError(errors.SYNTAX)
    return OK


@command("client|reply")
def client_reply(client, mode):
    """CLIENT REPLY ON|OFF|SKIP

    OFF and SKIP send no reply of their own; SKIP is ignored while OFF holds.
    """
    word = mode.lower()
    if word not in (b"on", b"off", b"skip"):
        raise CommandError(errors.SYNTAX)
    mode = word.decode()
    if mode == "skip" and client.reply_mode == "off":
        return OK  # muted anyway
    if hasattr(client, "set_reply_mode"):
        client.set_reply_mode(mode)
    else:
        client.reply_mode = mode
    return OK


def _bad_subcommand(client):
    """Redis' addReplySubcommandSyntaxError: names the subcommand as the client typed it."""
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%s'. Try CLIENT HELP."
                        % client.argv[1].decode("utf-8", "replace"))


class Pause(object):
    """CLIENT PAUSE: the pause in force (Redis' pauseClients) and the commands it holds.

    While a pause holds, the dispatcher sends every command through its
    checked path (C{server.gate_all}) and asks L{holds}; a held command's
    client is parked (its pipeline waits, CLIENT LIST flags it C{b}) and the
    command runs, in arrival order, when the pause ends: at its deadline or
    on CLIENT UNPAUSE.  ALL holds every command of every client but replicas
    and the master link (CLIENT UNPAUSE included, as in Redis); WRITE holds
    commands flagged write or may_replicate (EVAL, PUBLISH, EXPIRE...) and an
    EXEC whose queue has one.  A new pause keeps the stricter mode and the
    later deadline.

    @ivar mode: C{"write"} or C{"all"}.
    @ivar end: the deadline (seconds on the server's clock).
    """

    def __init__(self, server):
        self.server = server
        self.mode = None
        self.end = 0.0
        self.timer = None
        self.held = []

    def pause(self, mode, ms):
        """Start or extend the pause."""
        server = self.server
        clock = server.clock
        end = clock.seconds() + ms / 1000.0
        if self.mode != "all":
            self.mode = mode
        if end > self.end or self.timer is None:
            self.end = max(end, self.end)
            if self.timer is not None and self.timer.active():
                self.timer.cancel()
            self.timer = clock.callLater(max(0.0, self.end - clock.seconds()), self.unpause)
        server.paused = self
        server.update_guards()

    def holds(self, client, spec):
        """Whether C{client}'s command C{spec} must wait for the pause to end."""
        flags = client.flags
        if "S" in flags or "M" in flags:
            return False
        if self.mode == "all":
            return True
        if spec.write or spec.fullname in MAY_REPLICATE:
            return True
        if spec.fullname == "exec" and client.multi:
            return any(s.write or s.fullname in MAY_REPLICATE for s, _ in client.multi)
        return False

    def hold(self, client, argv, spec=None):
        """Park C{client} with C{argv}; the protocol reads nothing more from it meanwhile.

        As in Redis 7.0.15 a held client counts in INFO's blocked_clients,
        and CLIENT LIST shows its command (cmd=, argv-mem=) and flag b.
        """
        from sonic.blocking import BLOCKED
        waiter = self.server.blocking.park(client, POSTPONED)
        self.held.append((waiter, argv))
        client.argv = argv
        if spec is not None:
            client.last_cmd = spec.fullname
        self.server.blocked_clients += 1
        return BLOCKED

    def unpause(self):
        """End the pause; the held commands run in order on the next reactor turn."""
        server = self.server
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        self.mode = None
        self.end = 0.0
        server.paused = None
        server.update_guards()
        held, self.held = self.held, []
        if held:
            # Outside the command that ended the pause (CLIENT UNPAUSE gets
            # its reply first), as Redis runs postponed clients from its
            # event loop.
            server.clock.callLater(0, self._run_held, held)

    def _run_held(self, held):
        from sonic.blocking import BLOCKED
        from sonic.dispatch import execute
        from sonic.resp import Error
        for waiter, argv in held:
            self.server.blocked_clients -= 1
            client = waiter.client
            if client.blocked is not waiter or getattr(client, "_closed", False):
                continue
            client.blocked = None
            try:
                reply = execute(client, argv)
            except CommandError as e:
                reply = Error(e.message)
            if reply is BLOCKED:
                continue  # blocked again (BLPOP on an empty list, a new pause...)
            client.unblocked(reply)

    def client_gone(self, client):
        """A held client disconnected: its command never runs."""
        kept = [(w, a) for w, a in self.held if w.client is not client]
        self.server.blocked_clients -= len(self.held) - len(kept)
        self.held = kept


#: Redis 7.0's CMD_MAY_REPLICATE commands (COMMAND INFO does not show the
#: flag): a WRITE pause holds them as it holds writes.
MAY_REPLICATE = frozenset(["eval", "evalsha", "fcall", "publish", "spublish", "pfcount"])

#: The command name a client parked by CLIENT PAUSE is parked under.
POSTPONED = "postponed"


def pause_of(server):
    """The server's L{Pause}, created on first use."""
    pause = getattr(server, "client_pause", None)
    if pause is None:
        pause = server.client_pause = Pause(server)
        server.disconnect_hooks.append(pause.client_gone)
    return pause


@command("client|pause")
def client_pause(client, timeout, *mode):
    """CLIENT PAUSE timeout [WRITE|ALL]"""
    ms = to_int(timeout, "ERR timeout is not an integer or out of range")
    if ms < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    if len(mode) > 1:
        raise _bad_subcommand(client)
    kind = "all"
    if mode:
        word = mode[0].lower()
        if word not in (b"write", b"all"):
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
        kind = word.decode()
    pause_of(client.server).pause(kind, ms)
    return OK


@command("client|unpause")
def client_unpause(client):
    """CLIENT UNPAUSE"""
    pause = getattr(client.server, "client_pause", None)
    if pause is not None and pause.mode is not None:
        pause.unpause()
    return OK


@command("monitor")
def monitor_command(client):
    """MONITOR

    The client receives every command the server runs from now on
    (L{sonic.monitor}); a second MONITOR gets no reply at all, as in Redis.
    """
    if client.multi is not None or getattr(client, "no_block", False):
        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if not monitor.start(client):
        return Raw(b"")
    return OK


@command("client|unblock")
def client_unblock(client, cid, *reason):
    """CLIENT UNBLOCK client-id [TIMEOUT|ERROR]

    The blocked client gets its timeout reply, or C{-UNBLOCKED} with ERROR.
    """
    if len(reason) > 1:
        raise _bad_subcommand(client)
    if reason and reason[0].lower() not in (b"timeout", b"error"):
        raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    target = client.server.clients.get(to_int(cid))
    if target is None:
        return 0
    error = bool(reason) and reason[0].lower() == b"error"
    return int(client.server.blocking.unblock(target, error))


@command("client|help")
def client_help(client):
    """CLIENT HELP"""
    return [Status(line.encode()) for line in HELP]

"""Per-client state and the command pipeline every request goes through.

L{execute} is Redis' processCommand: look the command up (subcommands
included), check its arity, authentication and flags, queue it inside MULTI,
take the time snapshot, then call the handler.  Handlers never count their
own arguments and never encode replies: they return plain values (see
L{sonic.resp}) or raise L{CommandError}.
"""

import time

from twisted.logger import Logger

from sonic import errors
from sonic.errors import CommandError
from sonic.registry import TABLE
from sonic.resp import QUEUED, Error, Raw, encode
from sonic.tracking import after_command as tracking_after, after_error as tracking_after_error
from sonic.tracking import rejected as tracking_rejected

from sonic.monitor import feed as monitor_feed

__all__ = ["Client", "execute", "call", "handler_failed", "run_transaction"]

#: Commands MONITOR never shows (scripts are shown before they run).
NOT_MONITORED = frozenset(["admin", "skip_monitor"])

#: Commands a MONITOR client may not run (with write ones).
KEYSPACE_FLAGS = frozenset(["readonly", "may_replicate"])

log = Logger(namespace="sonic")
_perf_counter = time.perf_counter

#: Commands that run at once inside MULTI instead of being queued.
MULTI_IMMEDIATE = frozenset(["exec", "discard", "multi", "watch", "quit", "reset"])


class Client(object):
    """What the server knows about one connection.

    @ivar server: the L{sonic.server.Server}.
    @ivar db: the selected L{sonic.store.Database}.
    @ivar resp: 2 or 3, set by HELLO.
    @ivar authenticated: whether AUTH (or HELLO AUTH) succeeded, or no
        password is required.
    @ivar multi: None, or the list of queued argv inside MULTI.
    @ivar multi_error: a command failed to queue: EXEC answers EXECABORT.
    @ivar watched: (db, key, was_live) for each key WATCHed by this client;
        C{was_live} says whether the key existed (unexpired) at WATCH time.
    @ivar dirty_cas: a WATCHed key changed: EXEC answers a null array.
    @ivar argv: the words of the command running now.
    """

    def __init__(self, server, addr="", laddr=""):
        self.server = server
        self.id = server.next_client_id()
        self.dbnum = 0
        self.db = server.store.dbs[0]
        self.resp = 2
        self.name = None
        self.lib_name = None
        self.lib_ver = None
        self.authenticated = not server.config.requirepass
        self.user = "default"
        self.multi = None
        self.multi_error = False
        self.watched = []
        self.dirty_cas = False
        self.argv = ()
        self.addr = addr
        self.laddr = laddr
        self.created = time.time()
        self.last_interaction = self.created
        self.last_cmd = "NULL"
        self.reply_mode = "on"      # CLIENT REPLY on|off|skip
        self.close_after_reply = False
        self.no_evict = False
        self.flags = ""
        self.blocked = None         # the sonic.blocking.Waiter while blocked
        self.unblocked_replies = []  # replies of served blocking commands (no protocol)

    #: Pub/Sub (sonic.pubsub): the client's channels, patterns and shard
    #: channels (dicts used as ordered sets), None until it subscribes.
    channels = None
    patterns = None
    shard_channels = None
    #: True while something may restrict which commands this client runs
    #: (the RESP2 subscribed context): execute() then takes the checked path.
    gated = False
    #: A client that never blocks nor serves blocked clients mid-command
    #: (the scripts' client, sonic.scripting.engine: served after the script).
    no_block = False
    #: Pushes sent to a bare client (no protocol): tests read them here.
    pushes = None
    #: Pushes to this client made by its own commands inside EXEC (the
    #: protocol collects them; run_transaction puts them in EXEC's array).
    exec_pushes = None
    #: Client-side caching (sonic.tracking): the client's TrackingState
    #: while CLIENT TRACKING is on, else None (the dispatcher's one test).
    tracking = None

    # Overridden by the protocol; defaults keep the dispatcher usable alone.
    def push(self, value):
        """Send an out-of-band value (pub/sub message); a bare client keeps it in C{pushes}."""
        if self.pushes is None:
            self.pushes = []
        self.pushes.append(value)

    def close(self):
        """Close the connection after pending replies (QUIT, CLIENT KILL)."""
        self.close_after_reply = True

    def unblocked(self, reply):
        """A blocking command of this client was served, timed out or unblocked: C{reply}.

        The protocol sends it and resumes reading; a bare client (tests)
        keeps it in C{unblocked_replies}.
        """
        self.unblocked_replies.append(reply)

    def select(self, index):
        """Switch to database C{index}."""
        self.dbnum = index
        self.db = self.server.store.dbs[index]

    def unwatch(self):
        """Forget every WATCHed key."""
        for db, key, _ in self.watched:
            clients = db.watched.get(key)
            if clients is not None:
                clients.discard(self)
                if not clients:
                    del db.watched[key]
        self.watched = []
        self.dirty_cas = False


def _unknown(argv):
    args = "".join("'%s' " % a[:128].decode("utf-8", "replace") for a in argv[1:])
    return CommandError(errors.sanitize(errors.UNKNOWN_COMMAND % (
        argv[0][:128].decode("utf-8", "replace"), args)))


def resolve(argv):
    """The spec that runs C{argv}, subcommands resolved; raises Redis' errors."""
    spec = TABLE.get(argv[0])
    if spec is None:
        spec = TABLE.get(argv[0].lower())
        if spec is None:
            raise _unknown(argv)
    if spec.subcommands and len(argv) > 1:
        sub = spec.subcommands.get(argv[1])
        if sub is None:
            sub = spec.subcommands.get(argv[1].lower())
            if sub is None:
                raise CommandError(errors.sanitize(errors.UNKNOWN_SUBCOMMAND % (
                    argv[1][:128].decode("utf-8", "replace"), spec.fullname.upper())))
        spec = sub
    arity = spec.arity
    argc = len(argv)
    if (arity > 0 and argc != arity) or argc < -arity:
        raise CommandError(errors.WRONG_ARITY % spec.fullname)
    return spec


def execute(client, argv):
    """Run one command for C{client}; return its reply value.

    The common case (a known top-level command, correct arity, no MULTI, no
    authentication pending, no replica/maxmemory write guard) takes a short
    path; everything else goes through L{_execute_checked}, which applies the
    same checks in Redis' order.  The protocol's lean path decides the same
    way (L{sonic.protocol.RedisServerProtocol._process}): keep the two in step.

    @raise CommandError: the reply is that error; the connection stays.
    """
    spec = TABLE.get(argv[0])
    if (spec is None or spec.subcommands or client.multi is not None
            or not client.authenticated or client.gated
            or (client.server.guard_writes and (spec.write or client.server.gate_all))):
        return _execute_checked(client, argv)
    arity = spec.arity
    argc = len(argv)
    if (arity > 0 and argc != arity) or argc < -arity:
        spec.rejected_calls += 1
        client.last_cmd = spec.fullname  # CLIENT LIST cmd=, as Redis sets it at lookup
        error = CommandError(errors.WRONG_ARITY % spec.fullname)
        if client.tracking:
            tracking_rejected(client, argv)
        if spec.fullname == "exec":
            raise _exec_rejected(client, error)
        raise error
    return call(client, spec, argv)


def _execute_checked(client, argv):
    """L{execute} with every check: lookup, arity, auth, MULTI, server state."""
    spec = None
    try:
        spec = resolve(argv)
        if not client.authenticated and not spec.no_auth:
            raise CommandError(errors.NOAUTH)
        server = client.server
        if client.multi is not None:
            if spec.no_multi:
                raise CommandError(errors.NOT_IN_MULTI)
            if spec.fullname not in MULTI_IMMEDIATE:
                check_state(server, spec, client)
                if server.paused is not None and server.paused.holds(client, spec):
                    return server.paused.hold(client, argv, spec)  # CLIENT PAUSE
                client.multi.append((spec, argv))
                client.last_cmd = spec.fullname
                return QUEUED
        check_state(server, spec, client)
        if server.paused is not None and server.paused.holds(client, spec):
            return server.paused.hold(client, argv, spec)  # CLIENT PAUSE (sonic.commands.clients)
    except CommandError as e:
        client.last_cmd = spec.fullname if spec is not None else _looked_up(argv)
        if client.multi is not None:
            client.multi_error = True
        if client.tracking:
            tracking_rejected(client, argv)
        if spec is not None:
            spec.rejected_calls += 1
        if argv[0].lower() == b"exec":
            raise _exec_rejected(client, e)
        raise
    return call(client, spec, argv)


def _looked_up(argv):
    """CLIENT LIST's cmd= after a refused command: its name if known (arity errors), else NULL."""
    spec = TABLE.get(argv[0]) or TABLE.get(argv[0].lower())
    if spec is None:
        return "NULL"
    if spec.subcommands and len(argv) > 1:
        sub = spec.subcommands.get(argv[1]) or spec.subcommands.get(argv[1].lower())
        return "NULL" if sub is None else sub.fullname
    return spec.fullname


def _exec_rejected(client, error):
    """A refused EXEC (arity, auth...) discards the transaction: Redis' execCommandAbort."""
    client.multi = None
    client.multi_error = False
    client.unwatch()
    message = error.message
    if message.startswith("ERR "):
        message = message[4:]
    return CommandError("EXECABORT Transaction discarded because of: " + message)


def check_state(server, spec, client=None):
    """Refusals that depend on the server's state: read-only replica, OOM, stale replica, loading.

    The replication link's own client (flagged "M") is never refused: it
    applies the master's stream.
    """
    if not server.guard_writes or (client is not None and client.flags == "M"):
        if client is not None and client.gated:
            check_client_gates(client, spec)
        return
    if spec.write and server.replica_read_only and server.master_host is not None:
        raise CommandError(errors.READONLY)
    if spec.denyoom and server.over_maxmemory():
        raise CommandError(errors.OOM)
    if server.misconf and server.master_host is None and (spec.write or spec.fullname == "ping"):
        # A failed BGSAVE with stop-writes-on-bgsave-error (sonic.persistence.snapshot).
        raise CommandError(errors.MISCONF)
    if (server.aof_write_error is not None and server.master_host is None
            and (spec.write or spec.fullname == "ping")):
        raise CommandError(errors.MISCONF_AOF % server.aof_write_error)
    if spec.write and server.min_replicas_refuse and server.master_host is None:
        raise CommandError("NOREPLICAS Not enough good replicas to write.")
    if client is not None and client.gated:
        check_client_gates(client, spec)
    if server.gate_all:
        # Redis checks the stale link after READONLY, and loading after that.
        if server.stale_refused and not spec.stale_ok:
            raise CommandError(errors.MASTERDOWN)
        if server.loading and not spec.loading_ok:
            raise CommandError(errors.LOADING)
        # A script ran past busy-reply-threshold (sonic.scripting.engine):
        # only the allow_busy commands (SCRIPT KILL, SHUTDOWN...) run.
        if server.script_busy and "allow_busy" not in spec.flags:
            raise CommandError(server.script_busy)


#: What a RESP2 client may run while subscribed (Redis' processCommand).
PUBSUB_CONTEXT = frozenset(["ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe",
                            "psubscribe", "punsubscribe", "quit", "reset"])


def check_client_gates(client, spec):
    """Refusals that depend on the client's state (C{client.gated}): the RESP2 subscribed context.

    Redis checks it after READONLY and before the stale-replica and loading
    checks; in RESP3 a subscribed client may run anything.
    """
    if (client.resp == 2 and (client.channels or client.patterns or client.shard_channels)
            and spec.fullname not in PUBSUB_CONTEXT):
        raise CommandError(errors.PUBSUB_CONTEXT % spec.fullname)
    # A MONITOR client is a replica to Redis (sonic.monitor).
    if "O" in client.flags and (spec.write or spec.flags & KEYSPACE_FLAGS):
        raise CommandError("ERR Replica can't interact with the keyspace")


def call(client, spec, argv):
    """Take the time snapshot and run the handler, with accounting.

    The protocol runs plain commands through an inlined copy of execute()
    and of this function for the case where propagation, MONITOR and
    tracking are off (L{sonic.protocol.RedisServerProtocol._process}): a
    step added here must be added there too, or that state must send
    commands to the full path (tests/unit/test_lean_path.py compares them).
    """
    server = client.server
    store = server.store
    store.snapshot()
    client.argv = argv
    client.last_cmd = spec.fullname
    # Replication/AOF (sonic.replication.propagate): None until a replica
    # attaches, so the common case pays this one check.
    prop = server.propagator
    if prop is not None:
        dirty = prop.enter(client, spec, argv)
    # MONITOR (sonic.monitor): an empty list while nobody watches.  Scripts
    # (skip_monitor) are shown before they run, so their commands follow them.
    monitors = server.monitors
    if monitors and "skip_monitor" in spec.flags:
        monitor_feed(client, argv)
    start = _perf_counter()
    try:
        if spec.parent is None:
            reply = spec.handler(client, *argv[1:])
        else:
            reply = spec.handler(client, *argv[2:])
        if prop is not None and store.dirty - prop.nexpired != dirty:
            prop.command(client, spec, argv, reply)
        if client.tracking:
            reply = tracking_after(client, spec, argv, reply)
        return reply
    except CommandError:
        spec.failed_calls += 1
        if client.tracking:
            tracking_after_error(client, spec, argv)
        raise
    except Exception:
        raise handler_failed(spec, argv)
    finally:
        elapsed = _perf_counter() - start
        # INFO commandstats and, with latency-tracking, the per-command
        # latency histograms (sonic.commands.latency).
        spec.count(elapsed, server.latency_tracking)
        server.stat_commands += 1
        # Slow log and latency monitor (sonic.commands.slowlog): infinite while both are off.
        if elapsed >= server.slow_threshold:
            server.slowlog.command(client, spec, argv, elapsed)
        if monitors and not spec.flags & NOT_MONITORED:
            monitor_feed(client, argv)
        if prop is not None:
            prop.leave()
        # Keys that blocked clients wait for were created: serve them now,
        # after the whole command (after EXEC as a whole, not inside it).
        if store.ready_keys and client.multi is None and not client.no_block:
            server.blocking.serve_ready()


def handler_failed(spec, argv):
    """A handler raised something other than L{CommandError}: count and log it; the error to answer.

    Called from inside the C{except} clause, so the log carries the traceback.
    """
    spec.failed_calls += 1
    log.failure("Internal error running {argv!r}", argv=[a[:64] for a in argv[:8]])
    return CommandError("ERR internal error running '%s': see the server log" % spec.fullname)


def run_transaction(client):
    """EXEC: run the queued commands and return their replies as one array.

    Inside, each command's error becomes an L{Error} element, as in Redis.
    """
    queued = client.multi
    results = []
    # As in Redis, the client stays flagged MULTI while its queue runs
    # (CLIENT LIST shows flags=x; blocking commands must not block), and its
    # last command is EXEC afterwards.
    try:
        for spec, argv in queued:
            try:
                reply = call(client, spec, argv)
            except CommandError as e:
                reply = Error(e.message)
            if client.exec_pushes:
                # Pushes to ourselves (we published to a channel we listen
                # to) sit inside EXEC's array before this reply, uncounted,
                # as Redis' output buffer has them.
                reply = Raw(b"".join(client.exec_pushes) + encode(reply, client.resp))
                client.exec_pushes = None
            results.append(reply)
    finally:
        client.multi = None
        client.last_cmd = "exec"
    return results

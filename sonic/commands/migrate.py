"""MIGRATE: move (or copy) keys to another Redis-compatible server.

Redis 7.0 runs MIGRATE synchronously: it serializes the keys (DUMP
payloads, remaining TTLs), writes C{AUTH}/C{SELECT}/C{RESTORE} commands on a
socket cached per host:port (closed after 10 s idle), reads one reply line
per command, then deletes the keys the target acknowledged (propagated to
replicas as C{DEL}).  sonic does the same without blocking the reactor:

 - The keys are serialized when the command runs (Redis' snapshot), and
   the calling client is parked (L{sonic.blocking.Blocking.park}): its
   pipeline waits, other clients are served meanwhile.
 - The commands go out on a Twisted connection, cached per host:port and
   dropped after 10 s idle; one MIGRATE at a time uses a connection (others
   queue), so the SELECT bookkeeping is Redis'.
 - When the replies are in, the acknowledged keys are deleted (unless
   COPY), C{DEL} is propagated, and the client gets its reply.

Inside MULTI/EXEC (or wherever a client cannot be parked) the migration
runs synchronously on a blocking socket, as in Redis.

Errors are Redis 7.0's, byte for byte: a refused connection is
"IOERR error or timeout writing to target instance" (Redis' non-blocking
connect succeeds, the write fails), a failed name lookup or a connect
timeout "IOERR error or timeout connecting to the client", a missing reply
"... reading to target instance", and the target's first error
"ERR Target instance replied with error: <its error>".
"""

import socket

from twisted.internet import error as net_error
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.logger import Logger

from sonic import errors
from sonic.blocking import BLOCKED, can_block
from sonic.commands.args import to_int
from sonic.errors import CommandError
from sonic.notify import NOTIFY_GENERIC, keymiss, notify
from sonic.registry import command
from sonic.resp import OK, Error, Status

__all__ = ["migrate", "MigrateConnection", "SOCKET_IDLE_SECONDS"]

log = Logger(namespace="sonic")

#: Redis' MIGRATE_SOCKET_CACHE_TTL: a cached connection idle this long is closed.
SOCKET_IDLE_SECONDS = 10.0

NOKEY = Status(b"NOKEY")
KEYS_NEED_EMPTY = "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
ERR_CONNECT = "IOERR error or timeout connecting to the client"
ERR_WRITE = "IOERR error or timeout writing to target instance"
ERR_READ = "IOERR error or timeout reading to target instance"
TARGET_ERROR = "ERR Target instance replied with error: %s"


def _bulk(word):
    return b"$%d\r\n%s\r\n" % (len(word), word)


def _command(*words):
    return b"*%d\r\n" % len(words) + b"".join(_bulk(w) for w in words)


def _atoi(text):
    """C's atoi: optional spaces and sign, then the leading digits (0 if none)."""
    s = text.lstrip(b" \t\n\v\f\r")
    sign = 1
    if s[:1] in (b"+", b"-"):
        sign = -1 if s[:1] == b"-" else 1
        s = s[1:]
    n = 0
    for c in s:
        if not 48 <= c <= 57:
            break
        n = n * 10 + c - 48
    return sign * n


class _Job(object):
    """One MIGRATE under way: what to send and whom to answer."""

    __slots__ = ("server", "client", "waiter", "db", "keys", "restores", "copy",
                 "auth", "dbid", "timeout", "retried", "select", "lines", "done")

    def __init__(self, server, client, db, keys, restores, copy, auth, dbid, timeout):
        self.server = server
        self.client = client
        self.waiter = None
        self.db = db
        self.keys = keys
        self.restores = restores  # the RESTORE commands, one per key (bytes)
        self.copy = copy
        self.auth = auth          # the AUTH command (bytes) or None
        self.dbid = dbid
        self.timeout = timeout    # seconds
        self.retried = False
        self.select = False
        self.lines = []
        self.done = False

    def request(self, last_dbid):
        """The bytes to send, given the connection's selected db (-1: unknown)."""
        self.select = last_dbid != self.dbid
        parts = []
        if self.auth is not None:
            parts.append(self.auth)
        if self.select:
            parts.append(_command(b"SELECT", b"%d" % self.dbid))
        parts.extend(self.restores)
        self.lines = []
        return b"".join(parts)

    def expected(self):
        """How many reply lines the request gets."""
        return (self.auth is not None) + self.select + len(self.keys)

    def outcome(self, lines):
        """Apply the target's reply lines: delete acknowledged keys; return (reply, ok)."""
        head = 0
        auth_line = select_line = None
        if self.auth is not None:
            auth_line = lines[head]
            head += 1
        if self.select:
            select_line = lines[head]
            head += 1
        server = self.server
        error = None
        deleted = []
        for i, key in enumerate(self.keys):
            line = lines[head + i]
            if ((auth_line is not None and auth_line[:1] == b"-")
                    or (select_line is not None and select_line[:1] == b"-")
                    or line[:1] == b"-"):
                if error is None:
                    if auth_line is not None and auth_line[:1] == b"-":
                        bad = auth_line
                    elif select_line is not None and select_line[:1] == b"-":
                        bad = select_line
                    else:
                        bad = line
                    error = TARGET_ERROR % bad[1:].decode("utf-8", "surrogateescape")
            elif not self.copy:
                # The key may have changed since it was serialized (other
                # clients ran meanwhile); Redis deletes what the target
                # acknowledged, and so does sonic.
                if self.db.delete(key):
                    deleted.append(key)
                    notify(server, NOTIFY_GENERIC, b"del", key, self.db.index)
        if deleted:
            prop = server.propagator
            if prop is not None and server.master_host is None:
                prop.feed(self.db.index, [b"DEL"] + deleted)
        if error is not None:
            return Error(error), False
        return OK, True

    def answer(self, reply):
        """Send C{reply} to the parked client (if it is still there)."""
        if self.done:
            return
        self.done = True
        waiter = self.waiter
        if waiter is not None and self.client.blocked is waiter:
            self.server.blocking.finish(waiter, reply)


class MigrateConnection(Protocol):
    """A cached connection to one target: runs its queued jobs one at a time."""

    def __init__(self, pool, addr):
        self.pool = pool
        self.addr = addr
        self.last_dbid = -1
        self.queue = []
        self.job = None
        self.buf = b""
        self.timer = None
        self.idle_timer = None
        self.connected_ok = False
        self.closed = False

    # -- jobs -----------------------------------------------------------------

    def add(self, job):
        self.queue.append(job)
        if self.job is None and self.connected_ok:
            self._next()

    def _next(self):
        self._cancel(self.idle_timer)
        self.idle_timer = None
        if not self.queue:
            self.idle_timer = self.pool.clock.callLater(SOCKET_IDLE_SECONDS, self._idle)
            return
        job = self.job = self.queue.pop(0)
        self.buf = b""
        self.transport.write(job.request(self.last_dbid))
        self._arm()

    def _arm(self):
        self._cancel(self.timer)
        self.timer = self.pool.clock.callLater(self.job.timeout, self._timed_out)

    @staticmethod
    def _cancel(timer):
        if timer is not None and timer.active():
            timer.cancel()

    def _idle(self):
        self.idle_timer = None
        self.pool.forget(self)
        self.transport.loseConnection()

    def _timed_out(self):
        self.timer = None
        job = self.job
        self.job = None
        t = self.transport
        pending = bool(getattr(t, "dataBuffer", b"") or getattr(t, "_tempDataBuffer", None))
        self._drop()
        job.answer(Error(ERR_WRITE if pending else ERR_READ))

    def _drop(self):
        """Close this connection; queued jobs move to a fresh one."""
        self.closed = True
        self.pool.forget(self)
        self._cancel(self.idle_timer)
        self.idle_timer = None
        self.transport.abortConnection()
        queue, self.queue = self.queue, []
        for job in queue:
            self.pool.run(job, self.addr)

    # -- Protocol -------------------------------------------------------------

    def connectionMade(self):
        self.connected_ok = True
        self._next()

    def dataReceived(self, data):
        job = self.job
        if job is None:
            return  # nothing asked: ignore
        self.buf += data
        lines = job.lines
        while True:
            end = self.buf.find(b"\r\n")
            if end < 0:
                break
            lines.append(self.buf[:end])
            self.buf = self.buf[end + 2:]
        if len(lines) < job.expected():
            self._arm()  # Redis' timeout is per read
            return
        self._cancel(self.timer)
        self.timer = None
        self.job = None
        job.server.store.snapshot()  # outside any command: take the time now
        reply, ok = job.outcome(lines)
        # On error Redis forgets the selected db (forces SELECT next time).
        self.last_dbid = job.dbid if ok else -1
        job.answer(reply)
        self._next()

    def connectionLost(self, reason=None):
        self.pool.forget(self)
        self._cancel(self.timer)
        self._cancel(self.idle_timer)
        if self.closed:
            return
        self.closed = True
        job = self.job
        self.job = None
        queue, self.queue = self.queue, []
        if job is not None:
            if not job.lines and not job.retried:
                # Redis retries once when the socket fails before any reply
                # (a cached connection the target closed).
                job.retried = True
                self.pool.run(job, self.addr)
            else:
                job.answer(Error(ERR_READ))
        for j in queue:
            self.pool.run(j, self.addr)


class _Factory(ClientFactory):
    def __init__(self, conn):
        self.conn = conn

    def buildProtocol(self, addr):
        return self.conn

    def clientConnectionFailed(self, connector, reason):
        conn = self.conn
        conn.closed = True
        conn.pool.forget(conn)
        queue, conn.queue = conn.queue, []
        if reason.check(net_error.ConnectionRefusedError):
            # Redis' non-blocking connect "succeeds" and the first write
            # fails (Redis retries once, to the same end).
            message = ERR_WRITE
        else:
            message = ERR_CONNECT  # name lookup failed, connect timed out...
        for job in queue:
            job.answer(Error(message))


class _Pool(object):
    """The cached connections of one server, by (host, port)."""

    def __init__(self, server):
        self.server = server
        self.clock = server.clock
        self.conns = {}

    def reactor(self):
        """What connects: C{server.migrate_reactor} if set (tests), else the server's clock (the reactor)."""
        return getattr(self.server, "migrate_reactor", None) or self.server.clock

    def run(self, job, addr):
        conn = self.conns.get(addr)
        if conn is None:
            conn = self.conns[addr] = MigrateConnection(self, addr)
            host, port = addr
            try:
                self.reactor().connectTCP(host, port, _Factory(conn), timeout=job.timeout)
            except Exception:
                self.forget(conn)
                # Answered on the next turn: the handler has not returned yet.
                self.clock.callLater(0, job.answer, Error(ERR_CONNECT))
                return
        conn.add(job)

    def forget(self, conn):
        if self.conns.get(conn.addr) is conn:
            del self.conns[conn.addr]


def _pool(server):
    pool = getattr(server, "migrate_pool", None)
    if pool is None:
        pool = server.migrate_pool = _Pool(server)
    return pool


def _run_sync(job, addr):
    """Inside MULTI/EXEC: the whole exchange on a blocking socket, as Redis does."""
    host, port = addr
    try:
        sock = socket.create_connection((host, port), timeout=job.timeout)
    except ConnectionRefusedError:
        return Error(ERR_WRITE)
    except OSError:
        return Error(ERR_CONNECT)
    try:
        try:
            sock.sendall(job.request(-1))
        except OSError:
            return Error(ERR_WRITE)
        buf = b""
        lines = []
        need = job.expected()
        while len(lines) < need:
            try:
                data = sock.recv(65536)
            except OSError:
                return Error(ERR_READ)
            if not data:
                return Error(ERR_READ)
            buf += data
            while True:
                end = buf.find(b"\r\n")
                if end < 0:
                    break
                lines.append(buf[:end])
                buf = buf[end + 2:]
        return job.outcome(lines[:need])[0]
    finally:
        sock.close()


@command("migrate")
def migrate(client, host, port, key, dbid, timeout, *options):
    """MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password] [AUTH2 username password] [KEYS key [key ...]]"""
    copy = replace = False
    username = password = None
    keys = [key]
    i = 0
    n = len(options)
    while i < n:
        word = options[i].lower()
        more = n - 1 - i
        if word == b"copy":
            copy = True
        elif word == b"replace":
            replace = True
        elif word == b"auth":
            if not more:
                raise CommandError(errors.SYNTAX)
            i += 1
            password = options[i]
        elif word == b"auth2":
            if more < 2:
                raise CommandError(errors.SYNTAX)
            username = options[i + 1]
            password = options[i + 2]
            i += 2
        elif word == b"keys":
            if key:
                raise CommandError(KEYS_NEED_EMPTY)
            keys = list(options[i + 1:])
            break
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    # Redis parses the numbers after the options: timeout first, then db.
    timeout = to_int(timeout)
    dbid = to_int(dbid)
    if timeout <= 0:
        timeout = 1000
    server = client.server
    db = client.db
    now = server.store.now
    config = server.config
    found = []
    restores = []
    from sonic.rdb import keyspace as rdb_keyspace  # on first use, not at start-up
    from sonic.rdb.writer import dump_payload
    for k in keys:
        value = db.lookup(k)
        if value is None:
            keymiss(client, k)  # Redis' lookupKeyRead
            continue
        deadline = db.get_expire(k)
        ttl = 0
        if deadline is not None:
            ttl = max(deadline - now, 1)
        entry = rdb_keyspace.entry_of(server, client.dbnum, k, value, None)
        payload = dump_payload(entry.kind, entry.value, entry.encoding,
                               compress=config.rdbcompression, list_fill=config.list_max_listpack_size)
        words = [b"RESTORE", k, b"%d" % ttl, payload]
        if replace:
            words.append(b"REPLACE")
        found.append(k)
        restores.append(_command(*words))
    if not found:
        return NOKEY
    auth = None
    if password is not None:
        auth = _command(b"AUTH", username, password) if username is not None else _command(b"AUTH", password)
    job = _Job(server, client, db, found, restores, copy, auth, dbid, timeout / 1000.0)
    addr = (host.decode("utf-8", "surrogateescape"), _atoi(port))
    if not can_block(client):
        return _run_sync(job, addr)
    job.waiter = server.blocking.park(client, "migrate")
    _pool(server).run(job, addr)
    return BLOCKED

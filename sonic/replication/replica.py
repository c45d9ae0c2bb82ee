"""sonic as a replica: the link to a master (Redis' replication.c, replica side).

L{ReplicaFactory} is a C{ReconnectingClientFactory} (its C{clock}
injectable for tests) whose L{ReplicaProtocol} speaks Redis' handshake:

    PING                              -> +PONG (or -NOAUTH: AUTH comes next)
    AUTH [masteruser] masterauth      -> +OK           (only with masterauth)
    REPLCONF listening-port <port>    -> +OK           (errors are not fatal)
    REPLCONF capa eof capa psync2     -> +OK           (errors are not fatal)
    PSYNC <replid> <offset+1> | PSYNC ? -1
        -> +FULLRESYNC <replid> <offset>, then the RDB payload, either
           C{$<len>\\r\\n<len bytes>} or diskless C{$EOF:<40-byte mark>\\r\\n...<mark>}
        -> +CONTINUE [<new replid>]: the data is kept, the stream resumes.

The payload is spooled to a temporary file as it arrives, then parsed and
built into new databases off the reactor (C{run_in_thread}:
L{sonic.rdb.reader.iter_rdb} and L{sonic.rdb.keyspace.build_keyspace}) and
swapped in at once on the reactor (L{sonic.rdb.keyspace.install_keyspace});
meanwhile clients get C{-LOADING}.  Then the command stream is applied
through L{sonic.dispatch.execute} as a client flagged C{"M"} (it bypasses
READONLY; its replies are dropped), counting the replication offset byte
for byte (the RESP bytes of every applied command, PINGs included).
C{REPLCONF GETACK} is answered with C{REPLCONF ACK <offset>} (the offset
before the GETACK itself, as Redis does), and an ACK goes out every second.
A link silent for C{repl-timeout} seconds is dropped; a dropped link
reconnects after a second and asks C{PSYNC <replid> <offset+1>}.

What this module sets on the L{sonic.server.Server} (ROLE, INFO replication
and the master side read these; nothing else writes them on a replica):

  - C{server.master_host}, C{server.master_port}: the master (REPLICAOF).
  - C{server.replica_link}: the L{ReplicaFactory} while REPLICAOF is set,
    else None.  Its attributes:
      - C{state}: Redis' ROLE word: "connect", "connecting", "handshake",
        "sync" or "connected".
      - C{master_link_status}: "up" or "down".
      - C{offset}: the replication offset (bytes of the master's stream
        applied), -1 before the first sync (ROLE shows it).
      - C{replid}: the master's replication id, or None.
      - C{last_io}: clock seconds of the last bytes from the master (None).
      - C{link_down_since}: clock seconds the link went down (None: never up).
      - C{sync_in_progress}, C{sync_size} (-1 for diskless),
        C{sync_read}, C{sync_start}, C{sync_last_io}: the payload transfer.
      - C{full_syncs}, C{partial_syncs}: counts, for tests and INFO.
  - C{server.replid}, C{server.repl_offset}: mirror the master's replid and
    this replica's offset (a replica serves its own replicas the stream it
    receives, with the same replid and offsets, as Redis 4+ does).
  - C{server.replid2}, C{server.second_repl_offset}: set when the replid
    changes under us (+CONTINUE with a new id, REPLICAOF NO ONE): the old
    id stays valid up to that offset for PSYNC of our own replicas.
  - C{server.loading}, C{server.stale_refused} (and C{update_guards()}):
    the -LOADING and -MASTERDOWN gates of L{sonic.dispatch.check_state}.
  - C{server.store.replica}: True while a replica (no active or lazy
    expiry; the master's DELs remove keys).

Hooks for the master side (chained replicas), all optional attributes of
the server, looked up when needed:
  - C{server.repl_proxy(data)}: the raw bytes of the commands just applied
    from the master, to be fed unchanged to our own replicas and backlog.
  - C{server.repl_full_resync(replid, offset)}: our master forced a full
    resync: our own replicas must resync too (their history is void).
  - C{server.repl_promoted()}: REPLICAOF NO ONE made this a master.
"""

import os
import tempfile

from twisted.application import service
from twisted.internet.defer import maybeDeferred
from twisted.internet.protocol import Protocol, ReconnectingClientFactory
from twisted.logger import Logger

from sonic.dispatch import Client, execute
from sonic.errors import CommandError, ProtocolError
from sonic.resp import RespParser

try:
    import hiredis
except ImportError:  # pragma: no cover - hiredis is a dependency
    hiredis = None

__all__ = ["ReplicaFactory", "ReplicaProtocol", "ReplicaService", "MasterClient",
           "become_replica", "become_master", "parse_rdb_file", "build_keyspace",
           "install_keyspace", "info_fields"]

log = Logger(namespace="sonic")

#: Length of the diskless payload's end mark.
EOF_MARK_LEN = 40


def _command(*words):
    """A command in RESP, as a replica sends it to its master."""
    out = [b"*%d\r\n" % len(words)]
    for w in words:
        if not isinstance(w, bytes):
            w = str(w).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(w), w))
    return b"".join(out)


def parse_rdb_file(f, functions=None):
    """Parse the RDB payload in C{f} (read from the start): its list of entries.

    The payload's function library codes are added to the list C{functions}.

    Keys of types sonic lacks (streams, modules) are skipped with a warning:
    refusing the payload would leave the replica resyncing forever.
    """
    from sonic.rdb.reader import iter_rdb
    f.seek(0)
    reader = iter_rdb(f, skip_unsupported=True)
    entries = list(reader)
    if functions is not None:
        functions.extend(reader.functions)
    if reader.skipped:
        log.warn("Skipped {n} keys of types sonic does not support in the master's payload",
                 n=reader.skipped)
    return entries


def build_keyspace(server, f, now_ms):
    """Parse the payload in C{f} and build the new databases aside (runs in a thread).

    Nothing live is touched; expired keys are kept (a replica waits for
    its master's DELs).
    """
    from sonic.rdb import keyspace
    functions = []
    built = keyspace.build_keyspace(server, parse_rdb_file(f, functions), now_ms, master=False)
    built.functions = functions  # the master's libraries replace ours (install_keyspace)
    return built


def install_keyspace(server, built):
    """Swap the databases built by L{build_keyspace} in at once (on the reactor); the key count."""
    from sonic.rdb import keyspace
    keyspace.install_keyspace(server, built)
    return built.keys


def _default_run_in_thread(func, *args):
    from twisted.internet.threads import deferToThread
    return deferToThread(func, *args)


class MasterClient(Client):
    """The master's connection as a client of the dispatcher (CLIENT LIST flags=M)."""

    def __init__(self, server, protocol, addr="", laddr=""):
        Client.__init__(self, server, addr, laddr)
        self.flags = "M"
        self.authenticated = True
        self.protocol = protocol
        self.transport = protocol.transport

    def close(self):
        """CLIENT KILL on the master link drops the link (it reconnects)."""
        self.protocol.transport.loseConnection()

    def unblocked(self, reply):
        pass  # the master never blocks (it sends non-blocking forms)


class ReplicaProtocol(Protocol):
    """One connection to the master: handshake, payload, then the stream.

    @ivar step: the handshake step waiting for a reply: "ping", "auth",
        "port", "capa", "psync", then "bulk" (the payload header),
        "payload", "loading" and "stream".
    """

    step = None
    client = None
    _unapplied = 0
    _file = None
    _closed = False

    def connectionMade(self):
        f = self.factory
        self.server = f.server
        self.clock = f.clock
        self.buf = bytearray()
        self.parser = None
        f.connection = self
        f.state = "handshake"
        f.touch()
        self._send(_command("PING"))
        self.step = "ping"

    def _send(self, data):
        self.transport.write(data)

    # -- input ----------------------------------------------------------------

    def dataReceived(self, data):
        f = self.factory
        f.touch()
        step = self.step
        if step == "stream":
            self.parser.feed(data)
            self._apply()
            return
        if step == "loading":
            self.parser.feed(data)  # applied once the payload is in place
            return
        self.buf += data
        while self.buf and not self._closed:
            step = self.step
            if step == "payload":
                if not self._read_payload():
                    return
                continue
            if step in ("loading", "stream"):
                rest = bytes(self.buf)
                self.buf = bytearray()
                self.parser.feed(rest)
                if step == "stream":
                    self._apply()
                return
            # A reply line.  Lone newlines are the master's keepalives while
            # it prepares the payload.
            if self.buf[0] == 10:
                del self.buf[0]
                continue
            end = self.buf.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self.buf[:end])
            del self.buf[:end + 2]
            self._reply(line)

    def _reply(self, line):
        """One reply line of the handshake (or the payload header)."""
        f = self.factory
        step = self.step
        error = line.startswith(b"-")
        if step == "ping":
            # -NOAUTH (and the ACL errors) just mean AUTH must come first.
            if error and not (line.startswith(b"-NOAUTH") or line.startswith(b"-NOPERM")
                              or line.startswith(b"-ERR operation not permitted")):
                return self._fail("Error reply to PING from master: '%s'" % _text(line))
            config = self.server.config
            if config.masterauth:
                words = ["AUTH"]
                if config.masteruser:
                    words.append(config.masteruser)
                words.append(config.masterauth)
                self._send(_command(*words))
                self.step = "auth"
                return
            step = "auth"
            line = b"+OK"
            error = False
        if step == "auth":
            if error:
                return self._fail("Unable to AUTH to MASTER: %s" % _text(line))
            self._send(_command("REPLCONF", "listening-port", self.server.tcp_port))
            self.step = "port"
            return
        if step == "port":
            if error:
                log.info("(Non critical) Master does not understand REPLCONF listening-port: {e}",
                         e=_text(line))
            self._send(_command("REPLCONF", "capa", "eof", "capa", "psync2"))
            self.step = "capa"
            return
        if step == "capa":
            if error:
                log.info("(Non critical) Master does not understand REPLCONF capa: {e}",
                         e=_text(line))
            if f.replid is not None and f.offset >= 0:
                self._send(_command("PSYNC", f.replid, f.offset + 1))
            else:
                self._send(_command("PSYNC", "?", "-1"))
            self.step = "psync"
            return
        if step == "psync":
            return self._psync_reply(line)
        if step == "bulk":
            return self._bulk_header(line)
        self._fail("Unexpected reply from master: '%s'" % _text(line))

    def _psync_reply(self, line):
        f = self.factory
        if line.startswith(b"+FULLRESYNC"):
            words = line.split()
            if len(words) < 3 or len(words[1]) != 40:
                return self._fail("Bad +FULLRESYNC reply: '%s'" % _text(line))
            try:
                f.pending_replid = words[1].decode()
                f.pending_offset = int(words[2])
            except ValueError:
                return self._fail("Bad +FULLRESYNC reply: '%s'" % _text(line))
            log.info("Full resync from master: {replid}:{offset}",
                     replid=f.pending_replid, offset=f.pending_offset)
            f.state = "sync"
            f.sync_in_progress = True
            f.sync_start = f.sync_last_io = self.clock.seconds()
            f.sync_size = -1
            f.sync_read = 0
            self.step = "bulk"
            return
        if line.startswith(b"+CONTINUE"):
            words = line.split()
            if len(words) > 1 and len(words[1]) == 40:
                new = words[1].decode()
                if new != f.replid:
                    # The master's history changed name (a failover); the
                    # old id stays valid up to here for our own replicas.
                    self.server.replid2 = f.replid
                    self.server.second_repl_offset = f.offset + 1
                    f.replid = new
                    self.server.replid = new
                    drop_own_replicas(self.server)  # they learn the new id by reconnecting
            log.info("Successful partial resynchronization with master at offset {o}", o=f.offset)
            f.partial_syncs += 1
            self._start_stream()
            return
        # -NOMASTERLINK, -LOADING (the master is a replica still syncing),
        # or a master that cannot PSYNC: try again later.
        self._fail("Unexpected reply to PSYNC from master: '%s'" % _text(line))

    def _bulk_header(self, line):
        f = self.factory
        if line.startswith(b"-"):
            return self._fail("MASTER aborted replication with an error: %s" % _text(line))
        if not line.startswith(b"$"):
            return self._fail("Bad protocol from MASTER, the first byte is not '$': '%s'"
                              % _text(line[:64]))
        self._file = tempfile.TemporaryFile(prefix="sonic-sync-")
        if line.startswith(b"$EOF:"):
            mark = line[5:]
            if len(mark) != EOF_MARK_LEN:
                return self._fail("Bad diskless payload mark: '%s'" % _text(line))
            self._mark = mark
            self._held = b""
            self._left = None
        else:
            try:
                size = int(line[1:])
            except ValueError:
                size = -1
            if size < 0:
                return self._fail("Bad payload length from MASTER: '%s'" % _text(line))
            self._mark = None
            self._left = size
            f.sync_size = size
        self.step = "payload"
        if self._left == 0:
            self._payload_done()

    def _read_payload(self):
        """Consume payload bytes from C{buf}; True when the payload is complete."""
        f = self.factory
        f.sync_last_io = self.clock.seconds()
        buf = self.buf
        if self._mark is None:
            take = min(self._left, len(buf))
            self._file.write(bytes(buf[:take]))
            del buf[:take]
            self._left -= take
            f.sync_read += take
            if self._left:
                return False
        else:
            # Hold the last 40 bytes back: they may be the start of the mark.
            # The mark is 40 random characters: found, it ends the payload.
            data = self._held + bytes(buf)
            del buf[:]
            at = data.find(self._mark)
            if at < 0:
                f.sync_read += len(data) - len(self._held)
                if len(data) > EOF_MARK_LEN:
                    self._file.write(data[:-EOF_MARK_LEN])
                    data = data[-EOF_MARK_LEN:]
                self._held = data
                return False
            f.sync_read += at - len(self._held)
            self._file.write(data[:at])
            self.buf = bytearray(data[at + EOF_MARK_LEN:])
        self._payload_done()
        return True

    def _payload_done(self):
        """The whole payload is spooled: parse it off the reactor, then swap it in."""
        f = self.factory
        server = self.server
        self.step = "loading"
        self.parser = f.make_parser()
        if self.buf:
            self.parser.feed(bytes(self.buf))
            self.buf = bytearray()
        server.loading = True
        server.update_guards()
        fobj, self._file = self._file, None
        d = maybeDeferred(f.run_in_thread, f.build, server, fobj, int(self.clock.seconds() * 1000))
        d.addCallback(self._loaded, fobj)
        d.addErrback(self._load_failed, fobj)

    def _loaded(self, built, fobj):
        f = self.factory
        server = self.server
        fobj.close()
        if server.replica_link is not f:
            return  # REPLICAOF changed while the payload was parsed: drop it
        try:
            keys = f.install(server, built)
        except Exception:
            log.failure("Failed loading the master's payload")
            return self._load_done_badly()
        server.loading = False
        server.update_guards()
        f.full_syncs += 1
        f.sync_in_progress = False
        f.dbnum = 0
        f.replid = f.pending_replid
        f.offset = f.pending_offset
        server.replid = f.replid
        server.repl_offset = f.offset
        server.replid2 = "0" * 40
        server.second_repl_offset = -1
        hook = getattr(server, "repl_full_resync", None)
        if hook is not None:
            hook(f.replid, f.offset)
        log.info("MASTER <-> REPLICA sync: Finished with success ({n} keys)", n=keys)
        aof = getattr(server, "aof", None)
        if aof is not None and aof.fd is not None:
            # The dataset was replaced: Redis' restartAOFAfterSYNC starts a
            # new AOF (a rewrite of the loaded data) and logs the stream after it.
            log.info("Restarting the AOF after the full sync")
            aof.turn_off()
            aof.turn_on()
        if self._closed:
            f.link_down()
            return
        # Diskless masters put the replica online on its first ACK.
        self._start_stream(ack=True)

    def _load_failed(self, failure, fobj):
        fobj.close()
        if self.server.replica_link is not self.factory:
            return
        log.failure("Failed parsing the master's payload", failure)
        self._load_done_badly()

    def _load_done_badly(self):
        self.server.loading = False
        self.server.update_guards()
        self.factory.sync_in_progress = False
        if not self._closed:
            self.transport.loseConnection()
        else:
            self.factory.link_down()

    def _start_stream(self, ack=False):
        f = self.factory
        if self.parser is None:
            self.parser = f.make_parser()
        self.client = MasterClient(self.server, self, _peer(self.transport.getPeer()),
                                   _peer(self.transport.getHost()))
        if f.dbnum and self.step == "psync":
            # +CONTINUE: the master's stream goes on in the database it last selected.
            self.client.select(f.dbnum)
        self.server.add_client(self.client)
        self.step = "stream"
        f.state = "connected"
        f.link_up()
        if ack:
            self.send_ack()
        if self.buf:
            rest = bytes(self.buf)
            self.buf = bytearray()
            self.parser.feed(rest)
        self._apply()

    def _apply(self):
        """Apply every complete command received, advancing the offset by its bytes."""
        f = self.factory
        server = self.server
        parser = self.parser
        client = self.client
        proxy = getattr(server, "repl_proxy", None)
        store = server.store
        next_command = parser.next
        while not self._closed and self.step == "stream":
            try:
                item = next_command()
            except Exception as e:
                log.error("Protocol error from master: {e}", e=e)
                self.transport.loseConnection()
                return
            if item is None:
                return
            argv, size = item
            if len(argv) > 1 and argv[0].lower() == b"replconf" and argv[1].lower() == b"getack":
                self.send_ack()  # the offset before the GETACK, as Redis answers
            else:
                store.applying_master = True
                try:
                    execute(client, argv)
                except CommandError as e:
                    f.failed_commands += 1
                    now = self.clock.seconds()
                    if now - f.last_failure_log >= 1:  # at most a line a second
                        f.last_failure_log = now
                        log.warn("Master's command {name!r} failed: {e} ({n} failures so far)",
                                 name=argv[0], e=e.message, n=f.failed_commands)
                except Exception:
                    log.failure("Applying the master's command {name!r}", name=argv[0])
                finally:
                    store.applying_master = False
            # As in Redis, a transaction counts (and is passed on) once EXEC
            # ran: a link lost inside MULTI discards it and the master
            # resends it whole from the offset before MULTI.
            self._unapplied += size
            if client.multi is None:
                size = self._unapplied
                self._unapplied = 0
                f.offset += size
                server.repl_offset = f.offset
                if proxy is not None:
                    proxy(parser.raw(size))
                else:
                    parser.skip(size)

    # -- output ---------------------------------------------------------------

    def send_ack(self):
        """REPLCONF ACK <offset>."""
        if not self._closed and self.step == "stream":
            self._send(_command("REPLCONF", "ACK", self.factory.offset))

    # -- errors and loss ----------------------------------------------------

    def _fail(self, message):
        log.warn("{message}", message=message)
        self._closed = True  # read nothing more from this connection
        self.transport.loseConnection()

    def connectionLost(self, reason=None):
        self._closed = True
        f = self.factory
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.client is not None:
            client = self.client
            if client.multi is not None:
                client.multi = None  # resent whole after a partial resync
            client.unwatch()
            f.dbnum = client.dbnum
            self.server.remove_client(client)
            for hook in self.server.disconnect_hooks:
                hook(self.client)
        if f.connection is self:
            f.connection = None
        if self.step == "payload" or self.step in ("bulk", "psync"):
            f.sync_in_progress = False
        if self.step != "loading":
            f.link_down()


class _StreamParser(object):
    """The master's stream: commands with their exact size in bytes, and their raw bytes.

    L{RespParser} counts bytes exactly whatever the framing (bytes fed
    minus bytes pending).  With hiredis (ten times faster) a command's size
    is computed from its words, which is exact for the canonical multibulk
    form (C{*<n>\r\n} then C{$<len>\r\n<word>\r\n} per word, no
    leading zeros or signs): the only form Redis writes to its replicas
    (and proxies to sub-replicas), and the one sonic's master writes.
    """

    def __init__(self, use_hiredis=True):
        # The raw bytes are kept until applied: a replica of ours may
        # attach (and want them passed on) at any moment.
        self._raw = bytearray()
        self._fed = 0
        self._used = 0
        if use_hiredis and hiredis is not None:
            self._reader = hiredis.Reader()
            self._slow = None
            self.next = self._next_hiredis
        else:
            self._reader = None
            self._slow = RespParser(1 << 62)
            self.next = self._next_slow

    def feed(self, data):
        self._fed += len(data)
        self._raw += data
        if self._slow is None:
            self._reader.feed(data)
        else:
            self._slow.feed(data)

    def _next_slow(self):
        argv = self._slow.gets()
        if argv is None:
            return None
        used = self._fed - self._slow.pending()
        size = used - self._used
        self._used = used
        return argv, size

    def _next_hiredis(self):
        argv = self._reader.gets()
        if argv is False:
            return None
        if type(argv) is not list or not argv:
            raise ProtocolError("expected a multibulk command, got %r" % (argv,))
        n = len(argv)
        size = (4 if n < 10 else 3 + len(str(n)))
        for a in argv:
            if type(a) is not bytes:
                raise ProtocolError("expected a bulk string, got %r" % (a,))
            la = len(a)
            size += la + (6 if la < 10 else 7 if la < 100 else 8 if la < 1000 else 5 + len(str(la)))
        return argv, size

    def raw(self, size):
        """The next C{size} raw bytes of the stream (those of the commands just applied)."""
        data = bytes(self._raw[:size])
        del self._raw[:size]
        return data

    def skip(self, size):
        """Drop the next C{size} raw bytes (nobody needs them)."""
        del self._raw[:size]


class ReplicaFactory(ReconnectingClientFactory):
    """The link to one master; survives reconnections (it holds replid and offset).

    See the module docstring for the attributes ROLE and INFO read.
    """

    protocol = ReplicaProtocol
    maxDelay = 1.0      # Redis' replicationCron retries every second
    initialDelay = 1.0
    factor = 1.0
    jitter = 0
    noisy = False

    def __init__(self, server, host, port, clock=None, run_in_thread=None):
        self.server = server
        self.host = host
        self.port = port
        self.clock = clock if clock is not None else server.clock
        if run_in_thread is None:
            run_in_thread = getattr(server.store, "_run_in_thread", None) or _default_run_in_thread
        self.run_in_thread = run_in_thread
        #: (server, file, now_ms) -> built keyspace, run in a thread; then
        #: (server, built) -> key count, on the reactor.
        self.build = build_keyspace
        self.install = install_keyspace
        self.connection = None
        self.state = "connect"
        self.master_link_status = "down"
        self.replid = None
        self.offset = -1
        self.pending_replid = None
        self.pending_offset = -1
        self.last_io = None
        self.link_down_since = None
        self.sync_in_progress = False
        self.sync_size = -1
        self.sync_read = 0
        self.sync_start = None
        self.sync_last_io = None
        self.full_syncs = 0
        self.dbnum = 0
        self.failed_commands = 0
        self.last_failure_log = -1.0
        #: hiredis parses the stream when importable (see L{_StreamParser}).
        self.use_hiredis = True
        self.partial_syncs = 0
        self._cron = None

    def inherit(self, replid, offset):
        """Continue from our own history (a former master's or replica's replid and offset)."""
        if replid:
            self.replid = replid
            self.offset = offset

    def make_parser(self):
        return _StreamParser(self.use_hiredis)

    def touch(self):
        self.last_io = self.clock.seconds()

    def link_up(self):
        self.master_link_status = "up"
        self.link_down_since = None
        server = self.server
        if server.stale_refused:
            server.stale_refused = False
            server.update_guards()

    def link_down(self):
        if self.master_link_status == "up":
            self.link_down_since = self.clock.seconds()
        self.master_link_status = "down"
        if self.state != "connect":
            self.state = "connect"
        update_stale(self.server)

    # -- connection lifecycle -------------------------------------------------

    def startedConnecting(self, connector):
        self.state = "connecting"

    def clientConnectionFailed(self, connector, reason):
        self.state = "connect"
        log.info("Error condition on socket for SYNC: {r}", r=reason.getErrorMessage())
        ReconnectingClientFactory.clientConnectionFailed(self, connector, reason)

    def clientConnectionLost(self, connector, reason):
        self.state = "connect"
        log.info("Connection with master lost.")
        ReconnectingClientFactory.clientConnectionLost(self, connector, reason)

    def buildProtocol(self, addr):
        self.resetDelay()
        return ReconnectingClientFactory.buildProtocol(self, addr)

    # -- the once-a-second cron ----------------------------------------------

    def start_cron(self):
        if self._cron is None:
            self._cron = self.clock.callLater(1, self._tick)

    def stop_cron(self):
        if self._cron is not None and self._cron.active():
            self._cron.cancel()
        self._cron = None

    def _tick(self):
        self._cron = self.clock.callLater(1, self._tick)
        conn = self.connection
        if conn is None:
            return
        timeout = self.server.config.repl_timeout
        if self.last_io is not None and self.clock.seconds() - self.last_io > timeout:
            if conn.step != "loading":
                log.warn("MASTER timeout: no data nor PING received...")
                conn.transport.loseConnection()
                return
        conn.send_ack()


def drop_own_replicas(server):
    """Disconnect the replicas of this server so they PSYNC again and learn a new replid.

    Redis' disconnectSlaves() on REPLICAOF (either form) and on a +CONTINUE
    carrying a new id: they usually continue partially (replid2).
    """
    master = getattr(server, "repl_master", None)
    drop = getattr(master, "drop_replicas", None)
    if drop is not None:
        drop()


def update_stale(server):
    """Recompute the -MASTERDOWN gate: a replica whose link is not up, with replica-serve-stale-data no."""
    link = server.replica_link
    refused = (link is not None and link.master_link_status != "up"
               and not server.config.replica_serve_stale_data)
    if refused != server.stale_refused:
        server.stale_refused = refused
        server.update_guards()


class ReplicaService(service.Service):
    """Starts and stops the link (the service tree holds it while REPLICAOF is set)."""

    name = "replica"

    def __init__(self, factory, reactor=None):
        self.factory = factory
        self.reactor = reactor
        self.connector = None

    def startService(self):
        service.Service.startService(self)
        reactor = self.reactor
        if reactor is None:
            from twisted.internet import reactor
        f = self.factory
        f.continueTrying = True
        self.connector = reactor.connectTCP(f.host, f.port, f, timeout=f.server.config.repl_timeout)
        f.start_cron()

    def stopService(self):
        service.Service.stopService(self)
        f = self.factory
        f.stopTrying()
        f.stop_cron()
        if self.connector is not None:
            self.connector.disconnect()
            self.connector = None


def _hooks(server):
    """Register, once per server, the config callbacks the replica needs."""
    if getattr(server, "_replica_hooks", False):
        return
    server._replica_hooks = True
    server.config.on_change("replica-serve-stale-data", lambda v: update_stale(server))


def become_replica(server, host, port, reactor=None, clock=None, run_in_thread=None, start=True):
    """Make C{server} a replica of C{host}:C{port} (REPLICAOF host port, --replicaof).

    Drops any previous link; keeps the data until the master's payload
    replaces it; continues from our own replid/offset where the new master
    can (PSYNC), as Redis does.
    """
    _hooks(server)
    old = server.replica_link
    replid = getattr(server, "replid", None)
    offset = getattr(server, "repl_offset", 0)
    if old is not None:
        replid, offset = old.replid, old.offset
        stop_link(server)
    elif replid is None or replid == server.run_id:
        replid = None
    drop_own_replicas(server)
    factory = ReplicaFactory(server, host, port, clock=clock, run_in_thread=run_in_thread)
    factory.inherit(replid, offset)
    server.master_host = host
    server.master_port = port
    server.replica_link = factory
    server.store.replica = True
    server.update_guards()
    update_stale(server)
    svc = ReplicaService(factory, reactor)
    server.replica_service = svc
    if start:
        svc.startService()
    return factory


def stop_link(server):
    """Close the link to the master and stop reconnecting."""
    svc = getattr(server, "replica_service", None)
    if svc is not None and svc.running:
        svc.stopService()
    link = server.replica_link
    if link is not None:
        conn = link.connection
        if conn is not None:
            conn.transport.loseConnection()
    server.replica_service = None
    if server.loading:
        server.loading = False  # a payload still being parsed is dropped
        server.update_guards()


def become_master(server):
    """REPLICAOF NO ONE: stop replicating, keep the data, start a new history.

    The new replid is fresh; replid2/second_repl_offset keep the old one so
    our own replicas can continue with PSYNC, as in Redis.
    """
    link = server.replica_link
    if link is None:
        return
    stop_link(server)
    server.replica_link = None
    server.master_host = None
    server.master_port = None
    server.store.replica = False
    # Redis shifts the id whatever the link did: replid2 is the id we had.
    old_replid = link.replid or getattr(server, "replid", None) or server.run_id
    offset = max(link.offset, 0) if link.replid else getattr(server, "repl_offset", 0)
    server.replid2 = old_replid
    server.second_repl_offset = offset + 1
    server.replid = os.urandom(20).hex()
    server.repl_offset = offset
    server.stale_refused = False
    server.update_guards()
    drop_own_replicas(server)
    hook = getattr(server, "repl_promoted", None)
    if hook is not None:
        hook()


def _text(line):
    return line.decode("utf-8", "replace")


def _peer(address):
    host = getattr(address, "host", "")
    port = getattr(address, "port", 0)
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def info_fields(server):
    """INFO replication's replica lines, in Redis 7.0's order (role through replica_announced)."""
    link = server.replica_link
    config = server.config
    now = server.clock.seconds()
    connected = link is not None and link.master_link_status == "up"
    offset = max(link.offset, 0) if link is not None else 0
    rows = [
        ("role", "slave"),
        ("master_host", server.master_host),
        ("master_port", server.master_port),
        ("master_link_status", "up" if connected else "down"),
        ("master_last_io_seconds_ago",
         int(now - link.last_io) if connected and link.last_io is not None else -1),
        ("master_sync_in_progress", 1 if link is not None and link.sync_in_progress else 0),
        ("slave_read_repl_offset", offset),
        ("slave_repl_offset", offset),
    ]
    if link is not None and link.sync_in_progress:
        size = link.sync_size
        read = link.sync_read
        rows += [
            ("master_sync_total_bytes", size),
            ("master_sync_read_bytes", read),
            ("master_sync_left_bytes", size - read),
            ("master_sync_perc", "%.2f" % ((read * 100.0 / size) if size > 0 else 0)),
            ("master_sync_last_io_seconds_ago",
             int(now - link.sync_last_io) if link.sync_last_io is not None else -1),
        ]
    if not connected:
        since = link.link_down_since if link is not None else None
        rows.append(("master_link_down_since_seconds", -1 if since is None else int(now - since)))
    rows += [
        ("slave_priority", config.replica_priority),
        ("slave_read_only", 1 if config.replica_read_only else 0),
        ("replica_announced", 1),
    ]
    return rows

"""sonic as a master: replicas, the replication backlog and full syncs (Redis' replication.c, master side).

One L{ReplicationMaster} per server (C{server.repl_master}), created when
the first replica sends SYNC or PSYNC (or ROLE/INFO/WAIT ask).  It owns:

  - The replication history: C{server.replid} (40 hex), C{server.repl_offset}
    (master_repl_offset: bytes of stream produced), C{server.replid2} and
    C{server.second_repl_offset} (the previous history, valid up to that
    offset, after a promotion).  These live on the server because the
    replica side (L{sonic.replication.replica}) sets them too.
  - The backlog (L{Backlog}): the last C{repl-backlog-size} bytes of the
    stream as a deque of chunks with the offset of its first byte.  It is
    created with the first replica, as Redis does (and the replid changes
    then on a master without history, since nothing before was recorded).
  - The write stream: a L{sonic.replication.propagate.Propagator} whose
    listener L{feed} appends each unit to the backlog and sends it to every
    replica (or queues it for replicas still receiving their RDB).
  - The replicas (L{ReplicaLink}): protocol clients flagged C{"S"} (CLIENT
    LIST flags=S, CLIENT KILL TYPE replica) after SYNC/PSYNC.

PSYNC replid offset answers C{+CONTINUE <replid>} and the backlog from that
offset when the history matches (our replid, or replid2 up to
second_repl_offset) and the offset is inside the backlog; otherwise
C{+FULLRESYNC <replid> <offset>} and C{$<len>\\r\\n<rdb>}, then the stream.

Full sync without freezing the reactor: the snapshot is taken at once but
cheaply, as shallow copies of every shard's dicts (C dict.copy of C{data}
and C{expires}); the values are serialized later, a slice of about 20 ms
per reactor turn (C{callLater(0)}), by the RDB writer
(L{sonic.rdb.writer.RdbWriter}, L{sonic.rdb.keyspace.entry_of}).  Strings
are immutable, so the copies stay exact for them; collections are changed
in place by commands, so while a snapshot is being written the propagator
calls L{FullSync.cow} before every write command (and before a parked
BLPOP/BLMOVE... is served): each key the command names whose snapshot value
is that very object is converted to its L{Entry} first (copy-on-write per
key).  Collections of BIG_VALUE (10,000) elements or more are copied on
the reactor (L{entry_of}: 44-230 ms for a million elements) and encoded in
the reactor's thread pool (0.5-1.2 s for a million elements, which would
otherwise freeze the reactor; the GIL is shared, so the reactor slows but
keeps serving).  Replicas that announced C{capa eof} get it diskless when
C{repl-diskless-sync} is on (the default, as in Redis 7.0): framed
C{$EOF:<40-char mark>}, each buffer the writer flushes sent at once, and
the stream held until their first ACK, as Redis does.  Others (SYNC,
redis-cli --replica) get C{$<len>} once the RDB is complete (built in
memory: its size is held twice while it is sent).  Measured for 1,000,000
string keys (one db, 16 shards; bench/replication_master.py): the PSYNC
handler (the dict copies) pauses the reactor 80 ms, then the 24.8 MB RDB is
written in 3.3 s of slices none longer than 23 ms; a redis-server replica
is in sync 4.1 s after it starts.

WAIT numreplicas timeout parks the client as a blocked client (a
L{sonic.blocking.Waiter} with no keys, so CLIENT UNBLOCK, disconnects and
INFO blocked_clients treat it as any other) and sends C{REPLCONF GETACK *}
down the stream; each C{REPLCONF ACK} re-checks the waiters; the timeout is
a C{callLater} on C{server.clock}.  A once-a-second cron sends a PING
down the stream every C{repl-ping-replica-period} seconds while replicas
are attached, and recounts the good replicas (online, last ACK at most
C{min-replicas-max-lag} seconds old) for C{min-replicas-to-write}, which
refuses writes with C{-NOREPLICAS} through the dispatcher's state checks.

On a replica, the replica side calls the hooks L{install_hooks} puts on
every server: C{repl_proxy(data)} (the master's stream: kept in the backlog,
created with the first bytes as a Redis replica keeps one, and passed on
byte for byte to our own replicas), C{repl_full_resync(replid, offset)}
(our history is void: drop our replicas, restart the backlog) and
C{repl_promoted()} (drop our replicas so they learn the new replid).
"""

import io
import os
import struct
import sys
import time
from collections import deque

from twisted.logger import Logger

from sonic.blocking import BLOCKED, Waiter
from sonic.replication.propagate import Propagator
from sonic.resp import Raw
from sonic.store.compression import Compressed

__all__ = ["Backlog", "ReplicaLink", "ReplicationMaster", "FullSync", "get_master", "install_hooks",
           "too_few_replicas",
           "replication_info", "role_reply"]

log = Logger(namespace="sonic")

#: Seconds of serialization per reactor turn while writing a full sync's RDB.
SLICE_SECONDS = 0.02

#: Size of the backlog's sealed chunks.
BACKLOG_CHUNK = 16384

#: Collections of at least this many elements are encoded in a thread.
BIG_VALUE = 10000


class Backlog(object):
    """The last C{size} bytes of the replication stream.

    @ivar first: the offset of the first byte held (Redis'
        repl_backlog_first_byte_offset); the stream's first byte is 1.
    @ivar histlen: how many bytes are held.
    """

    def __init__(self, size, first):
        self.size = size
        self.first = first
        self.histlen = 0
        # Sealed 16 KB chunks, oldest first, then the tail being filled: a
        # stream of small commands costs a few objects per 16 KB, not one each.
        self.chunks = deque()
        self.tail = bytearray()

    def append(self, data):
        """Add C{data} at the end, dropping the oldest bytes past C{size}."""
        if not data:
            return
        tail = self.tail
        tail += data
        self.histlen += len(data)
        if len(tail) >= BACKLOG_CHUNK:
            self.chunks.append(bytes(tail))
            self.tail = bytearray()
        if self.histlen > self.size:
            self._trim()

    def _trim(self):
        chunks = self.chunks
        while self.histlen > self.size:
            excess = self.histlen - self.size
            if not chunks:
                del self.tail[:excess]
                cut = excess
            else:
                head = chunks[0]
                if len(head) <= excess:
                    chunks.popleft()
                    cut = len(head)
                else:
                    chunks[0] = head[excess:]
                    cut = excess
            self.histlen -= cut
            self.first += cut

    def resize(self, size):
        """CONFIG SET repl-backlog-size."""
        self.size = size
        self._trim()

    def has(self, offset):
        """Whether a replica can continue from C{offset} (the next byte it wants)."""
        return self.first <= offset <= self.first + self.histlen

    def since(self, offset):
        """Every byte held from C{offset} on."""
        skip = offset - self.first
        out = []
        for chunk in list(self.chunks) + [bytes(self.tail)]:
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            out.append(chunk[skip:] if skip else chunk)
            skip = 0
        return b"".join(out)


class ReplicaLink(object):
    """One attached replica.

    @ivar client: its connection (a protocol client flagged C{"S"}).
    @ivar state: C{wait_bgsave} (RDB being written), C{send_bulk}, C{online}.
    @ivar ack_offset: the offset of its last C{REPLCONF ACK}.
    @ivar ack_time: clock seconds of its last ACK (INFO lag).
    @ivar port: its C{REPLCONF listening-port}.
    @ivar pending: stream bytes queued until its RDB is sent.
    """

    def __init__(self, master, client, state):
        self.master = master
        self.client = client
        self.state = state
        self.ack_offset = 0
        self.ack_time = master.server.clock.seconds()
        self.port = getattr(client, "repl_listening_port", 0)
        self.ip = getattr(client, "repl_ip", None) or _host(client.addr)
        self.pending = []
        self.pending_bytes = 0
        self.bulk_size = 0      # bytes of the RDB payload written to it
        self.flush_call = None

    def write(self, data):
        """Send raw bytes to the replica."""
        self.master.net_output += len(data)
        send = getattr(self.client, "_send", None)
        if send is not None:
            if not getattr(self.client, "_closed", False):
                send(data)
        else:  # a bare dispatcher client (tests)
            self.client.unblocked_replies.append(Raw(data))

    def send(self, data):
        """Stream bytes: written at the end of this reactor turn if online, else after the RDB.

        Batching the stream per reactor turn (Redis writes replica buffers
        in beforeSleep) makes one socket write of a pipeline's commands.
        """
        self.pending.append(data)
        self.pending_bytes += len(data)
        if self.flush_call is None:
            self.flush_call = self.master.server.clock.callLater(0, self.flush)

    def flush(self):
        """Write what the stream queued for this replica (once per reactor turn).

        A replica whose unsent output passes the hard limit of
        C{client-output-buffer-limit replica} is disconnected, as Redis does
        (it will resync): a stalled replica cannot grow our memory forever.
        """
        self.flush_call = None
        if self.state == "online" and self.pending:
            pending, self.pending = self.pending, []
            self.pending_bytes = 0
            self.write(b"".join(pending))
        limit = self.master.output_limit()
        # The RDB itself may still sit in the transport: it does not count
        # (Redis sends it apart from the output buffer).
        if limit and (self.pending_bytes
                      + max(0, _transport_backlog(self.client) - self.bulk_size)) > limit:
            log.warn("Client {addr} scheduled to be closed ASAP for overcoming of output "
                     "buffer limits.", addr=self.client.addr)
            self.master.disconnect(self)

    def online(self):
        """The RDB is out: send what accumulated meanwhile and follow the stream."""
        self.state = "online"
        self.flush()


def _transport_backlog(client):
    """Bytes queued in a Twisted transport, not yet on the socket (0 if unknown)."""
    t = getattr(client, "transport", None)
    try:
        return len(t.dataBuffer) - t.offset + t._tempDataLen
    except (AttributeError, TypeError):
        return 0


def _parse_memory(word):
    """C{268435456}, C{256mb}, C{64k}... in bytes (Redis' memtoull)."""
    word = word.lower()
    for suffix, mult in (("kb", 1024), ("mb", 1024 ** 2), ("gb", 1024 ** 3), ("k", 1000),
                         ("m", 1000 ** 2), ("g", 1000 ** 3), ("b", 1)):
        if word.endswith(suffix):
            return int(word[:-len(suffix)]) * mult
    return int(word)


class FullSync(object):
    """One RDB snapshot being written for replicas doing a full sync.

    @ivar snap: per db, per shard, [data, expires, done flag, live shard].
        A shard is copied lazily (L{own_shard}): until a write is about to
        touch it, or the writer reaches it, the entry holds the live dicts
        and the live shard; copying every shard when the snapshot starts
        paused the server about 90 ms per million keys.
    """

    def __init__(self, master, offset, eof=False):
        self.master = master
        server = master.server
        self.server = server
        self.offset = offset
        self.links = []
        #: Diskless: the RDB streams out as written, framed C{$EOF:<mark>}.
        self.eof = eof
        self.mark = os.urandom(20).hex().encode() if eof else None
        self.streamed = 0
        self.now_ms = int(server.clock.seconds() * 1000)
        self.snap = []
        #: Bytes copied because writes came while the snapshot was written
        #: (shards and collections): sonic's copy-on-write size, what Redis
        #: reports as the pages its fork child copied (INFO *_cow_size).
        self.cow_bytes = 0
        for db in server.store.dbs:
            self.snap.append([[sh.data, sh.expires, False, sh] for sh in db.shards])
        self.call = None
        self.cancelled = False
        self.buffer = _Sink(self) if eof else io.BytesIO()
        self.steps = self._generate()
        self.longest_step = 0.0
        self.started = time.perf_counter()
        self.seconds = None

    def cow(self, client, spec, argv):
        """Before a write: give the snapshot its own copy of the keys the command changes in place."""
        try:
            from sonic.commands.server import get_keys
            found = get_keys(spec, list(argv))
        except Exception:
            found = ()
        if not found:
            # A write without keys (FLUSHDB, SWAPDB, DEBUG...) may touch any shard.
            for shards in self.snap:
                for s in shards:
                    self.cow_bytes += own_shard(s)
            return
        from sonic.rdb.keyspace import entry_of
        from sonic.rdb import Entry
        live_dbs = self.server.store.dbs
        for i, _ in found:
            key = argv[i]
            idx = client.db.shard(key).index
            for dbnum, shards in enumerate(self.snap):
                s = shards[idx]
                if s[2]:
                    continue
                self.cow_bytes += own_shard(s)
                data, expires = s[0], s[1]
                value = data.get(key)
                if value is None or type(value) in _IMMUTABLE or type(value) is Entry:
                    continue
                # Only the very object a live db holds can change in place.
                live = live_dbs[dbnum].shard(key).data.get(key) if dbnum < len(live_dbs) else None
                if live is not value and client.db.shard(key).data.get(key) is not value:
                    continue
                data[key] = entry_of(self.server, dbnum, key, value, expires.get(key))
                usage = getattr(value, "memory_usage", None)
                self.cow_bytes += usage() if usage is not None else sys.getsizeof(value)

    def start(self):
        self.call = self.server.clock.callLater(0, self._step)

    def cancel(self):
        call = self.call
        self.call = None
        self.cancelled = True
        if call is not None and hasattr(call, "active") and call.active():
            call.cancel()

    def _resume(self, result):
        if not self.cancelled:
            self.call = self.server.clock.callLater(0, self._step)

    def _thread_failed(self, failure):
        if not self.cancelled:
            log.failure("Encoding a value for a full sync", failure)
            self.master._sync_failed(self)

    def _step(self):
        self.call = None
        start = time.perf_counter()
        try:
            for waiting in self.steps:
                if waiting is not None:
                    # A big value is being encoded in a thread: go on once it is.
                    self.longest_step = max(self.longest_step, time.perf_counter() - start)
                    self.call = waiting
                    waiting.addCallbacks(self._resume, self._thread_failed)
                    return
                if time.perf_counter() - start > SLICE_SECONDS:
                    break
            else:
                self.longest_step = max(self.longest_step, time.perf_counter() - start)
                self.master._sync_done(self)
                return
        except Exception:
            log.failure("Writing the RDB for a full sync")
            self.master._sync_failed(self)
            return
        self.longest_step = max(self.longest_step, time.perf_counter() - start)
        self.call = self.server.clock.callLater(0, self._step)

    def _generate(self):
        """Write the RDB, yielding every 64 keys so L{_step} can check the time."""
        server = self.server
        yield from write_snapshot(server, self.snap, self.buffer, self.now_ms, lambda w: w.redis_aux(
            self.now_ms // 1000, server.used_memory(),
            (("repl-stream-db", 0), ("repl-id", server.replid), ("repl-offset", self.offset))))
        self.seconds = time.perf_counter() - self.started


def own_shard(s):
    """Give snapshot entry C{s} its own copy of its shard's dicts if it still shares the live ones; the bytes copied."""
    if s[3] is None:
        return 0
    s[3] = None
    s[0] = s[0].copy()
    s[1] = s[1].copy()
    return sys.getsizeof(s[0]) + sys.getsizeof(s[1])


def write_snapshot(server, snap, out, now, aux, inline=False):
    """Write the copy-on-write snapshot C{snap} to C{out} as an RDB file; return the key count.

    The one writer of snapshots: full syncs (L{FullSync}), BGSAVE and the
    AOF rewrite's base.  A generator: it yields every 64 keys so its caller
    can spread the work over reactor turns, and yields a Deferred while a
    big collection (L{BIG_VALUE} elements or more) is encoded in the thread
    pool, unless C{inline}.  C{aux(writer)} writes the AUX fields.  Each
    shard's entry is marked done (C{s[2]}) and freed once written.
    """
    from sonic.rdb import Entry
    from sonic.rdb.keyspace import entry_of
    from sonic.rdb.writer import RdbWriter, encode_object
    config = server.config
    writer = RdbWriter(out, compress=config.rdbcompression,
                       checksum=config.rdbchecksum, list_fill=config.list_max_listpack_size)
    writer.header()
    aux(writer)
    functions = getattr(server, "functions", None)
    if functions is not None:
        # FUNCTION2 records come after the AUX fields, as in Redis' files.
        writer.buf += functions.rdb_records(writer.compress)
    n = 0
    for dbnum, shards in enumerate(snap):
        size = sum(len(s[0]) for s in shards)
        if not size:
            for s in shards:
                s[2] = True
                s[0] = s[1] = s[3] = None
            continue
        writer.select_db(dbnum, size, sum(len(s[1]) for s in shards))
        for s in shards:
            own_shard(s)  # the walk below yields to the reactor: the live dicts may change
            data, expires = s[0], s[1]
            for key, value in data.items():
                deadline = expires.get(key) if expires else None
                if deadline is not None and deadline < now:
                    continue
                if type(value) is bytes:
                    writer.string(key, value, deadline)
                else:
                    entry = value if type(value) is Entry else entry_of(
                        server, dbnum, key, value, deadline)
                    if entry.kind != "string" and len(entry.value) >= BIG_VALUE and not inline:
                        # The entry is a private copy: encode it off the reactor.
                        done = []
                        d = _in_thread(server, encode_object, entry.kind, entry.value,
                                       entry.encoding, writer.compress, writer.list_fill)
                        d.addCallback(done.append)
                        yield d
                        _write_encoded(writer, entry, *done[0])
                    else:
                        writer.entry(entry)
                n += 1
                if not n & 63:
                    writer.flush()
                    yield
            s[2] = True
            s[0] = s[1] = s[3] = None
    writer.finish()
    return n


def _in_thread(server, f, *args):
    """Run C{f(*args)} in the reactor's thread pool (or the store's runner, in tests); a Deferred."""
    run = server.store._run_in_thread
    if run is None:
        from twisted.internet import reactor
        from twisted.internet.threads import deferToThreadPool
        return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args)
    if run is False:
        from twisted.internet.defer import maybeDeferred
        return maybeDeferred(f, *args)
    return run(f, *args)


def _write_encoded(writer, entry, type_byte, body):
    """What L{RdbWriter.entry} writes for a collection, with its body encoded already."""
    from sonic.rdb.writer import encode_string
    buf = writer.buf
    if entry.expire_ms is not None:
        buf += b"\xfc" + struct.pack("<q", entry.expire_ms)
    buf.append(type_byte)
    buf += encode_string(entry.key, writer.compress)
    buf += body
    writer.keys += 1
    writer.flush()


#: Stored value types never changed in place (a write replaces them).
_IMMUTABLE = (bytes, Compressed)


class _Sink(object):
    """The RDB writer's file in diskless mode: bytes go to the replicas as they come."""

    def __init__(self, sync):
        self.sync = sync

    def write(self, data):
        sync = self.sync
        if not sync.streamed:
            for link in sync.links:
                link.state = "send_bulk"
                link.write(b"$EOF:%s\r\n" % sync.mark)
        sync.streamed += len(data)
        data = bytes(data)
        for link in sync.links:
            link.bulk_size += len(data)
            link.write(data)

    def flush(self):
        pass


class ReplicationMaster(object):
    """The master side of one server; see the module docstring."""

    def __init__(self, server):
        self.server = server
        server.repl_master = self
        if getattr(server, "replid", None) is None:
            server.replid = server.run_id
        if getattr(server, "repl_offset", None) is None:
            server.repl_offset = 0
        if getattr(server, "replid2", None) is None:
            server.replid2 = "0" * 40
        if getattr(server, "second_repl_offset", None) is None:
            server.second_repl_offset = -1
        self.replicas = []
        self.backlog = None
        self.syncs = []
        self.waits = []
        self.ping_call = None
        self.cron_loops = 0
        self.net_output = 0     # bytes sent to replicas (INFO total_net_repl_output_bytes)
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0
        self.last_sync = None   # the last FullSync, for measurements
        server.disconnect_hooks.append(self.client_gone)
        server.config.on_change("repl-backlog-size", self._resize)
        self._schedule_ping()

    # -- history ---------------------------------------------------------------

    def ensure_backlog(self):
        """Create the backlog and the propagator if they do not exist yet."""
        server = self.server
        if self.backlog is not None:
            return
        if server.master_host is None and not self.replicas:
            # Nothing of the past was recorded: a new history (Redis does the same).
            server.replid = os.urandom(20).hex()
            server.replid2 = "0" * 40
            server.second_repl_offset = -1
        self.backlog = Backlog(server.config.repl_backlog_size, server.repl_offset + 1)
        prop = server.propagator
        if prop is None:
            prop = server.propagator = Propagator(server)
        prop.listeners.append(self.feed)
        self._schedule_ping()

    def _resize(self, size):
        if self.backlog is not None:
            self.backlog.resize(size)

    def feed(self, data):
        """A unit of our own write stream: count it, keep it, send it."""
        server = self.server
        server.repl_offset += len(data)
        self.backlog.append(data)
        for link in self.replicas:
            link.send(data)

    def proxy(self, data):
        """Bytes of our master's stream just applied (we are a replica): pass them on unchanged.

        The replica side has already advanced C{server.repl_offset}.  The
        backlog is created with the first bytes, as a Redis replica keeps
        one whether or not it has replicas: after a failover its former
        siblings can continue from it with PSYNC.
        """
        if self.backlog is None:
            self.ensure_backlog()
            self.backlog.first -= len(data)  # these bytes are counted already
        self.backlog.append(data)
        for link in self.replicas:
            link.send(data)

    def upstream_full_resync(self, replid, offset):
        """Our master made us resync from scratch: our replicas' history is void."""
        self.drop_replicas()
        if self.backlog is not None:
            self.backlog = Backlog(self.server.config.repl_backlog_size, offset + 1)
        if self.server.propagator is not None:
            self.server.propagator.seldb = -1

    def promoted(self):
        """REPLICAOF NO ONE: our own stream starts; its first op selects its db.

        As Redis does, our replicas are disconnected so that they learn the
        new replid: they come back with PSYNC on the old one (our replid2)
        and continue.
        """
        self.drop_replicas()
        if self.server.propagator is not None:
            self.server.propagator.seldb = -1
        self._schedule_ping()

    def drop_replicas(self):
        """Disconnect every replica."""
        for link in list(self.replicas):
            link.client.close()
            transport = getattr(link.client, "transport", None)
            if transport is not None:
                transport.loseConnection()
        self.replicas = []
        for sync in self.syncs:
            sync.cancel()
        self.syncs = []
        self._update_cow()

    # -- SYNC / PSYNC ------------------------------------------------------------

    def sync(self, client, replid=None, offset=None, psync=True):
        """SYNC or PSYNC: the reply (raw bytes) and, for a full sync, the RDB to follow."""
        server = self.server
        client.flags = "S"
        client.repl_psync = psync
        if psync and self._can_continue(replid, offset):
            self.ensure_backlog()
            link = ReplicaLink(self, client, "online")
            link.ack_offset = offset - 1
            self.replicas.append(link)
            self.sync_partial_ok += 1
            head = b"+CONTINUE %s\r\n" % server.replid.encode()
            return Raw(head + self.backlog.since(offset))
        if psync and replid != "?":
            self.sync_partial_err += 1
        self.ensure_backlog()
        self.sync_full += 1
        offset = server.repl_offset
        link = ReplicaLink(self, client, "wait_bgsave")
        self.replicas.append(link)
        eof = bool(server.config.repl_diskless_sync and psync
                   and b"eof" in (getattr(client, "repl_capa", None) or ()))
        for sync in self.syncs:
            if sync.offset == offset and sync.eof == eof and not sync.streamed:
                # Nothing was written since that snapshot began: share it
                # (Redis attaches a replica to a BGSAVE in progress likewise).
                sync.links.append(link)
                break
        else:
            # The stream after the snapshot starts with a SELECT (Redis' slaveseldb = -1).
            server.propagator.seldb = -1
            sync = FullSync(self, offset, eof)
            sync.links.append(link)
            self.syncs.append(sync)
            self._update_cow()
            sync.start()
        self.last_sync = sync
        if psync:
            return Raw(b"+FULLRESYNC %s %d\r\n" % (server.replid.encode(), offset))
        return Raw(b"")

    def _can_continue(self, replid, offset):
        server = self.server
        if self.backlog is None or replid is None or offset is None:
            return False
        if replid == server.replid:
            pass
        elif replid == server.replid2 and offset <= server.second_repl_offset:
            pass
        else:
            return False
        return self.backlog.has(offset)

    def _update_cow(self):
        prop = self.server.propagator
        if prop is None:
            return
        syncs = list(self.syncs)
        # A BGSAVE's or an AOF rewrite's snapshot (sonic.persistence) needs the hook too.
        for job in (getattr(getattr(self.server, "snapshots", None), "bgsave_job", None),
                    getattr(getattr(self.server, "aof", None), "rewrite", None)):
            if job is not None:
                syncs.append(job)
        if not syncs:
            prop.cow = None
        elif len(syncs) == 1:
            prop.cow = syncs[0].cow
        else:
            def cow(client, spec, argv):
                for sync in syncs:
                    sync.cow(client, spec, argv)
            prop.cow = cow

    def _sync_done(self, sync):
        if sync in self.syncs:
            self.syncs.remove(sync)
        self._update_cow()
        if sync.eof:
            # The replica reads up to the mark, then loads; as Redis does,
            # the stream starts after its first ACK (send_bulk -> online),
            # so no command bytes follow the mark in the same read.
            for link in sync.links:
                if link in self.replicas:
                    link.write(sync.mark)
            sync.buffer = None
            self.refresh_good()
            return
        payload = sync.buffer.getvalue()
        sync.buffer = None
        for link in sync.links:
            if link not in self.replicas:
                continue
            link.state = "send_bulk"
            link.bulk_size = len(payload)
            link.write(b"$%d\r\n" % len(payload))
            link.write(payload)
            link.online()
        self.refresh_good()

    def _sync_failed(self, sync):
        if sync in self.syncs:
            self.syncs.remove(sync)
        self._update_cow()
        for link in sync.links:
            link.client.close()

    def output_limit(self):
        """The hard limit (bytes) of client-output-buffer-limit's replica class; 0 = none."""
        words = str(self.server.config.client_output_buffer_limit).split()
        try:
            for i in range(0, len(words) - 3, 4):
                if words[i].lower() in ("slave", "replica"):
                    return _parse_memory(words[i + 1])
        except ValueError:
            pass
        return 0

    def disconnect(self, link):
        """Drop one replica's connection."""
        if link in self.replicas:
            self.replicas.remove(link)
        link.client.close()
        transport = getattr(link.client, "transport", None)
        if transport is not None:
            transport.loseConnection()

    # -- REPLCONF, ACKs, WAIT ------------------------------------------------------

    def link_of(self, client):
        for link in self.replicas:
            if link.client is client:
                return link
        return None

    def ack(self, client, offset):
        """REPLCONF ACK <offset> from a replica."""
        link = self.link_of(client)
        if link is None:
            return
        if offset > link.ack_offset:
            link.ack_offset = offset
        link.ack_time = self.server.clock.seconds()
        if link.state == "send_bulk":
            link.online()
        if self.server.min_replicas_refuse:
            self.refresh_good()
        if self.waits:
            self._check_waits()

    def acked(self, offset):
        """How many replicas acknowledged at least C{offset}."""
        return sum(1 for link in self.replicas if link.ack_offset >= offset)

    def wait(self, client, numreplicas, timeout_ms):
        """WAIT: the count now, or BLOCKED until enough replicas acknowledge or the timeout."""
        server = self.server
        target = getattr(client, "repl_woff", 0)
        count = self.acked(target)
        if count >= numreplicas or client.multi is not None:
            return count
        # CLIENT UNBLOCK answers the count as it was (Redis: as it is then).
        waiter = Waiter(client, None, (), None, count, "wait")
        waiter.serve = (target, numreplicas)
        if timeout_ms:
            waiter.timer = server.clock.callLater(timeout_ms / 1000.0, self._wait_timeout, waiter)
            server.blocking.with_timeout += 1
        client.blocked = waiter
        server.blocked_clients += 1
        self.waits.append(waiter)
        self.getack()
        return BLOCKED

    def getack(self):
        """Ask every replica for its offset (REPLCONF GETACK *, down the stream)."""
        prop = self.server.propagator
        if prop is not None and self.replicas and self.server.master_host is None:
            prop.feed(-1, [b"REPLCONF", b"GETACK", b"*"])

    def _wait_timeout(self, waiter):
        server = self.server
        waiter.timer = None
        server.blocking.with_timeout -= 1
        if waiter in self.waits:
            self.waits.remove(waiter)
        if waiter.client.blocked is waiter:
            target, _ = waiter.serve
            server.blocking.finish(waiter, self.acked(target))

    def _check_waits(self):
        for waiter in list(self.waits):
            if waiter.client.blocked is not waiter:
                self.waits.remove(waiter)
                continue
            target, needed = waiter.serve
            count = self.acked(target)
            if count >= needed:
                self.waits.remove(waiter)
                self.server.blocking.finish(waiter, count)

    # -- time and departures --------------------------------------------------------

    def _schedule_ping(self):
        if self.ping_call is None or not self.ping_call.active():
            self.ping_call = self.server.clock.callLater(1, self._cron)

    def _cron(self):
        """Once a second (Redis' replicationCron): a PING down the stream every
        repl-ping-replica-period seconds (masters only), and the count of good
        replicas for min-replicas-to-write refreshed."""
        self.ping_call = None
        server = self.server
        self.cron_loops += 1
        period = max(1, server.config.repl_ping_replica_period)
        if (not self.cron_loops % period and self.replicas and server.master_host is None
                and server.propagator is not None):
            server.propagator.feed(-1, [b"ping"])
        # Replicas waiting for their RDB get a newline each second, which
        # Redis replicas read as a keepalive (their repl-timeout); PSYNC
        # replicas silent for repl-timeout seconds are dropped (SYNC ones,
        # like redis-cli --replica, never ACK).
        now = server.clock.seconds()
        timeout = server.config.repl_timeout
        for link in list(self.replicas):
            if link.state == "wait_bgsave":
                link.write(b"\n")
            elif (link.state == "online" and getattr(link.client, "repl_psync", False)
                  and now - link.ack_time > timeout):
                log.warn("Disconnecting timedout replica {ip}:{port}", ip=link.ip, port=link.port)
                self.replicas.remove(link)
                link.client.close()
                transport = getattr(link.client, "transport", None)
                if transport is not None:
                    transport.loseConnection()
        self.refresh_good()
        self._schedule_ping()

    def refresh_good(self):
        """Recompute whether min-replicas-to-write refuses writes now."""
        server = self.server
        if server.config.min_replicas_to_write or server.min_replicas_refuse:
            server.update_min_replicas()

    def stop(self):
        """Cancel the timers (server shutdown, tests)."""
        if self.ping_call is not None and self.ping_call.active():
            self.ping_call.cancel()
        self.ping_call = None
        for sync in self.syncs:
            sync.cancel()

    def client_gone(self, client):
        """A connection closed: forget it if it was a replica."""
        link = self.link_of(client)
        if link is None:
            return
        self.replicas.remove(link)
        for sync in list(self.syncs):
            if link in sync.links:
                sync.links.remove(link)
                if not sync.links:
                    sync.cancel()
                    self.syncs.remove(sync)
        self._update_cow()
        self.refresh_good()

    def good_replicas(self):
        """Replicas online whose last ACK is at most min-replicas-max-lag seconds old."""
        now = self.server.clock.seconds()
        lag = self.server.config.min_replicas_max_lag
        return sum(1 for link in self.replicas
                   if link.state == "online" and now - link.ack_time <= lag)


def too_few_replicas(server):
    """Whether min-replicas-to-write refuses writes: fewer good replicas than it asks."""
    config = server.config
    if not (config.min_replicas_to_write and config.min_replicas_max_lag):
        return False
    master = server.repl_master
    good = master.good_replicas() if master is not None else 0
    return good < config.min_replicas_to_write


def install_hooks(server):
    """Give the replica side its hooks into this one (chained replication); done at server start.

    A server that never replicates never calls them, so nothing is created
    until it does.
    """
    def proxy(data):
        get_master(server).proxy(data)

    def full_resync(replid, offset):
        hook = getattr(server.repl_master, "upstream_full_resync", None)
        if hook is not None:
            hook(replid, offset)

    def promoted():
        hook = getattr(server.repl_master, "promoted", None)
        if hook is not None:
            hook()

    server.repl_proxy = proxy
    server.repl_full_resync = full_resync
    server.repl_promoted = promoted


def get_master(server):
    """The server's L{ReplicationMaster}, created on first use."""
    master = server.repl_master
    if master is None:
        master = ReplicationMaster(server)
    return master


def _host(addr):
    if addr.startswith("["):
        return addr[1:addr.rindex("]")]
    return addr.rsplit(":", 1)[0] if ":" in addr else addr


# -- ROLE and INFO --------------------------------------------------------------------

def role_reply(server):
    """ROLE's reply for this server, master or replica."""
    link = getattr(server, "replica_link", None)
    if server.master_host is not None:
        state = getattr(link, "state", "connect") if link is not None else "connect"
        offset = getattr(link, "offset", -1) if link is not None else -1
        return [b"slave", server.master_host.encode() if isinstance(server.master_host, str)
                else server.master_host, int(server.master_port), state.encode(), offset]
    master = server.repl_master
    replicas = []
    if master is not None:
        for r in master.replicas:
            if r.state != "online":
                continue
            replicas.append([r.ip.encode(), b"%d" % r.port, b"%d" % r.ack_offset])
    return [b"master", getattr(server, "repl_offset", 0) or 0, replicas]


def replication_info(server):
    """INFO replication's fields after role and the replica-only ones (Redis' order)."""
    master = server.repl_master
    now = server.clock.seconds()
    out = []
    replicas = master.replicas if master is not None else []
    out.append(("connected_slaves", len(replicas)))
    for i, r in enumerate(replicas):
        out.append(("slave%d" % i, "ip=%s,port=%d,state=%s,offset=%d,lag=%d" % (
            r.ip, r.port, r.state, r.ack_offset, int(now - r.ack_time))))
    backlog = master.backlog if master is not None else None
    replid = getattr(server, "replid", None) or server.run_id
    out += [
        ("master_failover_state", "no-failover"),
        ("master_replid", replid),
        ("master_replid2", getattr(server, "replid2", None) or "0" * 40),
        ("master_repl_offset", getattr(server, "repl_offset", 0) or 0),
        ("second_repl_offset", getattr(server, "second_repl_offset", -1)),
        ("repl_backlog_active", 1 if backlog is not None else 0),
        ("repl_backlog_size", server.config.repl_backlog_size),
        ("repl_backlog_first_byte_offset", backlog.first if backlog is not None else 0),
        ("repl_backlog_histlen", backlog.histlen if backlog is not None else 0),
    ]
    return out

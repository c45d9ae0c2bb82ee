"""The append-only file, in Redis 7.0's multi-part layout.

Layout (C{appenddirname}, default C{appendonlydir}, under C{dir}), the same
files redis-server 7.0 writes, so either server starts from the other's
directory and C{redis-check-aof dir/appendonly.aof.manifest} accepts ours:

  - C{appendonly.aof.manifest}: one line per file,
    C{file appendonly.aof.1.base.rdb seq 1 type b} (the base) and
    C{file appendonly.aof.1.incr.aof seq 1 type i} (incremental files, in
    order).  Written to a temp file, fsynced and renamed.
  - the base: an RDB file (C{aof-use-rdb-preamble yes}, the default; AUX
    C{aof-base 1}) or commands (C{.base.aof}).
  - incremental files: the write stream as Redis 7.0 propagates it
    (L{sonic.replication.propagate}: SELECT, rewritten commands, MULTI/EXEC
    units); this module is one of the propagator's listeners.

Durability (C{appendfsync}):
  - C{always}: the units of a reactor turn are written and fdatasync'ed
    at the end of the turn, and every reply of that turn is held until
    then (group commit, as Redis holds replies until beforeSleep's
    flushAppendOnlyFile): no write is acknowledged before it is on disk.
  - C{everysec}: each unit is written (os.write, into the page cache)
    before the reply; once a second, if something was written, fdatasync
    runs in the reactor's thread pool (Redis' bio thread), never in the
    reactor.  A process crash loses nothing; a machine crash at most ~1 s.
  - C{no}: written, the OS flushes when it likes.

Rewrite (BGREWRITEAOF, automatic with auto-aof-rewrite-percentage/min-size,
CONFIG SET appendonly yes): in one reactor turn a new incremental file is
opened (the manifest lists it at once, after the old ones) and the keyspace
is snapshotted with the replication master's copy-on-write machinery
(L{sonic.replication.master.FullSync}: shallow dict copies, copy-on-write
per key for collections changed in place); the base is then written in
~20 ms slices, fsynced in a thread, renamed, and the manifest is replaced
by (new base, new incr); the old files are deleted.  Writes arriving
meanwhile go to the new incr file, so nothing is lost and nothing is
applied twice.

Loading: the base (RDB through L{sonic.rdb.reader}, or commands), then the
incr files, replayed through the dispatcher by an internal client.  A
command cut short at the end of the last file (a crash mid-write) is
logged and the file truncated to the last whole command, as
C{aof-load-truncated yes} does (a MULTI without its EXEC at the end is
dropped likewise); any other damage raises L{AofError} naming the file and
the offset, and start-up stops.
"""

import os
import time

from twisted.application import service
from twisted.logger import Logger

from sonic.replication.master import FullSync, _in_thread, own_shard, write_snapshot

__all__ = ["AofError", "Manifest", "AppendOnly", "AofService", "parse_commands"]

log = Logger(namespace="sonic")


class AofError(Exception):
    """The AOF cannot be loaded (or written); C{str()} says which file and where."""


# -- manifest ---------------------------------------------------------------------


class Manifest(object):
    """The parsed manifest: the base file, the incr files, history files.

    @ivar base: (name, seq, is_rdb) or None.
    @ivar incrs: [(name, seq)] in order.
    @ivar history: names of files to delete.
    """

    def __init__(self, base=None, incrs=(), history=()):
        self.base = base
        self.incrs = list(incrs)
        self.history = list(history)

    @classmethod
    def parse(cls, text, name="appendonly.aof.manifest"):
        """A L{Manifest} from the file's text; L{AofError} if malformed."""
        m = cls()
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            words = line.split()
            if len(words) % 2:
                raise AofError("Invalid AOF manifest file format (%s line %d)" % (name, lineno))
            fields = dict(zip(words[::2], words[1::2]))
            try:
                fname, seq, kind = fields["file"], int(fields["seq"]), fields["type"]
            except (KeyError, ValueError):
                raise AofError("Invalid AOF manifest file format (%s line %d)" % (name, lineno))
            if kind == "b":
                if m.base is not None:
                    raise AofError("Found duplicate base file information (%s line %d)"
                                   % (name, lineno))
                m.base = (fname, seq, fname.endswith(".rdb"))
            elif kind == "i":
                m.incrs.append((fname, seq))
            elif kind == "h":
                m.history.append(fname)
            else:
                raise AofError("Unknown AOF file type '%s' (%s line %d)" % (kind, name, lineno))
        return m

    def dump(self):
        """The manifest's text, as Redis 7.0 writes it."""
        lines = []
        if self.base is not None:
            lines.append("file %s seq %d type b\n" % (self.base[0], self.base[1]))
        for fname in self.history:
            lines.append("file %s seq 0 type h\n" % fname)
        for fname, seq in self.incrs:
            lines.append("file %s seq %d type i\n" % (fname, seq))
        return "".join(lines)

    def files(self):
        """The names to load, in order: base then incrs."""
        out = [self.base[0]] if self.base is not None else []
        return out + [f for f, _ in self.incrs]


# -- parsing commands ----------------------------------------------------------------


class _Short(Exception):
    def __init__(self, offset):
        self.offset = offset


class _Bad(Exception):
    def __init__(self, offset, what):
        self.offset = offset
        self.what = what


def _line(buf, pos):
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        if len(buf) - pos > 32:
            raise _Bad(pos, "line too long")
        raise _Short(pos)
    return buf[pos + 1:nl], nl + 2


def parse_commands(buf, pos=0):
    """Yield (argv, start offset, end offset) for each command of AOF text C{buf}.

    Raises L{_Short} (with the start of the cut command) when the data ends
    inside a command, L{_Bad} (offset, reason) on anything else malformed.
    Annotation lines (C{#...}) are skipped as Redis skips them.
    """
    n = len(buf)
    while pos < n:
        start = pos
        c = buf[pos]
        if c == 0x23:  # '#'
            nl = buf.find(b"\n", pos)
            if nl < 0:
                raise _Short(start)
            pos = nl + 1
            continue
        if c != 0x2a:  # '*'
            raise _Bad(pos, "expected '*'")
        word, pos = _line(buf, pos)
        try:
            argc = int(word)
        except ValueError:
            raise _Bad(start, "bad argument count")
        if argc < 1:
            raise _Bad(start, "bad argument count")
        argv = []
        for _ in range(argc):
            if pos >= n:
                raise _Short(start)
            if buf[pos] != 0x24:  # '$'
                raise _Bad(pos, "expected '$'")
            word, pos = _line(buf, pos)
            try:
                size = int(word)
            except ValueError:
                raise _Bad(pos, "bad bulk length")
            if size < 0:
                raise _Bad(pos, "bad bulk length")
            if pos + size + 2 > n:
                raise _Short(start)
            if buf[pos + size:pos + size + 2] != b"\r\n":
                raise _Bad(pos + size, "expected CRLF after a bulk string")
            argv.append(bytes(buf[pos:pos + size]))
            pos += size + 2
        yield argv, start, pos


# -- the base file writer -------------------------------------------------------------


class _BaseSnapshot(FullSync):
    """The replication master's copy-on-write snapshot, written as an AOF base RDB."""

    def __init__(self, aof, fileobj):
        FullSync.__init__(self, aof, 0, eof=False)
        self.buffer = fileobj
        #: Encode big values on the spot (a base written at once, not in slices).
        self.inline = False
        self.keys = 0

    def _generate(self):
        """Write the base in RDB form (an C{aof-base} AUX field marks it), as a full sync does."""
        from sonic.rdb.writer import REDIS_VER
        server = self.server
        now = self.now_ms

        def aux(writer):
            writer.aux("redis-ver", REDIS_VER)
            writer.aux("redis-bits", 64)
            writer.aux("ctime", now // 1000)
            writer.aux("used-mem", int(server.used_memory()))
            writer.aux("aof-base", 1)
        self.keys = yield from write_snapshot(server, self.snap, self.buffer, now, aux, inline=self.inline)
        self.seconds = time.perf_counter() - self.started


def _aof_form(server, snap, now):
    """The snapshot as commands (aof-use-rdb-preamble no): yields RESP chunks."""
    from sonic.rdb import Entry
    from sonic.rdb.keyspace import entry_of
    from sonic.replication.propagate import encode_command
    functions = getattr(server, "functions", None)
    if functions is not None:
        # The function libraries first, as Redis' rewriteFunctions writes them.
        for lib in list(functions.libraries.values()):
            yield encode_command([b"FUNCTION", b"LOAD", lib.code])
    for dbnum, shards in enumerate(snap):
        if not any(s[0] for s in shards):
            continue
        yield encode_command([b"SELECT", b"%d" % dbnum])
        for s in shards:
            own_shard(s)  # the walk yields: the live dicts may change meanwhile
            for key, value in s[0].items():
                deadline = s[1].get(key) if s[1] else None
                if deadline is not None and deadline < now:
                    continue
                e = value if type(value) is Entry else entry_of(server, dbnum, key, value, deadline)
                for argv in _entry_commands(e):
                    yield encode_command(argv)
                if e.expire_ms is not None:
                    yield encode_command([b"PEXPIREAT", key, b"%d" % e.expire_ms])


def _chunks(items, size=64):
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _entry_commands(e):
    """Commands recreating an entry (Redis' rewriteAppendOnlyFile forms)."""
    from sonic.rdb.writer import d2string
    key, v = e.key, e.value
    if e.kind == "string":
        return [[b"SET", key, v]]
    if e.kind == "list":
        return [[b"RPUSH", key] + c for c in _chunks(v)]
    if e.kind == "set":
        return [[b"SADD", key] + c for c in _chunks(v)]
    if e.kind == "hash":
        pairs = list(v.items()) if isinstance(v, dict) else list(v)
        return [[b"HMSET", key] + [w for p in c for w in p] for c in _chunks(pairs)]
    if e.kind == "zset":
        pairs = list(v.items()) if isinstance(v, dict) else list(v)
        return [[b"ZADD", key] + [w for m, s in c for w in (d2string(s), m)]
                for c in _chunks(pairs)]
    raise AofError("cannot rewrite a %s key" % e.kind)


# -- the AOF ---------------------------------------------------------------------------


class AppendOnly(object):
    """The append-only file of one server (C{server.aof}); see the module docstring.

    @ivar fsync: the fsync function (C{os.fdatasync}; tests inject a counter).
    """

    def __init__(self, server, fsync=None):
        self.server = server
        self.config = server.config
        self.fsync = fsync or getattr(os, "fdatasync", os.fsync)
        self.fd = None              # the open incr file
        self.manifest = None
        self.base_seq = 0
        self.incr_seq = 0
        self.loaded = None          # keys loaded, once load() ran
        self.loading = None         # the Deferred of a background load running now
        self.current_size = 0       # base + incr bytes (aof_current_size)
        self.base_size = 0          # current_size right after the last rewrite
        self.dirty = False          # written but not fsynced
        self.buf = []               # everysec/no: units of this reactor turn
        self.buf_size = 0
        self.flush_call = None
        self.fsync_in_progress = False
        self.rewrite = None         # the _BaseSnapshot being written
        self.rewrite_started = None
        self.rewrite_scheduled = False
        self.last_rewrite_time = -1
        self.last_rewrite_status = "ok"
        self.rewrites = 0
        self.last_cow_size = 0      # INFO aof_last_cow_size (FullSync.cow_bytes of the last rewrite)
        self.consecutive_failures = 0
        self.last_write_status = "ok"
        self.write = os.write          # injectable, as fsync (tests simulate a full disk)
        self.write_error = None        # the reason of a failed write, until a retry succeeds
        self.pending = b""             # bytes a failed write left, written by the cron
        self.fsyncs = 0
        self.cron_call = None
        self._turning_on = False
        server.config.on_change("appendonly", self._appendonly_changed)

    # -- paths ---------------------------------------------------------------

    @property
    def dirname(self):
        return self.config.appenddirname

    def path(self, name):
        return os.path.join(self.dirname, name)

    @property
    def manifest_name(self):
        return self.config.appendfilename + ".manifest"

    def _base_name(self, seq, rdb):
        return "%s.%d.base.%s" % (self.config.appendfilename, seq, "rdb" if rdb else "aof")

    def _incr_name(self, seq):
        return "%s.%d.incr.aof" % (self.config.appendfilename, seq)

    # -- loading ---------------------------------------------------------------

    def load(self):
        """Load the AOF directory into the server at once; return the keys loaded.

        Runs once (later calls return the first result).  No manifest:
        nothing to load (0).  Raises L{AofError} on a corrupt file.  Used
        where no reactor runs yet (tests, replicas); start-up under a
        running reactor uses L{load_in_background}.
        """
        if self.loaded is not None:
            return self.loaded
        for step in self._load_steps(background=False):
            pass
        return self.loaded

    def load_in_background(self, step_seconds=0.02, clock=None):
        """Load the AOF in slices of the reactor's time while clients get -LOADING.

        Returns a Deferred firing with the number of keys loaded (or failing
        with L{AofError}).  Meanwhile C{server.loading} is set, so every
        client gets Redis' C{-LOADING} and INFO shows C{loading:1} with the
        progress; an RDB base is parsed in the thread pool and swapped in,
        then the incr files are replayed by an internal client C{step_seconds}
        at a time, one reactor turn after another (Redis' processEventsWhileBlocked
        while loading).  C{self.loading} holds the Deferred until it fires,
        so the AOF opens for appending only after the load (L{AofService}).
        """
        from twisted.internet import defer
        d = defer.Deferred()
        server = self.server
        if self.loaded is not None:
            return defer.succeed(self.loaded)
        steps = self._load_steps(background=True)
        clock = clock or server.clock
        perf = time.perf_counter
        self.loading = d
        # -LOADING from now on (the first slice runs on the next turn).
        server.loading = True
        server.loading_progress = (time.time(), 0, [0])
        server.update_guards()
        from sonic.persistence.snapshot import log_loading_progress
        log_loading_progress(server)

        def finish():
            self.loading = None
            server.loading = False
            server.loading_progress = None
            server.update_guards()

        def resume(_=None):
            deadline = perf() + step_seconds
            try:
                while True:
                    step = next(steps)
                    if isinstance(step, defer.Deferred):
                        step.addCallbacks(lambda _: clock.callLater(0, resume), failed)
                        return
                    if perf() >= deadline:
                        clock.callLater(0, resume)
                        return
            except StopIteration:
                finish()
                d.callback(self.loaded)
            except Exception:
                failed(None)

        def failed(failure):
            from twisted.python.failure import Failure
            finish()
            d.errback(failure if failure is not None else Failure())

        clock.callLater(0, resume)
        return d

    def _load_steps(self, background):
        """The loading work as a generator: yields None between slices, or a Deferred to wait for."""
        self.loaded = 0
        mpath = self.path(self.manifest_name)
        self.upgrade_old_style()
        if not os.path.exists(mpath):
            return
        with open(mpath, "r") as f:
            manifest = Manifest.parse(f.read(), self.manifest_name)
        self.manifest = manifest
        if manifest.base is not None:
            self.base_seq = manifest.base[1]
        self.incr_seq = max([s for _, s in manifest.incrs] or [0])
        names = manifest.files()
        paths = [self.path(name) for name in names]
        server = self.server
        progress = [0]
        if background:
            total = 0
            for path in paths:
                try:
                    total += os.path.getsize(path)
                except OSError:
                    pass
            server.loading = True
            server.loading_progress = (time.time(), total, progress)
            server.update_guards()
            log.info("Loading the append only file ({size} bytes) in the background;"
                     " clients get -LOADING meanwhile", size=total)
        started = time.time()
        total = 0
        client = None
        for i, path in enumerate(paths):
            try:
                with open(path, "rb") as f:
                    buf = f.read()
            except OSError as e:
                raise AofError("Can't open the append-only file %s: %s" % (path, e.strerror))
            total += len(buf)
            if buf[:5] == b"REDIS":
                if i != 0:
                    raise AofError("Bad file format reading the append only file %s at offset 0:"
                                   " an RDB file in an incr position" % path)
                if background:
                    yield self._load_rdb_in_thread(path, buf)
                else:
                    self._load_rdb(path, buf)
                progress[0] += len(buf)
                continue
            if client is None:
                from sonic.dispatch import Client
                client = Client(self.server)
                client.authenticated = True
                # Like the replication link's client, the loader passes the
                # -LOADING gate (sonic.dispatch.check_state).
                client.flags = "M"
            base = progress[0]
            for done in self._replay(client, path, buf, last=(i == len(names) - 1)):
                progress[0] = base + done
                yield None
            progress[0] = base + len(buf)
        self.current_size = self.base_size = total
        self.loaded = sum(len(db) for db in self.server.store.dbs)
        log.info("DB loaded from append only file: {s:.3f} seconds", s=time.time() - started)

    def exists(self):
        """Whether there is an AOF to load: the directory, or a pre-7.0 single file."""
        return (os.path.isdir(self.dirname)
                or os.path.isfile(self.config.appendfilename))

    def upgrade_old_style(self):
        """A pre-7.0 C{appendonly.aof} in C{dir} and no manifest: make it the base of a new directory.

        As Redis 7.0's aofUpgradePrepare: the manifest (the old file as the
        base, seq 1) is written first, then the file is moved into the
        directory, so a crash in between leaves a state either server loads.
        """
        old = self.config.appendfilename
        mpath = self.path(self.manifest_name)
        if os.path.exists(mpath) or not os.path.isfile(old):
            return False
        os.makedirs(self.dirname, exist_ok=True)
        with open(old, "rb") as f:
            rdb = f.read(5) == b"REDIS"
        self._write_manifest(Manifest((old, 1, rdb), []))
        os.replace(old, self.path(old))
        _fsync_dir(self.dirname)
        log.info("Successfully migrated an old-style AOF into the AOF directory")
        return True

    def _load_rdb(self, path, buf):
        import io
        from sonic.rdb import RdbError
        from sonic.rdb.keyspace import load_entries
        from sonic.rdb.reader import iter_rdb
        try:
            now_ms = int(self.server.clock.seconds() * 1000)
            load_entries(self.server, iter_rdb(io.BytesIO(buf), skip_unsupported=False), now_ms)
        except RdbError as e:
            raise AofError("Bad file format reading the append only file %s: %s" % (path, e))

    def _load_rdb_in_thread(self, path, buf):
        """Parse an RDB base in the thread pool, install it on the reactor; a Deferred."""
        import io
        from sonic.rdb import RdbError
        from sonic.rdb.keyspace import build_keyspace, install_keyspace
        from sonic.rdb.reader import iter_rdb
        server = self.server
        now_ms = int(server.clock.seconds() * 1000)

        def build():
            return build_keyspace(server, iter_rdb(io.BytesIO(buf), skip_unsupported=False), now_ms)

        def failed(failure):
            if failure.check(RdbError):
                raise AofError("Bad file format reading the append only file %s: %s"
                               % (path, failure.value))
            return failure

        d = _in_thread(server, build)
        d.addCallbacks(lambda built: install_keyspace(server, built), failed)
        return d

    def _replay(self, client, path, buf, last):
        """Replay the commands of C{buf}: a generator yielding the bytes done every 1024 commands."""
        from sonic.dispatch import execute
        from sonic.errors import CommandError
        from sonic.registry import lookup
        multi_start = None
        good = 0
        count = 0
        try:
            for argv, start, end in parse_commands(buf):
                name = argv[0].lower()
                if lookup(argv[0]) is None:
                    raise AofError("Unknown command '%s' reading the append only file %s"
                                   " at offset %d" % (argv[0].decode("utf-8", "replace"), path,
                                                      start))
                if name == b"multi":
                    multi_start = start
                try:
                    execute(client, argv)
                except CommandError:
                    pass  # Redis ignores replies (errors included) while loading
                if name in (b"exec", b"discard"):
                    multi_start = None
                if multi_start is None:
                    good = end
                count += 1
                if not count & 1023:
                    yield end
        except _Bad as e:
            raise AofError("Bad file format reading the append only file %s at offset %d (%s):"
                           " make a backup of your AOF file, then use"
                           " ./redis-check-aof --fix <filename.manifest>" % (path, e.offset, e.what))
        except _Short:
            if not last:
                raise AofError("Unexpected end of file reading the append only file %s"
                               " (not the last file) at offset %d" % (path, good))
            if not self.config.aof_load_truncated:
                raise AofError("Unexpected end of file reading the append only file %s at offset"
                               " %d. You can: 1) Make a backup of your AOF file, then use"
                               " ./redis-check-aof --fix <filename.manifest>. 2) Alternatively"
                               " you can set the 'aof-load-truncated' configuration option to"
                               " yes and restart the server." % (path, good))
            log.warn("!!! Warning: short read while loading the AOF file {path}!!!", path=path)
            log.warn("!!! Truncating the AOF {path} at offset {off} !!!", path=path, off=good)
            self._truncate(client, path, good)
            return
        if multi_start is not None:
            # A MULTI with no EXEC at the end: Redis reverts it.
            log.warn("Revert incomplete MULTI/EXEC transaction in AOF file {path}", path=path)
            if not last or not self.config.aof_load_truncated:
                raise AofError("Unexpected end of file reading the append only file %s at offset"
                               " %d (MULTI without EXEC)" % (path, good))
            self._truncate(client, path, good)

    def _truncate(self, client, path, offset):
        if client.multi is not None:
            client.multi = None
        with open(path, "r+b") as f:
            f.truncate(offset)
            f.flush()
            os.fsync(f.fileno())
        log.warn("AOF {path} loaded anyway because aof-load-truncated is enabled", path=path)

    # -- opening / writing -----------------------------------------------------------

    @property
    def enabled(self):
        return self.fd is not None or self._turning_on

    def open(self):
        """Start appending (start-up with appendonly yes, after L{load})."""
        if self.fd is not None:
            return
        self.load()
        m = self.manifest
        if m is not None and m.incrs:
            # Go on appending to the last incr file, as Redis does.
            name = m.incrs[-1][0]
            self._open_incr(name)
        elif m is not None:
            self.incr_seq += 1
            name = self._incr_name(self.incr_seq)
            self._open_incr(name)
            m.incrs.append((name, self.incr_seq))
            self._write_manifest(m)
        else:
            # A new AOF: base of the current dataset (empty at start-up), written now.
            os.makedirs(self.dirname, exist_ok=True)
            self.base_seq += 1
            self.incr_seq += 1
            rdb = self.config.aof_use_rdb_preamble
            base = self._base_name(self.base_seq, rdb)
            size = self._write_base_now(self.path(base), rdb)
            name = self._incr_name(self.incr_seq)
            self._open_incr(name)
            self.manifest = Manifest((base, self.base_seq, rdb), [(name, self.incr_seq)])
            self._write_manifest(self.manifest)
            self.current_size = self.base_size = size
        self._attach()
        self._schedule_cron()

    def _write_base_now(self, path, rdb):
        """Write the base of the whole dataset at once (start-up, small); return its size."""
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            snap = _BaseSnapshot(self, f)
            snap.inline = True
            if rdb:
                for _ in snap.steps:
                    pass
            else:
                for chunk in _aof_form(self.server, snap.snap, snap.now_ms):
                    f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
            size = f.tell()
        os.replace(tmp, path)
        return size

    def _open_incr(self, name):
        os.makedirs(self.dirname, exist_ok=True)
        self.fd = os.open(self.path(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        prop = self.server.propagator
        if prop is not None:
            prop.aof_seldb = -1  # each incr file starts with its SELECT

    def _attach(self):
        from sonic.replication.propagate import Propagator
        server = self.server
        prop = server.propagator
        if prop is None:
            prop = server.propagator = Propagator(server)
        if self.feed not in prop.listeners:
            prop.listeners.append(self.feed)
        prop.aof_seldb = -1

    def _detach(self):
        prop = self.server.propagator
        if prop is not None and self.feed in prop.listeners:
            prop.listeners.remove(self.feed)

    def feed(self, data):
        """A unit of the write stream (a propagator listener): buffer it for the end of the turn.

        Every unit of a reactor turn goes out in one write() at the end of
        the turn (as Redis writes its aof_buf in beforeSleep), or at once
        past 1 MB.  With C{always}, the replies of the turn are held
        (C{server.hold_replies}, see L{sonic.protocol}) until that write has
        been fdatasync'ed: one fsync covers every client's writes of the turn
        (Redis' group commit), and no write is acknowledged before it is on
        disk.  With everysec/no the replies go out at once.
        """
        if self.fd is None:
            return
        self.buf.append(data)
        self.buf_size += len(data)
        if self.config.appendfsync == "always":
            self.server.hold_replies = True
        if self.buf_size > 1 << 20:
            self._write_buffer()
        if self.flush_call is None:
            self.flush_call = self.server.clock.callLater(0, self.flush_buffer)

    def flush_buffer(self):
        """The end of the reactor turn: write the buffered units; with always, fsync and release the replies."""
        call, self.flush_call = self.flush_call, None
        if call is not None and call.active():
            call.cancel()
        self._write_buffer()
        server = self.server
        if server.hold_replies:
            if self.fd is not None:
                try:
                    self.fsync(self.fd)
                    self.fsyncs += 1
                except OSError as e:
                    # Redis exits here: acknowledging would lie about durability.
                    log.critical("Can't recover from AOF fsync error when the AOF fsync policy"
                                 " is 'always' ({e}). Exiting...", e=e.strerror)
                    os._exit(1)
            server.release_replies()

    def _write_buffer(self):
        if not self.buf or self.fd is None:
            self.buf = []
            self.buf_size = 0
            return
        data = b"".join(self.buf) if len(self.buf) > 1 else self.buf[0]
        self.buf = []
        self.buf_size = 0
        self._write(data)
        if not self.server.hold_replies:
            self.dirty = True

    def _write(self, data):
        """Append C{data}; on a failed or short write keep the rest for a retry and refuse writes.

        As Redis (flushAppendOnlyFile): nothing is dropped.  What did not
        reach the file stays buffered and is retried by the cron once a
        second; meanwhile write commands (and PING) get C{-MISCONF Errors
        writing to the AOF file: <reason>}.  With C{appendfsync always} an
        acknowledged write cannot be made durable, so the process exits.
        """
        if self.write_error is not None:
            self.pending = self.pending + data  # behind what is still unwritten
            return
        try:
            written = self.write(self.fd, data)
        except OSError as e:
            written = 0
            reason = e.strerror or str(e)
        else:
            reason = "No space left on device"  # a short write: Redis reports ENOSPC too
        self.current_size += written
        if written == len(data):
            return
        self.pending = data[written:]
        self._write_failed(reason)

    def _write_failed(self, reason):
        if self.config.appendfsync == "always":
            log.critical("Can't recover from AOF write error when the AOF fsync policy is"
                         " 'always' ({e}). Exiting...", e=reason)
            os._exit(1)
        if self.write_error is None:
            log.warn("Error writing to the AOF file: {e}", e=reason)
        self.write_error = reason
        self.last_write_status = "err"
        self.server.aof_write_error = reason
        self.server.update_guards()

    def retry_pending(self):
        """The cron: write what a failed write left; writes are accepted again once it is all out."""
        if self.write_error is None or self.fd is None:
            return
        data, self.pending = self.pending, b""
        try:
            written = self.write(self.fd, data)
        except OSError as e:
            written = 0
            self.write_error = e.strerror or str(e)
        self.current_size += written
        if written < len(data):
            self.pending = data[written:]
            self.server.aof_write_error = self.write_error
            return
        log.warn("AOF write error looks solved, Redis can write again.")
        self.write_error = None
        self.last_write_status = "ok"
        self.server.aof_write_error = None
        self.server.update_guards()
        self.dirty = True

    def _write_manifest(self, m):
        os.makedirs(self.dirname, exist_ok=True)
        path = self.path(self.manifest_name)
        tmp = self.path("temp-" + self.manifest_name)
        with open(tmp, "w") as f:
            f.write(m.dump())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.dirname)

    # -- the once-a-second cron ----------------------------------------------------------

    def _schedule_cron(self):
        if self.cron_call is None:
            self.cron_call = self.server.clock.callLater(1, self._cron)

    def _cron(self):
        self.cron_call = None
        if self.fd is None and self.rewrite is None and not self.rewrite_scheduled:
            return
        self._schedule_cron()
        self.retry_pending()
        if (self.dirty and not self.fsync_in_progress and self.fd is not None
                and self.config.appendfsync == "everysec"):
            self.background_fsync()
        if self.rewrite_scheduled and self.rewrite is None and not self.bgsave_active():
            self.rewrite_scheduled = False
            self.start_rewrite()
        self._check_auto_rewrite()

    def background_fsync(self):
        """everysec: fsync the incr file in the thread pool (the reactor never waits for it)."""
        self.dirty = False
        self.fsync_in_progress = True
        fd = self.fd

        def done(_):
            self.fsync_in_progress = False
            self.fsyncs += 1
            if self.server.aof_write_error is not None and self.write_error is None:
                log.warn("AOF fsync error looks solved, Redis can write again.")
                self.last_write_status = "ok"
                self.server.aof_write_error = None
                self.server.update_guards()

        def failed(f):
            self.fsync_in_progress = False
            log.failure("fsync of the AOF", f)
            # Redis' aof_bio_fsync_status: writes are refused until an fsync succeeds.
            self.last_write_status = "err"
            self.server.aof_write_error = getattr(f.value, "strerror", None) or str(f.value)
            self.server.update_guards()
            self.dirty = True  # the cron tries again
        _in_thread(self.server, self.fsync, fd).addCallbacks(done, failed)

    def _check_auto_rewrite(self):
        c = self.config
        pct = c.auto_aof_rewrite_percentage
        if not pct or self.fd is None or self.rewrite is not None or self.bgsave_active():
            return
        if self.current_size < c.auto_aof_rewrite_min_size:
            return
        base = self.base_size or 1
        growth = (self.current_size * 100 // base) - 100
        if growth >= pct:
            log.info("Starting automatic rewriting of AOF on {g}% growth", g=growth)
            self.start_rewrite()

    # -- rewrite ------------------------------------------------------------------

    def start_rewrite(self, turning_on=False):
        """BGREWRITEAOF: open a new incr file and start writing the base; False if one runs.

        With C{turning_on} (CONFIG SET appendonly yes) the new incr file is
        listed in the manifest only when the base is complete (Redis' temp
        incr file); otherwise the manifest lists it at once, after the old
        incr files, so a crash meanwhile loses nothing.
        """
        if self.rewrite is not None:
            return False
        os.makedirs(self.dirname, exist_ok=True)
        self.load_state_if_needed()
        new_incr = None
        if self.fd is not None or turning_on:
            # Writes from now on go to a new incr file.
            self.incr_seq += 1
            new_incr = (self._incr_name(self.incr_seq), self.incr_seq)
            self.flush_buffer()
            old = self.fd
            self.fd = None
            if old is not None:
                self._close_fd(old)
            self._open_incr(new_incr[0])
            if not turning_on:
                m = self.manifest or Manifest()
                m.incrs.append(new_incr)
                self.manifest = m
                self._write_manifest(m)
        rdb = self.config.aof_use_rdb_preamble
        seq = self.base_seq + 1
        base = self._base_name(seq, rdb)
        tmp = self.path("temp-rewriteaof-bg-%d.aof" % os.getpid())
        f = open(tmp, "wb")
        snap = _BaseSnapshot(self, f)
        snap.aof_tmp, snap.aof_base, snap.aof_seq, snap.aof_rdb = tmp, base, seq, rdb
        snap.aof_incr = new_incr
        if not rdb:
            snap.steps = _write_gen(f, _aof_form(self.server, snap.snap, snap.now_ms))
        self.rewrite = snap
        self.rewrite_started = time.time()
        self._install_cow()
        snap.start()
        self._schedule_cron()
        return True

    def load_state_if_needed(self):
        """Read the manifest (seq numbers) if this server never loaded it."""
        if self.manifest is None and self.loaded is None:
            mpath = self.path(self.manifest_name)
            if os.path.exists(mpath):
                with open(mpath) as f:
                    m = Manifest.parse(f.read(), self.manifest_name)
                self.manifest = m
                self.base_seq = m.base[1] if m.base else 0
                self.incr_seq = max([s for _, s in m.incrs] or [0])

    def _install_cow(self):
        """Point the propagator's copy-on-write hook at our snapshot too (with any full sync's)."""
        from sonic.persistence.snapshot import update_cow
        if self.server.propagator is None:
            from sonic.replication.propagate import Propagator
            self.server.propagator = Propagator(self.server)
        update_cow(self.server)

    def _uninstall_cow(self):
        """The rewrite ended (C{self.rewrite} is None): the hook serves the others only."""
        from sonic.persistence.snapshot import update_cow
        update_cow(self.server)

    @property
    def rewrite_in_progress(self):
        """Whether a rewrite runs (BGSAVE refuses meanwhile, as in Redis)."""
        return self.rewrite is not None

    def bgsave_active(self):
        snaps = getattr(self.server, "snapshots", None)
        return bool(snaps is not None and getattr(snaps, "bgsave_job", None) is not None)

    # FullSync calls these on its "master".
    def _sync_done(self, snap):
        snap.buffer.flush()
        d = _in_thread(self.server, _fsync_close_file, snap.buffer)
        d.addCallbacks(lambda _: self._rewrite_done(snap), lambda f: self._sync_failed(snap, f))

    def _sync_failed(self, snap, failure=None):
        if failure is not None:
            log.failure("AOF rewrite", failure)
        if self.rewrite is snap:
            self.rewrite = None
        self._uninstall_cow()
        try:
            snap.buffer.close()
            os.unlink(snap.aof_tmp)
        except (OSError, ValueError):
            pass
        self.last_rewrite_status = "err"
        self.consecutive_failures += 1
        self._turning_on = False
        log.warn("Background AOF rewrite terminated with error")

    def _rewrite_done(self, snap):
        if self.rewrite is not snap:
            return
        self.rewrite = None
        self._uninstall_cow()
        path = self.path(snap.aof_base)
        os.replace(snap.aof_tmp, path)
        # Everything the manifest listed before is history now (deleted
        # below), except the incr file opened when the rewrite started.
        old = self.manifest or Manifest()
        keep = [snap.aof_incr] if snap.aof_incr is not None else []
        history = [f for f in old.files() + old.history if f not in [k[0] for k in keep]]
        m = Manifest((snap.aof_base, snap.aof_seq, snap.aof_rdb), keep)
        self._write_manifest(m)
        self.manifest = m
        self.base_seq = snap.aof_seq
        for name in history:
            if name != snap.aof_base:
                try:
                    os.unlink(self.path(name))
                except OSError:
                    pass
        size = os.path.getsize(path)
        incr = os.path.getsize(self.path(keep[0][0])) if keep else 0
        self.current_size = size + incr
        self.base_size = self.current_size
        self.last_rewrite_time = int(time.time() - self.rewrite_started)
        self.rewrite_started = None
        self.last_rewrite_status = "ok"
        self.consecutive_failures = 0
        self.rewrites += 1
        self.last_cow_size = snap.cow_bytes
        self._turning_on = False
        log.info("Background AOF rewrite finished successfully")

    def _close_fd(self, fd):
        """Close a full incr file once its data is on disk (in a thread)."""
        def fsync_close():
            try:
                self.fsync(fd)
            finally:
                os.close(fd)
        _in_thread(self.server, fsync_close).addErrback(
            lambda f: log.failure("closing an AOF file", f))

    # -- on / off --------------------------------------------------------------------

    def _appendonly_changed(self, value):
        if getattr(self.server, "_aof_service_running", False) is False:
            return  # at start-up the service opens the file
        if value and self.fd is None:
            self.turn_on()
        elif not value and self.fd is not None:
            self.turn_off()

    def turn_on(self):
        """CONFIG SET appendonly yes: a rewrite of the dataset, appending from now on."""
        self.load_state_if_needed()
        if self.loaded is None:
            self.loaded = 0
        if self.rewrite is not None:
            self.rewrite.cancel()
            self._sync_failed(self.rewrite)
        self._turning_on = True
        self.start_rewrite(turning_on=True)
        self._attach()
        self._schedule_cron()

    def turn_off(self):
        """CONFIG SET appendonly no: stop appending (the files stay)."""
        self._detach()
        if self.rewrite is not None and self._turning_on:
            self.rewrite.cancel()
            self._sync_failed(self.rewrite)
        self._close_incr()

    def _close_incr(self):
        """Write what is buffered, then fsync and close the incr file."""
        self.flush_buffer()
        fd, self.fd = self.fd, None
        if fd is not None:
            self.fsync(fd)
            os.close(fd)

    def close(self):
        """Clean stop: fsync and close the incr file."""
        self._detach()
        if self.cron_call is not None and self.cron_call.active():
            self.cron_call.cancel()
        self.cron_call = None
        if self.rewrite is not None:
            self.rewrite.cancel()
            self._sync_failed(self.rewrite)
        self._close_incr()

    # -- INFO ------------------------------------------------------------------------

    def info_fields(self):
        """Redis 7.0's aof_* rows of INFO persistence, in order, as (name, value)."""
        now = time.time()
        rows = [
            ("aof_enabled", int(self.fd is not None)),
            ("aof_rewrite_in_progress", int(self.rewrite is not None)),
            ("aof_rewrite_scheduled", int(self.rewrite_scheduled)),
            ("aof_last_rewrite_time_sec", self.last_rewrite_time),
            ("aof_current_rewrite_time_sec",
             int(now - self.rewrite_started) if self.rewrite_started is not None else -1),
            ("aof_last_bgrewrite_status", self.last_rewrite_status),
            ("aof_rewrites", self.rewrites),
            ("aof_rewrites_consecutive_failures", self.consecutive_failures),
            ("aof_last_write_status", self.last_write_status),
            ("aof_last_cow_size", self.last_cow_size),
            ("module_fork_in_progress", 0),
            ("module_fork_last_cow_size", 0),
        ]
        if self.fd is not None:
            rows += [
                ("aof_current_size", self.current_size),
                ("aof_base_size", self.base_size),
                ("aof_pending_rewrite", int(self.rewrite_scheduled)),
                ("aof_buffer_length", 0),
                ("aof_pending_bio_fsync", int(self.fsync_in_progress)),
                ("aof_delayed_fsync", 0),
            ]
        return rows


def _write_gen(f, chunks):
    """Steps writing an AOF-form base: one yield per 64 chunks."""
    n = 0
    for chunk in chunks:
        f.write(chunk)
        n += 1
        if not n & 63:
            yield
    yield


def _fsync_close_file(f):
    f.flush()
    os.fsync(f.fileno())
    f.close()


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AofService(service.Service):
    """The AOF in the service tree: load and open at start, fsync and close at stop."""

    name = "aof"

    def __init__(self, server):
        self.server = server

    def startService(self):
        server = self.server
        aof = server.aof
        if server.config.appendonly:
            if aof.loading is not None:
                # Loading in the background (sonic.tap): append once it is done.
                aof.loading.addCallback(lambda _: aof.open())
            else:
                try:
                    aof.open()
                except AofError as e:
                    from sonic.tap import StartupError
                    raise StartupError(str(e))
        server._aof_service_running = True
        service.Service.startService(self)

    def stopService(self):
        self.server._aof_service_running = False
        self.server.aof.close()
        return service.Service.stopService(self)

"""RDB snapshots: SAVE, BGSAVE, save points, loading at start-up (Redis' rdb.c and serverCron).

One L{Snapshots} per server (C{server.snapshots}, created by L{get}).  It
keeps what INFO persistence reports (last save time, last BGSAVE status and
duration, rdb_saves, the dirty counter at the last save) and runs:

  - SAVE (L{Snapshots.save}): the whole file written at once on the reactor,
    as Redis blocks for SAVE.
  - BGSAVE (L{Snapshots.bgsave}): the copy-on-write snapshot of the full
    syncs (L{sonic.replication.master.FullSync}) written to a file: shallow
    copies of every shard's dicts are taken at once, values are serialized
    in slices of about 20 ms per reactor turn, collections a write is about
    to change in place are copied first (the propagator's C{cow} hook), and
    collections of 10,000+ elements are encoded in the thread pool.  The file
    is then flushed and fsynced in a thread and renamed over C{dbfilename}.
    Redis forks instead; a Python child would touch every object's reference
    count and copy nearly every page, and a forked Twisted process with a
    thread pool is fragile, so sonic keeps one process.  Measured with
    bench/bgsave_pause.py (1,000,000 string keys, 2 cores, quiet machine):
    sonic's BGSAVE takes 1.7 s, the worst PING during it 115 ms (the dict
    copies in the BGSAVE handler, 80-95 ms; slices after that stay near
    20 ms), peak memory +40 MB (the copies) over 166 MB; redis-server 7.0:
    2.0 s, worst PING 15 ms, +3 MB over 100 MB.
  - Save points (C{save <seconds> <changes> ...}): a check once a second
    (Redis' serverCron condition: enough changes, enough seconds since the
    last successful save, and after a failure 5 seconds between tries), plus
    BGSAVE SCHEDULE's pending save.
  - Refusing writes with -MISCONF after a failed BGSAVE when
    C{stop-writes-on-bgsave-error} is on and save points are set
    (C{server.misconf}, read by the dispatcher's state checks).

Every file goes to C{temp-<pid>.rdb} (BGSAVE: C{temp-bg-<pid>.rdb}) in
the same directory, is fsynced, then renamed over the target: a crash
during a save leaves the previous file whole.

Hooks for the append-only file (L{sonic.persistence.aof}):

  - L{load_at_startup}C{(server)}: called by the service before it listens
    when C{appendonly} or C{replicaof} is set (a synchronous load: clients
    cannot connect until it ends); otherwise the service calls
    L{load_in_background} (a thread builds the keyspace while clients get
    -LOADING, as redis-server answers).  With C{appendonly yes} and the AOF directory (C{dir}/
    C{appenddirname}) present it calls C{server.aof.load()} (the AOF side
    creates C{server.aof} before the service starts); otherwise it loads
    C{dbfilename} if it exists.  Returns the number of keys loaded.
  - C{get(server).child_active()}: whether a BGSAVE is running (BGREWRITEAOF
    refuses or schedules meanwhile, as Redis' hasActiveChildProcess).
  - The AOF side sets C{server.aof.rewrite_in_progress} (bool) while it
    rewrites: BGSAVE then refuses (or, with SCHEDULE, waits), as Redis does.
  - L{Snapshots.save_sync}C{(path)}: a synchronous save to any path (an
    RDB-preamble base file), returns (keys, bytes).
"""

import os
import time

from twisted.logger import Logger

from sonic import errors
from sonic.rdb import RdbError
from sonic.replication.master import FullSync, _in_thread, write_snapshot

__all__ = ["Snapshots", "BgSave", "get", "rdb_path", "load_rdb", "load_at_startup",
           "save_points", "prepare_shutdown", "MISCONF"]

log = Logger(namespace="sonic")

MISCONF = errors.MISCONF

#: Seconds between two tries of a save point after a failed BGSAVE (Redis' CONFIG_BGSAVE_RETRY_DELAY).
RETRY_DELAY = 5

#: Bytes read per step while loading a file.
LOAD_CHUNK = 1 << 20


def rdb_path(server):
    """The RDB file's path: C{dbfilename} in C{dir} (the working directory, as Redis)."""
    config = server.config
    directory = config.dir
    if directory and os.path.isabs(directory):
        return os.path.join(directory, config.dbfilename)
    return config.dbfilename


def save_points(config):
    """The C{save} directive as [(seconds, changes)]."""
    words = str(config.save or "").split()
    return [(int(words[i]), int(words[i + 1])) for i in range(0, len(words) - 1, 2)]


def get(server):
    """The server's L{Snapshots}, created on first use."""
    snaps = getattr(server, "snapshots", None)
    if snaps is None:
        snaps = Snapshots(server)
    return snaps


class Snapshots(object):
    """Save state and actions of one server; see the module docstring.

    @ivar bgsave_job: the L{BgSave} being written, or None.
    @ivar last_ok: whether the last BGSAVE succeeded (rdb_last_bgsave_status).
    @ivar last_seconds: the last BGSAVE's duration in whole seconds, -1 before any.
    @ivar saves: successful saves (rdb_saves).
    @ivar scheduled: BGSAVE SCHEDULE is waiting for an AOF rewrite to end.
    """

    def __init__(self, server):
        self.server = server
        server.snapshots = self
        if not hasattr(server, "dirty_at_save"):
            server.dirty_at_save = 0
        server.misconf = False
        self.bgsave_job = None
        self.last_ok = True
        self.last_try = 0.0
        self.last_seconds = -1
        self.last_cow_size = 0     # INFO rdb_last_cow_size (see FullSync.cow_bytes)
        self.saves = 0
        self.scheduled = False
        self.loaded_keys = 0
        self.loaded_expired = 0
        self.cron_call = None
        #: Set by the service (L{start_cron}): only a server started as a
        #: process saves by itself (save points, SHUTDOWN and FLUSHALL with
        #: save points), so in-process test servers never write files.
        self.active = False
        self.created_propagator = None
        server.config.on_change("save", lambda v: self.update_misconf())
        server.config.on_change("stop-writes-on-bgsave-error", lambda v: self.update_misconf())

    # -- state -------------------------------------------------------------------

    def child_active(self):
        """Whether a BGSAVE is being written."""
        return self.bgsave_job is not None

    def _aof_rewriting(self):
        return bool(getattr(getattr(self.server, "aof", None), "rewrite_in_progress", False))

    def update_misconf(self):
        """Refuse writes (-MISCONF) iff the last BGSAVE failed, save points exist and the option is on."""
        server = self.server
        refuse = bool(not self.last_ok and server.config.stop_writes_on_bgsave_error
                      and save_points(server.config))
        if refuse != server.misconf:
            server.misconf = refuse
            server.update_guards()

    def now(self):
        return self.server.clock.seconds()

    # -- the cron ------------------------------------------------------------------

    def start_cron(self):
        """Check the save points once a second from now on (the service calls this)."""
        self.active = True
        if self.cron_call is None:
            self.cron_call = self.server.clock.callLater(1, self._cron)

    def stop_cron(self):
        call, self.cron_call = self.cron_call, None
        if call is not None and call.active():
            call.cancel()

    def _cron(self):
        self.cron_call = self.server.clock.callLater(1, self._cron)
        try:
            self.check()
        except Exception:
            log.failure("Checking the save points")

    def check(self):
        """Start a BGSAVE if a save point is reached or one is scheduled (Redis' serverCron)."""
        server = self.server
        if self.bgsave_job is not None or self._aof_rewriting() or server.loading:
            return
        if self.scheduled:
            self.scheduled = False
            self.bgsave()
            return
        now = self.now()
        dirty = server.store.dirty - server.dirty_at_save
        for seconds, changes in save_points(server.config):
            if (dirty >= changes and now - server.lastsave > seconds
                    and (self.last_ok or now - self.last_try > RETRY_DELAY)):
                log.info("{changes} changes in {seconds} seconds. Saving...",
                         changes=changes, seconds=seconds)
                self.bgsave()
                return

    # -- SAVE ------------------------------------------------------------------------

    def save_sync(self, path=None):
        """Write the whole file now (SAVE, SHUTDOWN); return (keys, bytes), raise on failure."""
        server = self.server
        path = path or rdb_path(server)
        dirty = server.store.dirty
        from sonic.rdb.keyspace import save_to  # on first use, not at start-up
        keys, size = save_to(server, path, int(self.now() * 1000))
        if path == rdb_path(server):
            server.dirty_at_save = dirty
            server.lastsave = int(self.now())
            self.saves += 1
            self.last_ok = True
            self.update_misconf()
        log.info("DB saved on disk")
        return keys, size

    def save(self):
        """SAVE: True on success (the error is logged)."""
        try:
            self.save_sync()
            return True
        except Exception as e:
            log.error("Failed saving the DB: {error}", error=_reason(e))
            return False

    # -- BGSAVE ------------------------------------------------------------------

    def bgsave(self):
        """Start a BGSAVE; True once started (False: it could not start, already logged)."""
        server = self.server
        self.last_try = self.now()
        path = rdb_path(server)
        try:
            job = BgSave(self, path)
        except OSError as e:
            # Redis' forked child would fail the same way after "Background
            # saving started": the failure is reported by INFO, not the reply.
            log.error("Failed opening the temp RDB file for saving: {error}", error=_reason(e))
            self.last_ok = False
            self.last_seconds = 0
            self.update_misconf()
            return True
        self.bgsave_job = job
        self._install_cow()
        job.start()
        log.info("Background saving started")
        return True

    def _install_cow(self):
        server = self.server
        prop = server.propagator
        if prop is None:
            from sonic.replication.propagate import Propagator
            prop = server.propagator = Propagator(server)
            self.created_propagator = prop
        update_cow(server)

    def _drop_cow(self):
        server = self.server
        update_cow(server)
        prop = self.created_propagator
        self.created_propagator = None
        if (prop is not None and server.propagator is prop and not prop.listeners
                and prop.cow is None and not prop.depth):
            # Ours, made only for this snapshot: the dispatcher's fast path again.
            server.propagator = None
            try:
                server.store.expire_hooks.remove(prop.expired)
            except ValueError:
                pass

    def _sync_done(self, job):
        """The RDB is written: flush, fsync (in a thread) and rename."""
        job.call = None
        d = _in_thread(self.server, job.commit)
        d.addCallbacks(lambda _: self._finished(job, True),
                       lambda f: self._finished(job, False, f))

    def _sync_failed(self, job):
        job.discard()
        self._finished(job, False)

    def cancel_bgsave(self):
        """Stop a BGSAVE in progress and remove its temporary file (SHUTDOWN, FLUSHALL)."""
        job = self.bgsave_job
        if job is None:
            return
        job.cancel()
        job.discard()
        self.bgsave_job = None
        self._drop_cow()
        log.info("Background saving terminated by signal")

    def _finished(self, job, ok, failure=None):
        if self.bgsave_job is not job:
            return
        self.bgsave_job = None
        self._drop_cow()
        server = self.server
        self.last_seconds = int(time.time() - job.wall_start)
        self.last_cow_size = job.cow_bytes
        if ok:
            server.dirty_at_save = job.dirty
            server.lastsave = int(job.wall_start)
            self.saves += 1
            self.last_ok = True
            log.info("Background saving terminated with success")
        else:
            if failure is not None:
                log.error("Background saving error: {error}", error=_reason(failure.value))
            else:
                log.error("Background saving error")
            self.last_ok = False
        self.update_misconf()


def update_cow(server):
    """Point the propagator's copy-on-write hook at every snapshot being written (full syncs, BGSAVE, AOF rewrite)."""
    prop = server.propagator
    if prop is None:
        return
    syncs = list(server.repl_master.syncs) if server.repl_master is not None else []
    snaps = getattr(server, "snapshots", None)
    if snaps is not None and snaps.bgsave_job is not None:
        syncs.append(snaps.bgsave_job)
    rewrite = getattr(getattr(server, "aof", None), "rewrite", None)
    if rewrite is not None and hasattr(rewrite, "cow"):
        syncs.append(rewrite)
    if not syncs:
        prop.cow = None
    elif len(syncs) == 1:
        prop.cow = syncs[0].cow
    else:
        def cow(client, spec, argv):
            for sync in syncs:
                sync.cow(client, spec, argv)
        prop.cow = cow


class BgSave(FullSync):
    """One BGSAVE: a L{FullSync}'s copy-on-write snapshot written to a temporary file.

    L{FullSync._step} drives L{_generate} in 20 ms slices and calls
    C{owner._sync_done(self)} or C{owner._sync_failed(self)}.
    """

    def __init__(self, owner, path):
        directory = os.path.dirname(os.path.abspath(path))
        self.path = path
        self.tmp = os.path.join(directory, "temp-bg-%d.rdb" % os.getpid())
        self.file = open(self.tmp, "wb")
        self.wall_start = time.time()
        self.dirty = owner.server.store.dirty
        FullSync.__init__(self, owner, -1)
        self.buffer = self.file

    def _generate(self):
        """Write the RDB, yielding every 64 keys (or a Deferred while a big value is encoded)."""
        server = self.server
        self.keys = yield from write_snapshot(server, self.snap, self.file, self.now_ms, lambda w: w.redis_aux(
            self.now_ms // 1000, server.used_memory(), ()))
        self.seconds = time.perf_counter() - self.started

    def commit(self):
        """Flush, fsync and rename over the target (run in a thread)."""
        f = self.file
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(self.tmp, self.path)

    def discard(self):
        """Close and remove the temporary file."""
        try:
            self.file.close()
        except Exception:
            pass
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


def _reason(error):
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


# -- loading ---------------------------------------------------------------------------


def _entries(server, path, progress, functions=None):
    """The entries of the file at C{path}, logging progress every 2 seconds.

    The file's function library codes are added to the list C{functions} at the end.
    """
    size = os.path.getsize(path)
    from sonic.rdb.reader import RdbParser  # on first use, not at start-up
    parser = RdbParser()
    done = 0
    started = last = time.monotonic()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(LOAD_CHUNK)
            if not chunk:
                break
            done += len(chunk)
            for entry in parser.feed(chunk):
                yield entry
            t = time.monotonic()
            progress[0] = done
            if t - last >= 2:
                last = t
                perc = 100.0 * done / size if size else 100.0
                eta = (t - started) * (size - done) / done if done else 0
                log.info("Loading RDB: {perc:.2f}% ({done} of {size} bytes), eta {eta:.0f} s",
                         perc=perc, done=done, size=size, eta=eta)
        for entry in parser.close():
            yield entry
    if functions is not None:
        functions.extend(parser.functions)


def load_rdb(server, path=None):
    """Replace the keyspace by the RDB file at C{path} (default: C{dbfilename}); return the key count.

    A missing file loads nothing (returns None).  Deadlines in the file are
    absolute, so TTLs keep counting across restarts; keys already past
    theirs are skipped (counted in rdb_last_load_keys_expired).
    @raise RdbError: a corrupt file; the keyspace is then unchanged.
    """
    path = path or rdb_path(server)
    if not os.path.exists(path):
        return None
    from sonic.rdb.keyspace import build_keyspace, install_keyspace  # on first use, not at start-up
    snaps = get(server)
    started = time.monotonic()
    now_ms = int(server.clock.seconds() * 1000)
    codes = []
    built = build_keyspace(server, _entries(server, path, [0], codes), now_ms)
    built.functions = codes
    install_keyspace(server, built)
    snaps.loaded_keys = built.keys
    snaps.loaded_expired = built.expired
    server.dirty_at_save = server.store.dirty
    log.info("Done loading RDB, keys loaded: {keys}, keys expired: {expired}.",
             keys=built.keys, expired=built.expired)
    log.info("DB loaded from disk: {s:.3f} seconds", s=time.monotonic() - started)
    return built.keys


def load_in_background(server, path=None):
    """Load the RDB file in the thread pool while clients get -LOADING; a Deferred firing with the key count.

    The new databases are built aside (L{build_keyspace} touches nothing
    live) and swapped in on the reactor.  Meanwhile C{server.loading} is set
    (INFO loading:1 with loading_loaded_perc and loading_eta_seconds), the
    save points do not fire and a shutdown does not save (Redis forces
    NOSAVE while loading).  A corrupt file stops the process, as Redis does.
    """
    from twisted.internet import defer
    path = path or rdb_path(server)
    if not os.path.exists(path):
        return defer.succeed(None)
    from sonic.rdb.keyspace import build_keyspace, install_keyspace  # on first use, not at start-up
    snaps = get(server)
    started = time.monotonic()
    now_ms = int(server.clock.seconds() * 1000)
    total = os.path.getsize(path)
    progress = [0]
    server.loading = True
    server.loading_progress = (time.time(), total, progress)
    server.update_guards()
    log_loading_progress(server)
    log.info("Loading {path} ({size} bytes) in the background; clients get -LOADING meanwhile",
             path=path, size=total)

    def build():
        codes = []
        built = build_keyspace(server, _entries(server, path, progress, codes), now_ms)
        built.functions = codes
        return built

    def install(built):
        install_keyspace(server, built)
        snaps.loaded_keys = built.keys
        snaps.loaded_expired = built.expired
        server.dirty_at_save = server.store.dirty
        log.info("Done loading RDB, keys loaded: {keys}, keys expired: {expired}.",
                 keys=built.keys, expired=built.expired)
        log.info("DB loaded from disk: {s:.3f} seconds", s=time.monotonic() - started)
        return built.keys

    def done(result):
        server.loading = False
        server.loading_progress = None
        server.update_guards()
        return result

    d = _in_thread(server, build)
    d.addCallback(install)
    d.addBoth(done)
    return d


#: Seconds between two "Loading..." log lines while a dataset loads.
PROGRESS_LOG_SECONDS = 2.0


def log_loading_progress(server, interval=None):
    """While C{server.loading}, log the loading progress every C{interval} seconds (RDB and AOF)."""
    interval = PROGRESS_LOG_SECONDS if interval is None else interval

    def tick():
        progress = getattr(server, "loading_progress", None)
        if not server.loading or progress is None:
            return
        start, total, done = progress
        loaded = done[0]
        if total:
            elapsed = time.time() - start
            eta = elapsed * (total - loaded) / loaded if loaded else 0.0
            log.info("Loading the dataset: {perc:.1f}% ({loaded} of {total} bytes,"
                     " {elapsed:.1f} s, about {eta:.0f} s left)", perc=100.0 * loaded / total,
                     loaded=loaded, total=total, elapsed=elapsed, eta=eta)
        server.clock.callLater(interval, tick)

    server.clock.callLater(interval, tick)


def load_at_startup(server):
    """Load the dataset before listening: the AOF when appendonly is on and its directory exists, else the RDB."""
    config = server.config
    aof = getattr(server, "aof", None)
    if getattr(config, "appendonly", False) and aof is not None:
        if aof.exists():
            return aof.load()
    try:
        return load_rdb(server)
    except RdbError as e:
        raise RdbError("Fatal error loading the DB (%s): %s" % (rdb_path(server), e))


def after_flushall(server):
    """FLUSHALL: stop a BGSAVE, and with save points write the (now empty) file at once, as Redis 7.0 does.

    Otherwise a restart after FLUSHALL would bring back the flushed keys.
    The change counter then reads 1 (Redis' C{server.dirty++} after the save).
    """
    snaps = getattr(server, "snapshots", None)
    if snaps is None:
        return
    snaps.cancel_bgsave()
    if snaps.active and save_points(server.config):
        try:
            snaps.save_sync()
        except Exception as e:
            log.error("Failed saving the DB after FLUSHALL: {error}", error=_reason(e))
            return
        server.dirty_at_save -= 1


def prepare_shutdown(server, save=None):
    """Before exiting: stop a BGSAVE, then save if asked or if save points exist (Redis' prepareForShutdown).

    @param save: True (SHUTDOWN SAVE), False (NOSAVE), None (save iff save points exist).
    @return: True if the server may exit, False if a needed save failed.
    """
    snaps = getattr(server, "snapshots", None)
    if snaps is not None:
        snaps.cancel_bgsave()
    if save is None:
        save = bool(save_points(server.config)) and snaps is not None and snaps.active
    if server.loading:
        save = False  # the dataset is not whole yet: Redis forces NOSAVE too
    if save:
        log.info("Saving the final RDB snapshot before exiting.")
        try:
            get(server).save_sync()
        except Exception as e:
            log.error("Error trying to save the DB, can't exit: {error}", error=_reason(e))
            return False
    if snaps is not None:
        snaps.stop_cron()
    return True


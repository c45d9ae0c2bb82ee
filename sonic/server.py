"""Server-wide state: configuration, the store, connected clients and statistics.

One L{Server} per process (Redis' C{struct redisServer}).  It is plain state
plus a few helpers; the protocol layer and the commands read and update it.
It knows no sockets, so the dispatcher and the commands can be driven
without a reactor in tests.
"""

import os
import time

from sonic import __version__
from sonic.blocking import Blocking
from sonic.config import Config
from sonic.store import ShardedStore
from sonic.store.compression import Compressor
import sonic.commands  # noqa: F401  (registers every command handler)

__all__ = ["Server", "REDIS_VERSION"]

#: The Redis version sonic answers as (INFO redis_version, HELLO version):
#: clients and tools gate features on it.
REDIS_VERSION = "7.0.15"


class Server(object):
    """The state shared by every connection.

    @ivar config: the L{Config}.
    @ivar store: the L{ShardedStore}.
    @ivar clients: client id -> client, for CLIENT LIST/KILL and INFO.
    @ivar clock: the C{IReactorTime} used for time.
    @ivar master_host: None, or the master's host while this is a replica.
    @ivar shutdown: callable that stops the process (set by the service).
    @ivar current_client: the connection whose commands run now (set by the
        protocol around each batch), None between batches and in timers.
    """

    current_client = None

    def __init__(self, config=None, clock=None, run_in_thread=None, store=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.config = config = config or Config()
        self.compressor = Compressor(
            enabled=config.compression == "gzip",
            threshold=config.compression_threshold,
            level=config.compression_level,
            min_saving=config.compression_min_saving / 100.0,
            thread_threshold=config.compression_thread_threshold)
        self.store = store or ShardedStore(
            databases=config.databases, shards=config.shards, clock=clock,
            compressor=self.compressor, run_in_thread=run_in_thread)
        self._bind_config()
        #: Keyspace notification classes (sonic.notify), 0 while off: the
        #: one int every notifying write path tests first.
        self.notify_flags = 0
        from sonic.notify import install as install_notify
        install_notify(self)
        self.clients = {}
        self._next_id = 0
        self.start_time = time.time()
        self.run_id = os.urandom(20).hex()
        self.version = __version__
        self.master_host = None
        self.master_port = None
        #: True while writes need checking before they run (a replica, or a
        #: maxmemory limit): keeps those checks off the common path.
        self.guard_writes = bool(config.maxmemory)
        #: While loading a dataset (-LOADING) or, on a replica whose link is
        #: down with replica-serve-stale-data no, refusing commands
        #: (-MASTERDOWN); gate_all sends every command through the checks.
        self.loading = False
        self.stale_refused = False
        #: A BGSAVE failed with stop-writes-on-bgsave-error on: -MISCONF
        #: (sonic.persistence.snapshot keeps it up to date).
        self.misconf = False
        #: The reason of a failed AOF write or fsync, until it recovers:
        #: writes get -MISCONF (sonic.persistence.aof).
        self.aof_write_error = None
        self.gate_all = False
        #: While a script runs past busy-reply-threshold: its BUSY error
        #: text (sonic.scripting.engine), else None; part of gate_all.
        self.script_busy = None
        #: The sonic.scripting.engine.ScriptRun running now, else None.
        self.script_run = None
        #: The sonic.replication.replica.ReplicaService while REPLICAOF is set.
        self.replica_link = None
        #: The sonic.replication.propagate.Propagator once a replica has
        #: attached (the dispatcher's one check per command), else None.
        self.propagator = None
        #: The sonic.replication.master.ReplicationMaster once a replica
        #: has attached (or ROLE/INFO asked), else None.
        self.repl_master = None
        from sonic.replication.master import install_hooks
        install_hooks(self)  # repl_proxy & co., called by the replica side
        #: min-replicas-to-write is set and too few replicas are good: writes
        #: get -NOREPLICAS (kept up to date by sonic.replication.master).
        self.min_replicas_refuse = bool(config.min_replicas_to_write and config.min_replicas_max_lag)
        if self.min_replicas_refuse:
            self.guard_writes = True  # no replica yet
        self.replica_read_only = config.replica_read_only
        self.tcp_port = config.port
        self.shutdown = None
        self.lastsave = int(time.time())
        self.stat_commands = 0
        self.stat_connections = 0
        self.stat_rejected_connections = 0
        self.stat_net_input = 0
        self.stat_net_output = 0
        self.stat_keyspace_hits = 0
        self.stat_keyspace_misses = 0
        self.stat_reset_time = time.time()
        self.blocked_clients = 0
        #: Callables run with each client that disconnects.
        self.disconnect_hooks = []
        #: Channels, patterns and their subscribers (sonic.pubsub).
        from sonic.pubsub import PubSub
        self.pubsub = PubSub(self)
        self.blocking = Blocking(self)
        #: Introspection (sonic.monitor, sonic.commands.slowlog/latency/clients):
        #: MONITOR clients, the slow log and latency monitor (which set
        #: slow_threshold, the dispatcher's one comparison per command), and
        #: the CLIENT PAUSE in force (None: commands are not held).
        self.monitors = []
        self.paused = None
        from sonic.commands.latency import LatencyMonitor
        from sonic.commands.slowlog import SlowLog
        self.latency = LatencyMonitor(self)
        self.slowlog = SlowLog(self)
        #: The append-only file (sonic.persistence.aof); files open only with appendonly yes.
        from sonic.persistence.aof import AppendOnly
        self.aof = AppendOnly(self)
        #: appendfsync always: replies wait in held_replies until the AOF
        #: writes of the reactor turn are on disk (sonic.persistence.aof).
        self.hold_replies = False
        self.held_replies = []
        self._mem_checked = 0.0
        self._mem_used = 0
        #: The process's memory before any data: what used_memory counts
        #: besides the dataset under maxmemory (sonic.store.eviction).
        self.startup_memory = rss_bytes()
        from sonic.store.eviction import Evictor
        self.evictor = Evictor(self)
        self.update_accounting()

    def _bind_config(self):
        """Keep live objects in step with CONFIG SET."""
        c = self.config
        comp = self.compressor
        c.on_change("compression", lambda v: setattr(comp, "enabled", v == "gzip"))
        c.on_change("compression-threshold", lambda v: setattr(comp, "threshold", v))
        c.on_change("compression-level", lambda v: setattr(comp, "level", v))
        c.on_change("compression-min-saving", lambda v: setattr(comp, "min_saving", v / 100.0))
        c.on_change("compression-thread-threshold", lambda v: setattr(comp, "thread_threshold", v))
        c.on_change("replica-read-only", lambda v: setattr(self, "replica_read_only", v))
        c.on_change("maxmemory", lambda v: self.update_guards())
        c.on_change("maxmemory", lambda v: self.update_accounting(evict=True))
        c.on_change("maxmemory-policy", lambda v: self.update_accounting(evict=True))
        c.on_change("lfu-log-factor", lambda v: self.update_accounting())
        c.on_change("lfu-decay-time", lambda v: self.update_accounting())
        c.on_change("min-replicas-to-write", lambda v: self.update_min_replicas())
        c.on_change("min-replicas-max-lag", lambda v: self.update_min_replicas())

    def update_guards(self):
        """Recompute L{guard_writes} after a change of role or of maxmemory."""
        self.gate_all = bool(self.loading or self.stale_refused or self.misconf or self.script_busy
                             or self.paused is not None or self.aof_write_error is not None)
        self.guard_writes = (bool(self.config.maxmemory) or self.master_host is not None
                             or self.gate_all or self.min_replicas_refuse)

    def update_accounting(self, evict=False):
        """Start, adjust or stop the dataset's byte count and access clocks (sonic.store.eviction).

        The count runs while maxmemory is set; access clocks while the
        policy is LRU or LFU.  With C{evict}, a new limit below the memory
        in use starts evicting at the next reactor turn, as Redis does.
        """
        from sonic.store.eviction import Accounting
        c = self.config
        store = self.store
        policy = c.maxmemory_policy
        mode = "lru" if policy.endswith("lru") else "lfu" if policy.endswith("lfu") else None
        memory = bool(c.maxmemory)
        acct = store.acct
        if not memory and mode is None:
            if acct is not None:
                for db in store.dbs:
                    for sh in db.shards:
                        sh.access = None
                store.acct = None
            return
        if acct is None:
            acct = Accounting(store)
        acct.base = self.startup_memory
        acct.lfu_log_factor = c.lfu_log_factor
        acct.lfu_decay_time = c.lfu_decay_time
        recount = store.acct is None or memory != acct.memory
        if mode != acct.mode:
            acct.mode = mode
            acct.epoch_s = store.snapshot() // 1000
            for db in store.dbs:
                for sh in db.shards:
                    sh.access = acct.new_access(sh) if mode else None
        acct.memory = memory
        store.acct = acct
        if recount:
            acct.recount()
        if evict and memory and acct.counted() > c.maxmemory:
            self.evictor._continue_later()

    def update_min_replicas(self):
        """Recompute L{min_replicas_refuse} (min-replicas-to-write) and the guards."""
        from sonic.replication.master import too_few_replicas
        self.min_replicas_refuse = too_few_replicas(self)
        self.update_guards()

    def release_replies(self):
        """The AOF's fsync is done: send the held replies in order (and close who asked to)."""
        held, self.held_replies = self.held_replies, []
        self.hold_replies = False
        for client, data in held:
            client.send_now(data)
        for client, _ in held:
            if client.close_after_reply and not client._processing:
                client.close()

    def next_client_id(self):
        """A new client id (monotonic, from 1, as in Redis)."""
        self._next_id += 1
        return self._next_id

    def add_client(self, client):
        """Track a newly connected client."""
        self.clients[client.id] = client
        self.stat_connections += 1

    def remove_client(self, client):
        """Forget a disconnected client."""
        self.clients.pop(client.id, None)

    def used_memory(self):
        """Memory in use: under maxmemory, start-up memory plus the dataset's byte count
        (sonic.store.eviction); otherwise the process's resident memory, re-read at
        most ten times a second."""
        acct = self.store.acct
        if acct is not None and acct.memory:
            return acct.used()
        now = time.monotonic()
        if now - self._mem_checked > 0.1:
            self._mem_checked = now
            self._mem_used = rss_bytes()
        return self._mem_used

    def over_maxmemory(self):
        """Whether memory is over C{maxmemory} and eviction cannot bring it back (-OOM).

        Evicts first, as Redis' processCommand does before a command; while
        eviction runs out of time but goes on, commands are not refused.
        """
        if not self.config.maxmemory:
            return False
        from sonic.store.eviction import EVICT_FAIL
        return self.evictor.perform() == EVICT_FAIL

    def uptime(self):
        """Seconds since start."""
        return time.time() - self.start_time


def rss_bytes():
    """The process's resident set size in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def peak_rss_bytes():
    """The process's peak resident set size in bytes."""
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except Exception:
        return 0

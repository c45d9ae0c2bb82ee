"""Command propagation: the write stream replicas (and, later, the AOF) receive.

Redis 7.0 propagates, after each command, what the command changed, as
commands a replica can replay to the same result; this module does the same
from sonic's dispatcher.  One L{Propagator} per server, created when the
first replica attaches (L{sonic.replication.master}); until then
C{server.propagator} is None and the dispatcher pays one attribute check per
command.

How it fits the dispatcher (L{sonic.dispatch.call}):

  - Before a handler runs, the dispatcher takes C{store.dirty - nexpired}
    (the write counter, minus the keys expired so far) and raises C{depth}.
  - After it, if that figure moved and the command is a write, L{command}
    records what to propagate (rewritten, see below) with the client's db.
  - Keys expired meanwhile (lazy expiry during the command, or the active
    expiry timer outside any command) are recorded as C{DEL key} (C{UNLINK}
    under lazyfree-lazy-expire, as Redis) through the
    store's C{expire_hooks}, in order with the commands around them.
  - When the outermost call ends (C{depth} back to 0) the recorded ops are
    flushed as one unit: C{SELECT n} first when the db differs from the
    stream's, and, as Redis 7.0's propagatePendingCommands does, wrapped in
    C{MULTI}/C{EXEC} when the unit holds more than one op (an EXEC of
    several writes, a lazy expiry followed by the write, SPOP with a count).
    An EXEC of a single write propagates that write alone, as Redis does.
  - Clients served later by a push (BLPOP parked, then served) propagate
    their pop as its non-blocking form, after the push
    (L{served}, called by L{sonic.blocking.Blocking.serve_ready}).

Commands applied from our own master (the replication client, flagged
C{"M"}) are never propagated to replicas here: a replica passes its
master's stream on byte for byte
(L{sonic.replication.master.ReplicationMaster.proxy}).  Its AOF, though,
logs them (and a writable replica's local writes), as Redis' does: such
units go to the AOF listener alone.

Rewrites (checked against a redis-server 7.0.15 master's stream):

  - SET with EX/PX/EXAT/PXAT, SETEX, PSETEX -> C{SET key value PXAT <ms>}
    (other flags dropped); SET ... GET without expiry -> without GET;
    GETSET -> SET.
  - EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT -> C{PEXPIREAT key <ms>} (with
    their NX/XX/GT/LT words), or
    C{DEL key} when the deadline was already past; GETEX EX/PX/EXAT/PXAT
    likewise, GETEX PERSIST -> C{PERSIST key}.
  - RESTORE with a relative TTL -> the absolute deadline plus ABSTTL.
  - SPOP key -> C{SREM key member}; SPOP key count -> one SREM per member
    (hence MULTI/EXEC), or C{DEL key} when it emptied the set.
  - INCRBYFLOAT -> C{SET key <new value> KEEPTTL}; HINCRBYFLOAT ->
    C{HSET key field <new value>}.
  - GETDEL -> DEL.
  - BLPOP/BRPOP -> LPOP/RPOP key; BLMOVE -> LMOVE (with the client's
    LEFT/RIGHT words when served at once, Redis' lower-case ones when served
    after blocking); BRPOPLPUSH -> RPOPLPUSH; BZPOPMIN/MAX -> ZPOPMIN/MAX key;
    LMPOP/BLMPOP -> C{LPOP|RPOP key <popped>}; ZMPOP/BZMPOP -> C{ZPOPMIN|MAX
    key <popped>}.
  - Everything else that changed something: the command as it was sent.
"""

from sonic.resp import Error

__all__ = ["Propagator", "encode_command", "rewrite"]


class _ReplicasOnly(list):
    """The argv of an op for the replicas only (L{Propagator.feed_replicas})."""


def encode_command(argv):
    """C{argv} (bytes words) as a RESP array of bulk strings."""
    return b"*%d\r\n" % len(argv) + b"".join([b"$%d\r\n%s\r\n" % (len(w), w) for w in argv])


_MULTI = encode_command([b"MULTI"])
_EXEC = encode_command([b"EXEC"])


class Propagator(object):
    """The ordered write stream of one server.

    @ivar listeners: callables C{(data)} receiving each flushed unit as RESP
        bytes (the replication backlog; the AOF later).
    @ivar depth: nesting of dispatcher calls running now (EXEC runs its
        queue inside its own call).
    @ivar ops: (db index, argv) recorded in the current unit.
    @ivar seldb: the db the stream's last SELECT chose; -1 forces a SELECT
        before the next op (a new full sync, a promotion).
    @ivar nexpired: keys expired since creation (the dispatcher subtracts
        them from the write counter: an expiry alone is not the command's
        change).
    """

    def __init__(self, server):
        self.server = server
        self.listeners = []
        self.depth = 0
        self.ops = []
        self.seldb = -1
        #: The AOF's own SELECT state (a new incr file starts with a SELECT).
        self.aof_seldb = -1
        self.nexpired = 0
        #: None, or C{cow(client, spec, argv)} run before each write while a
        #: snapshot is being written (L{sonic.replication.master}).
        self.cow = None
        #: The client whose write is in the unit being built (its repl_woff
        #: is set once the unit is out).
        self.writer = None
        server.store.expire_hooks.append(self.expired)
        #: The AOF's listener (L{sonic.persistence.aof.AppendOnly.feed}).
        self.aof_feed = server.aof.feed if getattr(server, "aof", None) is not None else None
        #: The unit being built holds a replica's applied writes: AOF only.
        self.local_unit = False

    # -- what the dispatcher and the store call ---------------------------------

    def enter(self, client, spec, argv):
        """A dispatcher call starts; return the write figure to compare after it.

        While a full sync's snapshot is being written, C{cow} first saves
        the snapshot's copy of the keys a write is about to change in place.
        """
        self.depth += 1
        if self.cow is not None and spec.write:
            self.cow(client, spec, argv)
        return self.server.store.dirty - self.nexpired

    def command(self, client, spec, argv, reply):
        """A command changed something: record its propagated form."""
        if not spec.write:
            return
        if client.flags == "M" or self.server.master_host is not None:
            # A replica: its own replicas get the master's stream as it came
            # (proxied by the replica side) and local writes on a writable
            # replica stay local (Redis 4+), but its AOF logs both, as
            # Redis' does.  Such a unit goes to the AOF alone.
            if self.aof_feed not in self.listeners:
                return
            self.local_unit = True
        name = spec.fullname
        rule = _RULES.get(name)
        dbnum = client.dbnum
        self.writer = client
        if rule is None:
            self.ops.append((dbnum, argv))
            return
        for out in rule(client, argv, reply) or ():
            self.ops.append((dbnum, out))

    def leave(self):
        """The dispatcher's call ended: flush the unit if it was the outermost one."""
        self.depth -= 1
        if self.depth <= 0:
            self.depth = 0
            if self.ops:
                self.flush()
            else:
                self.local_unit = False

    def expired(self, db, key):
        """The store removed C{key} by expiry or eviction: propagate C{DEL key}."""
        self.nexpired += 1
        if self.server.store.replica:
            return
        self.ops.append((db.index, [_expire_del(self.server), key]))
        if self.depth == 0:
            self.flush()

    def served(self, waiter, key, reply):
        """A parked blocking command was served from C{key}: propagate its non-blocking form."""
        client = waiter.client
        rule = _SERVED_RULES.get(waiter.command)
        if rule is None or isinstance(reply, Error) or self.server.master_host is not None:
            return
        ops = rule(client, client.argv, reply)
        if not ops:
            return
        for out in ops:
            self.ops.append((waiter.db.index, out))
        if self.depth == 0:
            self.flush()

    def before_serve(self, waiter):
        """A parked command is about to be served: let a snapshot being written copy its keys first."""
        from sonic.registry import lookup
        spec = lookup(waiter.command.encode())
        if self.cow is not None and spec is not None:
            self.cow(waiter.client, spec, waiter.client.argv)

    def feed(self, dbnum, argv):
        """Propagate one command now (for callers outside a command: PING, ...)."""
        self.ops.append((dbnum, argv))
        if self.depth == 0:
            self.flush()

    def feed_replicas(self, dbnum, argv):
        """Propagate C{argv} to the replicas only, not to the AOF (PUBLISH, SPUBLISH: Redis' PROPAGATE_REPL)."""
        self.ops.append((dbnum, _ReplicasOnly(argv)))
        if self.depth == 0:
            self.flush()

    def flush(self):
        """Send the recorded unit to every listener, with SELECT and MULTI/EXEC as needed.

        The AOF and the replicas each have their own SELECT state (Redis'
        aof_selected_db and slaveseldb): a new incr file or a new full sync
        resets one without the other, and ops for the replicas only
        (L{feed_replicas}) never reach the AOF.
        """
        ops = self.ops
        self.ops = []
        listeners = self.listeners
        if self.local_unit:
            self.local_unit = False
            self.writer = None
            listeners = [self.aof_feed] if self.aof_feed in listeners else []
        aof = self.aof_feed
        if aof is not None and aof in listeners:
            aof_ops = [op for op in ops if type(op[1]) is not _ReplicasOnly]
            if aof_ops:
                data, self.aof_seldb = self._encode(aof_ops, self.aof_seldb)
                aof(data)
            if len(listeners) > 1:
                data, self.seldb = self._encode(ops, self.seldb)
                for listener in list(listeners):
                    if listener != aof:
                        listener(data)
        elif listeners:
            data, self.seldb = self._encode(ops, self.seldb)
            for listener in list(listeners):
                listener(data)
        writer = self.writer
        if writer is not None:
            # WAIT waits for the replicas to reach the client's last write.
            self.writer = None
            writer.repl_woff = getattr(self.server, "repl_offset", 0)

    @staticmethod
    def _encode(ops, seldb):
        """The stream bytes of the unit C{ops} after SELECT state C{seldb}: (bytes, SELECT state after)."""
        if len(ops) == 1 and (ops[0][0] == seldb or ops[0][0] < 0):
            # The common unit: one command in the stream's db.
            return encode_command(ops[0][1]), seldb
        out = []
        wrap = len(ops) > 1
        if wrap:
            # SELECT goes before MULTI (Redis selects the db of the first op).
            first = ops[0][0]
            if first != seldb and first >= 0:
                out.append(encode_command([b"SELECT", b"%d" % first]))
                seldb = first
            out.append(_MULTI)
        for dbnum, argv in ops:
            if dbnum != seldb and dbnum >= 0:
                out.append(encode_command([b"SELECT", b"%d" % dbnum]))
                seldb = dbnum
            out.append(encode_command(argv))
        if wrap:
            out.append(_EXEC)
        return b"".join(out), seldb


# -- rewrites -----------------------------------------------------------------------------

def _expire_del(server):
    """What a deletion by expiry propagates as: UNLINK under lazyfree-lazy-expire, else DEL."""
    return b"UNLINK" if server.config.lazyfree_lazy_expire else b"DEL"


def _deadline_or_del(client, key, build):
    """C{build(deadline)} while C{key} lives with a deadline; C{DEL key} once it is gone."""
    db = client.db
    sh = db.shard(key)
    if key not in sh.data:
        return [[_expire_del(client.server), key]]
    out = build(sh.expires.get(key))
    return [] if out is None else [out]


def _set(client, argv, reply):
    if len(argv) == 3:
        return (argv,)
    key, value = argv[1], argv[2]
    opts = [a.upper() for a in argv[3:]]
    if any(o in (b"EX", b"PX", b"EXAT", b"PXAT") for o in opts):
        return _deadline_or_del(client, key, lambda d: [b"SET", key, value] if d is None
                                else [b"SET", key, value, b"PXAT", b"%d" % d])
    if b"GET" in opts:
        return [[w for w, o in zip(argv, [b""] * 3 + opts) if o != b"GET"]]
    return [argv]


def _setex(client, argv, reply):
    key, value = argv[1], argv[3]
    return _deadline_or_del(client, key, lambda d: [b"SET", key, value] if d is None
                            else [b"SET", key, value, b"PXAT", b"%d" % d])


def _getset(client, argv, reply):
    return [[b"SET", argv[1], argv[2]]]


def _expire(client, argv, reply):
    # Redis rewrites the name and the time only: NX/XX/GT/LT stay.
    key = argv[1]
    rest = list(argv[3:])
    return _deadline_or_del(client, key, lambda d: None if d is None
                            else [b"PEXPIREAT", key, b"%d" % d] + rest)


def _getex(client, argv, reply):
    key = argv[1]
    opts = [a.upper() for a in argv[2:]]
    if b"PERSIST" in opts:
        return [[b"PERSIST", key]]
    return _deadline_or_del(client, key, lambda d: None if d is None
                            else [b"PEXPIREAT", key, b"%d" % d])


def _restore(client, argv, reply):
    opts = [a.upper() for a in argv[4:]]
    if argv[2] in (b"0", b"-0") or b"ABSTTL" in opts:
        return [argv]
    deadline = client.db.get_expire(argv[1])
    if deadline is None:
        return [argv]
    return [[argv[0], argv[1], b"%d" % deadline] + list(argv[3:]) + [b"ABSTTL"]]


def _spop(client, argv, reply):
    key = argv[1]
    if len(argv) == 2:
        return [[b"SREM", key, reply]] if reply is not None else []
    if not reply:
        return []
    if key not in client.db.shard(key).data:
        return [[b"DEL", key]]
    return [[b"SREM", key, member] for member in reply]


def _incrbyfloat(client, argv, reply):
    return [[b"SET", argv[1], bytes(reply), b"KEEPTTL"]]


def _hincrbyfloat(client, argv, reply):
    return [[b"HSET", argv[1], argv[2], bytes(reply)]]


def _pop_as(name):
    def rule(client, argv, reply):
        if not reply or not isinstance(reply, list):
            return []
        return [[name, reply[0]]]
    return rule


def _blmove(client, argv, reply):
    if reply is None:
        return []
    return [[b"LMOVE", argv[1], argv[2], argv[3], argv[4]]]


def _blmove_served(client, argv, reply):
    # Served after blocking, Redis 7.0 rebuilds the command with its own
    # lower-case LEFT/RIGHT words; served at once it keeps the client's.
    if reply is None:
        return []
    return [[b"LMOVE", argv[1], argv[2], argv[3].lower(), argv[4].lower()]]


def _getdel(client, argv, reply):
    return [[b"DEL", argv[1]]]


def _brpoplpush(client, argv, reply):
    if reply is None:
        return []
    return [[b"RPOPLPUSH", argv[1], argv[2]]]


def _mpop(left_word, right_word, first_key_index):
    """LMPOP/BLMPOP/ZMPOP/BZMPOP: the side word follows the keys."""
    def rule(client, argv, reply):
        if not reply or not isinstance(reply, list) or len(reply) != 2:
            return []
        numkeys = int(argv[first_key_index - 1])
        side = argv[first_key_index + numkeys].upper()
        name = left_word if side in (b"LEFT", b"MIN") else right_word
        return [[name, reply[0], b"%d" % len(reply[1])]]
    return rule


_RULES = {
    "set": _set,
    "setex": _setex,
    "psetex": _setex,
    "getset": _getset,
    "expire": _expire,
    "pexpire": _expire,
    "expireat": _expire,
    "pexpireat": _expire,
    "getex": _getex,
    "getdel": _getdel,
    "restore": _restore,
    "spop": _spop,
    "incrbyfloat": _incrbyfloat,
    "hincrbyfloat": _hincrbyfloat,
    "blpop": _pop_as(b"LPOP"),
    "brpop": _pop_as(b"RPOP"),
    "bzpopmin": _pop_as(b"ZPOPMIN"),
    "bzpopmax": _pop_as(b"ZPOPMAX"),
    "blmove": _blmove,
    "brpoplpush": _brpoplpush,
    "lmpop": _mpop(b"LPOP", b"RPOP", 2),
    "blmpop": _mpop(b"LPOP", b"RPOP", 3),
    "zmpop": _mpop(b"ZPOPMIN", b"ZPOPMAX", 2),
    "bzmpop": _mpop(b"ZPOPMIN", b"ZPOPMAX", 3),
}


#: Parked commands served later (L{Propagator.served}).
_SERVED_RULES = dict(_RULES, blmove=_blmove_served)


def rewrite(client, name, argv, reply):
    """The argvs C{name} (a command's full name) propagates as (for tests and tools)."""
    rule = _RULES.get(name)
    return [argv] if rule is None else (rule(client, argv, reply) or [])

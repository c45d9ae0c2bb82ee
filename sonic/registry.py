"""The command registry: one table of every command sonic runs, with Redis' metadata.

Handlers register with the L{command} decorator::

    @command("get")
    def get(client, key):
        '''GET key'''
        ...

The metadata (arity, flags, first/last/step key, ACL categories, tips, key
specs, summary, since, group, complexity, argument trees) is Redis 7.0.15's
own, read from C{redis_commands.json} (dumped from the reference server by
C{scripts/dump_command_table.py}), exactly as Redis compiles its
C{commands/*.json} into one table.  Commands Redis does not have (sonic's
C{EXP} alias) give their metadata as decorator keywords.  The dispatcher
checks arity, authentication and flags from this table before a handler
runs, and COMMAND / COMMAND INFO / COMMAND DOCS answer from it, so there is
one source of truth.

Subcommands register as C{"container|sub"} (C{"config|get"}); the container
is created on first use and dispatches on the second word.
"""

import json
import os
from bisect import bisect_left
from collections import defaultdict

__all__ = ["CommandSpec", "command", "lookup", "TABLE", "PLAIN", "PLAIN_READ", "lean_ran", "all_commands",
           "all_specs"]

_DATA = os.path.join(os.path.dirname(__file__), "commands", "redis_commands.json")

_metadata_cache = None

#: Seconds to microseconds, as a float: 1e6 * x is exactly x * 1000000.
_MILLION = 1000000.0


def redis_metadata():
    """Redis 7.0.15's command table (name -> {"info", "docs"}), loaded on first use.

    L{release_metadata} drops it once every command module has registered:
    each spec keeps its own entry, and the ~240 entries of commands sonic
    does not implement would otherwise stay in memory for the process's life.
    """
    global _metadata_cache
    if _metadata_cache is None:
        with open(_DATA) as f:
            _metadata_cache = json.load(f)
    return _metadata_cache


def release_metadata():
    """Forget the loaded table; a later registration loads it again."""
    global _metadata_cache
    _metadata_cache = None


#: Command groups whose commands only read and write keys (see CommandSpec.plain).
PLAIN_GROUPS = frozenset(["string", "list", "set", "sorted-set", "hash", "generic", "bitmap",
                          "hyperloglog", "geo", "stream"])
#: Commands of other groups that are plain too.
PLAIN_COMMANDS = frozenset(["ping", "echo"])
#: Commands of those groups that are not: MIGRATE parks its client while it
#: talks to the target.
NOT_PLAIN_COMMANDS = frozenset(["migrate"])
#: Flags that keep a command of those groups off the lean path: blocking
#: commands park the client, noscript ones (WAIT) wait on replicas, and admin
#: or pubsub ones touch server state.
NOT_PLAIN_FLAGS = frozenset(["blocking", "noscript", "admin", "pubsub", "no_multi", "no_auth"])


class CommandSpec(object):
    """One command (or subcommand) and its metadata.

    @ivar name: lower-case name (C{"get"}, or C{"get"} for C{config|get}'s
        C{name} is C{"get"}).
    @ivar fullname: C{"get"} or C{"config|get"}; used in arity errors.
    @ivar arity: Redis' convention: positive = exact number of words
        including the name, negative = at least that many.
    @ivar flags: frozenset of Redis command flags (C{"write"}, C{"readonly"},
        C{"fast"}, C{"denyoom"}, C{"no_auth"}, C{"no_multi"}...).
    @ivar handler: C{handler(client, *args)}; C{args} are the words after the
        command name (after the subcommand name for subcommands).
    @ivar subcommands: for containers, subcommand name (bytes, lower and
        upper case) -> spec.
    @ivar getkeys: for commands whose keys move (C{movablekeys}), a function
        C{argv -> list of key indexes}.
    """

    def __init__(self, fullname, info, docs, handler=None, getkeys=None):
        self.fullname = fullname
        self.name = fullname.split("|")[-1]
        self.info = info
        self.docs = docs
        self.handler = handler
        self.getkeys = getkeys
        self.arity = info["arity"]
        self.flags = frozenset(info["flags"])
        self.first = info["first"]
        self.last = info["last"]
        self.step = info["step"]
        self.subcommands = {}
        self.parent = None
        # Hot-path booleans, so dispatch tests attributes, not set membership.
        self.write = "write" in self.flags
        self.denyoom = "denyoom" in self.flags
        self.no_auth = "no_auth" in self.flags
        self.no_multi = "no_multi" in self.flags
        self.loading_ok = "loading" in self.flags
        self.stale_ok = "stale" in self.flags
        #: The fewest arguments (argv length) a variadic command takes, and
        #: more than any argv for one of fixed arity: the arity allows argc
        #: when C{argc == spec.arity or argc >= spec.least_argc}.  (Two int
        #: comparisons; C{argc in range(...)} costs four times as much.)
        self.least_argc = -self.arity if self.arity < 0 else 1 << 62
        #: A plain data command: it reads or writes keys and cannot change
        #: what the protocol's lean path relies on (MULTI, authentication,
        #: subscriptions, tracking, MONITOR, replication, configuration) nor
        #: block, so it may run there (sonic.protocol._process).  Containers
        #: never are (L{_container}, L{command}).
        self.plain = (handler is not None and "|" not in fullname
                      and (docs.get("group") in PLAIN_GROUPS or fullname in PLAIN_COMMANDS)
                      and fullname not in NOT_PLAIN_COMMANDS
                      and not self.flags & NOT_PLAIN_FLAGS)
        #: Calls and seconds in the handler (INFO commandstats calls, usec)
        #: folded so far; read them as L{calls} and L{seconds}.
        self._calls = 0
        self._seconds = 0.0
        self.failed_calls = 0
        self.rejected_calls = 0
        #: Durations in whole microseconds -> calls (latency-tracking,
        #: sonic.commands.latency); read it through L{latency_usec}.
        self._latency_usec = defaultdict(int)
        #: Durations (seconds) of the calls made since the last fold, while
        #: latency-tracking is on: the dispatcher's one bookkeeping step per
        #: call (see L{count} and L{lean_ran}), which L{fold_latency} adds to
        #: the calls, seconds and histogram, in C for the most part.
        self.latency_samples = []

    def count(self, elapsed, latency_tracking):
        """Account one call that took C{elapsed} seconds (the protocol's lean path inlines this)."""
        if latency_tracking:
            samples = self.latency_samples
            samples.append(elapsed)
            if len(samples) > 4095:
                self.fold_latency()
        else:
            self._calls += 1
            self._seconds += elapsed

    @property
    def calls(self):
        """Calls so far (INFO commandstats calls=), pending samples included."""
        return self._calls + len(self.latency_samples)

    @calls.setter
    def calls(self, value):
        self.fold_latency()
        self._calls = value

    @property
    def seconds(self):
        """Seconds spent in the handler so far (INFO commandstats usec=), pending samples included."""
        self.fold_latency()
        return self._seconds

    @seconds.setter
    def seconds(self, value):
        self.fold_latency()
        self._seconds = value

    def fold_latency(self):
        """Count the pending samples as calls and seconds, and bucket them (10 significant bits of microseconds).

        The samples are sorted (in C), then each bucket's share is found by
        bisection, so Python runs once per bucket used (a few dozen), not
        once per sample.
        """
        samples = self.latency_samples
        if samples:
            self.latency_samples = []
            samples.sort()
            self._calls += len(samples)
            self._seconds += sum(samples)
            table = self._latency_usec
            key = _MILLION.__mul__  # x -> x * 1000000, monotonic: sorted order is usec order
            i, n = 0, len(samples)
            while i < n:
                usec = int(samples[i] * 1000000)
                if usec > 1023:  # 10 significant bits keep the table small
                    shift = usec.bit_length() - 10
                    usec = usec >> shift << shift
                    end = usec + (1 << shift)
                else:
                    end = usec + 1
                # The samples of this bucket: those below its end.
                j = bisect_left(samples, end, i, n, key=key)
                table[usec] += j - i
                i = j

    @property
    def latency_usec(self):
        """Durations in whole microseconds -> calls, pending samples included."""
        self.fold_latency()
        return self._latency_usec

    def __repr__(self):
        return "<CommandSpec %s arity=%d>" % (self.fullname, self.arity)


#: lower-case top-level name (bytes, as it arrives) -> CommandSpec.  Also holds the upper-case
#: spelling of each name, so the common all-upper or all-lower request needs
#: no C{lower()} call on the hot path.
TABLE = {}

#: The L{CommandSpec.plain} entries of L{TABLE}: one lookup tells the
#: protocol's lean path both the spec and that it may run it there.
PLAIN = {}

#: The entries of L{PLAIN} that do not write: while the server guards writes
#: (maxmemory, a replica...), only these may take the lean path.
PLAIN_READ = {}


def _metadata(fullname, overrides):
    parent, _, sub = fullname.partition("|")
    if sub:
        entry = redis_metadata().get(parent)
        info = None
        docs = {}
        if entry:
            for s in entry["info"]["subcommands"]:
                if s["name"] == fullname:
                    info = dict(s)
            docs = dict(entry["docs"].get("subcommands", {}).get(fullname, {}))
    else:
        entry = redis_metadata().get(fullname)
        info = dict(entry["info"]) if entry else None
        docs = dict(entry["docs"]) if entry else {}
    if info is None:
        info = {"name": fullname, "arity": None, "flags": [], "first": 0,
                "last": 0, "step": 0, "acl": [], "tips": [], "key_specs": [],
                "subcommands": []}
    info["subcommands"] = []
    for key in ("arity", "flags", "first", "last", "step", "acl", "tips", "key_specs"):
        if key in overrides:
            info[key] = overrides.pop(key)
    for key in ("summary", "since", "group", "complexity", "arguments", "history"):
        if key in overrides:
            docs[key] = overrides.pop(key)
    if overrides:
        raise TypeError("unknown command metadata: %s" % ", ".join(sorted(overrides)))
    if info["arity"] is None:
        raise ValueError("command %r is not in Redis 7.0's table: give its arity" % fullname)
    return info, docs


def _enter(name, spec):
    """Put C{spec} in L{TABLE} (and L{PLAIN} if it is plain) under both spellings of C{name}."""
    for key in (name.encode(), name.upper().encode()):
        TABLE[key] = spec
        PLAIN.pop(key, None)
        PLAIN_READ.pop(key, None)
        if spec.plain:
            PLAIN[key] = spec
            if not spec.write:
                PLAIN_READ[key] = spec


def _container(name):
    spec = TABLE.get(name.encode())
    if spec is None:
        info, docs = _metadata(name, {})
        docs.pop("subcommands", None)
        spec = CommandSpec(name, info, docs)
        spec.plain = False  # it dispatches on its subcommand
        _enter(name, spec)
    return spec


def command(fullname, getkeys=None, **metadata):
    """Register the decorated function as the handler of C{fullname}.

    @param fullname: lower-case name, C{"container|sub"} for subcommands.
    @param getkeys: key extraction for commands with moving keys.
    @param metadata: overrides or additions to Redis' metadata (C{arity},
        C{flags}, C{first}, C{last}, C{step}, C{acl}, C{summary}, C{since},
        C{group}, C{complexity}, C{arguments}).
    """
    def register(handler):
        info, docs = _metadata(fullname, dict(metadata))
        spec = CommandSpec(fullname, info, docs, handler, getkeys)
        parent, _, sub = fullname.partition("|")
        if sub:
            container = _container(parent)
            if container.plain:
                container.plain = False
                _enter(parent, container)
            spec.parent = container
            container.subcommands[sub.encode()] = container.subcommands[sub.upper().encode()] = spec
        else:
            existing = TABLE.get(fullname.encode())
            if existing is not None:
                spec.subcommands = existing.subcommands
                if spec.subcommands:
                    spec.plain = False
            _enter(fullname, spec)
        handler.spec = spec
        return handler
    return register


#: Commands the protocol's lean path ran since it last folded every spec's
#: latency samples (see L{lean_ran}).
_lean_unfolded = 0


def lean_ran(server, count):
    """The protocol's lean path ran C{count} commands: count them, and bound the samples waiting.

    The lean path appends a latency sample per call without testing the
    spec's backlog (L{CommandSpec.count} folds at 4096); instead, after
    every 4096 lean calls, every spec's samples are folded, so no spec holds
    more than 4096 plus one batch of them.
    """
    global _lean_unfolded
    server.stat_commands += count
    _lean_unfolded += count
    if _lean_unfolded > 4095:
        _lean_unfolded = 0
        for spec in PLAIN.values():  # the only ones the lean path runs
            if spec.latency_samples:
                spec.fold_latency()


def lookup(name):
    """The top-level spec for a command name (bytes) in any case, or None."""
    spec = TABLE.get(name)
    if spec is None:
        spec = TABLE.get(name.lower())
    return spec


def all_commands():
    """Every distinct top-level spec, sorted by name."""
    seen = {}
    for spec in TABLE.values():
        seen[spec.fullname] = spec
    return [seen[k] for k in sorted(seen)]


def all_specs():
    """Every spec, each top-level command followed by its distinct subcommands."""
    for spec in all_commands():
        yield spec
        seen = set()
        for sub in spec.subcommands.values():
            if sub.fullname not in seen:
                seen.add(sub.fullname)
                yield sub

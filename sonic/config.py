"""Configuration: the directives sonic knows, redis.conf parsing, CONFIG GET/SET.

Every directive has one row in L{DIRECTIVES}: its kind (integer, memory
size, yes/no, one-of, string, or a special form), Redis 7.0's default, its
range, whether CONFIG SET may change it at run time, and its aliases.  The
same row validates a line of a config file, a C{--directive value} command
line option and a CONFIG SET, with Redis' error texts for CONFIG SET.

Directives that Redis has and sonic accepts without acting on them are
listed too (C{effect=False}) so configuration files written for redis-server
load and monitoring tools that CONFIG GET them get Redis' answer; README.rst
lists them.
"""


import os

from sonic.notify import INVALID_CLASS as INVALID_NOTIFY_CLASS
from sonic.notify import format_flags as format_notify_flags, parse_flags as parse_notify_flags
from sonic.resp import split_args
from sonic.util import string2ll

__all__ = ["Config", "ConfigError", "DIRECTIVES", "parse_file", "parse_args", "rewrite_file"]


class ConfigError(Exception):
    """A directive or value sonic refuses; C{str()} is the one-line reason."""


def memtoll(text):
    """Redis' memtoll: C{1k}=1000, C{1kb}=1024, C{m}, C{mb}, C{g}, C{gb}; None if invalid."""
    t = text.strip().lower()
    units = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10),
             ("g", 10 ** 9), ("m", 10 ** 6), ("k", 1000), ("b", 1)]
    mul = 1
    for suffix, m in units:
        if t.endswith(suffix):
            t = t[:-len(suffix)]
            mul = m
            break
    try:
        if not t or t.strip() != t:
            return None
        return int(t) * mul
    except ValueError:
        return None


class Directive(object):
    """One configuration directive.

    @ivar kind: C{"int"}, C{"memory"}, C{"bool"}, C{"enum"}, C{"string"},
        C{"list"} (space-separated words, kept as one string).
    @ivar effect: False for directives accepted for compatibility only.
    """

    def __init__(self, name, kind, default, mutable=True, low=None, high=None,
                 choices=(), aliases=(), effect=True, sonic=False, clamp=None,
                 protected=False):
        self.name = name
        self.kind = kind
        self.default = default
        self.mutable = mutable
        self.low = low
        self.high = high
        self.choices = tuple(choices)
        self.aliases = tuple(aliases)
        self.effect = effect
        self.sonic = sonic
        self.clamp = clamp
        #: Redis 7.0's PROTECTED_CONFIG: CONFIG SET refuses it unless
        #: enable-protected-configs allows (sonic: never).
        self.protected = protected

    def parse_runtime(self, text):
        """Validate a CONFIG SET value (one string); list directives split on spaces."""
        if self.kind == "list":
            return self.parse(text.split() or [""])
        return self.parse([text])

    def parse(self, words):
        """Validate C{words} (list of str); return the value or raise ConfigError."""
        kind = self.kind
        if kind == "events":
            # notify-keyspace-events: kept as Redis' flag bits (sonic.notify).
            if len(words) != 1:
                raise ConfigError("wrong number of arguments")
            flags = parse_notify_flags(words[0])
            if flags is None:
                raise ConfigError(INVALID_NOTIFY_CLASS)
            return flags
        if kind in ("list", "string"):
            if kind == "string" and len(words) != 1:
                raise ConfigError("wrong number of arguments")
            if self.name == "latency-tracking-info-percentiles":
                return _check_percentiles(words)
            if self.name == "save":
                _check_save(words)
            if self.name == "client-output-buffer-limit":
                from sonic.pubsub import parse_limits  # Redis' checks and reasons
                try:
                    parse_limits(" ".join(words))
                except ValueError as e:
                    raise ConfigError(str(e))
            return " ".join(words)
        if len(words) != 1:
            raise ConfigError("wrong number of arguments")
        text = words[0]
        if kind == "bool":
            low = text.lower()
            if low not in ("yes", "no"):
                raise ConfigError("argument must be 'yes' or 'no'")
            return low == "yes"
        if kind == "enum":
            low = text.lower()
            if low not in self.choices:
                raise ConfigError("argument(s) must be one of the following: %s" % ", ".join(self.choices))
            return low
        if kind == "memory":
            value = memtoll(text)
            if value is None:
                raise ConfigError("argument must be a memory value")
        else:
            value = string2ll(text.encode("utf-8", "surrogateescape"))
            if value is None:
                raise ConfigError("argument couldn't be parsed into an integer")
        low, high = self.low, self.high
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError("argument must be between %d and %d inclusive" % (low, high))
        if self.clamp is not None:
            value = min(value, self.clamp)
        return value

    def format(self, value):
        """The value as CONFIG GET shows it."""
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind == "events":
            return format_notify_flags(value)
        if self.clamp is not None:
            value = min(value, self.clamp)
        return str(value)


def _check_percentiles(words):
    """latency-tracking-info-percentiles: numbers from 0 to 100, shown as Redis shows them."""
    out = []
    for word in " ".join(words).split():
        try:
            value = float(word)
        except ValueError:
            raise ConfigError("Invalid latency-tracking-info-percentiles parameters")
        if not 0.0 <= value <= 100.0:
            raise ConfigError("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
        text = "%f" % value
        out.append(text.rstrip("0").rstrip(".") if "." in text else text)
    return " ".join(out)


def _check_save(words):
    """C{save} takes pairs of integers (seconds changes), or nothing."""
    words = " ".join(words).split()
    if len(words) % 2 or any(string2ll(w.encode("utf-8", "surrogateescape")) is None for w in words):
        raise ConfigError("Invalid save parameters")


INT_MAX = (1 << 31) - 1
LLONG_MAX = (1 << 63) - 1
POLICIES = ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
            "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")

_ROWS = [
    # Network and process
    Directive("port", "int", 6379, low=0, high=65535),
    Directive("bind", "list", "127.0.0.1 -::1", mutable=False),
    Directive("protected-mode", "bool", True, effect=False),
    Directive("tcp-backlog", "int", 511, mutable=False, low=0, high=INT_MAX),
    Directive("timeout", "int", 0, low=0, high=INT_MAX),
    Directive("tcp-keepalive", "int", 300, low=0, high=INT_MAX),
    Directive("maxclients", "int", 10000, low=1, high=INT_MAX),
    Directive("daemonize", "bool", False, mutable=False, effect=False),
    Directive("supervised", "enum", "no", mutable=False, choices=("upstart", "systemd", "auto", "no"), effect=False),
    Directive("pidfile", "string", "", mutable=False),
    Directive("loglevel", "enum", "notice", choices=("debug", "verbose", "notice", "warning", "nothing")),
    Directive("logfile", "string", "", mutable=False),
    Directive("always-show-logo", "bool", False, mutable=False, effect=False),
    Directive("set-proc-title", "bool", True, mutable=False, effect=False),
    Directive("unixsocket", "string", "", mutable=False, effect=False),
    Directive("unixsocketperm", "int", 0, mutable=False, low=0, high=0o777, effect=False),
    Directive("io-threads", "int", 1, mutable=False, low=1, high=128, effect=False),
    Directive("enable-debug-command", "enum", "local", mutable=False, choices=("no", "yes", "local")),
    Directive("hz", "int", 10, low=0, high=INT_MAX, clamp=500, effect=False),
    # Keyspace
    Directive("databases", "int", 16, mutable=False, low=1, high=INT_MAX),
    Directive("shards", "int", 16, mutable=False, low=1, high=16384, sonic=True),
    Directive("proto-max-bulk-len", "memory", 512 * 1024 * 1024, low=1024 * 1024, high=LLONG_MAX),
    Directive("client-query-buffer-limit", "memory", 1 << 30, low=1024 * 1024, high=LLONG_MAX),
    Directive("hiredis-parser", "bool", True, mutable=False, sonic=True),
    Directive("lean-dispatch", "bool", True, mutable=False, sonic=True),
    Directive("output-pause-bytes", "memory", 1 << 20, low=1024, high=LLONG_MAX, sonic=True),
    # Security
    Directive("requirepass", "string", ""),
    # Memory
    Directive("maxmemory", "memory", 0, low=0, high=LLONG_MAX),
    Directive("maxmemory-policy", "enum", "noeviction", choices=POLICIES),
    Directive("maxmemory-samples", "int", 5, low=1, high=INT_MAX),
    Directive("maxmemory-eviction-tenacity", "int", 10, low=0, high=100),
    Directive("lfu-log-factor", "int", 10, low=0, high=INT_MAX),
    Directive("lfu-decay-time", "int", 1, low=0, high=INT_MAX),
    Directive("replica-ignore-maxmemory", "bool", True, aliases=("slave-ignore-maxmemory",)),
    Directive("lazyfree-lazy-eviction", "bool", False, effect=False),
    Directive("lazyfree-lazy-expire", "bool", False, effect=False),
    Directive("lazyfree-lazy-server-del", "bool", False, effect=False),
    Directive("lazyfree-lazy-user-del", "bool", False, effect=False),
    Directive("lazyfree-lazy-user-flush", "bool", False, effect=False),
    Directive("activerehashing", "bool", True, effect=False),
    Directive("activedefrag", "bool", False, effect=False),
    # Compression at rest (sonic)
    Directive("compression", "enum", "gzip", choices=("gzip", "none"), sonic=True),
    Directive("compression-threshold", "memory", 1024, low=1, high=LLONG_MAX, sonic=True),
    Directive("compression-level", "int", 1, low=1, high=9, sonic=True),
    Directive("compression-min-saving", "int", 20, low=0, high=99, sonic=True),
    Directive("compression-thread-threshold", "memory", 64 * 1024, low=1, high=LLONG_MAX, sonic=True),
    # Persistence (accepted; the persistence issue gives them effect)
    Directive("dir", "string", "", protected=True),
    Directive("dbfilename", "string", "dump.rdb", protected=True),
    Directive("save", "list", "3600 1 300 100 60 10000"),
    Directive("rdbcompression", "bool", True),
    Directive("rdbchecksum", "bool", True),
    Directive("stop-writes-on-bgsave-error", "bool", True),
    Directive("appendonly", "bool", False),
    Directive("appendfsync", "enum", "everysec", choices=("always", "everysec", "no")),
    Directive("appendfilename", "string", "appendonly.aof", mutable=False),
    Directive("appenddirname", "string", "appendonlydir", mutable=False),
    Directive("auto-aof-rewrite-percentage", "int", 100, low=0, high=INT_MAX),
    Directive("auto-aof-rewrite-min-size", "memory", 64 * 1024 * 1024, low=0, high=LLONG_MAX),
    Directive("aof-load-truncated", "bool", True),
    Directive("aof-use-rdb-preamble", "bool", True),
    # Replication (accepted; the replication issue gives them effect)
    Directive("replicaof", "list", "", aliases=("slaveof",)),
    Directive("masterauth", "string", ""),
    Directive("masteruser", "string", ""),
    Directive("replica-read-only", "bool", True, aliases=("slave-read-only",)),
    Directive("replica-serve-stale-data", "bool", True, aliases=("slave-serve-stale-data",)),
    Directive("replica-priority", "int", 100, low=0, high=INT_MAX, aliases=("slave-priority",)),
    Directive("repl-backlog-size", "memory", 1024 * 1024, low=1, high=LLONG_MAX),
    Directive("repl-ping-replica-period", "int", 10, low=1, high=INT_MAX, aliases=("repl-ping-slave-period",)),
    Directive("repl-timeout", "int", 60, low=1, high=INT_MAX),
    Directive("repl-diskless-sync", "bool", True),
    Directive("min-replicas-to-write", "int", 0, low=0, high=INT_MAX, aliases=("min-slaves-to-write",)),
    Directive("min-replicas-max-lag", "int", 10, low=0, high=INT_MAX, aliases=("min-slaves-max-lag",)),
    # Monitoring and scripting (accepted; later issues give them effect)
    Directive("slowlog-log-slower-than", "int", 10000, low=-1, high=LLONG_MAX),
    Directive("slowlog-max-len", "int", 128, low=0, high=LLONG_MAX),
    Directive("latency-monitor-threshold", "int", 0, low=0, high=LLONG_MAX),
    Directive("latency-tracking", "bool", True),
    Directive("latency-tracking-info-percentiles", "list", "50 99 99.9"),
    Directive("notify-keyspace-events", "events", 0),
    Directive("tracking-table-max-keys", "int", 1000000, low=0, high=LLONG_MAX),
    Directive("busy-reply-threshold", "int", 5000, low=0, high=LLONG_MAX, aliases=("lua-time-limit",), effect=False),
    Directive("client-output-buffer-limit", "list",
              "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
    Directive("cluster-enabled", "bool", False, mutable=False, effect=False),
    # Encodings (reported by OBJECT ENCODING)
    Directive("hash-max-listpack-entries", "int", 512, low=0, high=LLONG_MAX, aliases=("hash-max-ziplist-entries",)),
    Directive("hash-max-listpack-value", "int", 64, low=0, high=LLONG_MAX, aliases=("hash-max-ziplist-value",)),
    Directive("list-max-listpack-size", "int", -2, low=-5, high=INT_MAX, aliases=("list-max-ziplist-size",)),
    Directive("list-compress-depth", "int", 0, low=0, high=INT_MAX, effect=False),
    Directive("set-max-intset-entries", "int", 512, low=0, high=LLONG_MAX),
    Directive("zset-max-listpack-entries", "int", 128, low=0, high=LLONG_MAX, aliases=("zset-max-ziplist-entries",)),
    Directive("zset-max-listpack-value", "int", 64, low=0, high=LLONG_MAX, aliases=("zset-max-ziplist-value",)),
]

DIRECTIVES = {}
for _row in _ROWS:
    DIRECTIVES[_row.name] = _row
    for _alias in _row.aliases:
        DIRECTIVES[_alias] = _row


class Config(object):
    """The running configuration: directive name -> value, with change hooks.

    Attribute access uses the name with dashes turned into underscores
    (C{config.requirepass}, C{config.compression_threshold}).
    """

    def __init__(self, **overrides):
        values = {}
        for row in _ROWS:
            values[row.name] = row.default
        values["dir"] = os.getcwd()
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_hooks", {})
        #: The absolute path of the config file read at start-up (CONFIG
        #: REWRITE, INFO config_file), or None.
        object.__setattr__(self, "config_file", None)
        for key, value in overrides.items():
            values[key.replace("_", "-")] = value
        for name, value in values.items():
            self._mirror(name, value)

    def _mirror(self, name, value):
        """Keep C{value} as a plain attribute too: handlers read settings per
        command (C{config.hash_max_listpack_value}), and a normal attribute
        costs a small fraction of a L{__getattr__} call."""
        attr = name.replace("-", "_")
        if not hasattr(type(self), attr):
            self.__dict__[attr] = value

    def __getattr__(self, attr):
        try:
            return self._values[attr.replace("_", "-")]
        except KeyError:
            raise AttributeError(attr)

    def __setattr__(self, attr, value):
        self.set_value(attr.replace("_", "-"), value)

    def get(self, name):
        """The value of directive C{name} (or an alias)."""
        return self._values[DIRECTIVES[name].name]

    def format(self, name):
        """The value of C{name} (or an alias) as CONFIG GET shows it."""
        row = DIRECTIVES[name]
        return row.format(self._values[row.name])

    def set_value(self, name, value):
        """Store a validated value and run the directive's change hooks."""
        name = DIRECTIVES[name].name
        if name == "client-output-buffer-limit":
            # Only the classes given change (Redis keeps the others).
            from sonic.pubsub import merge_limits
            value = merge_limits(self._values[name], value)
        self._values[name] = value
        self._mirror(name, value)
        for hook in self._hooks.get(name, ()):
            hook(value)

    def on_change(self, name, hook):
        """Call C{hook(value)} whenever C{name} changes (CONFIG SET, at start-up)."""
        self._hooks.setdefault(name, []).append(hook)

    def apply(self, name, words, runtime=False):
        """Validate and set C{name} from its words; raise ConfigError with the reason."""
        row = DIRECTIVES.get(name.lower())
        if row is None:
            raise ConfigError("unknown directive '%s'" % name)
        if runtime and not row.mutable:
            raise ConfigError("can't set immutable config")
        value = row.parse(list(words))
        self.set_value(row.name, value)
        return row

    def matching(self, pattern):
        """(name, formatted value) for every directive matching the glob C{pattern}."""
        from sonic.glob import stringmatch
        out = []
        for row in _ROWS:
            for name in (row.name,) + row.aliases:
                if stringmatch(pattern, name.encode(), nocase=True):
                    out.append((name, row.format(self._values[row.name])))
        return out


def parse_file(path, config, _depth=0):
    """Apply a redis.conf-syntax file to C{config}; ConfigError names the file and line.

    C{include path} lines read other files in place (relative to the
    working directory, as Redis does).  The top-level file is remembered as
    C{config.config_file} for CONFIG REWRITE.
    """
    if _depth > 16:
        raise ConfigError("%s: too many nested includes" % (path,))
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    except OSError as e:
        raise ConfigError("Fatal error, can't open config file '%s': %s" % (path, e.strerror or e))
    if _depth == 0 and path not in ("/dev/stdin", "-"):
        object.__setattr__(config, "config_file", os.path.abspath(path))
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        words = split_args(line)
        if words is None:
            raise ConfigError("%s line %d: unbalanced quotes in '%s'" % (
                path, number, line.decode("utf-8", "replace")))
        name = words[0].decode("utf-8", "replace").lower()
        args = [w.decode("utf-8", "surrogateescape") for w in words[1:]]
        if name == "include":
            if len(args) != 1:
                raise ConfigError("%s line %d: include: wrong number of arguments" % (path, number))
            parse_file(args[0], config, _depth + 1)
            continue
        try:
            config.apply(name, args)
        except ConfigError as e:
            raise ConfigError("%s line %d: %s: %s" % (path, number, name, e))


def parse_args(argv, config):
    """Apply C{[conffile] --directive value ... } (redis-server's syntax) to C{config}."""
    args = list(argv)
    if args and not args[0].startswith("--"):
        parse_file(args.pop(0), config)
    while args:
        opt = args.pop(0)
        if not opt.startswith("--") or len(opt) < 3:
            raise ConfigError("invalid argument '%s': expected --directive value" % opt)
        name = opt[2:].lower()
        words = []
        while args and not args[0].startswith("--"):
            words.append(args.pop(0))
        if name in ("save", "replicaof", "slaveof", "bind") and not words:
            words = [""]
        try:
            config.apply(name, words)
        except ConfigError as e:
            raise ConfigError("option --%s: %s" % (name, e))


def _quote(word):
    """A value word as redis.conf needs it: quoted when empty or holding spaces, quotes or escapes."""
    if word and not any(c in word for c in " \t\r\n\"'\\#"):
        return word
    out = word.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"%s"' % out


def _line_for(row, config):
    value = row.format(config.get(row.name))
    if row.name == "client-output-buffer-limit":
        # Redis writes one line per class that differs from its default.
        from sonic.pubsub import rewrite_lines
        return rewrite_lines(value)
    if row.kind == "list":
        words = value.split()
        if not words:
            return '%s ""' % row.name
        return "%s %s" % (row.name, " ".join(_quote(w) for w in words))
    return "%s %s" % (row.name, _quote(value))


def rewrite_file(path, config):
    """CONFIG REWRITE: write the running configuration into the file at C{path}.

    As Redis does: comments and unknown lines stay where they are, each
    directive's first line gets the current value (later lines of the same
    directive go), and directives that differ from their default and are not
    in the file yet are appended after a marker comment.  The file is
    replaced atomically (written next to it, then renamed).
    """
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "surrogateescape").split("\n")
    except FileNotFoundError:
        lines = []
    if lines and lines[-1] == "":
        lines.pop()
    marker = "# Generated by CONFIG REWRITE"
    out = []
    done = set()
    for line in lines:
        stripped = line.strip()
        if stripped == marker:
            continue
        words = split_args(stripped.encode("utf-8", "surrogateescape")) if stripped else None
        if not stripped or stripped.startswith("#") or not words:
            out.append(line)
            continue
        row = DIRECTIVES.get(words[0].decode("utf-8", "replace").lower())
        if row is None:
            out.append(line)
            continue
        if row.name in done:
            continue
        done.add(row.name)
        out.append(_line_for(row, config))
    added = []
    for row in _ROWS:
        if row.name in done:
            continue
        if row.format(config.get(row.name)) != row.format(row.default):
            if row.name == "dir":
                continue  # the working directory is where the server runs, not a setting
            added.append(_line_for(row, config))
    if added:
        out.append(marker)
        out.extend(added)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(("\n".join(out) + "\n").encode("utf-8", "surrogateescape"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)

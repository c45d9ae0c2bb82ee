"""Server commands: COMMAND, CONFIG, DBSIZE, FLUSHDB/FLUSHALL, TIME, LASTSAVE, DEBUG, MEMORY, SHUTDOWN.

COMMAND and its subcommands answer from the registry (L{sonic.registry}),
which holds Redis 7.0.15's own metadata, so COMMAND INFO and COMMAND DOCS
have Redis' shapes: flags, ACL categories, tips and key specs are RESP3 sets,
key-spec flags and argument flags are sets of simple strings.  Only the
commands sonic implements are listed.  INFO lives in L{sonic.commands.info}.
"""

import re
import sys
import time

from sonic import errors
from sonic.commands import info as _info  # noqa: F401  (registers INFO)
from sonic.commands.args import to_int
from sonic.config import ConfigError, DIRECTIVES, rewrite_file
from sonic.errors import CommandError
from sonic.glob import stringmatch
from sonic.registry import all_commands, command, lookup
from sonic.resp import OK, Raw, RSet, Status, encode
from sonic.store.compression import Compressed
from sonic.store.keyspace import ENCODERS, type_name
from sonic.tracking import flushed as tracking_flushed
from sonic.util import string2ll

__all__ = ["command_info", "command_docs", "get_keys"]


# ---------------------------------------------------------------------------
# COMMAND


def _status_set(words):
    return RSet([Status(w.encode()) for w in words])


def _key_spec(ks):
    out = {}
    for name, value in ks.items():
        if name == "flags":
            out["flags"] = _status_set(value)
        else:
            out[name] = value
    return out


def _registered_subcommands(spec):
    seen = {}
    for sub in spec.subcommands.values():
        seen[sub.fullname] = sub
    return [seen[k] for k in sorted(seen)]


def command_info(spec):
    """COMMAND INFO's ten fields for C{spec} (sets where Redis 7.0 sends sets)."""
    info = spec.info
    subs = _registered_subcommands(spec)
    return [
        spec.fullname,
        spec.arity,
        _status_set(info["flags"]),
        spec.first,
        spec.last,
        spec.step,
        _status_set(info["acl"]),
        RSet(list(info["tips"])),
        RSet([_key_spec(ks) for ks in info["key_specs"]]),
        # Redis answers an empty set when there are no subcommands, an array otherwise.
        [command_info(s) for s in subs] if subs else RSet([]),
    ]


def _arguments(args):
    out = []
    for arg in args:
        item = {}
        for name, value in arg.items():
            if name == "flags":
                item["flags"] = _status_set(value)
            elif name == "arguments":
                item["arguments"] = _arguments(value)
            else:
                item[name] = value
        out.append(item)
    return out


def command_docs(spec):
    """COMMAND DOCS' map for C{spec}, subcommands nested as Redis does."""
    out = {}
    for name, value in spec.docs.items():
        if name == "subcommands":
            continue
        if name == "doc_flags":
            out[name] = _status_set(value)
        elif name == "history":
            out[name] = RSet([list(h) for h in value])
        elif name == "arguments":
            out[name] = _arguments(value)
        else:
            out[name] = value
    subs = _registered_subcommands(spec)
    if subs:
        out["subcommands"] = {s.fullname: command_docs(s) for s in subs}
    return out


def _lookup_full(name):
    """A spec by name, C{container|sub} included (COMMAND INFO/DOCS names)."""
    parent, bar, sub = name.partition(b"|")
    spec = lookup(parent)
    if spec is None or not bar:
        return spec
    return spec.subcommands.get(sub) or spec.subcommands.get(sub.lower())


def _pairs_reply(client, pairs):
    """A map that may repeat keys (COMMAND DOCS get get): flat array or RESP3 map."""
    if client.resp == 2:
        flat = []
        for k, v in pairs:
            flat.append(k)
            flat.append(v)
        return flat
    return Raw(b"%%%d\r\n" % len(pairs) + b"".join(encode(k, 3) + encode(v, 3) for k, v in pairs))


@command("command")
def command_(client):
    """COMMAND"""
    return [command_info(spec) for spec in all_commands()]


@command("command|count")
def command_count(client):
    """COMMAND COUNT"""
    return len(all_commands())


@command("command|info")
def command_info_(client, *names):
    """COMMAND INFO [command-name [command-name ...]]"""
    if not names:
        return [command_info(spec) for spec in all_commands()]
    out = []
    for name in names:
        spec = _lookup_full(name)
        out.append(None if spec is None else command_info(spec))
    return out


@command("command|docs")
def command_docs_(client, *names):
    """COMMAND DOCS [command-name [command-name ...]]"""
    if not names:
        specs = all_commands()
    else:
        specs = [s for s in (_lookup_full(n) for n in names) if s is not None]
    return _pairs_reply(client, [(s.fullname, command_docs(s)) for s in specs])


def _every_name():
    for spec in all_commands():
        yield spec
        for sub in _registered_subcommands(spec):
            yield sub


@command("command|list")
def command_list(client, *args):
    """COMMAND LIST [FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]"""
    if not args:
        return [spec.fullname for spec in _every_name()]
    if len(args) != 3 or args[0].lower() != b"filterby":
        raise CommandError(errors.SYNTAX)
    kind, arg = args[1].lower(), args[2]
    if kind == b"module":
        return []  # sonic loads no modules
    if kind == b"aclcat":
        wanted = "@" + arg.decode("utf-8", "replace").lower()
        return [s.fullname for s in _every_name() if wanted in s.info["acl"]]
    if kind == b"pattern":
        return [s.fullname for s in _every_name()
                if stringmatch(arg, s.fullname.encode(), nocase=True)]
    raise CommandError(errors.SYNTAX)


# Key extraction, as Redis 7.0's getKeysFromCommandWithSpecs: the key specs
# when they are complete and their flags fixed, else the command's own
# procedure (here: SET and BITFIELD, whose flags depend on the arguments, or
# a registered C{getkeys}).

def _keys_from_specs(spec, argv):
    """(index, flags) pairs from the key specs, or None when a spec cannot decide."""
    argc = len(argv)
    found = []
    for ks in spec.info["key_specs"]:
        flags = ks["flags"]
        if "not_key" in flags:
            continue
        bs, fk = ks["begin_search"], ks["find_keys"]
        if bs["type"] == "index":
            first = bs["spec"]["index"]
        elif bs["type"] == "keyword":
            keyword = bs["spec"]["keyword"].encode().lower()
            startfrom = bs["spec"]["startfrom"]
            start = startfrom if startfrom > 0 else argc + startfrom
            end = argc - 1 if startfrom > 0 else 0
            first = 0
            i = start
            while i != end:
                if i >= argc or i < 1:
                    break
                if argv[i].lower() == keyword:
                    first = i + 1
                    break
                i = i + 1 if start <= end else i - 1
            if not first:
                continue
        else:
            return None
        if fk["type"] == "range":
            step = fk["spec"]["keystep"]
            lastkey, limit = fk["spec"]["lastkey"], fk["spec"]["limit"]
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif fk["type"] == "keynum":
            step = fk["spec"]["keystep"]
            keynumidx = fk["spec"]["keynumidx"]
            if keynumidx >= argc - first:
                return None
            numkeys = string2ll(argv[first + keynumidx])
            if numkeys is None or numkeys < 0:
                return None
            first += fk["spec"]["firstkey"]
            last = first + numkeys - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        for i in range(first, last + 1, step):
            found.append((i, flags))
        if "incomplete" in flags:
            return None
    return found


def _set_keys(argv):
    for arg in argv[3:]:
        if arg.lower() == b"get":
            return [(1, ["RW", "access", "update"])]
    return [(1, ["OW", "update"])]


def _bitfield_keys(argv):
    readonly = True
    i, argc = 2, len(argv)
    while i < argc:
        rem = argc - i - 1
        arg = argv[i].lower()
        if arg == b"get" and rem >= 2:
            i += 2
        elif arg == b"overflow" and rem >= 1:
            i += 1
        else:
            readonly = False
            break
        i += 1
    return [(1, ["RO", "access"] if readonly else ["RW", "access", "update"])]


_KEY_PROCS = {"set": _set_keys, "bitfield": _bitfield_keys}


def get_keys(spec, argv):
    """(index, key-spec flags) for each key of C{argv} run as C{spec}."""
    specs = spec.info["key_specs"]
    has_keyspec = any("not_key" not in ks["flags"] for ks in specs)
    varflags = any("variable_flags" in ks["flags"] for ks in specs)
    if has_keyspec and not varflags:
        found = _keys_from_specs(spec, argv)
        if found is not None:
            return found
    proc = _KEY_PROCS.get(spec.fullname)
    if proc is not None:
        return proc(argv)
    if spec.getkeys is not None:
        flags = specs[0]["flags"] if specs else []
        return [(i, flags) for i in spec.getkeys(argv)]
    return []


def _getkeys(client, args, with_flags):
    spec = lookup(args[0])
    if spec is not None and spec.subcommands and len(args) > 1:
        spec = spec.subcommands.get(args[1]) or spec.subcommands.get(args[1].lower())
    if spec is None:
        raise CommandError("ERR Invalid command specified")
    specs = spec.info["key_specs"]
    if not (spec.getkeys is not None or spec.fullname in _KEY_PROCS
            or any("not_key" not in ks["flags"] for ks in specs)):
        raise CommandError("ERR The command has no key arguments")
    argc, arity = len(args), spec.arity
    if (arity > 0 and arity != argc) or argc < -arity:
        raise CommandError("ERR Invalid number of arguments specified for command")
    found = get_keys(spec, list(args))
    if not found:
        if "no_mandatory_keys" in spec.flags:
            return []
        raise CommandError("ERR Invalid arguments specified for command")
    if with_flags:
        return [[args[i], _status_set(flags)] for i, flags in found]
    return [args[i] for i, _ in found]


@command("command|getkeys")
def command_getkeys(client, *args):
    """COMMAND GETKEYS command [arg [arg ...]]"""
    return _getkeys(client, args, False)


@command("command|getkeysandflags")
def command_getkeysandflags(client, *args):
    """COMMAND GETKEYSANDFLAGS command [arg [arg ...]]"""
    return _getkeys(client, args, True)


def _help(name, lines):
    out = ["%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" % name]
    out.extend(lines)
    out.append("HELP")
    out.append("    Prints this help.")
    return [Status(line.encode()) for line in out]


@command("command|help")
def command_help(client):
    """COMMAND HELP"""
    return _help("COMMAND", [
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
    ])


# ---------------------------------------------------------------------------
# CONFIG


@command("config|get")
def config_get(client, *patterns):
    """CONFIG GET parameter [parameter ...]"""
    config = client.server.config
    seen = {}
    for pattern in patterns:
        text = pattern.decode("utf-8", "surrogateescape")
        if not any(c in text for c in "[*?"):
            if text not in seen and text.lower() in DIRECTIVES:
                seen[text] = config.format(text.lower())
            continue
        for name, value in config.matching(text):
            if name not in seen:
                seen[name] = value
    return seen


def _set_failed(name, reason):
    return CommandError("ERR CONFIG SET failed (possibly related to argument '%s') - %s" % (name, reason))


@command("config|set")
def config_set(client, *args):
    """CONFIG SET parameter value [parameter value ...]"""
    if len(args) % 2:
        raise CommandError(errors.SYNTAX)
    config = client.server.config
    pairs = []
    seen = set()
    for i in range(0, len(args), 2):
        name = args[i].decode("utf-8", "surrogateescape")
        row = DIRECTIVES.get(name.lower())
        if row is None:
            raise CommandError("ERR Unknown option or number of arguments for CONFIG SET - '%s'" % name)
        if not row.mutable:
            raise _set_failed(name, "can't set immutable config")
        if row.protected:
            raise _set_failed(name, "can't set protected config")
        if name.lower() in seen:
            raise _set_failed(name, "duplicate parameter")
        seen.add(name.lower())
        pairs.append((name, row, args[i + 1].decode("utf-8", "surrogateescape")))
    # Validate every value before changing anything: CONFIG SET is atomic.
    values = []
    for name, row, text in pairs:
        try:
            values.append((row, row.parse_runtime(text)))
        except ConfigError as e:
            raise _set_failed(name, e)
    for row, value in values:
        config.set_value(row.name, value)
    return OK


@command("config|resetstat")
def config_resetstat(client):
    """CONFIG RESETSTAT"""
    server = client.server
    reset = getattr(server, "reset_stats", None)
    if reset is not None:
        reset()
    else:
        _reset_stats(server)
    return OK


def _reset_stats(server):
    """Zero INFO's counters and every command's statistics (CONFIG RESETSTAT)."""
    for attr in ("stat_commands", "stat_connections", "stat_rejected_connections",
                 "stat_net_input", "stat_net_output", "stat_keyspace_hits",
                 "stat_keyspace_misses"):
        setattr(server, attr, 0)
    store = server.store
    store.expired_keys = 0
    store.evicted_keys = 0
    server.stat_reset_time = time.time()
    for spec in _every_name():
        spec.calls = spec.failed_calls = spec.rejected_calls = 0
        spec.seconds = 0.0
        spec.latency_usec.clear()  # LATENCY HISTOGRAM, INFO latencystats


@command("config|rewrite")
def config_rewrite(client):
    """CONFIG REWRITE"""
    config = client.server.config
    path = getattr(config, "config_file", None)
    if not path:
        raise CommandError("ERR The server is running without a config file")
    try:
        rewrite_file(path, config)
    except OSError as e:
        raise CommandError("ERR Rewriting config file: %s" % (e.strerror or e))
    return OK


@command("config|help")
def config_help(client):
    """CONFIG HELP"""
    return _help("CONFIG", [
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
    ])


# ---------------------------------------------------------------------------
# Keyspace-wide commands


@command("dbsize")
def dbsize(client):
    """DBSIZE"""
    return len(client.db)


def _flush_mode(args):
    """FLUSHDB/FLUSHALL's optional ASYNC|SYNC (both empty at once here)."""
    if len(args) > 1:
        raise CommandError(errors.SYNTAX)
    if args and args[0].lower() not in (b"async", b"sync"):
        raise CommandError(errors.SYNTAX)


@command("flushdb")
def flushdb(client, *args):
    """FLUSHDB [ASYNC|SYNC]"""
    _flush_mode(args)
    client.db.flush()
    tracking_flushed(client.server)
    return OK


@command("flushall")
def flushall(client, *args):
    """FLUSHALL [ASYNC|SYNC]"""
    _flush_mode(args)
    client.server.store.flushall()
    tracking_flushed(client.server)
    from sonic.persistence.snapshot import after_flushall
    after_flushall(client.server)
    return OK


@command("time")
def time_(client):
    """TIME"""
    now = client.server.clock.seconds()
    sec = int(now)
    usec = int(round((now - sec) * 1e6))
    if usec >= 1000000:
        sec, usec = sec + 1, usec - 1000000
    return [str(sec).encode(), str(usec).encode()]


@command("lastsave")
def lastsave(client):
    """LASTSAVE"""
    return int(client.server.lastsave)


# ---------------------------------------------------------------------------
# DEBUG


DEBUG_REFUSED = (
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", "
    "you can run it from a local connection, otherwise you need to set this option in the "
    "configuration file, and then restart the server.")


def _is_local(client):
    addr = client.addr or ""
    return (not addr or addr.startswith("127.") or addr.startswith("[::1]")
            or addr.startswith("unix") or addr.startswith(":"))


def string_encoding(value):
    """Redis' encoding name of a string value: int, embstr or raw."""
    if type(value) is Compressed:
        return "raw"
    if len(value) <= 20 and string2ll(value) is not None and str(string2ll(value)).encode() == value:
        return "int"
    return "embstr" if len(value) <= 44 else "raw"


def _length_prefix(n):
    if n < 64:
        return 1
    if n < 16384:
        return 2
    return 5 if n <= 0xFFFFFFFF else 9


def serialized_length(value):
    """RDB length of a string value (without Redis' LZF compression of long strings)."""
    if type(value) is Compressed:
        n = value.size
    else:
        if string_encoding(value) == "int":
            v = int(value)
            if -128 <= v <= 127:
                return 2
            if -32768 <= v <= 32767:
                return 3
            if -(1 << 31) <= v < (1 << 31):
                return 5
        n = len(value)
    return _length_prefix(n) + n


@command("debug")
def debug(client, *args):
    """DEBUG subcommand [argument]"""
    mode = client.server.config.enable_debug_command
    if mode == "no" or (mode == "local" and not _is_local(client)):
        raise CommandError(DEBUG_REFUSED)
    sub = args[0].lower()
    if sub == b"help" and len(args) == 1:
        return _help("DEBUG", [
            "OBJECT <key>",
            "    Show low level info about the key and associated value.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ])
    if sub == b"sleep" and len(args) == 2:
        # Redis blocks the whole server for the duration; so does sonic.
        seconds = to_float_lenient(args[1])
        if seconds > 0:
            time.sleep(seconds)
        return OK
    if sub == b"object" and len(args) == 2:
        return _debug_object(client, args[1])
    if sub == b"set-active-expire" and len(args) == 2:
        # Redis' atoi: anything not a number is 0 (off).  Tests use it to
        # see lazy expiry (and its "expired" events) on their own.
        m = re.match(rb"\s*[+-]?\d+", args[1])
        _set_active_expire(client.server.store, bool(m and int(m.group(0))))
        return OK
    raise CommandError("ERR unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP."
                       % args[0].decode("utf-8", "replace"))


def _set_active_expire(store, on):
    """DEBUG SET-ACTIVE-EXPIRE: stop or restart the expiry timers (lazy expiry goes on)."""
    from sonic.store import expiry
    store.active_expire = on
    for db in store.dbs:
        for sh in db.shards:
            if on:
                expiry.reschedule(store, sh)
            else:
                expiry.cancel(sh)


_STRTOD = re.compile(rb"\s*[+-]?(\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?|inf(inity)?)", re.I)


def to_float_lenient(text):
    """strtod as DEBUG SLEEP uses it: the longest numeric prefix, garbage reads as 0."""
    m = _STRTOD.match(text)
    if m is None:
        return 0.0
    try:
        return float(m.group(0))
    except ValueError:
        return 0.0


def _debug_object(client, key):
    value = client.db.peek(key)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    lru = int(client.server.clock.seconds()) & ((1 << 24) - 1)
    idle = 0
    acct = client.server.store.acct
    if acct is not None and acct.mode == "lru":
        # Redis prints the key's LRU clock and its idle seconds.
        idle = acct.idle_ms(client.db.shard(key), key) // 1000
        lru = (acct.lru_clock() - idle) & ((1 << 24) - 1)
    if type(value) in (bytes, Compressed):
        encoding = string_encoding(value)
        refcount = 2147483647 if encoding == "int" and 0 <= int(value) < 10000 else 1
        serlen = serialized_length(value)
    else:
        # The collection modules register their OBJECT ENCODING namers.
        namer = ENCODERS.get(type(value))
        encoding = namer(value, client.server) if namer else type_name(value)
        refcount = 1
        serlen = 0
    text = "Value at:0x%x refcount:%d encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d" % (
        id(value), refcount, encoding, serlen, lru, idle)
    if type(value) is Compressed:
        text += " compressed:yes raw_size:%d stored_size:%d" % (value.size, len(value.data))
    return Status(text.encode())


# ---------------------------------------------------------------------------
# MEMORY

#: Per-key overhead beyond the key and value objects: the dict entry (hash,
#: key and value pointers, at the dict's usual 2/3 load) in CPython.
DICT_ENTRY_OVERHEAD = 36


def memory_usage(key, value):
    """Bytes held for C{key} and C{value}: the compressed form for compressed values."""
    size = sys.getsizeof(key) + DICT_ENTRY_OVERHEAD
    if type(value) is Compressed:
        return size + sys.getsizeof(value)
    if type(value) is bytes:
        return size + sys.getsizeof(value)
    usage = getattr(value, "memory_usage", None)
    if usage is not None:
        return size + usage()
    return size + _deep_size(value)


def _deep_size(value, depth=0):
    """sys.getsizeof of a container and (three levels of) what it holds."""
    size = sys.getsizeof(value)
    if depth > 2 or isinstance(value, (bytes, str, int, float)):
        return size
    if isinstance(value, dict):
        for k, v in value.items():
            size += _deep_size(k, depth + 1) + _deep_size(v, depth + 1)
    elif hasattr(value, "__iter__"):
        try:
            for item in value:
                size += _deep_size(item, depth + 1)
        except TypeError:
            pass
    return size


@command("memory|usage")
def memory_usage_(client, key, *args):
    """MEMORY USAGE key [SAMPLES count]"""
    if args:
        if len(args) != 2 or args[0].lower() != b"samples":
            raise CommandError(errors.SYNTAX)
        n = to_int(args[1])
        if n < 0:
            raise CommandError(errors.SYNTAX)
    value = client.db.lookup(key)
    if value is None:
        return None
    return memory_usage(key, value)


@command("memory|stats")
def memory_stats(client):
    """MEMORY STATS"""
    server = client.server
    used = server.used_memory()
    keys = sum(len(db) for db in server.store.dbs)
    out = {
        "peak.allocated": _peak(server),
        "total.allocated": used,
        "startup.allocated": getattr(server, "startup_memory", 0),
        "replication.backlog": 0,
        "clients.slaves": 0,
        "clients.normal": 0,
        "cluster.links": 0,
        "aof.buffer": 0,
        "lua.caches": 0,
        "functions.caches": 0,
    }
    for db in server.store.dbs:
        if len(db):
            out["db.%d" % db.index] = {"overhead.hashtable.main": 0,
                                       "overhead.hashtable.expires": 0}
    out["overhead.total"] = 0
    out["keys.count"] = keys
    out["keys.bytes-per-key"] = used // keys if keys else 0
    out["dataset.bytes"] = used
    out["dataset.percentage"] = 100.0
    out["peak.percentage"] = 100.0 * used / (_peak(server) or 1)
    out["allocator.allocated"] = used
    out["allocator.active"] = used
    out["allocator.resident"] = used
    out["fragmentation"] = 1.0
    out["fragmentation.bytes"] = 0
    comp = server.compressor
    out["compression.raw_bytes"] = comp.raw_bytes
    out["compression.stored_bytes"] = comp.stored_bytes
    return out


def _peak(server):
    from sonic.server import peak_rss_bytes
    return max(peak_rss_bytes(), server.used_memory())


@command("memory|doctor")
def memory_doctor(client):
    """MEMORY DOCTOR"""
    return ("Hi Sam, I can't find any memory issue in your instance. "
            "I can only account for what occurs on this base.\n").encode()


@command("memory|help")
def memory_help(client):
    """MEMORY HELP"""
    return _help("MEMORY", [
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
    ])


@command("memory|malloc-stats")
def memory_malloc_stats(client):
    """MEMORY MALLOC-STATS"""
    return b"Stats not supported for the current allocator"


@command("memory|purge")
def memory_purge(client):
    """MEMORY PURGE"""
    import gc
    gc.collect()
    release_free_memory()
    return OK


def release_free_memory():
    """Give free heap pages back to the OS (glibc's malloc_trim), as MEMORY PURGE does with jemalloc."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------------------
# SHUTDOWN


@command("shutdown")
def shutdown(client, *args):
    """SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"""
    save = nosave = now = force = abort = False
    for arg in args:
        word = arg.lower()
        if word == b"nosave":
            nosave = True
        elif word == b"save":
            save = True
        elif word == b"now":
            now = True
        elif word == b"force":
            force = True
        elif word == b"abort":
            abort = True
        else:
            raise CommandError(errors.SYNTAX)
    if (abort and (save or nosave or now or force)) or (save and nosave):
        raise CommandError(errors.SYNTAX)
    if abort:
        raise CommandError("ERR No shutdown in progress.")
    from sonic.persistence.snapshot import prepare_shutdown
    if not prepare_shutdown(client.server, True if save else False if nosave else None) \
            and not force:
        raise CommandError("ERR Errors trying to SHUTDOWN. Check logs.")
    # As in Redis, a successful SHUTDOWN sends no reply: the connection just closes.
    client.close()
    stop = client.server.shutdown
    if stop is not None:
        stop()
    return Raw(b"")

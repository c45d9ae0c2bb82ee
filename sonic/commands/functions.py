"""FUNCTION (LOAD, LIST, DELETE, FLUSH, DUMP, RESTORE, STATS, KILL, HELP), FCALL and FCALL_RO.

Redis 7.0 functions: a library is Lua code that starts with a C{#!lua
name=<lib>} line and registers functions with C{redis.register_function}
while it loads; FCALL runs one of them with C{KEYS} and C{ARGV} as its two
arguments.  The libraries of a server live in one L{Functions} registry
(C{server.functions}, made on first use) with their own Lua runtime, a
L{sonic.scripting.engine.LuaEngine} of kind C{"function"} (Redis keeps
functions in a Lua state apart from EVAL's too).

What a library sees while it loads is Redis' load-time sandbox: only
C{redis.register_function}, C{redis.log}, the C{LOG_*} levels and
C{REDIS_VERSION(_NUM)}; any other global raises "Script attempted to access
nonexistent global variable", and a load running past 500 ms stops with
"FUNCTION LOAD timeout".  Once loaded, the library's functions see the
same globals as EVAL scripts (without C{KEYS}/C{ARGV}): every library is
compiled with one environment table whose reads go to the load-time table
during a load and to the scripts' globals otherwise, and which refuses
writes ("Attempt to modify a readonly table"), as Redis swaps the
C{__index} of its globals.

Names: library names are case-sensitive, function names are unique across
libraries without regard to case (Redis' case-insensitive dict), while one
library may hold names differing only in case (FCALL then finds the first).

Where sonic's order differs: Redis lists libraries and functions in its
hash tables' order (seeded randomly at start-up); sonic uses load and
registration order.  FUNCTION DUMP writes the libraries in that order, so
its bytes equal Redis' for one library (for several, in Redis' order).

Persistence and replication: FUNCTION LOAD, DELETE, FLUSH and RESTORE are
write commands that bump the dirty counter, so the dispatcher propagates
them to replicas and the AOF like any write; FCALL propagates the writes
its function makes (effects replication, in the engine).  Snapshots carry
the libraries as RDB C{FUNCTION2} records (L{dump_libraries},
L{load_libraries}).
"""

import struct
import time

from twisted.logger import Logger

from sonic import errors
from sonic.errors import CommandError
from sonic.glob import stringmatch
from sonic.registry import command
from sonic.resp import OK, RSet, Status, split_args
from sonic.util import string2ll

__all__ = ["Functions", "get_functions", "dump_libraries", "load_libraries"]

log = Logger(namespace="sonic.functions")

#: Redis' LOAD_TIMEOUT_MS for the code run while a library loads.
LOAD_TIMEOUT = 0.5

#: Redis' scripts_flags_def, in its order (FUNCTION LIST prints them so).
FLAG_NAMES = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")

BUSY_FUNCTION = ("BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE.")
BAD_NAME = ("ERR Library names can only contain letters, numbers, or underscores(_) and must "
            "be at least one character long")

_GLUE = r"""
local err_handler, SG, log, py_timeout = ...
local type, tostring, select, next, error, setmetatable, rawget, xpcall =
      type, tostring, select, next, error, setmetatable, rawget, xpcall
local dbg = debug
local RO = "Attempt to modify a readonly table"

local function missing(k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 3)
end

-- A read-only view of t whose missing fields raise, like Redis' load-time tables.
local function sealed(t)
  return setmetatable({}, {
    __index = function(_, k)
      local v = t[k]
      if v == nil then missing(k) end
      return v
    end,
    __newindex = function() error(RO, 2) end,
    __metatable = false,
  })
end

local FLAGS = {["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
               ["no-cluster"] = true, ["allow-cross-slot-keys"] = true}

local registered   -- the functions of the library being loaded (a list), or nil
local by_name      -- their names, for "already exists in the library"

local function fail(msg) error({err = "ERR " .. msg}) end
local function isstring(v) local t = type(v) return t == "string" or t == "number" end

local function read_flags(v)
  local flags, j = {}, 1
  while true do
    local f = v[j]
    j = j + 1
    if f == nil then break end
    if not isstring(f) then fail("unknown flag given") end
    f = tostring(f):lower()
    if not FLAGS[f] then fail("unknown flag given") end
    flags[f] = true
  end
  return flags
end

local function register_function(...)
  if not registered then
    fail("redis.register_function can only be called on FUNCTION LOAD command")
  end
  local n = select("#", ...)
  if n < 1 or n > 2 then fail("wrong number of arguments to redis.register_function") end
  local name, callback, description, flags
  if n == 1 then
    local t = ...
    if type(t) ~= "table" then
      fail("calling redis.register_function with a single argument is only applicable to " ..
           "Lua table (representing named arguments).")
    end
    for k, v in next, t do
      if not isstring(k) then
        fail("named argument key given to redis.register_function is not a string")
      end
      k = tostring(k)
      if k == "function_name" then
        if not isstring(v) then
          fail("function_name argument given to redis.register_function must be a string")
        end
        name = tostring(v)
      elseif k == "description" then
        if not isstring(v) then
          fail("description argument given to redis.register_function must be a string")
        end
        description = tostring(v)
      elseif k == "callback" then
        if type(v) ~= "function" then
          fail("callback argument given to redis.register_function must be a function")
        end
        callback = v
      elseif k == "flags" then
        if type(v) ~= "table" then
          fail("flags argument to redis.register_function must be a table representing " ..
               "function flags")
        end
        flags = read_flags(v)
      else
        fail("unknown argument given to redis.register_function")
      end
    end
    if not name then fail("redis.register_function must get a function name argument") end
    if not callback then fail("redis.register_function must get a callback argument") end
  else
    local a, b = ...
    if not isstring(a) then fail("first argument to redis.register_function must be a string") end
    if type(b) ~= "function" then
      fail("second argument to redis.register_function must be a function")
    end
    name, callback = tostring(a), b
  end
  if not name:find("^[%w_]+$") then
    fail("Library names can only contain letters, numbers, or underscores(_) and must be at " ..
         "least one character long")
  end
  if by_name[name] then fail("Function already exists in the library") end
  by_name[name] = true
  registered[#registered + 1] = {name = name, callback = callback, description = description,
                                 flags = flags or {}}
end

local LOAD_API = {
  redis = sealed({
    register_function = register_function, log = log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = "7.0.15", REDIS_VERSION_NUM = 458767,
  }),
}

-- At run time functions get EVAL's redis table without the debugger's
-- functions and replicate_commands (absent in Redis' function engine).
local HIDDEN = {breakpoint = true, debug = true, replicate_commands = true}
local FUNCTION_REDIS = setmetatable({}, {
  __index = function(_, k)
    if HIDDEN[k] then return nil end
    return rawget(SG, "redis")[k]
  end,
  __newindex = function() error(RO, 2) end,
  __metatable = false,
})
-- Globals EVAL scripts have and functions do not.
local NOT_FOR_FUNCTIONS = {KEYS = true, ARGV = true}

-- The one environment of every library: reads go to LOAD_API while a
-- library loads, to the scripts' globals (SG) otherwise.
local loading = false
local ENV = setmetatable({}, {
  __index = function(_, k)
    local v
    if loading then
      v = LOAD_API[k]
    elseif k == "redis" then
      return FUNCTION_REDIS
    elseif not NOT_FOR_FUNCTIONS[k] then
      v = rawget(SG, k)
    end
    if v == nil then missing(k) end
    return v
  end,
  __newindex = function() error(RO, 2) end,
  __metatable = false,
})

local function timeout_hook()
  if py_timeout() then
    error({err = "ERR FUNCTION LOAD timeout"})
  end
end

-- Runs a compiled library: ok, error (Redis' {err=} table) and the registered functions.
-- The engine's own count hook (BUSY, kills) is put back afterwards.
local function load(fn)
  registered, by_name, loading = {}, {}, true
  local hook, mask, count = dbg.gethook()
  dbg.sethook(timeout_hook, "", 10000)
  local ok, err = xpcall(fn, err_handler)
  if hook then dbg.sethook(hook, mask, count) else dbg.sethook() end
  local r = registered
  registered, by_name, loading = nil, nil, false
  return ok, err, r
end

local function flag_list(flags)
  local out = {}
  for k in next, flags do out[#out + 1] = k end
  return out
end

return {env = ENV, load = load, flag_list = flag_list}
"""


class Function(object):
    """One registered function.

    @ivar name: its name as registered (bytes).
    @ivar callback: the Lua function.
    @ivar description: bytes or None.
    @ivar flags: set of flag names (str, Redis' spelling: C{"no-writes"}...).
    @ivar library: the L{Library} holding it.
    """

    def __init__(self, name, callback, description, flags, library):
        self.name = name
        self.callback = callback
        self.description = description
        self.flags = flags
        self.library = library

    def script_flags(self):
        """The flags in the form the EVAL shebang checks use (C{"no_writes"}...)."""
        return {f.replace("-", "_") for f in self.flags}


class Library(object):
    """A loaded library: its name, its code (as given to FUNCTION LOAD) and its functions."""

    def __init__(self, name, code):
        self.name = name
        self.code = code
        self.functions = {}


def parse_metadata(code):
    """The C{#!<engine> name=<lib>} line: C{(engine, name, body)} or CommandError, as 7.0."""
    if not code.startswith(b"#!"):
        raise CommandError("ERR Missing library metadata")
    nl = code.find(b"\n")
    if nl < 0:
        raise CommandError("ERR Invalid library metadata")
    parts = split_args(code[:nl])
    if not parts:
        raise CommandError("ERR Invalid library metadata")
    engine = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise CommandError(
                    "ERR Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise CommandError(errors.sanitize("ERR Invalid metadata value given: %s" % _text(part)))
    if name is None:
        raise CommandError("ERR Library name was not given")
    # the body keeps the newline, so Lua's line numbers count the #! line
    return engine, name, code[nl:]


def _valid_name(name):
    return bool(name) and all(c == 95 or 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122
                              for c in name)


def _text(b):
    return b.decode("utf-8", "surrogateescape")


class Functions(object):
    """The libraries and functions of one server, and their Lua runtime.

    @ivar libraries: name (bytes) -> L{Library}, in load order.
    @ivar functions: lower-cased name -> L{Function}, across libraries.
    """

    def __init__(self, server):
        self.server = server
        self.libraries = {}
        self.functions = {}
        self._engine = None

    # -- the runtime ------------------------------------------------------------

    @property
    def engine(self):
        """The functions' L{LuaEngine} (made on first use)."""
        if self._engine is None:
            from sonic.scripting.engine import LuaEngine
            engine = LuaEngine(self.server, chunkname="@user_function", kind="function")
            if not engine.sealed:
                engine.seal()
            self._deadline = 0.0
            glue = engine.lua.execute(
                _GLUE, engine.G[b"__redis__err__handler"], engine.G,
                engine.redis[b"log"], self._timed_out)
            self._env = glue[b"env"]
            self._load = glue[b"load"]
            self._flag_list = glue[b"flag_list"]
            self._engine = engine
        return self._engine

    def _timed_out(self):
        return time.monotonic() > self._deadline

    def running(self):
        """The L{ScriptRun} of the function running now, or None."""
        from sonic.scripting.engine import running
        run = running(self.server)
        if run is not None and self._engine is not None and run.engine is self._engine:
            return run
        return None

    # -- loading ------------------------------------------------------------------

    def create(self, code, replace=False, timeout=True, libraries=None, functions=None):
        """Compile and run a library's code: a new L{Library} (not yet linked) or CommandError.

        C{libraries}/C{functions} are the registry to check names against
        (this one's by default); with C{replace}, an existing library of
        the same name is left out of the function-name check.
        """
        if libraries is None:
            libraries, functions = self.libraries, self.functions
        engine_name, name, body = parse_metadata(code)
        if not _valid_name(name):
            raise CommandError(BAD_NAME)
        if engine_name.lower() != b"lua":
            raise CommandError(errors.sanitize("ERR Engine '%s' not found" % _text(engine_name)))
        old = libraries.get(name)
        if old is not None and not replace:
            raise CommandError(errors.sanitize("ERR Library '%s' already exists" % _text(name)))
        engine = self.engine
        from sonic.scripting.engine import ScriptCompileError
        try:
            fn = engine.compile(body, chunkname="@user_function", env=self._env)
        except ScriptCompileError as e:
            raise CommandError(errors.sanitize("ERR Error compiling function: %s" % _text(e.args[0])))
        self._deadline = time.monotonic() + LOAD_TIMEOUT if timeout else float("inf")
        ok, err, registered = self._load(fn)
        if not ok:
            raise CommandError(errors.sanitize(
                "ERR Error registering functions: %s" % _text(_err_text(err))))
        lib = Library(name, code)
        n = len(registered)
        if n == 0:
            raise CommandError("ERR No functions registered")
        for i in range(1, n + 1):
            entry = registered[i]
            fname = entry[b"name"]
            flags = {_text(f) for f in self._flag_list(entry[b"flags"]).values()}
            lib.functions[fname] = Function(fname, entry[b"callback"], entry[b"description"],
                                            flags, lib)
        for fname in lib.functions:
            holder = functions.get(fname.lower())
            if holder is not None and holder.library is not old:
                raise CommandError(errors.sanitize(
                    "ERR Function %s already exists" % _text(fname)))
        return lib

    def link(self, lib, libraries=None, functions=None):
        """Add a created library (replacing one of the same name)."""
        if libraries is None:
            libraries, functions = self.libraries, self.functions
        old = libraries.get(lib.name)
        if old is not None:
            self.unlink(old, libraries, functions)
        libraries[lib.name] = lib
        for fname, fn in lib.functions.items():
            functions.setdefault(fname.lower(), fn)

    def unlink(self, lib, libraries=None, functions=None):
        """Remove a library and its functions."""
        if libraries is None:
            libraries, functions = self.libraries, self.functions
        del libraries[lib.name]
        for fname in lib.functions:
            key = fname.lower()
            if functions.get(key) is not None and functions[key].library is lib:
                del functions[key]

    def load(self, code, replace=False):
        """FUNCTION LOAD: the library's name."""
        lib = self.create(code, replace)
        self.link(lib)
        return lib.name

    def flush(self):
        """Forget every library (the Lua runtime is started afresh, as Redis' does)."""
        self.libraries = {}
        self.functions = {}
        if self.running() is None:
            self._engine = None

    def rdb_records(self, compress=True):
        """The FUNCTION2 records of the libraries, as a snapshot writes them after its AUX fields."""
        from sonic.rdb.format import OP_FUNCTION2  # the RDB modules load on first use
        from sonic.rdb.writer import encode_string
        out = bytearray()
        for lib in self.libraries.values():
            out.append(OP_FUNCTION2)
            out += encode_string(lib.code, compress)
        return bytes(out)

    def function_count(self):
        return sum(len(lib.functions) for lib in self.libraries.values())


def functions_memory(server):
    """INFO memory's figures: functions, libraries, Lua VM bytes, bytes of code and names."""
    f = getattr(server, "functions", None)
    if f is None:
        return 0, 0, 0, 0
    vm = f._engine.memory() if f._engine is not None else 0
    size = sum(len(lib.code) + len(lib.name) + sum(len(n) for n in lib.functions)
               for lib in f.libraries.values())
    return f.function_count(), len(f.libraries), vm, size


def get_functions(server):
    """The server's L{Functions} registry (made on first use)."""
    f = getattr(server, "functions", None)
    if f is None:
        f = server.functions = Functions(server)
    return f


def _err_text(err):
    """The message of a Lua error value from the engine's error handler ({err=...})."""
    try:
        msg = err[b"err"]
    except Exception:
        msg = None
    if msg is None:
        return b"ERR unknown error" if err is None else (
            err if isinstance(err, bytes) else str(err).encode())
    if isinstance(msg, bytes):
        return msg
    return str(msg).encode()


# ---------------------------------------------------------------------------
# DUMP / RESTORE payloads and RDB records

def dump_libraries(server):
    """FUNCTION DUMP's payload: a FUNCTION2 record per library, RDB version, CRC-64."""
    from sonic.rdb.format import OP_FUNCTION2, RDB_VERSION, crc64
    from sonic.rdb.writer import encode_string
    f = getattr(server, "functions", None)
    out = bytearray()
    if f is not None:
        for lib in f.libraries.values():
            out.append(OP_FUNCTION2)
            out += encode_string(lib.code)
    out += struct.pack("<H", RDB_VERSION)
    out += struct.pack("<Q", crc64(bytes(out)))
    return bytes(out)


def rdb_records(server, compress=True):
    """The FUNCTION2 records a snapshot writes after its AUX fields (bytes)."""
    f = getattr(server, "functions", None)
    if f is None:
        return b""
    return f.rdb_records(compress)


def _payload_codes(payload):
    """The library codes of a FUNCTION DUMP payload, or CommandError as RESTORE answers."""
    from sonic.rdb.format import OP_FUNCTION2, RDB_VERSION, crc64
    from sonic.rdb.reader import _string as _rdb_string
    if len(payload) < 10:
        raise CommandError("ERR DUMP payload version or checksum are wrong")
    version = struct.unpack_from("<H", payload, len(payload) - 10)[0]
    if version > RDB_VERSION or crc64(payload[:-8]) != struct.unpack_from(
            "<Q", payload, len(payload) - 8)[0]:
        raise CommandError("ERR DUMP payload version or checksum are wrong")
    body = payload[:-10]
    codes = []
    pos = 0
    while pos < len(body):
        if body[pos] != OP_FUNCTION2:
            raise CommandError("ERR given type is not a function")
        try:
            code, pos = _rdb_string(body, pos + 1)
        except Exception:
            raise CommandError("ERR Failed loading library payload")
        codes.append(bytes(code))
    return codes


def load_libraries(server, codes):
    """Make the libraries those of an RDB file just loaded (its FUNCTION2 codes).

    The libraries there replace the current ones, as when Redis loads a
    file or a full sync.  A library that fails to load is logged and left
    out (Redis would refuse the whole file).
    """
    f = getattr(server, "functions", None)
    if f is None:
        if not codes:
            return
        f = get_functions(server)
    f.flush()
    for code in codes:
        try:
            f.link(f.create(bytes(code), replace=True, timeout=False))
        except CommandError as e:
            log.warn("Skipped a function library of the RDB file: {err}", err=e.message)


# ---------------------------------------------------------------------------
# Commands

def _dirty(client):
    client.server.store.dirty += 1


def _syntax_error(sub):
    return CommandError(errors.sanitize(
        "ERR unknown subcommand or wrong number of arguments for '%s'. Try FUNCTION HELP."
        % _text(sub)))


@command("function|load")
def function_load(client, *args):
    """FUNCTION LOAD [REPLACE] function-code"""
    replace = False
    for word in args[:-1]:
        if word.lower() == b"replace":
            replace = True
        else:
            raise CommandError(errors.sanitize("ERR Unknown option given: %s" % _text(word)))
    name = get_functions(client.server).load(args[-1], replace)
    _dirty(client)
    return name


@command("function|delete")
def function_delete(client, library_name):
    """FUNCTION DELETE library-name"""
    f = get_functions(client.server)
    lib = f.libraries.get(library_name)
    if lib is None:
        raise CommandError("ERR Library not found")
    f.unlink(lib)
    _dirty(client)
    return OK


@command("function|flush")
def function_flush(client, *args):
    """FUNCTION FLUSH [ASYNC|SYNC]"""
    if len(args) > 1:
        raise _syntax_error(client.argv[1])
    if args and args[0].lower() not in (b"async", b"sync"):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    get_functions(client.server).flush()
    _dirty(client)
    return OK


@command("function|list")
def function_list(client, *args):
    """FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]"""
    pattern = None
    with_code = False
    i = 0
    while i < len(args):
        word = args[i].lower()
        if word == b"withcode" and not with_code:
            with_code = True
        elif word == b"libraryname" and pattern is None:
            if i + 1 >= len(args):
                raise CommandError("ERR library name argument was not given")
            i += 1
            pattern = args[i]
        else:
            raise CommandError(errors.sanitize("ERR Unknown argument %s" % _text(args[i])))
        i += 1
    out = []
    for lib in get_functions(client.server).libraries.values():
        if pattern is not None and not stringmatch(pattern, lib.name, nocase=True):
            continue
        funcs = []
        for fn in lib.functions.values():
            flags = [Status(name.encode()) for name in FLAG_NAMES if name in fn.flags]
            funcs.append({b"name": fn.name, b"description": fn.description,
                          b"flags": RSet(flags)})
        entry = {b"library_name": lib.name, b"engine": b"LUA", b"functions": funcs}
        if with_code:
            entry[b"library_code"] = lib.code
        out.append(entry)
    return out


@command("function|stats")
def function_stats(client):
    """FUNCTION STATS"""
    f = get_functions(client.server)
    run = f.running()
    if run is None:
        running_script = None
    else:
        running_script = {
            b"name": run.name.encode() if isinstance(run.name, str) else run.name,
            b"command": list(run.caller.argv),
            b"duration_ms": int((time.monotonic() - run.start) * 1000),
        }
    return {
        b"running_script": running_script,
        b"engines": {b"LUA": {b"libraries_count": len(f.libraries),
                              b"functions_count": f.function_count()}},
    }


@command("function|kill")
def function_kill(client):
    """FUNCTION KILL"""
    from sonic.scripting.engine import running
    run = running(client.server)
    f = get_functions(client.server)
    if run is None:
        raise CommandError("NOTBUSY No scripts in execution right now.")
    if f.running() is None:
        raise CommandError("BUSY Redis is busy running a script. You can only call SCRIPT KILL "
                           "or SHUTDOWN NOSAVE.")
    f.engine.kill(function=True)
    return OK


@command("function|dump")
def function_dump(client):
    """FUNCTION DUMP"""
    return dump_libraries(client.server)


@command("function|restore")
def function_restore(client, payload, *args):
    """FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]"""
    if len(args) > 1:
        raise _syntax_error(client.argv[1])
    policy = b"append"
    if args:
        policy = args[0].lower()
        if policy not in (b"flush", b"append", b"replace"):
            raise CommandError("ERR Wrong restore policy given, value should be either FLUSH, "
                               "APPEND or REPLACE.")
    codes = _payload_codes(payload)
    f = get_functions(client.server)
    # Load into a scratch registry first, then check it against the current one.
    libraries, functions = {}, {}
    for code in codes:
        lib = f.create(code, timeout=False, libraries=libraries, functions=functions)
        f.link(lib, libraries, functions)
    if policy == b"flush":
        f.libraries, f.functions = {}, {}
    else:
        replaced = []
        for name in libraries:
            if name in f.libraries:
                if policy != b"replace":
                    raise CommandError(errors.sanitize(
                        "ERR Library %s already exists" % _text(name)))
                replaced.append(f.libraries[name])
        dst_functions = dict(f.functions)
        for old in replaced:
            for fname in old.functions:
                key = fname.lower()
                if dst_functions.get(key) is not None and dst_functions[key].library is old:
                    del dst_functions[key]
        for key, fn in functions.items():
            if key in dst_functions:
                raise CommandError(errors.sanitize(
                    "ERR Function %s already exists" % _text(fn.name)))
    for lib in libraries.values():
        f.link(lib)
    _dirty(client)
    return OK


_HELP = [
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using "
    "FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore "
    "policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance "
    "of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
]


@command("function|help")
def function_help(client):
    """FUNCTION HELP"""
    return [Status(line.encode()) for line in _HELP]


def _fcall(client, name, numkeys, args, read_only_command):
    f = get_functions(client.server)
    fn = f.functions.get(name.lower())
    if fn is None:
        raise CommandError("ERR Function not found")
    nkeys = string2ll(numkeys)
    if nkeys is None:
        raise CommandError("ERR Bad number of keys provided")
    if nkeys > len(args):
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if nkeys < 0:
        raise CommandError("ERR Number of keys can't be negative")
    from sonic.commands.scripting import _prepare
    flags = fn.script_flags()
    read_only = _prepare(client, flags, read_only_command)
    return f.engine.run(fn.callback, client, list(args[:nkeys]), list(args[nkeys:]),
                        _text(fn.name), read_only=read_only, allow_oom="allow_oom" in flags,
                        compat=False, busy_error=BUSY_FUNCTION, pass_args=True)


@command("fcall")
def fcall(client, function, numkeys, *args):
    """FCALL function numkeys [key [key ...]] [arg [arg ...]]"""
    return _fcall(client, function, numkeys, args, False)


@command("fcall_ro")
def fcall_ro(client, function, numkeys, *args):
    """FCALL_RO function numkeys [key [key ...]] [arg [arg ...]]"""
    return _fcall(client, function, numkeys, args, True)

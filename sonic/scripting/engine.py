"""The Lua 5.1 runtime scripts run in: sandbox, the C{redis} library, conversions, BUSY.

One L{LuaEngine} per server runs EVAL scripts (created on first use,
L{get_engine}); FUNCTION libraries get their own (Redis keeps two Lua
states too).  The embedding is lupa's real Lua 5.1 (C{from lupa import
lua51}), with no access to Python: the runtime is built with
C{register_eval=False, register_builtins=False}, an attribute filter that
refuses everything, and scripts' globals a table of their own (the
runtime's real globals, which lupa itself uses, are out of reach).  The
C{redis} functions that can raise (C{call}, C{sha1hex}, C{log}, C{setresp},
C{set_repl}, C{acl_check_cmd}) and C{math.random} are Python callables, so
to Lua they are C functions: a failing call keeps the script's stack frame,
even in a tail call, and the error names the script's line as Redis' do
(C{type()} of them is "userdata" where Redis says "function").  Their
errors reach Lua as a Python exception object that the error handler and
the C{pcall} wrapper turn into Redis' C{{err=...}} table / string.

Time: a count hook (every 100000 instructions, as Redis) checks the time;
past busy-reply-threshold it sets C{server.script_busy} (the dispatcher
then answers -BUSY to everything but allow_busy commands, through
C{server.gate_all}) and runs the reactor's C{doIteration(0)} so other
clients are answered and SCRIPT KILL can arrive (Redis'
processEventsWhileBlocked; the script's own connection does not re-enter,
its protocol is still processing).  A killed script gets a line hook that
raises on every line, so pcall cannot swallow the kill.  The keyspace's
clock stands still while a script runs (keys expire by its start time).

What scripts see is Redis 7.0's environment (checked against redis-server
7.0.15): the base library without C{print}, C{setfenv}, C{getfenv},
C{module}, C{newproxy}, C{loadfile}, C{dofile}, C{require}; C{string},
C{table}, C{math} (C{math.random} is Redis' own C{rand48} generator),
C{coroutine}; no C{io}, C{os}, C{debug} or C{package}; the C{redis} table;
C{KEYS} and C{ARGV}.  As in 7.0 the global table and the library tables are
read-only ("Attempt to modify a readonly table"), and reading a global that
does not exist is an error ("Script attempted to access nonexistent global
variable").  Stock Lua has no read-only tables, so the globals scripts see
are a proxy whose metatable reads through to the real table and refuses
writes; C{rawset}, C{rawget}, C{next}, C{pairs}, C{setmetatable},
C{loadstring}, C{load}, C{table.insert} and C{table.remove} are wrapped to
honour the proxies.

Errors carry Redis' text: a script error becomes C{"<err> script: <sha>, on
@user_script:<line>."}, the line being the script's (an error handler walks
the Lua stack past C functions and this module's own code, as Redis'
C{__redis__err__handler} does past C frames).

How FUNCTION / FCALL (helper D, L{sonic.commands.functions}) plugs in
---------------------------------------------------------------------

  - Libraries: L{LuaEngine.__init__} calls C{sonic.scripting.libs.install_libs(lua)}
    (if that module imports) on the raw lupa runtime, before the sandbox is
    set up: C{install_libs} registers C{cjson}, C{cmsgpack}, C{bit},
    C{struct} as globals; the engine then makes them read-only like the
    other libraries.
  - A runtime of your own: C{LuaEngine(server, chunkname="@user_function",
    kind="function")}.  C{engine.lua} is the lupa runtime,
    C{engine.G} the real global table (write through it with
    C{engine.G[b"name"] = value} to add globals, e.g. a C{redis.register_function}
    during library loading), C{engine.protect(table)} returns a read-only
    proxy of a Lua table, C{engine.redis} the C{redis} library table (add
    C{register_function} to it with C{engine.set_redis_field}).
  - Compiling: C{engine.compile(body)} returns the Lua function (its
    environment is the read-only globals proxy) or raises
    L{ScriptCompileError} with Lua's message.  C{engine.compile(body, env=t)}
    gives it another environment table.
  - Running: C{engine.run(fn, caller, keys, args, name=..., read_only=...,
    allow_oom=..., busy_error=...)} runs C{fn} with C{KEYS}/C{ARGV} set,
    commands going through the per-engine script client, the BUSY and SCRIPT KILL
    machinery on (FUNCTION KILL: C{engine.kill()} / L{running}), and returns the
    reply value for C{caller} (a L{sonic.resp.Raw}) or raises
    L{CommandError} with Redis' text (C{name} replaces the sha in
    C{"script: <name>, on ..."}).  Call it with C{fn} being any Lua function
    value (for FCALL: the registered callback; it gets C{KEYS, ARGV} as its
    two arguments when C{pass_args=True}).
  - Conversions: L{LuaEngine.to_lua} (a command reply -> Lua value, for a
    script speaking RESP2 or 3) and L{LuaEngine.to_reply} (a Lua value ->
    RESP bytes for a client).
"""

import hashlib
import math
import time

from lupa import lua51
from twisted.logger import Logger

from sonic import errors
from sonic.dispatch import Client, call as dispatch_call
from sonic.errors import CommandError
from sonic.registry import TABLE
from sonic.resp import (NULL_ARRAY, Error, Push, RSet, Raw, Status, Verbatim, format_double)
from sonic.scripting import eval_memory  # noqa: F401  (INFO memory's figures; lupa-free)

__all__ = ["LuaEngine", "ScriptRun", "ScriptCompileError", "get_engine", "running", "sha1hex",
           "BUSY_SCRIPT", "parse_shebang"]

log = Logger(namespace="sonic.scripting")

_LuaTable = type(lua51.LuaRuntime().table())
_lua_type = lua51.lua_type

#: Redis' errors (7.0.15).
BUSY_SCRIPT = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
SCRIPT_KILLED = "ERR Script killed by user with SCRIPT KILL..."
UNKNOWN_CMD = "Unknown Redis command called from script"
WRONG_ARGS = "Wrong number of args calling Redis command from script"
NOT_ALLOWED = "This Redis command is not allowed from script"
WRITE_IN_RO = "Write commands are not allowed from read-only scripts."
BAD_ARG_TYPE = "Lua redis lib command arguments must be strings or integers"
NO_ARGS = "Please specify at least one argument for this redis lib call"

#: Commands Redis flags "may-replicate" (an internal flag COMMAND INFO does
#: not show): refused in read-only scripts like writes.
MAY_REPLICATE = frozenset(["publish", "spublish", "pfcount"])

#: How often (Lua VM instructions) the count hook checks the time, as Redis.
HOOK_INSTRUCTIONS = 100000

#: How deep nested tables in a script's reply may go (see _to_resp).
MAX_REPLY_DEPTH = 400

LLONG_MIN = -(1 << 63)
LLONG_MAX = (1 << 63) - 1


class ScriptCompileError(Exception):
    """A script did not compile; C{args[0]} is Lua's message (bytes)."""


def sha1hex(data):
    """The lower-case hex SHA1 of C{data} (bytes), as Redis names scripts."""
    return hashlib.sha1(data).hexdigest()


_SHEBANG_FLAGS = {
    b"no-writes": "no_writes",
    b"allow-oom": "allow_oom",
    b"allow-stale": "allow_stale",
    b"no-cluster": "no_cluster",
    b"allow-cross-slot-keys": "allow_cross_slot",
}


def parse_shebang(body):
    """The shebang flags of an EVAL script: (flags set or None for no shebang, body to compile).

    Redis 7.0's evalExtractShebangFlags: C{#!lua [flags=a,b]} on the first
    line; the line is replaced by nothing but its newline, so line numbers
    stay right.  Raises L{CommandError} with Redis' texts.
    """
    if not body.startswith(b"#!"):
        return None, body
    end = body.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid script shebang")
    from sonic.resp import split_args
    parts = split_args(body[:end])
    if not parts:
        raise CommandError("ERR Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise CommandError("ERR Unexpected engine in script shebang: %s"
                           % parts[0].decode("utf-8", "surrogateescape"))
    flags = set()
    for part in parts[1:]:
        if part.startswith(b"flags="):
            value = part[6:]
            if not value:
                continue
            for word in value.split(b","):
                flag = _SHEBANG_FLAGS.get(word)
                if flag is None:
                    raise CommandError("ERR Unexpected flag in script shebang: %s"
                                       % word.decode("utf-8", "surrogateescape"))
                flags.add(flag)
        else:
            raise CommandError("ERR Unknown lua shebang option: %s"
                               % part.decode("utf-8", "surrogateescape"))
    return frozenset(flags), body[end:]


# The Lua side, run once per runtime before the sandbox closes.  It gets the
# Python callbacks as arguments and returns the internals the engine needs;
# everything is kept in locals, so scripts cannot reach the callbacks.
_BOOTSTRAP = r"""
local py_call, py_pcall, py_unwrap, py_log, py_sha1, py_hook, py_rand, py_seed, py_setresp, py_set_repl, py_acl, HOOK_N = ...
local G = _G
local dbg = debug
local type, error, tostring, select, rawget, rawset, setmetatable, getmetatable =
      type, error, tostring, select, rawget, rawset, setmetatable, getmetatable
local pcall, next, xpcall, setfenv, loadstring, load, floor, ipairs, tonumber = pcall, next, xpcall, setfenv, loadstring, load, math.floor, ipairs, tonumber
local tinsert, tremove = table.insert, table.remove
local INTERNAL = dbg.getinfo(1, 'S').source
local RO = "Attempt to modify a readonly table"
local SG = {}  -- the scripts' globals (see seal)
local PG       -- the read-only proxy of SG scripts see, set by seal()

-- Read-only tables: scripts get proxies; backing_of maps a proxy to its table.
local backing_of = setmetatable({}, {__mode = 'k'})
local function ro_newindex() error(RO, 2) end
local standin = setmetatable({}, {__newindex = ro_newindex})
backing_of[standin] = {}
local function protect(t)
  local proxy = {}
  backing_of[proxy] = t
  setmetatable(proxy, {__index = t, __newindex = ro_newindex, __metatable = standin})
  return proxy
end

-- The error handler: Redis' {err=, source=, line=} with the line of the
-- script (past C functions and this chunk's wrappers).
local function err_handler(err)
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == INTERNAL) do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  local msg
  if type(err) == 'userdata' then err = py_unwrap(err) end
  if type(err) == 'table' then
    msg = rawget(backing_of[err] or err, 'err')
    if rawget(err, 'where') then
      -- A C-style argument error: Lua's luaL_where position goes first.
      if i and i.currentline > 0 then
        msg = 'ERR ' .. i.short_src .. ':' .. i.currentline .. ': ' .. msg
      else
        msg = 'ERR ' .. msg
      end
    end
  else
    msg = 'ERR ' .. tostring(err)
  end
  local out = {err = msg}
  if i then
    out.source = i.source
    out.line = i.currentline
  end
  return out
end

-- The count hook: every HOOK_N instructions Python checks the time (BUSY,
-- SCRIPT KILL).  Once killed, every line of the script raises, so a pcall
-- in the script cannot swallow the kill (Redis does the same).
local kill_error = {err = 'ERR Script killed by user with SCRIPT KILL...'}
local function kill_hook()
  local i = dbg.getinfo(2, 'S')
  if i and i.source ~= INTERNAL and i.what ~= 'C' then
    error(kill_error, 0)
  end
end
local killed = false
local function count_hook()
  if py_hook() then
    killed = true
    dbg.sethook(kill_hook, 'l')
    kill_hook()
  end
end
dbg.sethook(count_hook, '', HOOK_N)

local function first(ok, r) return ok, r end

local function run(f, pass_args, nkeys, ...)
  local all = {...}
  local keys, argv = {}, {}
  for i = 1, nkeys do keys[i] = all[i] end
  for i = nkeys + 1, select('#', ...) do argv[i - nkeys] = all[i] end
  SG.KEYS = keys
  SG.ARGV = argv
  if killed then
    -- The last run was killed: back to the count hook.
    killed = false
    dbg.sethook(count_hook, '', HOOK_N)
  end
  if pass_args then
    return first(xpcall(function() return f(keys, argv) end, err_handler))
  end
  return first(xpcall(f, err_handler))
end

-- Push an error the way Redis' luaPushErrorBuff builds it: "-CODE msg"
-- keeps its code, anything else gets ERR; surrounding CR/LF trimmed.
local function error_table(msg)
  local code
  if msg:sub(1, 1) == '-' then
    local sp = msg:find(' ', 1, true)
    if sp then
      code = msg:sub(2, sp - 1)
      msg = msg:sub(sp + 1)
    else
      code = 'ERR'
      msg = msg:sub(2)
    end
  else
    code = 'ERR'
  end
  msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
  return {err = code .. ' ' .. msg}
end

-- The functions that can raise are Python callables (C functions to Lua),
-- so a failing call keeps the script's frame even in a tail call
-- (`return redis.call(...)`) and the error names the script's line, as
-- Redis' C functions do.  Their errors reach Lua as userdata that
-- py_unwrap turns into Redis' {err=...} table.
local redis = {}
redis.call = py_call
redis.pcall = py_pcall
redis.error_reply = function(...)
  local msg = ...
  if select('#', ...) ~= 1 or type(msg) ~= 'string' then
    return error_table('wrong number or type of arguments')
  end
  if msg:sub(1, 1) ~= '-' then msg = '-' .. msg end
  return error_table(msg)
end
redis.status_reply = function(...)
  local msg = ...
  if select('#', ...) ~= 1 or type(msg) ~= 'string' then
    return error_table('wrong number or type of arguments')
  end
  return {ok = msg}
end
redis.sha1hex = py_sha1
redis.log = py_log
redis.setresp = py_setresp
redis.set_repl = py_set_repl
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = py_acl
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = '7.0.15'
redis.REDIS_VERSION_NUM = 458767

-- Scripts' globals are a table of their own (SG), never the runtime's
-- real globals: lupa itself reads those (debug.traceback...).

local function copy(t)
  local c = {}
  for k, v in next, t do c[k] = v end
  return c
end

-- Redis' math.random: its own rand48 generator (Python side, a C function
-- to Lua, so its argument errors name the script's line).
local smath = copy(math)
smath.random = py_rand
smath.randomseed = py_seed

local stable = copy(table)
stable.insert = function(t, ...)
  if backing_of[t] then error(RO, 0) end
  return tinsert(t, ...)
end
stable.remove = function(t, ...)
  if backing_of[t] then error(RO, 0) end
  return tremove(t, ...)
end

-- Wrappers honouring the proxies.
local function xnext(t, k) return next(backing_of[t] or t, k) end
-- Redis' pcall hands the script an error table's err string, not the table.
local function caught(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'userdata' then e = py_unwrap(e) end
  if type(e) == 'table' then
    local msg = rawget(backing_of[e] or e, 'err')
    if type(msg) == 'string' or type(msg) == 'number' then e = msg end
  end
  return false, e
end
local wrappers = {
  pcall = function(f, ...) return caught(pcall(f, ...)) end,
  xpcall = function(f, h)
    return xpcall(f, function(e)
      if type(e) == 'userdata' then e = py_unwrap(e) end
      return h(e)
    end)
  end,
  rawset = function(t, k, v)
    if backing_of[t] then error(RO, 0) end
    return rawset(t, k, v)
  end,
  rawget = function(t, k) return rawget(backing_of[t] or t, k) end,
  setmetatable = function(t, mt)
    if backing_of[t] then error(RO, 0) end
    return setmetatable(t, mt)
  end,
  next = xnext,
  pairs = function(t) return xnext, t, nil end,
  loadstring = function(s, name)
    if type(s) == 'string' and s:byte(1) == 27 then
      -- Redis' Lua refuses precompiled chunks (they can break the VM): it
      -- reads them as source text, which fails on the ESC byte.
      return loadstring(' \27', name or s)
    end
    local f, e = loadstring(s, name)
    if f then setfenv(f, PG) end
    return f, e
  end,
  load = function(fn, name)
    if type(fn) ~= 'function' then
      error("bad argument #1 to 'load' (function expected, got " .. type(fn) .. ")", 2)
    end
    local f, e = load(fn, name)
    if f then setfenv(f, PG) end
    return f, e
  end,
}

local function compile(body, chunkname, env)
  local f, err = loadstring(body, chunkname)
  if not f then return false, err end
  setfenv(f, env or PG)
  return true, f
end

-- Build the scripts' globals and close the sandbox: what Redis 7.0 does not
-- give scripts is left out, library tables and the globals become
-- read-only, unknown globals raise.  Called after the optional libraries
-- (cjson...) are installed in the real globals.
local REMOVED = {io = true, os = true, debug = true, package = true, require = true, module = true,
                 loadfile = true, dofile = true, print = true, setfenv = true, getfenv = true,
                 newproxy = true, python = true, _G = true}
local function seal(extra)
  for k, v in next, G do
    if not REMOVED[k] then SG[k] = v end
  end
  SG.math = smath
  SG.table = stable
  SG.string = copy(string)
  -- Hooks are per coroutine in Lua: a coroutine gets the count hook too, so
  -- a loop inside one still meets busy-reply-threshold and SCRIPT KILL.
  local co = copy(coroutine)
  local co_create, co_wrap = coroutine.create, coroutine.wrap
  co.create = function(f)
    if type(f) ~= 'function' then return co_create(f) end
    return co_create(function(...) dbg.sethook(count_hook, '', HOOK_N) return f(...) end)
  end
  co.wrap = function(f)
    if type(f) ~= 'function' then return co_wrap(f) end
    return co_wrap(function(...) dbg.sethook(count_hook, '', HOOK_N) return f(...) end)
  end
  SG.coroutine = co
  SG.redis = redis
  for k, v in next, wrappers do SG[k] = v end
  SG.__redis__err__handler = err_handler
  if extra then for k, v in next, extra do SG[k] = v end end
  for _, name in ipairs({'string', 'table', 'math', 'coroutine', 'redis', 'bit', 'cjson', 'cmsgpack', 'struct'}) do
    local lib = rawget(SG, name)
    if type(lib) == 'table' then SG[name] = protect(lib) end
  end
  -- Strings' methods are the scripts' read-only string library, and the
  -- string metatable scripts see is read-only too.
  local string_mt = getmetatable('')
  string_mt.__index = SG.string
  string_mt.__metatable = protect({__index = SG.string})
  PG = protect(SG)
  SG._G = PG
  setmetatable(SG, {__index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end})
  return PG
end

local function set_redis_field(k, v) rawset(redis, k, v) end

local function newtable() return {} end

return {run = run, compile = compile, protect = protect, seal = seal, G = SG, redis = redis,
        set_redis_field = set_redis_field, newtable = newtable,
        gc_count = function() return collectgarbage('count') end}
"""


def _deny_attributes(obj, attr_name, is_setting):
    """lupa's attribute filter: Lua code never reaches a Python attribute."""
    raise AttributeError("access denied")


class _Rand48(object):
    """Redis' redisLrand48 (the drand48 recurrence), behind the scripts' math.random."""

    __slots__ = ("x",)

    def __init__(self):
        self.x = 0x1234ABCD330E  # the generator's static initial state

    def seed(self, value):
        value &= 0xFFFFFFFF
        self.x = (value << 16) | 0x330E

    def random(self):
        self.x = (0x5DEECE66D * self.x + 0xB) & 0xFFFFFFFFFFFF
        r = self.x >> 17
        return float(r % 0x7FFFFFFF) / 0x7FFFFFFF


class ScriptClient(Client):
    """The fake client commands run on inside scripts (Redis' lua client).

    Its db follows SELECT inside the script; each run starts in the
    caller's db.  It never blocks and never serves blocked clients mid-script.
    """

    no_block = True
    #: MONITOR shows its commands as [db lua], the slow log as ?:0 (sonic.monitor).
    is_script = True

    def __init__(self, server):
        # Not a connection: it takes no client id from the connections' sequence.
        next_id = server._next_id
        Client.__init__(self, server)
        server._next_id = next_id
        self.id = 0
        self.authenticated = True
        self.name = None

    def close(self):
        """Scripts cannot close their client."""

    @property
    def tracking(self):
        """The caller's client-side caching state while a script runs (sonic.tracking).

        Redis remembers the script's declared keys for a tracking caller
        when the script runs a read-only command.
        """
        run = getattr(self.server, "script_run", None)
        return None if run is None else run.caller.tracking


class ScriptRun(object):
    """One script (or function) running now.

    @ivar caller: the client that sent EVAL/FCALL.
    @ivar name: what errors name the script by (its sha, or the function name).
    @ivar read_only: writes are refused (EVAL_RO, no-writes).
    @ivar wrote: a write command ran (SCRIPT KILL then answers UNKILLABLE).
    @ivar timedout: it passed busy-reply-threshold: other clients get BUSY.
    @ivar killed: SCRIPT KILL (or FUNCTION KILL, SHUTDOWN) asked it to stop.
    """

    __slots__ = ("engine", "caller", "name", "read_only", "allow_oom", "compat", "busy_error",
                 "wrote", "timedout", "killed", "start", "oom_at_start", "repl", "saved_shutdown",
                 "paused_link")

    def __init__(self, engine, caller, name, read_only=False, allow_oom=False,
                 compat=True, busy_error=BUSY_SCRIPT):
        self.engine = engine
        self.caller = caller
        self.name = name
        self.read_only = read_only
        self.allow_oom = allow_oom
        self.compat = compat
        self.busy_error = busy_error
        self.wrote = False
        self.timedout = False
        self.killed = False
        self.start = 0.0
        self.oom_at_start = False
        self.repl = 3
        self.saved_shutdown = None
        self.paused_link = None


def running(server):
    """The L{ScriptRun} running now on C{server}, or None."""
    return getattr(server, "script_run", None)


def get_engine(server):
    """The server's EVAL engine, created on first use."""
    engine = getattr(server, "lua_engine", None)
    if engine is None:
        engine = server.lua_engine = LuaEngine(server)
    return engine


class LuaEngine(object):
    """A sandboxed Lua 5.1 runtime with Redis' C{redis} library, bound to one server.

    @ivar lua: the lupa runtime.
    @ivar G: the real global table (scripts see its read-only proxy).
    @ivar client: the L{ScriptClient} commands run on.
    @ivar scripts: sha (lower-case hex, bytes) -> (function, shebang flags or None, body), for EVAL.
    """

    def __init__(self, server, chunkname="@user_script", kind="eval", install_libs=True):
        self.server = server
        self.chunkname = chunkname
        self.kind = kind
        self.scripts = {}
        self.scripts_size = 0
        self.client = ScriptClient(server)
        self.run_state = None
        self.script_resp = 2
        self._rand = _Rand48()
        self._in_events = False
        #: The monotonic clock the BUSY threshold is measured with (seconds).
        self.clock = time.monotonic
        store = server.store
        #: Stands in for store.snapshot while a script runs (time frozen).
        self._frozen_now = lambda: store.now
        lua = self.lua = lua51.LuaRuntime(
            encoding=None, register_eval=False, register_builtins=False,
            unpack_returned_tuples=True, attribute_filter=_deny_attributes)
        if install_libs:
            try:
                from sonic.scripting.libs import install_libs as install
            except ImportError:
                install = None
            if install is not None:
                install(lua)
        internals = lua.execute(
            _BOOTSTRAP, _Builtin(self._lua_call), _Builtin(self._lua_pcall), self._lua_unwrap,
            _Builtin(self._py_log), _Builtin(self._py_sha1), lambda: self._py_hook(),
            _Builtin(self._py_random), _Builtin(self._py_seed), _Builtin(self._py_setresp),
            _Builtin(self._py_set_repl), _Builtin(self._py_acl), HOOK_INSTRUCTIONS)
        self._run = internals[b"run"]
        self._compile = internals[b"compile"]
        self.protect = internals[b"protect"]
        self.G = internals[b"G"]
        self.redis = internals[b"redis"]
        self.set_redis_field = internals[b"set_redis_field"]
        self._newtable = internals[b"newtable"]
        self._seal = internals[b"seal"]
        self._gc_count = internals[b"gc_count"]
        self.sealed = False
        if kind == "eval":
            self.seal()

    def seal(self, extra=None):
        """Make the libraries and globals read-only (after adding C{extra} globals)."""
        self.globals_proxy = self._seal(extra)
        self.sealed = True

    # -- compiling ------------------------------------------------------------

    def compile(self, body, chunkname=None, env=None):
        """Compile C{body} (bytes) into a Lua function; raise L{ScriptCompileError}."""
        ok, fn = self._compile(body, (chunkname or self.chunkname).encode(), env)
        if not ok:
            raise ScriptCompileError(fn)
        return fn

    def memory(self):
        """Bytes the Lua state uses (collectgarbage('count'))."""
        return int(self._gc_count() * 1024)

    # -- running ------------------------------------------------------------------

    def run(self, fn, caller, keys, args, name, read_only=False, allow_oom=False,
            compat=True, busy_error=BUSY_SCRIPT, pass_args=False, plain=False):
        """Run Lua function C{fn} for C{caller}; return the reply (L{Raw}) or raise L{CommandError}.

        With C{plain}, a string or integer reply comes back as bytes or int
        (the protocol's fast path) instead of L{Raw}.
        """
        server = self.server
        if server.script_run is not None:
            raise CommandError("ERR a script is already running")
        run = ScriptRun(self, caller, name, read_only, allow_oom, compat, busy_error)
        run.start = self.clock()
        run.oom_at_start = server.over_maxmemory() if server.config.maxmemory else False
        client = self.client
        client.select(caller.dbnum)
        client.resp = 2
        client.flags = ""
        client.user = caller.user
        self.script_resp = 2
        self.run_state = run
        server.script_run = run
        # As in Redis 7.0, time stands still for the script's commands: keys
        # expire by the time the script started (TIME still moves).
        store = server.store
        store.snapshot = self._frozen_now
        try:
            ok, value = self._run(fn, pass_args, len(keys), *keys, *args)
        finally:
            del store.snapshot
            self.run_state = None
            server.script_run = None
            if run.timedout:
                self._end_busy(run)
        if not ok:
            raise CommandError(self._error_text(value, name))
        # The common replies as plain values (the protocol's fast path).
        if plain:
            t = type(value)
            if t is bytes:
                return value
            if t is int and LLONG_MIN <= value <= LLONG_MAX:
                return value
        out = []
        self._to_resp(out, value, caller.resp, self.script_resp, True)
        return Raw(b"".join(out))

    def _error_text(self, err, name):
        """Redis' reply for a failed script: C{<err> script: <name>, on <source>:<line>.}."""
        if _lua_type(err) != "table":
            return "ERR Error running script %s, %s" % (name, _text(err)[:100])
        msg = err[b"err"]
        if msg is None or isinstance(msg, _LuaTable):
            msg = b"ERR unknown error"
        elif not isinstance(msg, bytes):
            msg = _number_text(msg)
        text = _text(msg)
        source = err[b"source"]
        line = err[b"line"]
        if source is not None and line is not None:
            text = "%s script: %s, on %s:%s." % (text, name, _text(source), _text(_number_text(line)))
        return text

    # -- the BUSY state -----------------------------------------------------------

    def _py_hook(self):
        """The count hook: past busy-reply-threshold, serve other clients (BUSY) and honour kills."""
        run = self.run_state
        if run is None:
            return False
        if not run.timedout:
            limit = self.server.config.busy_reply_threshold
            if limit <= 0 or (self.clock() - run.start) * 1000 < limit:
                return False
            self._begin_busy(run)
        if not self._in_events:
            iterate = getattr(self.server.clock, "doIteration", None)
            if iterate is not None:
                self._in_events = True
                try:
                    iterate(0)
                except Exception:
                    log.failure("Error processing events while a script runs")
                finally:
                    self._in_events = False
        return run.killed

    def _begin_busy(self, run):
        server = self.server
        run.timedout = True
        log.warn("Slow script detected: still in execution after {ms} milliseconds. You can "
                 "try killing the script using the {cmd} command. Script name is: {name}.",
                 ms=int((self.clock() - run.start) * 1000),
                 cmd="SCRIPT KILL" if self.kind == "eval" else "FUNCTION KILL", name=run.name)
        server.script_busy = run.busy_error
        server.update_guards()
        # On a replica, the master's stream waits until the script ends (Redis
        # does not process its master's input while busy): stop reading it.
        conn = getattr(getattr(server, "replica_link", None), "connection", None)
        transport = getattr(conn, "transport", None)
        if transport is not None and hasattr(transport, "pauseProducing"):
            transport.pauseProducing()
            run.paused_link = transport
        # SHUTDOWN NOSAVE while busy stops the script (the process is going away).
        stop = server.shutdown
        if stop is not None:
            def shutdown(*a, **kw):
                run.killed = True
                return stop(*a, **kw)
            run.saved_shutdown = stop
            server.shutdown = shutdown

    def _end_busy(self, run):
        server = self.server
        server.script_busy = None
        server.update_guards()
        saved = run.saved_shutdown
        if saved is not None:
            server.shutdown = saved
        if run.paused_link is not None:
            run.paused_link.resumeProducing()

    def kill(self, function=False):
        """SCRIPT KILL / FUNCTION KILL: stop the running script, or raise Redis' error."""
        run = self.run_state
        if run is None:
            if function:
                raise CommandError("NOTBUSY No scripts in execution right now.")
            raise CommandError("NOTBUSY No scripts in execution right now.")
        if run.wrote:
            raise CommandError(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. "
                "You can either wait the script termination or kill the server in a hard way using "
                "the SHUTDOWN NOSAVE command.")
        run.killed = True

    # -- callbacks from Lua ------------------------------------------------------------

    def _lua_call(self, *argv):
        """redis.call: the reply as a Lua value; errors raise (Lua sees an error)."""
        try:
            return self._call(self.run_state, argv)
        except CommandError as e:
            raise _Raise(_bytes(e.message))
        except _Raise:
            raise
        except Exception:
            log.failure("Internal error in redis.call {argv!r}", argv=argv[:4])
            raise _Raise(b"ERR internal error calling Redis from script")

    def _lua_pcall(self, *argv):
        """redis.pcall: the reply, or the error as Redis' {err=...} table."""
        try:
            return self._call(self.run_state, argv)
        except CommandError as e:
            return self.lua.table_from({b"err": _bytes(e.message)})
        except _Raise as e:
            return self.lua.table_from({b"err": e.args[0]})
        except Exception:
            log.failure("Internal error in redis.pcall {argv!r}", argv=argv[:4])
            return self.lua.table_from({b"err": b"ERR internal error calling Redis from script"})

    def _lua_unwrap(self, error):
        """A Python exception that reached Lua as an error value, as Redis' {err=...} table."""
        if isinstance(error, _Raise):
            if error.where:
                return self.lua.table_from({b"err": error.args[0], b"where": True})
            msg = error.args[0]
        else:
            msg = b"ERR " + _bytes(str(error))
        return self.lua.table_from({b"err": msg})

    def _py_random(self, *args):
        """math.random([m [, n]]) on Redis' rand48, with Lua 5.1's argument rules."""
        r = self._rand.random()
        n = len(args)
        if n == 0:
            return r
        if n == 1:
            u = _check_int(args[0], 1, "random")
            if u < 1:
                raise _Raise(b"bad argument #1 to 'random' (interval is empty)", where=True)
            return float(math.floor(r * u) + 1)
        if n == 2:
            low = _check_int(args[0], 1, "random")
            high = _check_int(args[1], 2, "random")
            if low > high:
                raise _Raise(b"bad argument #2 to 'random' (interval is empty)", where=True)
            return float(math.floor(r * (high - low + 1)) + low)
        raise _Raise(b"wrong number of arguments", where=True)

    def _py_seed(self, *args):
        """math.randomseed(n)."""
        self._rand.seed(_check_int(args[0] if args else None, 1, "randomseed"))

    def _call(self, run, argv):
        if not argv:
            raise _Raise(b"ERR " + NO_ARGS.encode())
        words = []
        for a in argv:
            t = type(a)
            if t is bytes:
                words.append(a)
            elif t is int or t is float:
                words.append(_double_arg(float(a)))
            else:
                raise _Raise(b"ERR " + BAD_ARG_TYPE.encode())
        spec = TABLE.get(words[0])
        if spec is None:
            spec = TABLE.get(words[0].lower())
        argc = len(words)
        if spec is not None and spec.subcommands and argc >= 2:
            spec = spec.subcommands.get(words[1]) or spec.subcommands.get(words[1].lower())
        if spec is None:
            raise _Raise(b"ERR " + UNKNOWN_CMD.encode())
        # A container alone (CONFIG) fails its own arity, as in Redis.
        arity = spec.arity
        if (arity > 0 and argc != arity) or argc < -arity or spec.handler is None:
            raise _Raise(b"ERR " + WRONG_ARGS.encode())
        flags = spec.flags
        if "noscript" in flags:
            raise _Raise(b"ERR " + NOT_ALLOWED.encode())
        server = self.server
        if run is not None:
            if run.read_only and (spec.write or spec.fullname in MAY_REPLICATE):
                raise _Raise(b"ERR " + WRITE_IN_RO.encode())
            if spec.write and not run.wrote:
                if server.master_host is not None and server.replica_read_only \
                        and run.caller.flags != "M":
                    raise CommandError(errors.READONLY)
                if server.misconf and server.master_host is None:
                    raise CommandError(errors.MISCONF)
                if server.min_replicas_refuse and server.master_host is None:
                    raise CommandError("NOREPLICAS Not enough good replicas to write.")
            if (spec.denyoom and not run.allow_oom and not run.wrote and run.oom_at_start
                    and run.caller.flags != "M"):
                raise CommandError(errors.OOM)
            if spec.write:
                run.wrote = True
        client = self.client
        client.resp = self.script_resp
        reply = dispatch_call(client, spec, words)
        return self.to_lua(reply, self.script_resp)

    def _py_log(self, *args):
        """redis.log(level, message...)."""
        if len(args) < 2:
            raise _Raise(b"ERR redis.log() requires two arguments or more.")
        level = args[0]
        if type(level) not in (int, float):
            raise _Raise(b"ERR First argument must be a number (log level).")
        if level < 0 or level > 3:
            raise _Raise(b"ERR Invalid debug level.")
        parts = []
        for a in args[1:]:
            if type(a) is bytes:
                parts.append(a)
            elif type(a) in (int, float):
                parts.append(_number_text(a))
        text = b" ".join(parts).decode("utf-8", "replace")
        if level >= 3:
            log.warn("{msg}", msg=text)
        elif level >= 2:
            log.info("{msg}", msg=text)
        else:
            log.debug("{msg}", msg=text)

    def _py_sha1(self, *args):
        """redis.sha1hex(s): numbers as Lua prints them, anything else as an empty string."""
        if len(args) != 1:
            raise _Raise(b"ERR wrong number of arguments")
        value = args[0]
        if type(value) in (int, float):
            value = _number_text(value)
        elif type(value) is not bytes:
            value = b""
        return sha1hex(value).encode()

    def _py_setresp(self, *args):
        """redis.setresp(2|3): the protocol command replies reach the script in."""
        if len(args) != 1:
            raise _Raise(b"ERR redis.setresp() requires one argument.")
        if args[0] not in (2, 3) or type(args[0]) is bool:
            raise _Raise(b"ERR RESP version must be 2 or 3.")
        self.script_resp = int(args[0])

    def _py_set_repl(self, *args):
        """redis.set_repl(flags): REPL_NONE stops propagating the script's next writes."""
        if len(args) != 1:
            raise _Raise(b"ERR redis.set_repl() requires two arguments.")
        flags = args[0]
        if type(flags) not in (int, float) or flags != int(flags) or not 0 <= flags <= 3:
            raise _Raise(b"ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
        run = self.run_state
        if run is not None:
            run.repl = int(flags)
        # REPL_NONE: the following writes are not propagated (the "M" flag is
        # what the propagator skips).  sonic's one stream feeds both the
        # replicas and the AOF, so REPL_AOF and REPL_REPLICA propagate to both.
        self.client.flags = "M" if flags == 0 else ""

    def _py_acl(self, *argv):
        """redis.acl_check_cmd(command, ...): sonic's one user may run every command."""
        if not argv:
            raise _Raise(b"ERR " + NO_ARGS.encode())
        for a in argv:
            if type(a) not in (bytes, int, float) or type(a) is bool:
                raise _Raise(b"ERR " + BAD_ARG_TYPE.encode())
        name = argv[0] if type(argv[0]) is bytes else _double_arg(float(argv[0]))
        spec = TABLE.get(name) or TABLE.get(name.lower())
        if spec is None:
            raise _Raise(b"ERR Invalid command passed to redis.acl_check_cmd()")
        return True

    # -- conversions ---------------------------------------------------------------------

    def to_lua(self, value, resp=2):
        """A command's reply value as a Lua value, per Redis' conversion rules for C{resp}."""
        t = type(value)
        if t is bytes:
            return value
        if t is int:
            return value
        if value is None or value is NULL_ARRAY:
            return False if resp == 2 else None
        if t is Status:
            return self.lua.table_from({b"ok": bytes(value)})
        if t is list or t is tuple or t is Push:
            return self.lua.table_from([self.to_lua(v, resp) for v in value])
        if t is Error:
            return self.lua.table_from({b"err": _bytes(value.message)})
        if t is bool:
            if resp == 2:
                return 1 if value else 0
            return value
        if t is float:
            if resp == 2:
                return format_double(value)
            return self.lua.table_from({b"double": value})
        if t is dict:
            if resp == 2:
                flat = []
                for k, v in value.items():
                    flat.append(self.to_lua(k, resp))
                    flat.append(self.to_lua(v, resp))
                return self.lua.table_from(flat)
            inner = self._newtable()
            for k, v in value.items():
                inner[self.to_lua(k, resp)] = self.to_lua(v, resp)
            return self.lua.table_from({b"map": inner})
        if t is RSet:
            if resp == 2:
                return self.lua.table_from([self.to_lua(v, resp) for v in value])
            inner = self._newtable()
            for v in value:
                inner[self.to_lua(v, resp)] = True
            return self.lua.table_from({b"set": inner})
        if t is Verbatim:
            if resp == 2:
                return bytes(value)
            return self.lua.table_from({b"verbatim_string": self.lua.table_from(
                {b"format": b"txt", b"string": bytes(value)})})
        if t is Raw:
            return self.to_lua(_parse_raw(bytes(value)), resp)
        if t is str:
            return value.encode("utf-8", "surrogateescape")
        if t is _BigNumber:
            if resp == 2:
                return bytes(value)
            return self.lua.table_from({b"big_number": bytes(value)})
        if isinstance(value, int):
            return int(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, (list, tuple)):
            return self.lua.table_from([self.to_lua(v, resp) for v in value])
        raise TypeError("cannot convert %r for Lua" % (value,))

    def to_reply(self, value, resp, script_resp=2):
        """A Lua value as RESP bytes for a client speaking C{resp}; a top-level error raises."""
        out = []
        self._to_resp(out, value, resp, script_resp, True)
        return b"".join(out)

    def _to_resp(self, out, value, resp, sresp, top=False, depth=0):
        t = type(value)
        if t is bytes:
            out.append(b"$%d\r\n%s\r\n" % (len(value), value))
        elif t is int:
            out.append(b":%d\r\n" % _clamp(value))
        elif t is float:
            out.append(b":%d\r\n" % _double_to_ll(value))
        elif t is bool:
            if sresp == 2:
                if value:
                    out.append(b":1\r\n")
                else:
                    out.append(b"$-1\r\n" if resp == 2 else b"_\r\n")
            elif resp == 2:
                out.append(b":1\r\n" if value else b":0\r\n")
            else:
                out.append(b"#t\r\n" if value else b"#f\r\n")
        elif value is None:
            out.append(b"$-1\r\n" if resp == 2 else b"_\r\n")
        elif t is _LuaTable:
            if depth >= MAX_REPLY_DEPTH:
                # Redis stops where the Lua C stack runs out (about 8000
                # levels); sonic stops earlier, within Python's recursion limit.
                out.append(b"-ERR reached lua stack limit\r\n")
            else:
                self._table_to_resp(out, value, resp, sresp, top, depth + 1)
        else:
            # Functions, userdata, threads: Redis answers nil.
            out.append(b"$-1\r\n" if resp == 2 else b"_\r\n")

    def _table_to_resp(self, out, table, resp, sresp, top, depth):
        err = table[b"err"]
        if type(err) is bytes:
            if top:
                raise CommandError(_text(err))
            out.append(b"-" + _sanitize(err) + b"\r\n")
            return
        ok = table[b"ok"]
        if type(ok) is bytes:
            out.append(b"+" + _sanitize(ok) + b"\r\n")
            return
        double = table[b"double"]
        if type(double) in (int, float):
            text = _double_text(float(double))
            if resp == 2:
                out.append(b"$%d\r\n%s\r\n" % (len(text), text))
            else:
                out.append(b",%s\r\n" % text)
            return
        big = table[b"big_number"]
        if type(big) is bytes:
            big = big.replace(b"\r", b" ").replace(b"\n", b" ")
            if resp == 2:
                out.append(b"$%d\r\n%s\r\n" % (len(big), big))
            else:
                out.append(b"(%s\r\n" % big)
            return
        mapping = table[b"map"]
        if type(mapping) is _LuaTable:
            items = list(mapping.items())
            out.append((b"*%d\r\n" if resp == 2 else b"%%%d\r\n") % (len(items) * (2 if resp == 2 else 1)))
            for k, v in items:
                self._to_resp(out, k, resp, sresp, False, depth)
                self._to_resp(out, v, resp, sresp, False, depth)
            return
        members = table[b"set"]
        if type(members) is _LuaTable:
            keys = [k for k, _ in members.items()]
            out.append((b"*%d\r\n" if resp == 2 else b"~%d\r\n") % len(keys))
            for k in keys:
                self._to_resp(out, k, resp, sresp, False, depth)
            return
        verbatim = table[b"verbatim_string"]
        if type(verbatim) is _LuaTable:
            fmt = verbatim[b"format"]
            text = verbatim[b"string"]
            if type(fmt) is bytes and type(text) is bytes:
                if resp == 2:
                    out.append(b"$%d\r\n%s\r\n" % (len(text), text))
                else:
                    fmt = fmt[:3].ljust(3, b"\0")
                    out.append(b"=%d\r\n%s:%s\r\n" % (len(text) + 4, fmt, text))
                return
        # An array: elements 1..n up to the first nil.
        items = []
        i = 1
        while True:
            v = table[i]
            if v is None:
                break
            items.append(v)
            i += 1
        out.append(b"*%d\r\n" % len(items))
        for v in items:
            self._to_resp(out, v, resp, sresp, False, depth)


class _Builtin(object):
    """A Python callable handed to scripts: shows as a Lua builtin, not as a Python repr."""

    __slots__ = ("__call__",)

    def __init__(self, func):
        self.__call__ = func

    def __repr__(self):
        return "function: builtin: 0x%012x" % id(self)

    __str__ = __repr__


class _Raise(Exception):
    """An error a C{redis} library function raises in Lua: C{args[0]} is the {err=} text (bytes).

    With C{where}, the text is a Lua argument error that gets the script's
    position in front (C{user_script:1: ...}), as luaL_argerror's do.
    """

    def __init__(self, message, where=False):
        Exception.__init__(self, message)
        self.where = where


def _check_int(value, n, fname):
    """Lua 5.1's luaL_checkint: a number (or numeric string) as an integer."""
    t = type(value)
    if t is bytes:
        try:
            value = float(value)
        except ValueError:
            raise _Raise(b"bad argument #%d to '%s' (number expected, got string)" % (n, fname.encode()),
                         where=True)
    elif t is bool or value is None or t not in (int, float):
        got = {bool: b"boolean", type(None): b"no value" if value is None else b"nil"}.get(t, b"table")
        raise _Raise(b"bad argument #%d to '%s' (number expected, got %s)" % (n, fname.encode(), got),
                     where=True)
    if value != value or value in (math.inf, -math.inf):
        return 0
    return int(value)


class _BigNumber(bytes):
    """A RESP3 big number parsed from a raw reply."""


def _bytes(message):
    if isinstance(message, bytes):
        return message
    return message.encode("utf-8", "surrogateescape")


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def _sanitize(data):
    return data.replace(b"\r", b" ").replace(b"\n", b" ")


def _number_text(value):
    """A Lua number as Lua's tostring shows it (%.14g)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    if isinstance(value, int):
        return b"%d" % value
    return (b"%.14g" % value)


def _double_arg(value):
    """A Lua number passed to redis.call, formatted as Redis does (%.17g)."""
    if value != value:
        return b"-nan" if math.copysign(1.0, value) < 0 else b"nan"
    if value == math.inf:
        return b"inf"
    if value == -math.inf:
        return b"-inf"
    return b"%.17g" % value


def _double_text(value):
    """A double reply's text: %.17g, inf/-inf, and NaN with its sign as glibc prints it."""
    if value != value:
        return b"-nan" if math.copysign(1.0, value) < 0 else b"nan"
    return format_double(value)


def _double_to_ll(value):
    """C's (long long) cast of a double on x86-64: out of range and NaN give LLONG_MIN."""
    if value != value or value >= 9.2233720368547758e18 or value < -9.2233720368547758e18:
        return LLONG_MIN
    return int(value)


def _clamp(value):
    if LLONG_MIN <= value <= LLONG_MAX:
        return value
    return LLONG_MIN


def _parse_raw(data):
    """Decode RESP bytes a handler returned pre-encoded (L{Raw}) into reply values."""
    value, _ = _parse_at(data, 0)
    return value


def _parse_at(data, pos):
    t = data[pos:pos + 1]
    end = data.index(b"\r\n", pos)
    head = data[pos + 1:end]
    nxt = end + 2
    if t == b"+":
        return Status(head), nxt
    if t == b"-":
        return Error(head.decode("utf-8", "surrogateescape")), nxt
    if t == b":":
        return int(head), nxt
    if t == b"$" or t == b"=":
        n = int(head)
        if n < 0:
            return None, nxt
        body = data[nxt:nxt + n]
        if t == b"=":
            return Verbatim(body[4:]), nxt + n + 2
        return body, nxt + n + 2
    if t in (b"*", b"~", b">"):
        n = int(head)
        if n < 0:
            return NULL_ARRAY, nxt
        items = []
        for _ in range(n):
            v, nxt = _parse_at(data, nxt)
            items.append(v)
        return (RSet(items) if t == b"~" else items), nxt
    if t == b"%":
        n = int(head)
        out = {}
        for _ in range(n):
            k, nxt = _parse_at(data, nxt)
            v, nxt = _parse_at(data, nxt)
            out[k] = v
        return out, nxt
    if t == b"_":
        return None, nxt
    if t == b",":
        return float(head), nxt
    if t == b"#":
        return head == b"t", nxt
    if t == b"(":
        return _BigNumber(head), nxt
    raise ValueError("bad RESP type %r" % t)

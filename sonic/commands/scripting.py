"""EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: Lua scripts, as Redis 7.0 runs them.

The Lua runtime, sandbox, C{redis} library and conversions are in
L{sonic.scripting.engine}.  This module parses the commands, keeps the
script cache (sha1 -> compiled function), applies Redis 7.0's checks before
a script runs (shebang flags, EVAL_RO) and answers SCRIPT.

Replication and persistence follow 7.0's effects replication: EVAL itself
is never propagated; the writes its commands make are (wrapped in
MULTI/EXEC when there is more than one, by L{sonic.replication.propagate},
since they run through the dispatcher inside EVAL's own call).  SCRIPT LOAD
and SCRIPT FLUSH are not propagated either (7.0 replicas never need the
script bodies).
"""

from sonic import errors
from sonic.commands.args import to_int
from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import OK, Status

__all__ = []

NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."


def _numkeys(value, nargs):
    numkeys = to_int(value)
    if numkeys > nargs:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise CommandError("ERR Number of keys can't be negative")
    return numkeys


def load_script(server, body):
    """Compile C{body} into the cache (EVAL, SCRIPT LOAD); return its sha (bytes)."""
    # The engine (and lupa's Lua runtime) loads on the first script, not at start-up.
    from sonic.scripting.engine import ScriptCompileError, get_engine, parse_shebang, sha1hex
    engine = get_engine(server)
    sha = sha1hex(body).encode()
    if sha in engine.scripts:
        return sha
    flags, code = parse_shebang(body)
    try:
        fn = engine.compile(code)
    except ScriptCompileError as e:
        raise CommandError("ERR Error compiling script (new function): %s"
                           % e.args[0].decode("utf-8", "surrogateescape"))
    engine.scripts[sha] = (fn, flags, body)
    engine.scripts_size += len(body)
    return sha


def _prepare(client, flags, read_only_command):
    """Redis 7.0's checks before a script runs (scriptPrepareForRun); return read_only."""
    server = client.server
    obey = client.flags == "M"
    if flags is None:
        # No shebang: the compatible mode.
        if server.stale_refused:
            raise CommandError(errors.MASTERDOWN)
        return read_only_command
    if ("allow_oom" not in flags and "no_writes" not in flags and server.config.maxmemory
            and not obey and server.over_maxmemory()):
        raise CommandError(errors.OOM)
    if server.stale_refused and "allow_stale" not in flags:
        raise CommandError("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set "
                           "to 'no' and 'allow-stale' flag is not set on the script.")
    if "no_writes" not in flags:
        if server.master_host is not None and server.replica_read_only and not obey:
            raise CommandError(errors.READONLY)
        if server.misconf and not obey:
            raise CommandError("MISCONF Redis is configured to save RDB snapshots, but it's "
                               "currently unable to persist to disk. Writable scripts are blocked. "
                               "Use 'no-writes' flag for read only scripts.")
        if read_only_command:
            raise CommandError("ERR Can not execute a script with write flag using *_ro command.")
        if server.min_replicas_refuse and server.master_host is None:
            raise CommandError("NOREPLICAS Not enough good replicas to write.")
        return False
    return True


def _run(client, engine, script, sha, nkeys, args, read_only_command):
    fn, flags, _ = script
    read_only = _prepare(client, flags, read_only_command)
    return engine.run(fn, client, args[:nkeys], args[nkeys:], sha.decode(),
                      read_only=read_only,
                      allow_oom=flags is not None and "allow_oom" in flags,
                      compat=flags is None, plain=True)


def _eval(client, body, numkeys, args, read_only_command):
    nkeys = _numkeys(numkeys, len(args))
    sha = load_script(client.server, body)
    from sonic.scripting.engine import get_engine
    engine = get_engine(client.server)
    return _run(client, engine, engine.scripts[sha], sha, nkeys, args, read_only_command)


def _evalsha(client, sha, numkeys, args, read_only_command):
    nkeys = _numkeys(numkeys, len(args))
    from sonic.scripting.engine import get_engine
    engine = get_engine(client.server)
    script = engine.scripts.get(sha)
    if script is None:
        sha = sha.lower()
        script = engine.scripts.get(sha)
        if script is None:
            raise CommandError(NOSCRIPT)
    return _run(client, engine, script, sha, nkeys, args, read_only_command)


@command("eval")
def eval_(client, script, numkeys, *args):
    """EVAL script numkeys [key [key ...]] [arg [arg ...]]"""
    return _eval(client, script, numkeys, args, False)


@command("eval_ro")
def eval_ro(client, script, numkeys, *args):
    """EVAL_RO script numkeys [key [key ...]] [arg [arg ...]]"""
    return _eval(client, script, numkeys, args, True)


@command("evalsha")
def evalsha(client, sha1, numkeys, *args):
    """EVALSHA sha1 numkeys [key [key ...]] [arg [arg ...]]"""
    return _evalsha(client, sha1, numkeys, args, False)


@command("evalsha_ro")
def evalsha_ro(client, sha1, numkeys, *args):
    """EVALSHA_RO sha1 numkeys [key [key ...]] [arg [arg ...]]"""
    return _evalsha(client, sha1, numkeys, args, True)


# ---------------------------------------------------------------------------
# SCRIPT


@command("script|load")
def script_load(client, script):
    """SCRIPT LOAD script"""
    return load_script(client.server, script)


@command("script|exists")
def script_exists(client, *shas):
    """SCRIPT EXISTS sha1 [sha1 ...]"""
    from sonic.scripting.engine import get_engine
    scripts = get_engine(client.server).scripts
    return [1 if s.lower() in scripts else 0 for s in shas]


@command("script|flush")
def script_flush(client, *args):
    """SCRIPT FLUSH [ASYNC|SYNC]"""
    if len(args) > 1 or (args and args[0].lower() not in (b"async", b"sync")):
        raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    flush_scripts(client.server)
    return OK


def flush_scripts(server):
    """Forget every cached script and start a fresh Lua state, as Redis' scriptingReset."""
    from sonic.scripting.engine import running
    engine = getattr(server, "lua_engine", None)
    if engine is not None and running(server) is None:
        server.lua_engine = None


@command("script|kill")
def script_kill(client):
    """SCRIPT KILL"""
    from sonic.scripting.engine import running
    run = running(client.server)
    engine = getattr(client.server, "lua_engine", None)
    if run is None or engine is None or run.engine is not engine:
        if run is not None:
            # A function is running: Redis points at FUNCTION KILL.
            raise CommandError("BUSY Redis is busy running a script. You can only call "
                               "FUNCTION KILL or SHUTDOWN NOSAVE.")
        raise CommandError("NOTBUSY No scripts in execution right now.")
    engine.kill()
    return OK


@command("script|debug")
def script_debug(client, mode):
    """SCRIPT DEBUG YES|SYNC|NO"""
    word = mode.lower()
    if word == b"no":
        return OK
    if word in (b"yes", b"sync"):
        raise CommandError("ERR SCRIPT DEBUG is not supported by sonic")
    raise CommandError("ERR Use SCRIPT DEBUG YES/SYNC/NO")


_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
]


@command("script|help")
def script_help(client):
    """SCRIPT HELP"""
    return [Status(line.encode()) for line in _HELP]

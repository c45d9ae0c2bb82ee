"""C{sonic-server [sonic.conf] [--directive value ...]}: redis-server's command line.

Runs in the foreground with the same service tree as C{twistd -n sonic}
(L{sonic.tap.build_service}), so scripts and container images written for
redis-server work unchanged:

  - C{sonic-server}                       defaults (port 6379, 127.0.0.1 and ::1)
  - C{sonic-server /etc/sonic.conf}       a redis.conf-syntax file (C{-} reads stdin)
  - C{sonic-server --port 7000 --save ""} any directive as C{--name value ...}
  - C{sonic-server -v} / C{--version}, C{-h} / C{--help}

A bad directive or value prints one line on stderr and exits with status 1;
SIGTERM, SIGINT and the SHUTDOWN command stop the server with status 0.  The
log goes to stdout (or to the C{logfile} directive's file) in redis-server's
line format, filtered by C{loglevel}.
"""

import os
import platform
import sys
import time

from sonic import __version__
from sonic.config import Config, ConfigError, parse_args

__all__ = ["main", "version_line"]

USAGE = """\
Usage: sonic-server [/path/to/sonic.conf] [options] [-]
       sonic-server - (read config from stdin)
       sonic-server -v or --version
       sonic-server -h or --help

Examples:
       sonic-server (run the server with default config)
       sonic-server /etc/sonic/6379.conf
       sonic-server --port 7777
       sonic-server --port 7777 --replicaof 127.0.0.1 8888
       sonic-server /etc/mysonic.conf --loglevel verbose -
       sonic-server --compression none --shards 32

Every redis.conf directive sonic knows is accepted as --directive value."""


def version_line():
    """What C{sonic-server --version} prints (redis-server's C{v=...} style)."""
    import twisted
    return "sonic server v=%s redis=7.0.15 python=%s twisted=%s bits=%d" % (
        __version__, platform.python_version(), twisted.__version__,
        64 if sys.maxsize > 2 ** 32 else 32)


#: The stdlib modules that would map OpenSSL: C{ssl} (imported by asyncio,
#: which twisted.internet.defer imports) and hashlib's OpenSSL backend.
#: sonic uses neither TLS nor asyncio, and hashlib's built-in SHA-1 (EVAL's
#: script ids) gives the same digests.
_SSL_MODULES = ("ssl", "_ssl")
_OPENSSL_HASHES = ("_hashlib",)
#: The built-in modules hashlib falls back on without C{_hashlib}, one row
#: per algorithm family (names differ between Python versions); without
#: all of them hashlib would lose algorithms, so C{_hashlib} is then kept.
_BUILTIN_HASHES = (("_md5",), ("_sha1",), ("_sha256", "_sha2"), ("_sha512", "_sha2"),
                   ("_blake2",), ("_sha3",))
#: Imported by Twisted only to be re-exported (twisted.python.compat's
#: C{cookielib}); loading it pulls in urllib.request, http.client and email.
_LAZY_MODULES = ("http.cookiejar",)


def lean_imports():
    """Import Twisted's reactor and sonic's server modules, leaving out what sonic never uses.

    An idle sonic is about a third smaller for it (41.6 -> 33 MiB resident):
      - libssl and libcrypto (4.5 MiB): the modules that merely import
        C{ssl} or C{_hashlib} (asyncio, hashlib) find them absent while
        Twisted is imported here; both are importable again afterwards;
      - http.cookiejar and what it imports (1.3 MiB) is loaded on first
        use only (L{importlib.util.LazyLoader}).
    Does nothing when Twisted or any of these is already loaded (under
    twistd, which imports Twisted before sonic).
    """
    import importlib.util
    if any(name in sys.modules for name in ("asyncio", "hashlib", "twisted.internet.defer")
           + _SSL_MODULES + _OPENSSL_HASHES + _LAZY_MODULES):
        return
    held = list(_SSL_MODULES)
    if all(any(importlib.util.find_spec(name) for name in row) for row in _BUILTIN_HASHES):
        held += _OPENSSL_HASHES
    for name in held:
        sys.modules[name] = None  # "import ssl" raises ImportError
    try:
        for name in _LAZY_MODULES:
            _lazy_module(name)
        import hashlib  # noqa: F401  (binds its built-in hashes now)
        from twisted.internet import defer, reactor  # noqa: F401
        import sonic.protocol  # noqa: F401
        import sonic.server  # noqa: F401
    finally:
        for name in held:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def _lazy_module(name):
    """Put module C{name} in C{sys.modules} (and on its package) unexecuted: it runs on first attribute access."""
    import importlib.util
    spec = importlib.util.find_spec(name)  # imports the package
    if spec is None or spec.loader is None:
        return
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:
        # "from http import cookiejar" then finds it without importing (an
        # import statement would look at the module's __spec__ and load it).
        setattr(sys.modules[parent], child, module)


def main(argv=None):
    """Parse redis-server style arguments, build the services and run the reactor; the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-v", "--version"):
        print(version_line())
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    lean_imports()
    config = Config()
    try:
        read_arguments(argv, config)
        from sonic.tap import check_dir
        check_dir(config)
    except ConfigError as e:
        return _error(str(e))
    except OSError as e:
        return _error("cannot read configuration: %s" % (e,))

    from twisted.internet import reactor
    from sonic.tap import StartupError, build_service
    try:
        start_logging(config)
    except OSError as e:
        return _error("Can't open the log file: %s" % (e.strerror or e,))
    top = build_service(config, reactor)
    try:
        top.privilegedStartService()
        top.startService()
    except StartupError as e:
        from twisted.logger import Logger
        Logger(namespace="sonic").critical("{error}", error=str(e))
        return _error(str(e))
    reactor.addSystemEventTrigger("before", "shutdown", top.stopService)
    reactor.run()
    return 0


def read_arguments(argv, config):
    """Apply redis-server's C{[file] [--directive value ...] [-]} to C{config}.

    A lone C{-} (first, or last after the options) reads a configuration
    from stdin, applied after the file and before the options, as in Redis.
    """
    args = list(argv)
    stdin = False
    if args and args[-1] == "-":
        args.pop()
        stdin = True
    conffile = None
    if args and not args[0].startswith("--"):
        conffile = args.pop(0)
        if conffile == "-":
            conffile, stdin = None, True
    from sonic.config import parse_file
    if conffile is not None:
        parse_file(conffile, config)
    if stdin:
        parse_file("/dev/stdin", config)
    parse_args(args, config)


def _error(message):
    sys.stderr.write("sonic-server: %s\n" % (message,))
    sys.stderr.flush()
    return 1


# -- logging ------------------------------------------------------------------

#: redis-server's level marks: C{.} debug, C{-} verbose, C{*} notice, C{#} warning.
_MARKS = {"debug": ".", "info": "*", "warn": "#", "error": "#", "critical": "#"}

#: The lowest Twisted level shown for each C{loglevel}.
_LOGLEVEL = {"debug": "debug", "verbose": "info", "notice": "info",
             "warning": "warn", "nothing": None}


class RedisStyleObserver(object):
    """A Twisted log observer writing redis-server's line format.

    C{1234:M 21 Nov 2026 19:30:00.123 * Ready to accept connections}
    """

    def __init__(self, stream, minimum="info"):
        from twisted.logger import LogLevel
        self.stream = stream
        self.minimum = None if minimum is None else LogLevel.levelWithName(minimum)
        self.pid = os.getpid()

    def __call__(self, event):
        from twisted.logger import formatEvent, LogLevel
        level = event.get("log_level", LogLevel.info)
        if self.minimum is None or level < self.minimum:
            return
        text = formatEvent(event)
        failure = event.get("log_failure")
        if failure is not None:
            text = "%s\n%s" % (text, failure.getTraceback())
        when = event.get("log_time") or time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(when))
        line = "%d:M %s.%03d %s %s\n" % (self.pid, stamp, int(when * 1000) % 1000,
                                         _MARKS.get(level.name, "*"), text)
        try:
            self.stream.write(line)
            self.stream.flush()
        except (OSError, ValueError):
            pass


def start_logging(config):
    """Send Twisted's log to stdout or C{logfile}, filtered by C{loglevel}; the observer.

    Raises OSError when C{logfile} cannot be opened (redis-server exits then too).
    """
    from twisted.logger import globalLogBeginner
    stream = sys.stdout
    if config.logfile:
        stream = open(config.logfile, "a", buffering=1)
    observer = RedisStyleObserver(stream, _LOGLEVEL.get(config.loglevel, "info"))
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    return observer


if __name__ == "__main__":
    sys.exit(main())

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


def main(argv=None):
    """Parse redis-server style arguments, build the services and run the reactor; the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-v", "--version"):
        print(version_line())
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
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

"""The twistd plugin's options and service tree (C{twistd -n sonic ...}).

C{makeService} returns a L{SonicService} (a MultiService) holding the store
service (named C{"store"}, which runs the expiry timers) and one
L{TCPListener} per C{bind} address; later features (replication,
persistence) add their services to the same tree.  C{sonic-server}
(L{sonic.cli}) builds the very same tree with L{build_service}.

Every redis.conf directive sonic knows is also a C{--directive value}
option, and C{--config FILE} (or a file name after the options) reads a
redis.conf-syntax file first; options given on the command line win.

Start-up follows redis-server:
  - C{dir} is checked while the options are parsed and the process
    changes into it when the service tree starts (before the listeners
    bind), so relative file names (C{dbfilename}, C{pidfile}) resolve
    there, as they do for redis-server.
  - C{bind} addresses are bound by sonic itself (IPv6 sockets are
    C{IPV6_V6ONLY}, so C{"* ::*"} works on one port); an address written
    with a leading C{-} is optional: it is skipped when the machine does not
    have it (no IPv6, say) instead of stopping start-up.
  - SIGTERM and SIGINT stop the services, close every client and end the
    process with status 0.
"""

import errno
import os
import re
import signal
import socket
import sys

from twisted.application import service
from twisted.logger import Logger
from twisted.python import usage

from sonic import __version__
from sonic.config import Config, ConfigError, DIRECTIVES, parse_file

__all__ = ["Options", "makeService", "build_service", "SonicService", "TCPListener",
           "StartupError", "listen_addresses"]

log = Logger(namespace="sonic")

#: Redis' version, as INFO shows it (sonic.server holds the authoritative copy;
#: repeated here so parsing options does not import the command modules).
_REDIS_VERSION = "7.0.15"

_HELP = {
    "port": "TCP port (default 6379; 0 disables TCP, as in Redis).",
    "bind": "Addresses to listen on, space-separated; a leading '-' makes one "
            "optional (default '127.0.0.1 -::1').",
    "shards": "Shards per database (default 16).",
    "databases": "Number of databases (default 16).",
    "requirepass": "Password clients must AUTH with.",
    "dir": "Working directory (the process changes into it at start).",
    "compression": "gzip or none (default gzip).",
    "compression-threshold": "Smallest value compressed, in bytes (default 1024).",
    "compression-level": "zlib level 1-9 (default 1).",
    "compression-min-saving": "Percent a compressed value must save (default 20).",
    "compression-thread-threshold": "Values this big are compressed in threads (default 64kb).",
}


class StartupError(Exception):
    """The server cannot start; C{str()} is the one-line reason."""


class Options(usage.Options):
    """Command-line options: C{--config FILE} plus one C{--name value} per directive.

    After parsing, C{self.configuration} is the resulting L{Config}.  Under
    twistd (where these are a subcommand's options) a bad option or value
    prints one line to stderr and exits with status 1, instead of twistd's
    habit of printing the whole help text first.
    """

    synopsis = "[--config FILE] [--port N] [--bind ADDR ...] [--directive value ...] [FILE]"
    optParameters = [["config", "c", None, "redis.conf-syntax configuration file, read first."]] + [
        [name, None, None, _HELP.get(name, "redis.conf directive %s." % name)]
        for name in sorted(DIRECTIVES)]

    conffile = None

    def parseArgs(self, conffile=None):
        """A configuration file may also be named after the options, as for redis-server."""
        self.conffile = conffile

    def parseOptions(self, options=None):
        try:
            usage.Options.parseOptions(self, options)
        except usage.UsageError as e:
            match = re.match(r"option --(\S+) not recognized$", str(e))
            if match:
                # Word it as sonic-server does: the unknown name is a directive.
                e = usage.UsageError("option --%s: unknown directive '%s'" % (
                    match.group(1), match.group(1)))
            if getattr(self, "parent", None) is None:
                raise e
            # A twistd subcommand: one line, not twistd's full help text.
            _fatal("sonic: %s" % (e,))

    def postOptions(self):
        config = Config()
        try:
            for path in (self["config"], self.conffile):
                if path:
                    parse_file(path, config)
            for name in sorted(DIRECTIVES):
                if self[name] is not None:
                    try:
                        config.apply(name, _words(name, self[name]))
                    except ConfigError as e:
                        raise ConfigError("option --%s: %s" % (name, e))
            check_dir(config)
        except ConfigError as e:
            raise usage.UsageError(str(e))
        except OSError as e:
            raise usage.UsageError("cannot read configuration: %s" % (e,))
        self.configuration = config


def _fatal(line):
    """Print C{line} on the real stderr and exit with status 1."""
    stream = sys.__stderr__ or sys.stderr
    stream.write(line.rstrip("\n") + "\n")
    stream.flush()
    raise SystemExit(1)


def _words(name, value):
    """The words of an option's value: list directives (bind, save) split on spaces."""
    row = DIRECTIVES[name]
    if row.kind == "list":
        return value.split() or [""]
    return [value]


def check_dir(config):
    """Make C{config.dir} absolute and fail now if the process could not change into it.

    redis-server refuses to start when it cannot chdir to C{dir}; doing the
    check while parsing options gives that error before anything starts.
    """
    path = config.dir
    if not path:
        return
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise ConfigError("dir: Can't chdir to '%s': No such file or directory" % (config.dir,))
    if not os.access(path, os.X_OK):
        raise ConfigError("dir: Can't chdir to '%s': Permission denied" % (config.dir,))
    config.set_value("dir", path)


def listen_addresses(config):
    """The (host, optional) pairs to bind, from C{config.bind} in Redis' syntax.

    C{*} is every IPv4 address, C{::*} every IPv6 one; a leading C{-} marks
    an address optional.  An empty C{bind} means C{"* -::*"}, as in Redis.
    """
    out = []
    for word in (config.bind or "* -::*").split():
        optional = word.startswith("-")
        host = word[1:] if optional else word
        if host == "*":
            host = "0.0.0.0"
        elif host == "::*":
            host = "::"
        out.append((host, optional))
    return out


#: bind() errors meaning "this machine has no such address": an optional
#: address failing with one of these is skipped.
_ADDRESS_MISSING = {errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT,
                    errno.ENETUNREACH}


class TCPListener(service.Service):
    """Listens on one address and port, like one of redis-server's bind entries.

    The socket is created here (not through strports) so IPv6 sockets can be
    made C{IPV6_V6ONLY} before binding, which lets C{0.0.0.0} and C{::} share
    a port, and so an optional address that does not exist is skipped.

    @ivar port: the C{IListeningPort} while listening, else None.
    @ivar skipped: True when an optional address was not available.
    """

    def __init__(self, host, portno, factory, reactor, optional=False, backlog=511):
        self.host = host
        self.portno = portno
        self.factory = factory
        self.reactor = reactor
        self.optional = optional
        self.backlog = backlog
        self.port = None
        self.skipped = False
        self.name = "tcp:%s:%d" % (host, portno)

    def __repr__(self):
        return "<TCPListener %s%s>" % ("-" if self.optional else "", self.name)

    def privilegedStartService(self):
        # Bind while privileges last (twistd may drop them afterwards).
        if self.port is None and not self.skipped:
            self.port = self._listen()
        service.Service.privilegedStartService(self)

    def startService(self):
        if self.port is None and not self.skipped:
            self.port = self._listen()
        service.Service.startService(self)

    def stopService(self):
        service.Service.stopService(self)
        port, self.port = self.port, None
        if port is not None:
            return port.stopListening()

    def address(self):
        """C{host:port} as bound (IPv6 in brackets), for log lines."""
        host, portno = self.host, self.portno
        if self.port is not None:
            portno = self.port.getHost().port
        return ("[%s]:%d" if ":" in host else "%s:%d") % (host, portno)

    def _listen(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        where = ("[%s]:%d" if family == socket.AF_INET6 else "%s:%d") % (self.host, self.portno)
        sock = None
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setblocking(False)
            sock.bind((self.host, self.portno))
            sock.listen(self.backlog)
        except OSError as e:
            if sock is not None:
                sock.close()
            if self.optional and e.errno in _ADDRESS_MISSING:
                self.skipped = True
                log.info("Skipping optional bind address {where}: {reason}",
                         where=where, reason=e.strerror)
                return None
            if isinstance(e, socket.gaierror):
                reason = "Invalid bind address '%s'" % self.host
            else:
                reason = "bind: %s" % (e.strerror or e)
            raise StartupError("Could not create server TCP listening socket %s: %s" % (where, reason))
        try:
            return self.reactor.adoptStreamPort(sock.fileno(), family, self.factory)
        finally:
            sock.close()  # adoptStreamPort keeps its own duplicate


class SonicService(service.MultiService):
    """The top of sonic's service tree.

    Starting it changes into C{dir}, starts the children (store first, then
    the listeners), writes C{pidfile} if one is configured and logs one
    "Ready to accept connections" line; stopping it closes every client.

    @ivar server: the L{sonic.server.Server}.
    @ivar factory: the L{sonic.protocol.RedisServerFactory}.
    @ivar store: the store service (also C{getServiceNamed("store")}).
    """

    def __init__(self, config, server, factory, reactor, handle_signals=True):
        service.MultiService.__init__(self)
        self.config = config
        self.server = server
        self.factory = factory
        self.store = server.store
        self.reactor = reactor
        self.handle_signals = handle_signals
        self._chdir_done = False
        self._pidfile = None
        #: None (raise L{StartupError}) or a callable given the error.
        self.on_startup_error = None

    def listeners(self):
        """The L{TCPListener} children."""
        return [s for s in self if isinstance(s, TCPListener)]

    def _chdir(self):
        if self._chdir_done:
            return
        self._chdir_done = True
        path = self.config.dir
        if path:
            try:
                os.chdir(path)
            except OSError as e:
                raise StartupError("Can't chdir to '%s': %s" % (path, e.strerror))

    def privilegedStartService(self):
        try:
            self._chdir()
            service.MultiService.privilegedStartService(self)
        except StartupError as e:
            self._failed(e)

    def startService(self):
        try:
            self._start()
        except StartupError as e:
            self._failed(e)

    def _failed(self, error):
        if self.on_startup_error is None:
            raise error
        self.on_startup_error(error)

    def _start(self):
        self._chdir()
        self._load()
        if self.config.lean_dispatch:
            from sonic import reactor as lean
            lean.install(self.reactor)
        service.MultiService.startService(self)
        listeners = self.listeners()
        bound = [s for s in listeners if s.port is not None]
        if listeners and not bound:
            raise StartupError("Failed listening on port %d (tcp), aborting." % self.config.port)
        if bound:
            # The real port (different from the configured one only for port 0 tests).
            self.server.tcp_port = bound[0].port.getHost().port
        self._write_pidfile()
        if hasattr(self.reactor, "callWhenRunning"):
            # twistd and sonic-server start services just before the reactor
            # runs: ready (and the signal handlers ours) only once it does.
            self.reactor.callWhenRunning(self._ready, bound)
        else:
            self._ready(bound)

    def _load(self):
        """Load the dataset (dump.rdb, or the AOF) before listening, then start the save points."""
        from sonic.persistence import snapshot
        config = self.config
        background = not config.replicaof and hasattr(self.reactor, "running")
        aof_dir = self.server.aof.exists()  # after _chdir: relative to dir
        if background and config.appendonly and aof_dir:
            # The AOF replays a slice per reactor turn while clients get -LOADING.
            d = self.server.aof.load_in_background()
            d.addErrback(self._load_failed)
        elif background and not config.appendonly:
            # dump.rdb loads in a thread while clients get -LOADING, as in Redis.
            d = snapshot.load_in_background(self.server)
            d.addErrback(self._load_failed)
        else:
            try:
                snapshot.load_at_startup(self.server)
            except Exception as e:
                raise StartupError(str(e))
        snapshot.get(self.server).start_cron()

    def _load_failed(self, failure):
        log.critical("Fatal error loading the DB: {error}. Exiting.", error=failure.getErrorMessage())
        os._exit(1)

    def _ready(self, bound):
        """Install the signal handlers and log the one start-up line."""
        if self.handle_signals:
            install_signal_handlers(self.reactor, self.server)
        if not self.config.port:
            log.warn("Warning: port 0: not listening on any TCP socket")
        log.info("sonic {version} (answers as Redis {redis}), pid {pid}, port {port} on {where}, "
                 "{dbs} databases x {shards} shards, compression {compression}: "
                 "Ready to accept connections",
                 version=__version__, redis=_REDIS_VERSION, pid=os.getpid(),
                 port=self.server.tcp_port,
                 where=" ".join(s.address() for s in bound) or "no address",
                 dbs=self.config.databases, shards=self.config.shards,
                 compression=self.config.compression)

    def stopService(self):
        self.factory.close_all()
        self._remove_pidfile()
        return service.MultiService.stopService(self)

    def _write_pidfile(self):
        path = self.config.pidfile
        if not path:
            return
        try:
            with open(path, "w") as f:
                f.write("%d\n" % os.getpid())
            self._pidfile = os.path.abspath(path)
        except OSError as e:
            log.warn("Failed to write PID file: {reason}", reason=e.strerror)

    def _remove_pidfile(self):
        path, self._pidfile = self._pidfile, None
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass


def install_signal_handlers(reactor, server=None):
    """Make SIGTERM and SIGINT stop the reactor cleanly, so the process exits 0.

    Twisted's own handlers remember the signal and twistd then kills itself
    with it after shutting down (status -15); redis-server exits 0 on SIGTERM,
    and supervisors and container runtimes expect that.
    """
    def handler(number, frame):
        name = "SIGTERM" if number == signal.SIGTERM else "SIGINT"
        log.info("Received {name} scheduling shutdown...", name=name)
        reactor.callFromThread(_terminate, reactor, server)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def build_service(config, reactor=None, handle_signals=True):
    """The L{SonicService} for C{config}: store service plus one listener per bind address.

    Nothing is bound or started here; C{server.shutdown()} (used by the
    SHUTDOWN command) closes every client and stops the reactor.
    """
    from sonic.protocol import RedisServerFactory
    from sonic.server import Server
    if reactor is None:
        from twisted.internet import reactor
    server = Server(config, clock=reactor)
    factory = RedisServerFactory(server)
    factory.noisy = False  # one "Ready" line at start, not one per listener
    top = SonicService(config, server, factory, reactor, handle_signals)
    server.store.setServiceParent(top)
    # The AOF opens (after the data is loaded) before the listeners bind.
    from sonic.persistence.aof import AofService
    AofService(server).setServiceParent(top)
    if config.port:
        for host, optional in listen_addresses(config):
            TCPListener(host, config.port, factory, reactor, optional,
                        config.tcp_backlog).setServiceParent(top)

    if config.replicaof:
        # --replicaof host port / the replicaof directive: the link starts
        # with the tree (after the listeners, so listening-port is known).
        from sonic.replication.replica import become_replica
        host, port = _master_address(config.replicaof)
        become_replica(server, host, port, reactor=reactor, start=False)
        server.replica_service.setServiceParent(top)

    def shutdown(*args, **kwargs):
        log.info("User requested shutdown...")
        factory.close_all()
        reactor.callLater(0, _stop, reactor)
    server.shutdown = shutdown
    return top


def _master_address(value):
    """(host, port) of the replicaof directive's "host port" value."""
    words = value.split()
    try:
        if len(words) != 2:
            raise ValueError(value)
        port = int(words[1])
        if not 0 <= port <= 65535:
            raise ValueError(value)
    except ValueError:
        raise StartupError("Invalid replicaof directive '%s': expected host port" % value)
    return words[0], port


def _terminate(reactor, server):
    """SIGTERM/SIGINT: save first when save points are set, as Redis does; stay up if that fails."""
    if server is not None:
        from sonic.persistence.snapshot import prepare_shutdown
        if not prepare_shutdown(server):
            log.error("SIGTERM received but errors trying to shut down the server, check the logs "
                      "for more information")
            return
    _stop(reactor)


def _stop(reactor):
    if getattr(reactor, "running", False):
        log.info("sonic is now ready to exit, bye bye...")
        reactor.stop()


def makeService(options):
    """twistd's entry point: the service tree for the parsed L{Options}.

    A start-up failure (an address that cannot be bound, say) is printed as
    one line on stderr and ends twistd with status 1.
    """
    top = build_service(options.configuration)
    top.on_startup_error = _startup_failed
    return top


def _startup_failed(error):
    log.critical("{error}", error=str(error))
    _fatal("sonic: %s" % (error,))

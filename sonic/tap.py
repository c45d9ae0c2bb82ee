"""The twistd plugin's options and service tree (C{twistd -n sonic ...}).

C{makeService} returns a MultiService holding the store service (which
runs the expiry timers) and one TCP listener per C{bind} address; later
features (replication, persistence) add their services to the same tree.
Every redis.conf directive sonic knows is also a C{--directive value}
option, and C{--config FILE} reads a redis.conf-syntax file first.
"""

from twisted.application import service, strports
from twisted.python import usage

from sonic.config import Config, ConfigError, DIRECTIVES, parse_file

__all__ = ["Options", "makeService", "build_service"]


_HELP = {
    "port": "TCP port (default 6379).",
    "bind": "Addresses to listen on, space-separated (default 127.0.0.1 and ::1).",
    "shards": "Shards per database (default 16).",
    "databases": "Number of databases (default 16).",
    "requirepass": "Password clients must AUTH with.",
    "dir": "Working directory for data files.",
    "compression": "gzip or none (default gzip).",
    "compression-threshold": "Smallest value compressed, in bytes (default 1024).",
    "compression-level": "zlib level 1-9 (default 1).",
    "compression-min-saving": "Percent a compressed value must save (default 20).",
    "compression-thread-threshold": "Values this big are compressed in threads (default 64kb).",
}


class Options(usage.Options):
    """Command-line options: C{--config FILE} plus one C{--name value} per directive."""

    synopsis = "[--config FILE] [--port N] [--bind ADDR ...] [--directive value ...]"
    optParameters = [["config", "c", None, "redis.conf-syntax configuration file, read first."]] + [
        [name, None, None, _HELP.get(name, "redis.conf directive %s." % name)]
        for name in sorted(DIRECTIVES)]

    def postOptions(self):
        config = Config()
        try:
            if self["config"]:
                parse_file(self["config"], config)
            for name in sorted(DIRECTIVES):
                if self[name] is not None:
                    config.apply(name, _words(name, self[name]))
        except ConfigError as e:
            raise usage.UsageError(str(e))
        self.configuration = config


def _words(name, value):
    row = DIRECTIVES[name]
    if row.kind == "list":
        return value.split() or [""]
    return [value]


def build_service(config, reactor=None):
    """The MultiService for C{config}: store service plus listeners."""
    from sonic.protocol import RedisServerFactory
    from sonic.server import Server
    if reactor is None:
        from twisted.internet import reactor
    top = service.MultiService()
    server = Server(config, clock=reactor)
    server.store.setServiceParent(top)
    factory = RedisServerFactory(server)
    top.server = server
    top.factory = factory
    for desc in listen_descriptions(config):
        strports.service(desc, factory).setServiceParent(top)

    def shutdown():
        factory.close_all()
        reactor.callLater(0, _stop, reactor)
    server.shutdown = shutdown
    return top


def _stop(reactor):
    if reactor.running:
        reactor.stop()


def listen_descriptions(config):
    """strports descriptions for C{bind}: C{-} before an address makes it optional."""
    import socket
    addrs = (config.bind or "* -::*").split()
    out = []
    for addr in addrs:
        optional = addr.startswith("-")
        addr = addr.lstrip("-")
        if addr == "*":
            addr = "0.0.0.0"
        elif addr == "::*":
            addr = "::"
        if ":" in addr:
            if optional and not socket.has_ipv6:
                continue
            if optional and not _can_bind6(addr):
                continue
            out.append("tcp6:%d:interface=%s" % (config.port, addr.replace(":", "\\:")))
        else:
            out.append("tcp:%d:interface=%s" % (config.port, addr))
    return out


def _can_bind6(addr):
    import socket
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            s.bind((addr, 0))
        finally:
            s.close()
        return True
    except OSError:
        return False


def makeService(options):
    """twistd's entry point."""
    return build_service(options.configuration)

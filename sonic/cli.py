"""C{sonic-server [sonic.conf] [--directive value ...]}: redis-server's command line.

Runs in the foreground with the same service tree as C{twistd -n sonic},
so scripts and container images written for redis-server work unchanged.
"""

import signal
import sys

from sonic import __version__
from sonic.config import Config, ConfigError, parse_args

__all__ = ["main"]


def main(argv=None):
    """Parse redis-server style arguments, build the services and run the reactor."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-v", "--version"):
        print("sonic %s (Redis-compatible, answers as 7.0.15)" % __version__)
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    config = Config()
    try:
        parse_args(argv, config)
    except (ConfigError, OSError) as e:
        sys.stderr.write("sonic-server: %s\n" % e)
        return 1
    from twisted.internet import reactor
    from twisted.python import log
    from sonic.tap import build_service
    log.startLogging(sys.stdout, setStdout=False)
    top = build_service(config, reactor)
    try:
        top.privilegedStartService()
        top.startService()
    except Exception as e:
        sys.stderr.write("sonic-server: cannot start: %s\n" % e)
        return 1
    reactor.addSystemEventTrigger("before", "shutdown", top.stopService)
    signal.signal(signal.SIGTERM, lambda *a: reactor.callFromThread(reactor.stop))
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

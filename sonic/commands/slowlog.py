"""SLOWLOG: the commands that took longer than C{slowlog-log-slower-than} microseconds.

As Redis' slowlog.c: the newest C{slowlog-max-len} entries, each with an
id, the Unix time, the duration in microseconds, the arguments (at most 32:
the 32nd says C{... (N more arguments)}; an argument longer than 128 bytes
is cut and ends with C{... (N more bytes)}), passwords redacted as MONITOR
redacts them, the client's address and name.  A negative threshold or a
zero length turns the log off; 0 logs every command.

The dispatcher measures each command (sonic.dispatch.call) and makes one
comparison with C{server.slow_threshold}, the smaller of the slow log's and
the latency monitor's thresholds in seconds (infinite while both are off);
L{SlowLog.command} then does the rest.  Durations are the handler's own
time, as Redis measures C{call()}.  EXEC is not logged (its commands are,
one by one).  A blocking command that had to wait is not logged (Redis logs
it once served, with the time it ran; sonic does not, and a timed-out one
is not logged by either).
"""

from collections import deque
import time

from sonic.commands.args import to_int
from sonic.errors import CommandError
from sonic.monitor import redacted, is_script_client
from sonic.registry import command
from sonic.resp import OK, Status

__all__ = ["SlowLog", "entry_argv"]

MAX_ARGC = 32
MAX_STRING = 128

HELP = [
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
]


def entry_argv(argv):
    """The arguments a slow log entry keeps: redacted, at most 32, each at most 128 bytes (plus a note)."""
    argv = redacted(list(argv))
    argc = len(argv)
    keep = min(argc, MAX_ARGC)
    out = []
    for i in range(keep):
        if keep != argc and i == keep - 1:
            out.append(b"... (%d more arguments)" % (argc - keep + 1))
            break
        a = argv[i]
        if len(a) > MAX_STRING:
            a = a[:MAX_STRING] + b"... (%d more bytes)" % (len(a) - MAX_STRING)
        out.append(bytes(a))
    return out


class SlowLog(object):
    """The slow log and the dispatcher's slow path (slow log + latency events).

    @ivar entries: newest first: (id, unix time, usec, argv, addr, name).
    """

    def __init__(self, server):
        self.server = server
        self.entries = deque()
        self.next_id = 0
        config = server.config
        self.slower_than = config.slowlog_log_slower_than
        self.max_len = config.slowlog_max_len
        self.latency_threshold = config.latency_monitor_threshold
        config.on_change("slowlog-log-slower-than", self._set_slower_than)
        config.on_change("slowlog-max-len", self._set_max_len)
        config.on_change("latency-monitor-threshold", self._set_latency)
        self._update()

    def _set_slower_than(self, value):
        self.slower_than = value
        self._update()

    def _set_max_len(self, value):
        self.max_len = value
        while len(self.entries) > value:
            self.entries.pop()
        self._update()

    def _set_latency(self, value):
        self.latency_threshold = value
        self._update()

    def _update(self):
        """Recompute C{server.slow_threshold} (seconds), the dispatcher's one comparison."""
        limit = float("inf")
        if self.slower_than >= 0 and self.max_len > 0:
            limit = self.slower_than / 1e6
        if self.latency_threshold > 0:
            limit = min(limit, self.latency_threshold / 1e3)
        self.server.slow_threshold = limit

    def command(self, client, spec, argv, elapsed):
        """A command took C{elapsed} seconds, at least one threshold's worth."""
        if client.blocked is not None:
            return  # it waits (BLPOP, CLIENT PAUSE...): Redis logs blocked commands once served
        usec = int(elapsed * 1e6)
        if (self.slower_than >= 0 and self.max_len > 0 and usec >= self.slower_than
                and "skip_slowlog" not in spec.flags):
            self.push(client, argv, usec)
        if self.latency_threshold > 0 and usec // 1000 >= self.latency_threshold:
            latency = getattr(self.server, "latency", None)
            if latency is not None:
                latency.add_sample("fast-command" if "fast" in spec.flags else "command",
                                   usec // 1000)

    def push(self, client, argv, usec):
        """Add an entry (newest first), dropping the oldest past C{slowlog-max-len}."""
        if is_script_client(client):
            addr, name = "?:0", b""
        else:
            addr, name = client.addr, client.name or b""
        self.entries.appendleft((self.next_id, int(time.time()), usec, entry_argv(argv),
                                 addr.encode("utf-8", "surrogateescape"), name))
        self.next_id += 1
        while len(self.entries) > self.max_len:
            self.entries.pop()

    def reset(self):
        self.entries.clear()


def _bad_subcommand(client):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%s'. Try SLOWLOG HELP."
                        % client.argv[1].decode("utf-8", "replace"))


@command("slowlog|get")
def slowlog_get(client, *args):
    """SLOWLOG GET [count]"""
    if len(args) > 1:
        raise _bad_subcommand(client)
    count = 10
    if args:
        message = "ERR count should be greater than or equal to -1"
        count = to_int(args[0], message)
        if count < -1:
            raise CommandError(message)
    entries = client.server.slowlog.entries
    if count == -1:
        count = len(entries)
    out = []
    for i, (eid, when, usec, argv, addr, name) in enumerate(entries):
        if i >= count:
            break
        out.append([eid, when, usec, list(argv), addr, name])
    return out


@command("slowlog|len")
def slowlog_len(client):
    """SLOWLOG LEN"""
    return len(client.server.slowlog.entries)


@command("slowlog|reset")
def slowlog_reset(client):
    """SLOWLOG RESET"""
    client.server.slowlog.reset()
    return OK


@command("slowlog|help")
def slowlog_help(client):
    """SLOWLOG HELP"""
    return [Status(line.encode()) for line in HELP]

"""MONITOR: every command the server runs, as one line per command, to the clients watching.

Redis 7.0's rules, observed on redis-server 7.0.15:

  - A line is C{+<unix time, 6 decimals> [<db> <addr>] "arg" "arg"...}, each
    word quoted the way Redis' C{sdscatrepr} quotes (L{repr_bytes}); commands
    a script runs show C{[<db> lua]}.  It goes out as a status reply, in RESP2
    and RESP3 alike.
  - A command is fed once it has run (so C{SELECT 3} shows db 3, and the
    commands of a MULTI come before their EXEC), errors included; commands
    refused before running (unknown, wrong arity, queued) are not fed.
    EVAL/EVALSHA/FCALL and their _RO forms (flag C{skip_monitor}) are fed
    before they run, so the commands of the script follow their EVAL.
    C{admin} commands (CONFIG, DEBUG, SLOWLOG, CLIENT LIST...) are never fed.
  - Passwords are redacted (L{redacted}): AUTH, HELLO's AUTH, MIGRATE's
    AUTH/AUTH2.  The slow log uses the same redaction.
  - A monitor that does not read is closed once its pending output passes
    C{client-output-buffer-limit}'s replica class (256 MB, or 64 MB for 60 s),
    the class Redis applies to monitors.
  - A monitor gets its own replies, a second MONITOR is ignored without a
    reply, RESET and QUIT end monitor mode, and commands touching keys are
    refused with C{-ERR Replica can't interact with the keyspace} (Redis
    flags a monitor as a replica).

The dispatcher pays one attribute test per command while nobody monitors
(C{server.monitors} is an empty list).
"""

import time

__all__ = ["feed", "repr_bytes", "redacted", "origin", "start", "stop", "is_script_client"]

REDACTED = b"(redacted)"

#: sdscatrepr's escapes; other bytes outside ' '..'~' become \\xHH.
_ESCAPES = {ord("\\"): b"\\\\", ord('"'): b'\\"', ord("\n"): b"\\n", ord("\r"): b"\\r",
            ord("\t"): b"\\t", 7: b"\\a", 8: b"\\b"}
_REPR = [(_ESCAPES.get(i) or (bytes([i]) if 32 <= i <= 126 else b"\\x%02x" % i)) for i in range(256)]
_PLAIN = frozenset(i for i in range(32, 127) if i not in (ord("\\"), ord('"')))


def repr_bytes(value):
    """C{value} quoted as Redis' sdscatrepr does: C{"a\\"b\\x00"}."""
    if all(c in _PLAIN for c in value):
        return b'"' + value + b'"'
    return b'"' + b"".join([_REPR[c] for c in value]) + b'"'


def is_script_client(client):
    """Whether C{client} is the fake client a script's redis.call runs through."""
    return getattr(client, "is_script", False)


def origin(client):
    """The C{[db origin]} word: the client's address, or C{lua} for script commands."""
    if is_script_client(client):
        return "lua"
    return client.addr


def redacted(argv):
    """C{argv} with its passwords replaced by C{(redacted)}, as Redis' redactClientCommandArgument."""
    name = argv[0].lower()
    if name == b"auth":
        return argv[:1] + [REDACTED] * (len(argv) - 1)
    if name == b"hello":
        out = list(argv)
        i = 2
        while i < len(out):
            word = out[i].lower()
            if word == b"auth" and i + 2 < len(out):
                out[i + 1] = out[i + 2] = REDACTED
                i += 3
            elif word == b"setname" and i + 1 < len(out):
                i += 2
            else:
                break
        return out
    if name == b"migrate":
        out = list(argv)
        i = 6
        while i < len(out):
            word = out[i].lower()
            if word == b"auth" and i + 1 < len(out):
                out[i + 1] = REDACTED
                i += 2
            elif word == b"auth2" and i + 2 < len(out):
                out[i + 1] = out[i + 2] = REDACTED
                i += 3
            elif word == b"keys":
                break
            else:
                i += 1
        return out
    if name == b"config" and len(argv) > 3 and argv[1].lower() == b"set":
        out = list(argv)
        for i in range(2, len(out) - 1, 2):
            if out[i].lower() in (b"requirepass", b"masterauth"):
                out[i + 1] = REDACTED
        return out
    return argv


def _needs_redaction(argv):
    name = argv[0]
    return len(name) in (4, 5, 6, 7) and name.lower() in (b"auth", b"hello", b"migrate", b"config")


def feed(client, argv):
    """Send C{argv}, run by C{client}, to every monitor of its server."""
    server = client.server
    if _needs_redaction(argv):
        argv = redacted(list(argv))
    now = time.time()
    head = "+%.6f [%d %s] " % (now, client.dbnum, origin(client))
    line = head.encode() + b" ".join([repr_bytes(a) for a in argv]) + b"\r\n"
    for monitor in list(server.monitors):
        if monitor.close_after_reply:
            continue  # QUIT, CLIENT KILL: Redis adds nothing to a closing client
        write = getattr(monitor, "_send", None)  # the protocol's writer
        if write is None:
            monitor.monitor_lines.append(line)
        elif monitor is client or getattr(monitor, "_processing", False):
            # The monitor's own command: its reply is not written yet, and
            # Redis shows the line after it.  Later lines queue behind it.
            queue = getattr(monitor, "monitor_queue", None)
            if queue is None:
                monitor.monitor_queue = [line]
                server.clock.callLater(0, _flush_queue, monitor)
            else:
                queue.append(line)
        elif getattr(monitor, "monitor_queue", None) is not None:
            monitor.monitor_queue.append(line)
        else:
            _write(monitor, line)


def _flush_queue(monitor):
    queue = monitor.monitor_queue
    monitor.monitor_queue = None
    if queue and not getattr(monitor, "_closed", False) and not monitor.close_after_reply:
        _write(monitor, b"".join(queue))


_limits_cache = [None, (0, 0, 0)]


def _replica_limits(server):
    """client-output-buffer-limit's replica class (hard, soft, seconds): Redis' class for monitors."""
    text = server.config.client_output_buffer_limit
    if _limits_cache[0] != text:
        from sonic.pubsub import parse_limits
        try:
            _limits_cache[1] = parse_limits(text).get("slave", (0, 0, 0))
        except ValueError:
            pass
        _limits_cache[0] = text
    return _limits_cache[1]


def _write(monitor, line):
    """Write a line; a monitor that does not read is closed past the replica output limits."""
    monitor._send(line)
    pending = getattr(monitor, "output_pending", None)
    pending = pending() if pending is not None else 0
    if not pending:
        monitor.obuf_soft_since = None
        return
    hard, soft, secs = _replica_limits(monitor.server)
    over = bool(hard) and pending >= hard
    if not over and soft and pending >= soft:
        now = monitor.server.clock.seconds()
        since = getattr(monitor, "obuf_soft_since", None)
        if since is None:
            monitor.obuf_soft_since = now
        else:
            over = now - since > secs
    elif not over:
        monitor.obuf_soft_since = None
    if over:
        stop(monitor)
        drop = getattr(monitor, "drop", None)
        if drop is not None:
            drop()
        else:
            monitor.close()


def start(client):
    """MONITOR: make C{client} a monitor (no reply if it already is one)."""
    server = client.server
    if client in server.monitors:
        return False
    server.monitors.append(client)
    client.flags = client.flags + "O"
    client.gated = True  # keyspace commands are refused (sonic.dispatch.check_client_gates)
    if not hasattr(client, "_send"):
        client.monitor_lines = []  # a bare client (unit tests) collects its lines
    if _gone not in server.disconnect_hooks:
        server.disconnect_hooks.append(_gone)
    return True


def stop(client):
    """Leave monitor mode (RESET, disconnection)."""
    monitors = client.server.monitors
    if client in monitors:
        monitors.remove(client)
        client.flags = client.flags.replace("O", "")
        client.gated = bool(getattr(client, "channels", None) or getattr(client, "patterns", None)
                            or getattr(client, "shard_channels", None))


def _gone(client):
    stop(client)

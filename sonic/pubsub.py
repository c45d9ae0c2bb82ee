"""Pub/Sub: who listens to which channel, and delivering messages to them.

One L{PubSub} per server (C{server.pubsub}), Redis' C{server.pubsub_channels},
C{server.pubsub_patterns} and C{server.pubsub_shard_channels}.  Each maps a
channel (or pattern) to the clients subscribed to it, in subscription order
(a dict used as an ordered set); each client keeps its own side in
C{client.channels}, C{client.patterns} and C{client.shard_channels} (dicts
used as ordered sets, None until the first subscription; CLIENT LIST's
C{sub=}/C{psub=} and INFO count them).

Delivery (L{PubSub.publish}) is what Redis' pubsubPublishMessage does:
channel subscribers first, then every pattern that matches, each receiver
counted once per subscription.  A message is encoded once per protocol
version and queued on each receiver (C{client.push_later}); at the end of
the reactor turn (L{PubSub.flush}, Redis' write-before-sleep) each receiver
gets one write for all its messages of the turn and is then checked, alone,
against C{client-output-buffer-limit} (L{OutputLimits}), so a subscriber
that never reads is disconnected instead of making the server's memory
grow, and publishing stays cheap.
"""

from twisted.logger import Logger

from sonic.glob import compile_pattern
from sonic.resp import Push, encode

__all__ = ["PubSub", "OutputLimits", "parse_limits", "subscribed"]

log = Logger(namespace="sonic")


def _frame(kind, words, resp):
    """The RESP bytes of a message push: C{*n} in RESP2, C{>n} in RESP3."""
    head = b"*%d\r\n" if resp == 2 else b">%d\r\n"
    return (head % (len(words) + 1) + b"$%d\r\n%s\r\n" % (len(kind), kind)
            + b"".join([b"$%d\r\n%s\r\n" % (len(w), w) for w in words]))


def subscribed(client):
    """Whether C{client} has any subscription (Redis' CLIENT_PUBSUB flag)."""
    return bool(client.channels or client.patterns or client.shard_channels)


def _deliver(clients, kind, words):
    """Send one message to each of C{clients}, encoded once per RESP version.

    Protocol clients queue it until the end of the reactor turn
    (C{push_later}); bare clients (tests) get a L{Push} value.
    """
    data2 = data3 = None
    for client in clients:
        try:
            later = client.push_later
        except AttributeError:
            client.push(Push((kind,) + words))
            continue
        if client.resp == 2:
            if data2 is None:
                data2 = _frame(kind, words, 2)
            later(data2)
        else:
            if data3 is None:
                data3 = _frame(kind, words, 3)
            later(data3)


class PubSub(object):
    """The server's subscriptions.

    @ivar channels: channel -> {client: None}, in subscription order.
    @ivar patterns: pattern -> {client: None}.
    @ivar shard_channels: shard channel -> {client: None}.
    @ivar limits: the parsed C{client-output-buffer-limit} (L{OutputLimits}).
    """

    def __init__(self, server):
        self.server = server
        self.channels = {}
        self.patterns = {}
        self.shard_channels = {}
        self.limits = OutputLimits(server)
        server.disconnect_hooks.append(self.unsubscribe_all)
        self._pending = []
        self._flush_call = None

    # -- batching a reactor turn's messages -------------------------------------------

    def pending(self, client):
        """C{client} queued messages (C{push_later}): flush them at the end of this reactor turn."""
        self._pending.append(client)
        if self._flush_call is None:
            self._flush_call = self.server.clock.callLater(0, self.flush)

    def flush(self):
        """Write every client's queued messages (Redis' handleClientsWithPendingWrites)."""
        self._flush_call = None
        pending = self._pending
        self._pending = []
        for client in pending:
            client.flush_pushes()

    # -- publishing ---------------------------------------------------------------

    def publish(self, channel, message):
        """Deliver C{message} on C{channel}; return the number of receivers (PUBLISH's reply)."""
        receivers = 0
        subs = self.channels.get(channel)
        if subs:
            clients = list(subs)
            _deliver(clients, b"message", (channel, message))
            receivers = len(clients)
        if self.patterns:
            for pattern, subs in list(self.patterns.items()):
                if compile_pattern(pattern).match(channel):
                    clients = list(subs)
                    _deliver(clients, b"pmessage", (pattern, channel, message))
                    receivers += len(clients)
        return receivers

    def spublish(self, channel, message):
        """Deliver C{message} on shard channel C{channel}; return the number of receivers."""
        subs = self.shard_channels.get(channel)
        if not subs:
            return 0
        clients = list(subs)
        _deliver(clients, b"smessage", (channel, message))
        return len(clients)

    # -- subscribing ----------------------------------------------------------------

    def subscribe(self, client, channel, shard=False):
        """Add C{client} to C{channel}; return whether it is new to it."""
        attr = "shard_channels" if shard else "channels"
        own = getattr(client, attr)
        if own is None:
            own = {}
            setattr(client, attr, own)
        if channel in own:
            return False
        own[channel] = None
        table = self.shard_channels if shard else self.channels
        subs = table.get(channel)
        if subs is None:
            subs = table[channel] = {}
        subs[client] = None
        client.gated = True
        return True

    def unsubscribe(self, client, channel, shard=False):
        """Remove C{client} from C{channel}; return whether it was subscribed."""
        own = client.shard_channels if shard else client.channels
        if not own or channel not in own:
            return False
        del own[channel]
        table = self.shard_channels if shard else self.channels
        subs = table.get(channel)
        if subs is not None:
            subs.pop(client, None)
            if not subs:
                del table[channel]
        self._check_mode(client)
        return True

    def psubscribe(self, client, pattern):
        """Add C{client} to C{pattern}; return whether it is new to it."""
        own = client.patterns
        if own is None:
            own = client.patterns = {}
        if pattern in own:
            return False
        own[pattern] = None
        subs = self.patterns.get(pattern)
        if subs is None:
            subs = self.patterns[pattern] = {}
        subs[client] = None
        client.gated = True
        return True

    def punsubscribe(self, client, pattern):
        """Remove C{client} from C{pattern}; return whether it was subscribed."""
        own = client.patterns
        if not own or pattern not in own:
            return False
        del own[pattern]
        subs = self.patterns.get(pattern)
        if subs is not None:
            subs.pop(client, None)
            if not subs:
                del self.patterns[pattern]
        self._check_mode(client)
        return True

    def _check_mode(self, client):
        """Leave the subscribed state (and its command gate) with the last subscription.

        The gate stays for a MONITOR client (flag O, sonic.monitor), which
        shares it.
        """
        if not subscribed(client) and "O" not in client.flags:
            client.gated = False

    def unsubscribe_all(self, client):
        """Drop every subscription of C{client} (disconnect, RESET)."""
        for channel in list(client.channels or ()):
            self.unsubscribe(client, channel)
        for pattern in list(client.patterns or ()):
            self.punsubscribe(client, pattern)
        for channel in list(client.shard_channels or ()):
            self.unsubscribe(client, channel, shard=True)

    # -- introspection ------------------------------------------------------------

    def numpat(self):
        """PUBSUB NUMPAT: the number of patterns with subscribers (Redis 7.0 counts patterns)."""
        return len(self.patterns)


# -- client-output-buffer-limit ------------------------------------------------------

#: Redis' client classes as CONFIG shows them, in its order.
CLASSES = ("normal", "slave", "pubsub")
_CLASS_NAMES = {"normal": "normal", "slave": "slave", "replica": "slave", "pubsub": "pubsub",
                "master": "master"}


def parse_limits(text):
    """C{client-output-buffer-limit}'s value -> {class: (hard, soft, soft_seconds)}.

    Raises C{ValueError} with Redis' reason for a bad value (words of four:
    class, hard, soft, soft seconds; sizes as memtoll reads them).
    """
    from sonic.config import memtoll
    words = text.split()
    if len(words) % 4:
        raise ValueError("Wrong number of arguments in buffer limit configuration.")
    out = {}
    for i in range(0, len(words), 4):
        cls = _CLASS_NAMES.get(words[i].lower())
        if cls is None or cls == "master":
            raise ValueError("Invalid client class specified in buffer limit configuration.")
        hard = memtoll(words[i + 1])
        soft = memtoll(words[i + 2])
        secs = words[i + 3]
        digits = secs[1:] if secs[:1] in ("+", "-") else secs
        if (hard is None or soft is None or hard < 0 or soft < 0
                or not digits.isdigit() or not digits.isascii() or int(secs) < 0):
            raise ValueError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        out[cls] = (hard, soft, int(secs))
    return out


def merge_limits(current, text):
    """The directive's new value: C{text}'s classes set, the others kept, in Redis' format."""
    limits = parse_limits(current)
    limits.update(parse_limits(text))
    return " ".join("%s %d %d %d" % ((cls,) + limits.get(cls, (0, 0, 0))) for cls in CLASSES)


def _format_memory(n):
    """Redis' rewriteConfigFormatMemory: the largest of gb/mb/kb that divides C{n}."""
    for unit, size in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)):
        if n and n % size == 0:
            return "%d%s" % (n // size, unit)
    return "%d" % n


def rewrite_lines(value):
    """CONFIG REWRITE's lines for the directive: one per class that differs from its default."""
    from sonic.config import DIRECTIVES
    current = parse_limits(value)
    default = parse_limits(DIRECTIVES["client-output-buffer-limit"].default)
    lines = []
    for cls, name in (("normal", "normal"), ("slave", "replica"), ("pubsub", "pubsub")):
        limits = current.get(cls, (0, 0, 0))
        if limits != default.get(cls, (0, 0, 0)):
            lines.append("client-output-buffer-limit %s %s %s %d" % (
                name, _format_memory(limits[0]), _format_memory(limits[1]), limits[2]))
    return "\n".join(lines)


class OutputLimits(object):
    """C{client-output-buffer-limit} for the clients pub/sub writes to.

    Redis checks a client's output buffer each time it grows; sonic checks
    it each time a push is written (the only output that does not wait for
    the client to read its replies: replies are paced by the protocol's
    producer).  Over the hard limit, or over the soft limit for longer than
    the soft seconds, the client is closed at once and its pending output
    dropped, with Redis' log line.
    """

    def __init__(self, server):
        self.server = server
        self.update(server.config.client_output_buffer_limit)
        server.config.on_change("client-output-buffer-limit", self.update)

    def update(self, text):
        try:
            limits = parse_limits(text)
        except ValueError:
            return
        self.normal = limits.get("normal", (0, 0, 0))
        self.pubsub = limits.get("pubsub", (0, 0, 0))

    def check(self, client, pending):
        """C{client} holds C{pending} bytes of output: whether it must be closed now."""
        hard, soft, secs = self.pubsub if subscribed(client) else self.normal
        if hard and pending >= hard:
            return True
        if soft and pending >= soft:
            now = self.server.clock.seconds()
            since = getattr(client, "obuf_soft_since", None)
            if since is None:
                client.obuf_soft_since = now
                return False
            return now - since > secs
        client.obuf_soft_since = None
        return False

    def over(self, client, pending):
        """Check C{client} and, over a limit, log it as Redis does and return True."""
        if not self.check(client, pending):
            return False
        log.warn("Client {info} scheduled to be closed ASAP for overcoming of output buffer limits.",
                 info=_client_info(client))
        return True


def _client_info(client):
    """CLIENT INFO's line for the log, as Redis' catClientInfoString."""
    try:
        from sonic.commands.clients import client_info_string
        info = client_info_string(client)
        if isinstance(info, bytes):
            info = info.decode("utf-8", "replace")
        return info.strip()
    except Exception:
        return "id=%d addr=%s" % (client.id, client.addr)


def encode_push(words, resp):
    """A push frame for C{words} (subscribe confirmations...)."""
    return encode(Push(words), resp)

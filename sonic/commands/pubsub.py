"""Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.

The registry and delivery live in L{sonic.pubsub} (C{server.pubsub}).

A (un)subscribe confirmation is a push, one per channel, as in Redis: it is
sent with C{client.push} (so CLIENT REPLY OFF does not mute it, and in RESP3
it is a C{>} frame) and the command itself replies nothing.  Inside EXEC the
confirmations become the command's reply element instead, as Redis' output
buffer makes them.  The RESP2 subscribed context (only these commands, PING,
QUIT and RESET) is enforced by the dispatcher (L{sonic.dispatch.check_client_gates}).
"""

from sonic.errors import CommandError
from sonic.glob import compile_pattern
from sonic.registry import command
from sonic.resp import Push, Raw, Status, encode

__all__ = []

HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]

_NOTHING = Raw(b"")


def _count(client):
    """Redis' clientSubscriptionsCount: channels plus patterns (shard channels apart)."""
    return len(client.channels or ()) + len(client.patterns or ())


def _shard_count(client):
    return len(client.shard_channels or ())


class _Confirmations(object):
    """Collects a command's confirmations: pushed at once, or its reply inside EXEC."""

    def __init__(self, client):
        self.client = client
        self.in_exec = client.multi is not None  # run_transaction keeps it set while EXEC runs
        self.frames = []

    def add(self, kind, name, count):
        words = Push([kind, name, count])
        if self.in_exec:
            self.frames.append(encode(words, self.client.resp))
        else:
            self.client.push(words)

    def reply(self):
        if self.frames:
            return Raw(b"".join(self.frames))
        return _NOTHING


def _join(client, kind, names, join, count):
    """The SUBSCRIBE family: join each of C{names}, one confirmation each."""
    out = _Confirmations(client)
    for name in names:
        join(name)
        out.add(kind, name, count(client))
    return out.reply()


@command("subscribe")
def subscribe(client, *channels):
    """SUBSCRIBE channel [channel ...]"""
    pubsub = client.server.pubsub
    return _join(client, b"subscribe", channels, lambda name: pubsub.subscribe(client, name), _count)


@command("psubscribe")
def psubscribe(client, *patterns):
    """PSUBSCRIBE pattern [pattern ...]"""
    pubsub = client.server.pubsub
    return _join(client, b"psubscribe", patterns, lambda name: pubsub.psubscribe(client, name), _count)


@command("ssubscribe")
def ssubscribe(client, *channels):
    """SSUBSCRIBE shardchannel [shardchannel ...]"""
    if client.multi is not None:
        # EXEC runs its queue as a DENY BLOCKING client; unlike SUBSCRIBE,
        # Redis 7.0 makes no exception for MULTI here.
        raise CommandError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    pubsub = client.server.pubsub
    return _join(client, b"ssubscribe", channels,
                 lambda name: pubsub.subscribe(client, name, shard=True), _shard_count)


def _leave(client, kind, names, current, leave, count):
    """The UNSUBSCRIBE family: leave C{names} (all of C{current} when none), one confirmation each.

    With nothing to leave Redis still confirms once, with a null name.
    """
    out = _Confirmations(client)
    if not names:
        names = list(current or ())
        if not names:
            out.add(kind, None, count(client))
    for name in names:
        leave(name)
        out.add(kind, name, count(client))
    return out.reply()


@command("unsubscribe")
def unsubscribe(client, *channels):
    """UNSUBSCRIBE [channel [channel ...]]"""
    pubsub = client.server.pubsub
    return _leave(client, b"unsubscribe", channels, client.channels,
                  lambda name: pubsub.unsubscribe(client, name), _count)


@command("punsubscribe")
def punsubscribe(client, *patterns):
    """PUNSUBSCRIBE [pattern [pattern ...]]"""
    pubsub = client.server.pubsub
    return _leave(client, b"punsubscribe", patterns, client.patterns,
                  lambda name: pubsub.punsubscribe(client, name), _count)


@command("sunsubscribe")
def sunsubscribe(client, *channels):
    """SUNSUBSCRIBE [shardchannel [shardchannel ...]]"""
    pubsub = client.server.pubsub
    return _leave(client, b"sunsubscribe", channels, client.shard_channels,
                  lambda name: pubsub.unsubscribe(client, name, shard=True), _shard_count)


@command("publish")
def publish(client, channel, message):
    """PUBLISH channel message"""
    server = client.server
    receivers = server.pubsub.publish(channel, message)
    prop = server.propagator
    if prop is not None and server.master_host is None and client.flags != "M":
        _propagate(server, prop, client)
    return receivers


def _propagate(server, prop, client):
    """Redis 7.0 propagates (S)PUBLISH to its replicas, never to its AOF (PROPAGATE_REPL).

    The propagator's units go to every listener; while the AOF is one of
    them, PUBLISH is not propagated rather than logged (unless the
    propagator offers C{feed_replicas}).
    """
    feed = getattr(prop, "feed_replicas", None)
    if feed is not None:
        feed(client.dbnum, list(client.argv))
        return
    aof = getattr(server, "aof", None)
    if prop.listeners and (aof is None or aof.feed not in prop.listeners):
        prop.feed(client.dbnum, list(client.argv))


@command("spublish")
def spublish(client, channel, message):
    """SPUBLISH shardchannel message"""
    server = client.server
    receivers = server.pubsub.spublish(channel, message)
    prop = server.propagator
    if prop is not None and server.master_host is None and client.flags != "M":
        _propagate(server, prop, client)
    return receivers


def _syntax(sub):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%s'. Try PUBSUB HELP."
                        % sub)


def _matching(table, args, sub):
    if len(args) > 1:
        raise _syntax(sub)
    if not args or args[0] == b"*":
        return list(table)
    matcher = compile_pattern(args[0])
    return [name for name in table if matcher.match(name)]


@command("pubsub|channels")
def pubsub_channels(client, *args):
    """PUBSUB CHANNELS [pattern]"""
    return _matching(client.server.pubsub.channels, args, client.argv[1].decode("utf-8", "replace"))


@command("pubsub|shardchannels")
def pubsub_shardchannels(client, *args):
    """PUBSUB SHARDCHANNELS [pattern]"""
    return _matching(client.server.pubsub.shard_channels, args,
                     client.argv[1].decode("utf-8", "replace"))


def _numsub(table, channels):
    out = []
    for channel in channels:
        out.append(channel)
        out.append(len(table.get(channel) or ()))
    return out


@command("pubsub|numsub")
def pubsub_numsub(client, *channels):
    """PUBSUB NUMSUB [channel [channel ...]]"""
    return _numsub(client.server.pubsub.channels, channels)


@command("pubsub|shardnumsub")
def pubsub_shardnumsub(client, *channels):
    """PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]"""
    return _numsub(client.server.pubsub.shard_channels, channels)


@command("pubsub|numpat")
def pubsub_numpat(client):
    """PUBSUB NUMPAT"""
    return len(client.server.pubsub.patterns)


@command("pubsub|help")
def pubsub_help(client):
    """PUBSUB HELP"""
    return [Status(line.encode()) for line in HELP]

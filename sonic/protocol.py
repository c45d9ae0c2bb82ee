"""The Twisted side: bytes from a socket in, replies out.

L{RedisServerProtocol} feeds what it receives to the sans-IO parser, runs
each complete command through L{sonic.dispatch.execute}, and sends all the
replies produced by one C{dataReceived} in one write.  Two details matter
for speed and safety:

  - Writing at once.  C{transport.write} only queues bytes until the next
    reactor pass; when nothing is queued already we send the reply on the
    socket straight away (cutting server CPU per request by about a third)
    and give Twisted only what the socket did not take, so its buffering and
    flow control still handle slow readers.
  - Back-pressure.  The protocol registers itself as the transport's
    streaming producer: when the transport's buffer fills, reading from the
    client stops, and commands already parsed wait until the client has read
    its replies.  A client that sends faster than it reads cannot make the
    server's memory grow without bound.
"""

from os import write as _write
from time import perf_counter as _perf_counter, time as _time

from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from zope.interface import implementer

from sonic import errors
from sonic.blocking import BLOCKED
from sonic.dispatch import Client, execute, handler_failed
from sonic.errors import CommandError, ProtocolError
from sonic.registry import PLAIN, PLAIN_READ, lean_ran
from sonic.resp import BULK_HEADER_LINES, CANONICAL_MAX, OK, PONG, Raw, encode, make_parser

__all__ = ["RedisServerProtocol", "RedisServerFactory"]

log = Logger(namespace="sonic")


@implementer(IPushProducer)
class RedisServerProtocol(Client, Protocol):
    """One client connection."""

    _fast_write = False
    _paused = False
    _processing = False
    _closed = False

    def __init__(self):
        pass  # Client state is set up in connectionMade, once the factory is known.

    def connectionMade(self):
        server = self.factory.server
        peer = self.transport.getPeer()
        host = self.transport.getHost()
        Client.__init__(self, server, _addr(peer), _addr(host))
        self.fd = _fileno(self.transport)
        # As Redis (anetEnableTcpNoDelay on every client): without it a push
        # written after a reply the peer has not acknowledged yet (Pub/Sub
        # messages, tracking invalidations) waits ~40 ms for a delayed ACK.
        no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if no_delay is not None:
            try:
                no_delay(True)
            except OSError:
                pass  # not a TCP socket
        self.parser = make_parser(server.config.hiredis_parser, server.config.proto_max_bulk_len)
        self.parser.auth_required = not self.authenticated
        self.output_limit = server.config.output_pause_bytes
        t = self.transport
        self._fast_write = all(hasattr(t, a) for a in ("socket", "dataBuffer", "_tempDataBuffer", "offset"))
        # Attributes read on every request that are class-level defaults
        # until first assigned: made instance attributes (same values), as
        # CPython 3.11 only specializes attribute reads found on the
        # instance; a class default costs a full lookup each time.
        self._paused = self._processing = self._closed = self._dropped = False
        self._push_buf = None
        self.mute = False
        self._skip = 0
        self.gated = False
        self.tracking = None
        self.no_block = False
        self.channels = self.patterns = self.shard_channels = None  # PING reads them
        _own_defaults(t, ("dataBuffer", "offset", "connected", "disconnecting",
                          "_writeDisconnected", "bufferSize"))
        t.registerProducer(self, True)
        server.add_client(self)
        maxclients = server.config.maxclients
        if len(server.clients) > maxclients:
            server.stat_rejected_connections += 1
            self.close_after_reply = True  # read nothing from it
            self._send(b"-ERR max number of clients reached\r\n")
            self.transport.loseConnection()

    def connectionLost(self, reason=None):
        self._closed = True
        self.unwatch()
        self.server.remove_client(self)
        # Blocked pops, pub/sub...: forget this client everywhere at once.
        for hook in self.server.disconnect_hooks:
            hook(self)

    # -- Client overrides ---------------------------------------------------

    def close(self):
        """Close after the replies already produced are sent (QUIT, CLIENT KILL)."""
        self.close_after_reply = True
        if not self._processing:
            self.transport.loseConnection()

    def authenticate(self):
        """Mark the connection authenticated (AUTH, HELLO AUTH)."""
        self.authenticated = True
        self.parser.auth_required = False

    # -- input ----------------------------------------------------------------

    def dataReceived(self, data):
        self.last_interaction = _time()  # CLIENT LIST idle=
        if self.close_after_reply:
            return  # Redis reads nothing more from a client it is closing
        self.parser.feed(data)
        self.server.stat_net_input += len(data)
        if not self._paused and not self._processing and self.blocked is None:
            self._process()

    def _process(self):
        """Run every complete command buffered, then send their replies in one write.

        Plain data commands (L{sonic.registry.CommandSpec.plain}) run through
        a lean copy of L{sonic.dispatch.execute} and L{sonic.dispatch.call}
        while nothing about the client or the server asks for more than the
        call and its accounting (no MULTI, no AUTH pending, no subscribed
        context, no tracking, no replica or AOF to feed, no MONITOR, no
        refusals in force): that state is checked once per batch, and again
        after any command that took the full path, the only ones that can
        change it.  Replies, errors and every statistic are the same on both
        paths (tests/unit/test_lean_path.py runs pipelines through both).
        """
        parser = self.parser
        # Requests the parser split ahead (next one last): popped here
        # without a call to gets() each.  (No bound methods in locals: at
        # one request per batch, making them costs more than they save.)
        ready = parser.ready
        # self._out: pushes made while our own commands run (we published to
        # ourselves, our write notified us) go in order with the replies.
        out = self._out = []
        size = 0
        limit = self.output_limit
        replied = False
        self._processing = True
        # Redis' server.current_client: who runs the commands now (tracking's NOLOOP).
        server = self.server
        previous = server.current_client
        server.current_client = self
        store = server.store
        ran = 0  # commands run on the lean path, not yet in server.stat_commands
        lean = None
        try:
            while not self.close_after_reply:
                if lean is None:
                    # What execute() and call() would check for every
                    # command; only a command of the full path changes it.
                    # The lookup finds the specs that may run lean now: the
                    # plain ones, only those that do not write while the
                    # server guards writes, or none.
                    if (self.multi is None and self.authenticated and not self.gated
                            and self.tracking is None and server.propagator is None
                            and not server.monitors and not server.gate_all):
                        lean = PLAIN_READ if server.guard_writes else PLAIN
                    else:
                        lean = _NOTHING
                    slow = server.slow_threshold
                    latency = server.latency_tracking
                    null = b"$-1\r\n" if self.resp == 2 else b"_\r\n"
                if ready:
                    argv = ready.pop()
                elif parser.only_ready and not parser.ready:
                    break  # gets() would say None (a feed meanwhile starts a new list)
                else:
                    try:
                        argv = parser.gets()
                    except ProtocolError as e:
                        # Muted (CLIENT REPLY OFF/SKIP), Redis drops the error too.
                        if not self.mute:
                            out.append(_error(e.message))
                        self.close_after_reply = True
                        break
                    if argv is None:
                        break
                try:
                    argc = len(argv)
                    spec = lean.get(argv[0], _NOT_PLAIN)
                    if argc == spec.arity or argc >= spec.least_argc:
                        # execute() and call() for this case, inlined (keep in step).
                        # Forget the previous command's time snapshot: the
                        # clock is read when this one first needs the time
                        # (ShardedStore.now).
                        if store.has_now:
                            del store.now
                            store.has_now = False
                        self.argv = argv
                        self.last_cmd = spec.fullname
                        handler = spec.handler
                        start = _perf_counter()
                        try:
                            # Positional calls: no slice, list or tuple to build.
                            if argc == 2:
                                reply = handler(self, argv[1])
                            elif argc == 3:
                                reply = handler(self, argv[1], argv[2])
                            elif argc == 4:
                                reply = handler(self, argv[1], argv[2], argv[3])
                            elif argc == 1:
                                reply = handler(self)
                            else:
                                reply = handler(self, *argv[1:])
                        except CommandError as e:
                            spec.failed_calls += 1
                            reply = Raw(_error(e.message))
                        except Exception:
                            reply = Raw(_error(handler_failed(spec, argv).message))
                        elapsed = _perf_counter() - start
                        ran += 1
                        # spec.count(elapsed, latency), inlined; the samples
                        # are folded by lean_ran() at the batch's end.
                        if latency:
                            spec.latency_samples.append(elapsed)
                        else:
                            spec._calls += 1
                            spec._seconds += elapsed
                        if elapsed >= slow:
                            server.slowlog.command(self, spec, argv, elapsed)
                        # Keys blocked clients wait for were created: serve them.
                        if store.ready_keys and not self.no_block:
                            server.blocking.serve_ready()
                    else:
                        # Full path.  The command may read the statistics,
                        # and may change what the lean path relies on.
                        if ran:
                            lean_ran(server, ran)
                            ran = 0
                        lean = None
                        reply = execute(self, argv)
                    # The commonest replies encoded here, without a call.
                    t = type(reply)
                    if t is bytes:
                        n = len(reply)
                        if n <= CANONICAL_MAX and not self.mute:
                            # Header and value as pieces of the join; the
                            # CRLF goes in below as the reply.
                            out.append(BULK_HEADER_LINES[n])
                            out.append(reply)
                            size += n
                            reply = b"\r\n"
                        else:
                            reply = b"$%d\r\n%s\r\n" % (n, reply)
                    elif reply is OK:
                        reply = b"+OK\r\n"
                    elif t is int:
                        reply = b":%d\r\n" % reply
                    elif reply is None:
                        reply = null
                    elif reply is BLOCKED:
                        # Parked (BLPOP...): the reply comes with unblocked(),
                        # and the rest of the pipeline waits until then.
                        break
                    elif reply is PONG:
                        reply = b"+PONG\r\n"
                    else:
                        reply = encode(reply, self.resp)
                except CommandError as e:
                    reply = _error(e.message)
                except Exception:
                    # dispatch turns handler crashes into CommandError; this
                    # catches the rest (an unencodable reply...), so a bug
                    # costs one error reply, never the connection.
                    log.failure("Internal error replying to {argv!r}",
                                argv=[a[:64] for a in argv[:8]])
                    reply = _error("ERR internal error running '%s': see the server log"
                                   % argv[0][:128].decode("utf-8", "replace").lower())
                if self.mute:
                    self.mute_next()
                    continue
                out.append(reply)
                size += len(reply)
                if size > limit:
                    self._send(b"".join(out))
                    replied = True
                    out = self._out = []
                    size = 0
                    if self._paused:
                        break
        finally:
            if ran:
                lean_ran(server, ran)
            self._processing = False
            server.current_client = previous
        if out:
            self._send(b"".join(out) if len(out) > 1 else out[0])
            replied = True
        # Redis closes a client flagged close-after-reply once its replies are
        # written; with every reply muted nothing is ever written and Redis
        # leaves the connection open (and unread), so sonic does the same.
        if self.close_after_reply and not self._closed and (replied or self.transport_pending()):
            if self.server.hold_replies and replied:
                return  # closed once the held replies are out (Server.release_replies)
            self.transport.loseConnection()

    def transport_pending(self):
        """Whether replies wait in the transport's buffer (Redis would still write, then close)."""
        t = self.transport
        return bool(getattr(t, "dataBuffer", b"") or getattr(t, "_tempDataBuffer", None))

    # -- CLIENT REPLY -------------------------------------------------------------

    mute = False
    _skip = 0

    def set_reply_mode(self, mode):
        """CLIENT REPLY ON|OFF|SKIP."""
        self.reply_mode = mode
        if mode == "on":
            self.mute = False
            self._skip = 0
        elif mode == "off":
            self.mute = True
            self._skip = 0  # an OFF given while a SKIP runs must outlast the skip
        else:  # skip this reply and the next one
            self.mute = True
            self._skip = 2

    def mute_next(self):
        """A reply was dropped; SKIP lasts for one more command."""
        if self._skip:
            self._skip -= 1
            if not self._skip:
                self.mute = False
                self.reply_mode = "on"

    # -- output ---------------------------------------------------------------

    def _send(self, data, held=False):
        """Write C{data}, straight to the socket when nothing is queued before it.

        With appendfsync always, while the AOF holds writes not yet on disk,
        replies wait in the server's queue (L{Server.release_replies}), which
        sends them with L{send_now} (C{held} true).  One method for both, as
        every reply goes through it: a Python call less per request.
        """
        if not held:
            if self._push_buf is not None:
                # Messages queued earlier this reactor turn go first, as in
                # Redis' one output buffer.
                buf = self._push_buf
                self._push_buf = None
                buf.append(data)
                data = b"".join(buf)
            server = self.server
            server.stat_net_output += len(data)
            if server.hold_replies:
                server.held_replies.append((self, data))
                return
        if self._closed:
            return
        t = self.transport
        if (self._fast_write and not t._tempDataBuffer and not t.dataBuffer
                and t.connected and not t.disconnecting and not t._writeDisconnected):
            try:
                sent = _write(self.fd, data)
            except BlockingIOError:
                sent = 0
            except OSError:
                t.write(data)  # let Twisted see and report the error
                return
            if sent < len(data):
                t.write(data[sent:])
            return
        t.write(data)

    def send_now(self, data):
        """Write C{data} now: a reply the AOF held until its fsync (L{Server.release_replies})."""
        self._send(data, True)

    def unblocked(self, reply):
        """Send a served (or timed out) blocking command's reply, then read on."""
        if self._closed:
            return
        if self.mute:
            self.mute_next()
        else:
            self._send(encode(reply, self.resp))
        # Like Redis' processUnblockedClients (beforeSleep): the rest of this
        # client's pipeline runs on the next reactor turn, not inside the
        # command that served it.
        self.server.clock.callLater(0, self._resume_after_block)

    def _resume_after_block(self):
        if (not self._closed and not self._paused and not self._processing
                and self.blocked is None):
            self._process()

    def push(self, value):
        """Send an out-of-band value now (pub/sub messages, unblocked replies)."""
        self.push_raw(encode(value, self.resp))

    def push_raw(self, data):
        """Send out-of-band bytes already encoded for this client (pub/sub messages).

        While this client's own commands run, the push goes after the
        replies already produced and before the running command's, as with
        Redis' one output buffer.  CLIENT REPLY OFF does not mute pushes
        (Redis 7.0.15 neither).  Output that piles up because the client
        does not read is checked against client-output-buffer-limit.
        """
        if self._closed or self._dropped:
            return
        if self._processing:
            if self.multi is not None:  # inside EXEC (see run_transaction)
                if self.exec_pushes is None:
                    self.exec_pushes = []
                self.exec_pushes.append(data)
            else:
                self._out.append(data)
            return
        self._send(data)
        t = self.transport
        if self._fast_write and not t.dataBuffer and not t._tempDataBuffer:
            return  # the socket took it all
        if self.server.pubsub.limits.over(self, self.output_pending()):
            self.drop()

    _dropped = False
    _push_buf = None

    def push_later(self, data):
        """Queue out-of-band bytes (pub/sub messages) until the end of this reactor turn.

        Redis writes a client's output once per event-loop turn; batching a
        turn's messages costs one send per subscriber, not one per message
        (L{sonic.pubsub.PubSub.flush} calls L{flush_pushes}).  A message
        our own command causes goes with its replies (L{push_raw}).
        """
        if self._processing:
            self.push_raw(data)
            return
        buf = self._push_buf
        if buf is None:
            if self._closed or self._dropped:
                return
            self._push_buf = [data]
            self.server.pubsub.pending(self)
        else:
            buf.append(data)

    def flush_pushes(self):
        """Write the queued messages, then hold the client to client-output-buffer-limit."""
        buf = self._push_buf
        if buf is None:
            return
        self._push_buf = None
        if self._closed or self._dropped:
            return
        self._send(b"".join(buf) if len(buf) > 1 else buf[0])
        t = self.transport
        if self._fast_write and not t.dataBuffer and not t._tempDataBuffer:
            return  # the socket took it all
        if self.server.pubsub.limits.over(self, self.output_pending()):
            self.drop()

    def output_pending(self):
        """Bytes written to this client that the transport still holds."""
        t = self.transport
        if self._fast_write:
            return len(t.dataBuffer) - t.offset + t._tempDataLen
        value = getattr(t, "value", None)  # StringTransport (tests): nothing is ever read
        return len(value()) if value is not None else 0

    def drop(self):
        """Close now, discarding pending output (client-output-buffer-limit), as Redis' freeClientAsync."""
        self._dropped = True
        self.close_after_reply = True
        self.server.pubsub.unsubscribe_all(self)
        t = self.transport
        if self._fast_write:
            t.dataBuffer = b""
            t.offset = 0
            t._tempDataBuffer = []
            t._tempDataLen = 0
        abort = getattr(t, "abortConnection", None)
        if abort is not None:
            abort()
        else:
            t.loseConnection()

    # -- IPushProducer: the transport tells us when its buffer is full ------------

    def pauseProducing(self):
        self._paused = True
        self.transport.pauseProducing()

    def resumeProducing(self):
        self._paused = False
        if not self._closed:
            self.transport.resumeProducing()
            if not self._processing and self.blocked is None and (self.parser.pending() or self.parser.ready):
                self._process()

    def stopProducing(self):
        self._paused = True


#: The lean path's lookups: none may run lean (L{RedisServerProtocol._process}).
_NOTHING = {}


class _NotPlain(object):
    """What the lean path's lookup gives for a command it may not run: no argument count fits."""
    arity = 0
    least_argc = 1 << 62


_NOT_PLAIN = _NotPlain()


def _error(message):
    """An error reply line; bytes decoded with surrogateescape go out as the raw bytes."""
    return b"-%s\r\n" % errors.sanitize(message).encode("utf-8", "surrogateescape")


def _own_defaults(obj, names):
    """Give C{obj} its own copy of each class-level default in C{names} (same value; see connectionMade)."""
    # Not through obj.__dict__: asking for it turns the instance's inline
    # attribute values into a dictionary, and then every attribute read of
    # the object, Twisted's and ours, costs several times as much.
    for name in names:
        if hasattr(obj, name):
            setattr(obj, name, getattr(obj, name))


def _addr(address):
    host = getattr(address, "host", "")
    port = getattr(address, "port", 0)
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


def _fileno(transport):
    try:
        return transport.fileno()
    except Exception:
        return -1


class RedisServerFactory(Factory):
    """Builds a L{RedisServerProtocol} per connection, all sharing one server.

    @ivar server: the L{sonic.server.Server}.
    """

    protocol = RedisServerProtocol

    def __init__(self, server):
        self.server = server

    def close_all(self):
        """Disconnect every client (shutdown)."""
        for client in list(self.server.clients.values()):
            transport = getattr(client, "transport", None)
            if transport is not None:
                transport.loseConnection()

"""Client-side caching: the server remembers what tracking clients read and tells them when it changes.

Redis 7.0's tracking.c, in its two modes:

  - Default mode.  After a read-only command of a tracking client, the keys
    of that command (from its key specs) are remembered in one table, key
    name -> ids of the clients that may cache it.  The table ignores the
    database number, as Redis' does.  When a key is modified
    (L{sonic.store.Database.modified}, the write paths, expiry, FLUSH*), the
    key leaves the table and each client that read it gets one invalidation
    message for that key.  Entries are forgotten lazily: a client that turns
    tracking off, or disconnects, stays in the table until the key changes
    (then nothing is sent to it), as in Redis, so INFO's tracking_total_keys
    and tracking_total_items count the same things.
  - Broadcasting mode (BCAST, with optional PREFIXes).  The server remembers
    nothing per client: every modified key that starts with a registered
    prefix is collected per prefix, and the collected keys are sent to the
    prefix's clients in one message per prefix once the current reactor turn
    is over (Redis does it in beforeSleep; here a C{callLater(0)} batch).

Delivery (Redis' sendTrackingMessage): a RESP3 client gets the push
C{>2 invalidate <keys>}; with REDIRECT the message goes to the other client,
as a push if it speaks RESP3, else as a Pub/Sub message on
C{__redis__:invalidate} if it is subscribed to anything (RESP2 has no
out-of-band frames).  When the redirect client is gone, the tracking client
is flagged C{broken_redirect} and, in RESP3, gets C{tracking-redir-broken}.
FLUSHDB/FLUSHALL send every tracking client a null in place of the key list.

Invalidations aimed at the client whose command is running now
(C{server.current_client}, which the protocol sets around each batch of
commands: it read the key, then wrote it itself) are held until that
command (or EXEC, or the script) has finished and are sent after its reply,
as Redis' pending list; with NOLOOP a client is not told about its own
writes at all.

Differences from Redis: past C{tracking-table-max-keys} the oldest keys are
invalidated first (Redis picks them at random), at the end of the command
that added them (Redis: when the next command starts).

Costs when nobody tracks: C{store.tracking} is None, so each write pays one
attribute test; the dispatcher tests C{client.tracking} once per command.

The per-client state is a L{TrackingState} in C{client.tracking} (None while
tracking is off).  CLIENT LIST's C{t}/C{R}/C{B} flags and C{redir=} field
come from L{client_flags} and L{client_redirect}.
"""

from sonic.resp import Raw

__all__ = ["Tracking", "TrackingState", "tracking_of", "client_flags", "client_redirect",
           "after_command", "after_error", "rejected", "flushed", "info_fields"]

#: Commands whose inner read-only commands make the caller remember the
#: script's declared keys (Redis takes the keys from the caller's command).
SCRIPT_COMMANDS = frozenset(["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"])

#: Read-only commands whose own keys are not remembered (Redis' call() skips
#: EVAL_RO, EVALSHA_RO and FCALL_RO: only the commands the script runs count).
NOT_REMEMBERED = frozenset(["eval_ro", "evalsha_ro", "fcall_ro"])

_INVALIDATE = b">2\r\n$10\r\ninvalidate\r\n"
_MESSAGE = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
_NULL = {2: b"$-1\r\n", 3: b"_\r\n"}


class TrackingState(object):
    """One client's tracking options (C{client.tracking} while tracking is on).

    @ivar client: the client.
    @ivar redirect: the client id messages go to, 0 for none.
    @ivar bcast: broadcasting mode.
    @ivar optin: OPTIN: only keys read right after CLIENT CACHING YES are remembered.
    @ivar optout: OPTOUT: keys read right after CLIENT CACHING NO are not remembered.
    @ivar noloop: no messages about this client's own writes.
    @ivar caching: CLIENT CACHING was given for the next command (or transaction).
    @ivar broken: the redirect client was found gone (flag R, C{broken_redirect}).
    @ivar prefixes: the BCAST prefixes (bytes), as a set.
    """

    __slots__ = ("client", "redirect", "bcast", "optin", "optout", "noloop", "caching",
                 "broken", "prefixes")

    def __init__(self, client):
        self.client = client
        self.redirect = 0
        self.bcast = False
        self.optin = False
        self.optout = False
        self.noloop = False
        self.caching = False
        self.broken = False
        self.prefixes = set()

    def remembers(self):
        """Whether a read now is remembered (default mode, OPTIN/OPTOUT with CACHING)."""
        if self.bcast:
            return False
        if self.optin:
            return self.caching
        if self.optout:
            return not self.caching
        return True


class _Prefix(object):
    """A BCAST prefix: its clients and the keys modified since the last broadcast.

    @ivar keys: key -> the client that modified it last (for NOLOOP), or None.
    @ivar states: the L{TrackingState}s of the clients registered for it.
    """

    __slots__ = ("keys", "states")

    def __init__(self):
        self.keys = {}
        self.states = []


def tracking_of(server):
    """The server's L{Tracking}, created when the first client turns tracking on."""
    tracking = getattr(server, "tracking", None)
    if tracking is None:
        tracking = server.tracking = Tracking(server)
    return tracking


class Tracking(object):
    """The server-wide tables (Redis' TrackingTable and PrefixTable).

    @ivar table: key -> set of client ids that may cache it.
    @ivar items: total of the sets' sizes (INFO tracking_total_items).
    @ivar prefixes: prefix -> L{_Prefix}.
    @ivar clients: how many clients have tracking on (INFO tracking_clients).
    @ivar pending: (client, payload) invalidations for the client whose
        command runs now, sent after its reply.
    @ivar max_keys: C{tracking-table-max-keys}; 0 is no limit.
    """

    def __init__(self, server):
        self.server = server
        self.store = server.store
        self.table = {}
        self.items = 0
        self.prefixes = {}
        self.clients = 0
        self.noloop_bcast = []
        self.pending = []
        self._pending_call = None
        self._bcast_call = None
        self._limit_call = None
        config = server.config
        self.max_keys = config.get("tracking-table-max-keys")
        config.on_change("tracking-table-max-keys", self._max_keys_changed)
        server.disconnect_hooks.append(self.client_gone)
        self.store.expire_hooks.append(self._expired)

    # -- switching on and off ---------------------------------------------------

    def enable(self, client, redirect, bcast, optin, optout, noloop, prefixes):
        """CLIENT TRACKING ON with checked options (Redis' enableTracking).

        Options not given are cleared, except the prefixes of a client that
        stays in BCAST mode: new prefixes add to the old ones.
        """
        st = client.tracking
        if st is None:
            st = client.tracking = TrackingState(client)
            self.clients += 1
        if st.noloop and st.bcast:
            self.noloop_bcast.remove(st)
        st.broken = False
        st.redirect = redirect
        st.bcast = bcast
        st.optin = optin
        st.optout = optout
        st.noloop = noloop
        if bcast:
            for prefix in (prefixes or [b""]):
                self._add_prefix(st, prefix)
            if noloop:
                self.noloop_bcast.append(st)
        self.store.tracking = self

    def _add_prefix(self, st, prefix):
        if prefix in st.prefixes:
            return
        entry = self.prefixes.get(prefix)
        if entry is None:
            entry = self.prefixes[prefix] = _Prefix()
        entry.states.append(st)
        st.prefixes.add(prefix)

    def disable(self, client):
        """CLIENT TRACKING OFF, RESET or a disconnect (Redis' disableTracking).

        The client leaves its prefixes (a prefix with no client left is
        dropped with the keys it collected); its entries in the key table
        stay until the keys change, as in Redis.
        """
        st = client.tracking
        if st is None:
            return
        for prefix in st.prefixes:
            entry = self.prefixes.get(prefix)
            if entry is not None:
                entry.states.remove(st)
                if not entry.states:
                    del self.prefixes[prefix]
        if st.noloop and st.bcast:
            self.noloop_bcast.remove(st)
        client.tracking = None
        self.clients -= 1
        self._check_active()

    def client_gone(self, client):
        """A client disconnected: leave the prefixes, drop its pending messages."""
        if client.tracking is not None:
            self.disable(client)
        if self.pending:
            self.pending = [p for p in self.pending if p[0] is not client]

    def _check_active(self):
        """Let writes skip tracking (C{store.tracking} None) once nothing is tracked."""
        if not self.clients and not self.table and not self.prefixes:
            self.store.tracking = None
        else:
            self.store.tracking = self

    # -- remembering ------------------------------------------------------------------

    def remember(self, client, spec, argv):
        """Remember the keys of C{argv} (run as C{spec}) for C{client} (trackingRememberKeys)."""
        if "pubsub" in spec.flags:
            return  # shard channels are keys to COMMAND, not to caches
        keys = _keys(spec, argv)
        if not keys:
            return
        table = self.table
        cid = client.id
        for key in keys:
            ids = table.get(key)
            if ids is None:
                table[key] = {cid}
                self.items += 1
            elif cid not in ids:
                ids.add(cid)
                self.items += 1
        if self.max_keys and len(table) > self.max_keys:
            self.limit()

    def limit(self):
        """Keep the table within C{tracking-table-max-keys} (Redis' trackingLimitUsedSlots).

        Redis invalidates randomly chosen keys; here the oldest entries go
        first.  Their clients get the usual invalidation, so they drop the
        keys from their caches.
        """
        table = self.table
        max_keys = self.max_keys
        while max_keys and len(table) > max_keys:
            self.invalidate(next(iter(table)), bcast=False)

    def _max_keys_changed(self, value):
        self.max_keys = value
        if value and len(self.table) > value and self._limit_call is None:
            self._limit_call = self.server.clock.callLater(0, self._limit_later)

    def _limit_later(self):
        self._limit_call = None
        self.limit()

    # -- invalidating -------------------------------------------------------------------

    def invalidate(self, key, bcast=True):
        """C{key} was modified (Redis' trackingInvalidateKey)."""
        if bcast and self.prefixes:
            self._collect(key)
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self.items -= len(ids)
        clients = self.server.clients
        running = getattr(self.server, "current_client", None)
        payload = None
        for cid in ids:
            target = clients.get(cid)
            if target is None:
                continue
            st = target.tracking
            if st is None or st.bcast:
                continue
            current = target is running
            if current and st.noloop:
                continue  # NOLOOP: not about its own writes
            if payload is None:
                payload = b"*1\r\n$%d\r\n%s\r\n" % (len(key), key)
            if current:
                self._hold(target, payload)
            else:
                self.send(st, payload)
        if not self.table and not self.clients:
            self._check_active()

    def _collect(self, key):
        """Note C{key} for the BCAST prefixes it starts with (trackingRememberKeyToBroadcast)."""
        writer = getattr(self.server, "current_client", None)
        if writer is not None and writer.last_cmd in SCRIPT_COMMANDS:
            # Redis notes the client that ran the write: a script's writes
            # come from its own fake client, not from the caller.
            writer = None
        found = False
        for prefix, entry in self.prefixes.items():
            if key.startswith(prefix):
                entry.keys[key] = writer
                found = True
        if found and self._bcast_call is None:
            self._bcast_call = self.server.clock.callLater(0, self.broadcast)

    def _expired(self, db, key):
        """An expired key has no writing client (Redis signals it with c = NULL)."""
        if self.noloop_bcast:
            for prefix, entry in self.prefixes.items():
                if key in entry.keys:
                    entry.keys[key] = None

    def broadcast(self):
        """Send each prefix's collected keys to its clients (trackingBroadcastInvalidationMessages)."""
        self._bcast_call = None
        for prefix in sorted(self.prefixes):
            entry = self.prefixes.get(prefix)  # a send may have dropped a client
            if entry is None or not entry.keys:
                continue
            keys = entry.keys
            entry.keys = {}
            ordered = sorted(keys)
            proto = None
            for st in list(entry.states):
                if st.noloop:
                    own = st.client
                    mine = [k for k in ordered if keys[k] is not own]
                    if mine:
                        self.send(st, _array(mine))
                else:
                    if proto is None:
                        proto = _array(ordered)
                    self.send(st, proto)

    def flushed(self):
        """FLUSHDB/FLUSHALL: every tracking client gets a null invalidation; the table empties.

        Redis' trackingInvalidateKeysOnFlush.
        """
        for client in list(self.server.clients.values()):
            st = client.tracking
            if st is None:
                continue
            payload = _NULL[2 if client.resp == 2 else 3]
            if client is getattr(self.server, "current_client", None):
                self._hold(client, payload)
            else:
                self.send(st, payload)
        self.table = {}
        self.items = 0
        self._check_active()

    # -- delivering -----------------------------------------------------------------------

    def message(self, st, payload):
        """(client, bytes) of the message telling C{st}'s client about C{payload}, or None.

        Redis' sendTrackingMessage: C{payload} is the encoded key array (or
        null) that follows the message header.
        """
        c = st.client
        if st.redirect:
            target = self.server.clients.get(st.redirect)
            if target is None:
                st.broken = True
                if c.resp > 2:
                    return c, b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % st.redirect
                return None
            if target.resp > 2:
                return target, _INVALIDATE + payload
            if target.channels or target.patterns or target.shard_channels:
                return target, _MESSAGE + payload
            return None
        if c.resp > 2:
            return c, _INVALIDATE + payload
        return None  # RESP2 without redirection: nowhere to send it

    def send(self, st, payload):
        """Deliver the message about C{payload} for C{st} now."""
        out = self.message(st, payload)
        if out is not None:
            out[0].push(Raw(out[1]))

    def _hold(self, client, payload):
        """Keep a message for the client running now until its command has replied."""
        self.pending.append((client, payload))
        if self._pending_call is None:
            # Normally sent by after_command; this covers a command that
            # ended without it (tracking turned off inside a transaction...).
            self._pending_call = self.server.clock.callLater(0, self._flush_later)

    def take_pending(self, client):
        """The held messages as bytes for C{client} itself; others' are sent now."""
        pending = self.pending
        self.pending = []
        call = self._pending_call
        if call is not None:
            self._pending_call = None
            call.cancel()
        own = []
        for target, payload in pending:
            st = target.tracking
            if st is None:
                # Tracking went off after the write: Redis still sends what it held.
                st = TrackingState(target)
            out = self.message(st, payload)
            if out is None:
                continue
            dest, data = out
            if dest is client:
                own.append(data)
            else:
                dest.push(Raw(data))
        return own

    def _flush_later(self):
        self._pending_call = None
        pending = self.pending
        self.pending = []
        for target, payload in pending:
            st = target.tracking or TrackingState(target)
            self.send(st, payload)


def _array(keys):
    """The RESP array of C{keys} (bulk strings)."""
    out = [b"*%d\r\n" % len(keys)]
    for key in keys:
        out.append(b"$%d\r\n%s\r\n" % (len(key), key))
    return b"".join(out)


# -- key extraction: Redis' getKeysFromCommand --------------------------------------

_KEYS_FN = {}


def _keys(spec, argv):
    """The key names of C{argv} run as C{spec}, from its key specs."""
    fn = _KEYS_FN.get(spec)
    if fn is None:
        fn = _KEYS_FN[spec] = _key_extractor(spec)
    return fn(argv)


def _key_extractor(spec):
    """A fast function for commands with fixed key positions, else the general one."""
    from sonic.commands.server import get_keys
    flags = spec.flags
    first, last, step = spec.first, spec.last, spec.step
    plain = (first > 0 and step > 0 and "movablekeys" not in flags
             and spec.getkeys is None and spec.info["key_specs"]
             and all(ks["begin_search"]["type"] == "index" and ks["find_keys"]["type"] == "range"
                     and "not_key" not in ks["flags"] and "variable_flags" not in ks["flags"]
                     for ks in spec.info["key_specs"]))
    if plain and first == last:
        def one(argv):
            return (argv[first],) if len(argv) > first else ()
        return one
    if plain:
        def several(argv):
            end = last if last >= 0 else len(argv) + last
            return argv[first:end + 1:step]
        return several

    def general(argv):
        found = [argv[i] for i, _ in get_keys(spec, list(argv))]
        if not found and first > 0 and len(argv) > first:
            # Key specs that cannot decide (SORT_RO's "incomplete" BY/GET
            # patterns): Redis' own key procedure returns the first key.
            found = [argv[first]]
        return found
    return general


# -- the dispatcher's hook -------------------------------------------------------------


def after_command(client, spec, argv, reply, failed=False):
    """Run by the dispatcher after each command of a client with tracking on; returns the reply.

    Remembers the keys of a read-only command (or, for a command run by a
    script, the script's declared keys), clears CLIENT CACHING after the
    command it applied to, and appends to the reply the invalidations held
    for this client during its command.
    """
    st = client.tracking
    owner = st.client
    tracking = client.server.tracking
    if owner is not client:
        # A command run by a script of a tracking caller (the script client
        # shares the caller's state): Redis remembers the caller's keys.
        if "readonly" in spec.flags and st.remembers():
            cspec = _caller_spec(owner)
            if cspec is not None:
                tracking.remember(owner, cspec, owner.argv)
        return reply
    if ("readonly" in spec.flags and spec.fullname not in NOT_REMEMBERED
            and st.remembers()):
        tracking.remember(client, spec, argv)
    if client.multi is None:
        # Redis' resetClient: CACHING lasts for one command or transaction,
        # and CLIENT subcommands do not consume it.
        if st.caching and (spec.parent is None or spec.parent.fullname != "client"):
            st.caching = False
        if tracking.pending and not failed:
            reply = _with_pending(client, tracking, reply)
    return reply


def after_error(client, spec, argv):
    """L{after_command} for a command that failed: Redis remembers the keys all the same.

    Messages held for the client go out on the next reactor turn, after the
    error reply.
    """
    after_command(client, spec, argv, None, failed=True)


def rejected(client, argv):
    """A command of a tracking client was refused before running (unknown, arity, state...).

    Redis' resetClient consumes CLIENT CACHING after it all the same, unless
    the client is inside MULTI or the refused command was a CLIENT one.
    """
    st = client.tracking
    if st.client is not client or client.multi is not None:
        return
    if argv[0].lower() == b"client" and len(argv) > 1:
        from sonic.registry import TABLE
        subs = TABLE[b"client"].subcommands
        if argv[1] in subs or argv[1].lower() in subs:
            return  # a known CLIENT subcommand (wrong arity...): Redis' prevcmd is clientCommand
    st.caching = False


def _with_pending(client, tracking, reply):
    """C{reply} followed by the invalidations held for C{client}, as one raw reply."""
    from sonic.blocking import BLOCKED
    from sonic.resp import encode
    if reply is BLOCKED:
        return reply  # sent by the next-turn flush
    own = tracking.take_pending(client)
    if not own:
        return reply
    if getattr(client, "mute", False):
        # CLIENT REPLY OFF mutes the reply, never the pushes.
        for data in own:
            client.push(Raw(data))
        return reply
    return Raw(encode(reply, client.resp) + b"".join(own))


def _caller_spec(caller):
    """The spec of the command C{caller} is running (the EVAL or FCALL of a script)."""
    from sonic.registry import TABLE
    argv = caller.argv
    if not argv:
        return None
    spec = TABLE.get(argv[0]) or TABLE.get(argv[0].lower())
    if spec is None or spec.fullname not in SCRIPT_COMMANDS:
        return None
    return spec


def flushed(server):
    """FLUSHDB/FLUSHALL ran: tell the tracking clients (no-op if none ever tracked)."""
    tracking = getattr(server, "tracking", None)
    if tracking is not None:
        tracking.flushed()


# -- introspection ---------------------------------------------------------------------


def client_flags(client):
    """CLIENT LIST's tracking letters for C{client}: C{t}, then C{R} (broken redirect), C{B} (BCAST)."""
    st = client.tracking
    if st is None:
        return ""
    return "t" + ("R" if st.broken else "") + ("B" if st.bcast else "")


def client_redirect(client):
    """CLIENT LIST's C{redir=}: the redirect id while tracking (0 for none), else -1."""
    st = client.tracking
    return -1 if st is None else st.redirect


def info_fields(server):
    """(tracking_clients, tracking_total_keys, tracking_total_items, tracking_total_prefixes)."""
    tracking = getattr(server, "tracking", None)
    if tracking is None:
        return 0, 0, 0, 0
    return tracking.clients, len(tracking.table), tracking.items, len(tracking.prefixes)

"""Clients blocked on keys: BLPOP, BLMOVE, BZPOPMIN and their kin (Redis' blocked.c).

A blocking command whose keys have nothing to give parks its client here
with L{Blocking.block} and returns L{BLOCKED}; the protocol then stops
reading that client's pipeline until it is served, as Redis does.  Nothing
polls and no thread waits:

 - Each L{sonic.store.keyspace.Database} keeps C{blocking}: key -> deque of
   L{Waiter}s, in arrival order (FIFO per key).
 - When a key that someone waits for is created (any push, a MULTI/EXEC, a
   RENAME/MOVE/COPY/RESTORE into it, SWAPDB), the keyspace appends it to
   the store's C{ready_keys} (Redis' signalKeyAsReady).
 - After each top-level command (after EXEC as a whole, never in the middle
   of a transaction) the dispatcher calls L{Blocking.serve_ready}, which
   offers every ready key to its waiters in order; each waiter's C{serve}
   pops what it needs and returns its reply, or L{NOT_SERVED} (wrong type,
   empty), and stays blocked.  Serving may create keys in turn (BLMOVE's
   destination): those are served in the same loop, so a BLMOVE onto a key
   another client waits for wakes that client too.
 - A timeout is one C{callLater} per blocked client, cancelled when it is
   served; timeout 0 waits forever.
 - A client that disconnects is forgotten at once (L{client_gone}).
"""

from collections import deque

from twisted.logger import Logger

from sonic import errors
from sonic.errors import CommandError
from sonic.util import LongDouble, string2ld

__all__ = ["Blocking", "Waiter", "BLOCKED", "NOT_SERVED", "parse_timeout", "can_block"]

log = Logger(namespace="sonic")

LLONG_MAX = (1 << 63) - 1


class _Sentinel(object):
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


#: What a blocking handler returns once its client is parked: no reply yet.
BLOCKED = _Sentinel("BLOCKED")

#: What a waiter's C{serve} returns when the ready key cannot serve it.
NOT_SERVED = _Sentinel("NOT_SERVED")


def parse_timeout(value, now_ms):
    """A blocking command's timeout (seconds, fractions allowed) as an absolute deadline in ms.

    Returns 0 for "wait forever".  Redis' getTimeoutFromObjectOrReply: the
    text is read as a long double, turned into milliseconds rounded up, and
    a value that does not fit a 64-bit integer wraps to a negative one, so
    C{inf} and C{1e30} are "negative" too.
    """
    v = string2ld(value)
    if v is None:
        raise CommandError(errors.TIMEOUT_NOT_FLOAT)
    if not isinstance(v, LongDouble):  # +-inf
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    mant, exp = v.mant, v.exp
    # ceil(mant * 2**exp * 1000), exactly.
    num = mant * 1000
    if exp >= 0:
        ms = num << exp
    else:
        ms = -((-num) >> -exp)
    if ms > LLONG_MAX or ms < -LLONG_MAX - 1:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    if ms < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    if ms == 0:
        return 0
    return now_ms + ms


def can_block(client):
    """Whether C{client} may block now: not inside MULTI/EXEC (nor a script)."""
    return client.multi is None and not getattr(client, "no_block", False)


class Waiter(object):
    """One blocked client.

    @ivar client: the blocked client.
    @ivar db: the L{Database} its keys are in.
    @ivar keys: the keys it waits on, without duplicates, in command order.
    @ivar serve: C{serve(key)} -> the reply, or L{NOT_SERVED}; runs with the
        client's db and performs the pop/move.
    @ivar timeout_reply: the reply sent when the timeout fires (a null).
    @ivar timer: the timeout's DelayedCall, or None for "forever".
    """
    __slots__ = ("client", "db", "keys", "serve", "timeout_reply", "timer", "command")

    def __init__(self, client, db, keys, serve, timeout_reply, command):
        self.client = client
        self.db = db
        self.keys = keys
        self.serve = serve
        self.timeout_reply = timeout_reply
        self.timer = None
        self.command = command


class Blocking(object):
    """Every blocked client of one server, and the serving of ready keys.

    @ivar server: the L{sonic.server.Server}.
    @ivar with_timeout: how many blocked clients have a timeout (INFO
        clients_in_timeout_table).
    """

    def __init__(self, server):
        self.server = server
        self.with_timeout = 0
        server.disconnect_hooks.append(self.client_gone)

    def block(self, client, keys, deadline, serve, timeout_reply):
        """Park C{client} until C{serve} succeeds on one of C{keys}, or C{deadline} (ms; 0 = never).

        @return: L{BLOCKED}, for the handler to return.
        """
        server = self.server
        db = client.db
        unique = list(dict.fromkeys(keys))
        waiter = Waiter(client, db, unique, serve, timeout_reply, client.last_cmd)
        for key in unique:
            queue = db.blocking.get(key)
            if queue is None:
                queue = db.blocking[key] = deque()
            queue.append(waiter)
        if deadline:
            delay = max(0.0, (deadline - server.store.now) / 1000.0)
            waiter.timer = server.clock.callLater(delay, self._timed_out, waiter)
            self.with_timeout += 1
        client.blocked = waiter
        server.blocked_clients += 1
        return BLOCKED

    def park(self, client, command):
        """Park C{client} with no keys, for a command answered later by other I/O (MIGRATE).

        The protocol stops reading the client's pipeline until L{finish};
        unlike a blocked client it is not counted in blocked_clients and
        CLIENT UNBLOCK does not touch it (Redis runs such commands
        synchronously).  C{keys} None marks such a waiter.
        """
        waiter = Waiter(client, client.db, None, None, None, command)
        client.blocked = waiter
        return waiter

    def _release(self, waiter):
        """Take C{waiter} out of every queue and cancel its timer."""
        if waiter.keys is None:  # parked (L{park}), not blocked
            waiter.client.blocked = None
            return
        db = waiter.db
        for key in waiter.keys:
            queue = db.blocking.get(key)
            if queue is not None:
                try:
                    queue.remove(waiter)
                except ValueError:
                    pass
                if not queue:
                    del db.blocking[key]
        if waiter.timer is not None:
            if waiter.timer.active():
                waiter.timer.cancel()
            waiter.timer = None
            self.with_timeout -= 1
        waiter.client.blocked = None
        self.server.blocked_clients -= 1

    def finish(self, waiter, reply):
        """Unblock C{waiter}'s client with C{reply} (a value or an L{Error})."""
        self._release(waiter)
        waiter.client.unblocked(reply)

    def _timed_out(self, waiter):
        waiter.timer = None
        self.with_timeout -= 1
        self.finish(waiter, waiter.timeout_reply)

    def client_gone(self, client):
        """A blocked client disconnected: forget it at once."""
        waiter = getattr(client, "blocked", None)
        if waiter is not None:
            self._release(waiter)

    def unblock(self, client, error):
        """CLIENT UNBLOCK: answer the timeout reply, or C{-UNBLOCKED} if C{error}.

        @return: whether C{client} was blocked.
        """
        waiter = getattr(client, "blocked", None)
        if waiter is None or waiter.keys is None:
            return False
        if error:
            from sonic.resp import Error
            reply = Error(errors.UNBLOCKED)
        else:
            reply = waiter.timeout_reply
        self.finish(waiter, reply)
        return True

    def serve_ready(self):
        """Offer every key signalled ready to its waiters, FIFO, until nothing changes.

        Called by the dispatcher after a top-level command when the store's
        C{ready_keys} is not empty (Redis' handleClientsBlockedOnKeys).
        """
        store = self.server.store
        while store.ready_keys:
            batch = store.ready_keys
            store.ready_keys = []
            store.ready_set = set()
            for db, key in batch:
                queue = db.blocking.get(key)
                if not queue:
                    continue
                for waiter in list(queue):
                    if waiter.client.blocked is not waiter:
                        continue  # served meanwhile through another key
                    if db.lookup(key) is None:
                        break
                    prop = self.server.propagator
                    if prop is not None and prop.cow is not None:
                        prop.before_serve(waiter)  # a full sync's snapshot keeps its copy
                    # The served client runs its command now (Redis makes it
                    # the current client: tracking's NOLOOP, and invalidations
                    # of its own writes follow its reply).
                    server = self.server
                    previous = getattr(server, "current_client", None)
                    server.current_client = waiter.client
                    try:
                        reply = waiter.serve(key)
                    except CommandError as e:
                        from sonic.resp import Error
                        reply = Error(e.message)
                    except Exception:
                        log.failure("Internal error serving a blocked client")
                        continue
                    finally:
                        server.current_client = previous
                    if reply is NOT_SERVED:
                        continue
                    prop = self.server.propagator
                    if prop is not None:
                        # Replicas replay the pop in its non-blocking form.
                        prop.served(waiter, key, reply)
                    self.finish(waiter, reply)

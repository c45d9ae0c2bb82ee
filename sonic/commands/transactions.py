"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

The dispatcher queues commands while a client is inside MULTI (and marks
the transaction failed when one cannot be queued); EXEC runs the queue with
no other client in between, which on one reactor thread is simply running
it in one go.  WATCH registers the client on the key in its database; any
change to the key (a write, an expiry, FLUSHDB/FLUSHALL, SWAPDB) sets the
client's C{dirty_cas}, and a key that was live at WATCH time but is
logically expired at EXEC time counts as changed too (Redis 7.0).
"""

from sonic import errors
from sonic.dispatch import run_transaction
from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import NULL_ARRAY, OK

__all__ = []


@command("multi")
def multi(client):
    """MULTI"""
    if client.multi is not None:
        raise CommandError(errors.MULTI_NESTED)
    client.multi = []
    client.multi_error = False
    return OK


@command("exec")
def exec_(client):
    """EXEC"""
    if client.multi is None:
        raise CommandError(errors.EXEC_WITHOUT_MULTI)
    if client.multi_error:
        client.multi = None
        client.multi_error = False
        client.unwatch()
        raise CommandError(errors.EXECABORT)
    if client.dirty_cas or _watched_key_expired(client):
        client.multi = None
        client.unwatch()
        return NULL_ARRAY
    client.unwatch()
    return run_transaction(client)


def _watched_key_expired(client):
    store = client.server.store
    for db, key, was_live in client.watched:
        if was_live:
            sh = db.shard(key)
            deadline = sh.expires.get(key)
            if deadline is not None and deadline < store.now and key in sh.data:
                return True
    return False


@command("discard")
def discard(client):
    """DISCARD"""
    if client.multi is None:
        raise CommandError(errors.DISCARD_WITHOUT_MULTI)
    client.multi = None
    client.multi_error = False
    client.unwatch()
    return OK


@command("watch")
def watch(client, *keys):
    """WATCH key [key ...]"""
    if client.multi is not None:
        raise CommandError(errors.WATCH_IN_MULTI)
    db = client.db
    for key in keys:
        clients = db.watched.get(key)
        if clients is not None and client in clients:
            continue
        # Look the key up before registering: a key already past its deadline
        # is removed here, and that removal must not count as a change the
        # watcher sees (Redis: a key expired at WATCH time, deleted later, is
        # no logical change).
        live = db.lookup(key) is not None
        db.watched.setdefault(key, set()).add(client)
        client.watched.append((db, key, live))
    return OK


@command("unwatch")
def unwatch(client):
    """UNWATCH"""
    client.unwatch()
    return OK

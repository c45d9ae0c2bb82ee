"""Active expiry: one timer per shard, aimed at the shard's earliest deadline.

Lazy expiry (on every lookup, in L{sonic.store.keyspace}) is what makes an
expired key invisible; this module reclaims the memory of keys nobody reads
again.  Each shard has a heap of (deadline, key) and at most one
C{IDelayedCall}, set for the earliest deadline and moved only when a sooner
deadline arrives (mini-redis' purge task, without a task per key).  A tick
removes at most C{store.expire_batch} keys and, if more are due, comes back
on the next reactor turn, so a million keys expiring at once never stall the
reactor for more than a few milliseconds at a time.

Heap entries go stale when a key is deleted, persisted or given another TTL;
a popped entry counts only if the shard still has that very deadline for
that key, and the heap is rebuilt when stale entries outnumber live ones.
"""

import heapq

__all__ = ["schedule", "reschedule", "cancel", "tick"]


def schedule(store, sh, key, deadline):
    """Record C{key}'s new C{deadline} and aim the shard timer at it if it is sooner."""
    heap = sh.heap
    heapq.heappush(heap, (deadline, key))
    if len(heap) > 2 * len(sh.expires) + 1024:
        sh.heap = [(d, k) for k, d in sh.expires.items()]
        heapq.heapify(sh.heap)
    if store.running and store.active_expire and (sh.timer_at is None or deadline < sh.timer_at):
        _arm(store, sh, deadline)


def _arm(store, sh, deadline):
    """Point C{sh}'s timer at C{deadline} (ms), creating or moving it."""
    now_s = store.clock.seconds()
    # A key expires once now > deadline: fire 1 ms after it.
    delay = max(0.0, (deadline + 1) / 1000.0 - now_s)
    if sh.timer is not None and sh.timer.active():
        sh.timer.reset(delay)
    else:
        sh.timer = store.clock.callLater(delay, tick, store, sh)
    sh.timer_at = deadline


def cancel(sh):
    """Stop C{sh}'s timer."""
    if sh.timer is not None and sh.timer.active():
        sh.timer.cancel()
    sh.timer = None
    sh.timer_at = None


def reschedule(store, sh):
    """Rebuild C{sh}'s heap from its deadlines and aim its timer (start-up, SWAPDB)."""
    sh.heap = [(d, k) for k, d in sh.expires.items()]
    heapq.heapify(sh.heap)
    cancel(sh)
    if sh.heap and store.running and store.active_expire:
        _arm(store, sh, sh.heap[0][0])


def tick(store, sh):
    """The timer fired: remove up to C{store.expire_batch} expired keys, then re-aim."""
    sh.timer = None
    sh.timer_at = None
    if store.replica or not store.active_expire:
        return
    now = int(store.clock.seconds() * 1000)
    saved_now = store.now
    store.set_now(now)
    heap = sh.heap
    expires = sh.expires
    budget = store.expire_batch
    # Stale entries (keys deleted or given another TTL) cost a pop each: bound
    # them too, or a million deleted keys would be skipped in one tick.
    pops = 4 * budget
    try:
        while heap and budget and pops:
            deadline, key = heap[0]
            if deadline >= now:
                break
            heapq.heappop(heap)
            pops -= 1
            if expires.get(key) == deadline and key in sh.data:
                store.expire_key(sh, key)
                budget -= 1
    finally:
        store.set_now(max(saved_now, now))
    if heap:
        if (not budget or not pops) and heap[0][0] < now:
            sh.timer = store.clock.callLater(0, tick, store, sh)
            sh.timer_at = heap[0][0]
        else:
            _arm(store, sh, heap[0][0])

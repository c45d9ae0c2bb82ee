"""Sorted sets (Redis' t_zset.c): ZADD, ZRANGE, BZPOPMIN...

Why a dict plus a SortedList (L{ZSet}): Redis keeps a hash table (member ->
score) beside a skiplist ordered by (score, member).  sonic does the same
with a dict (O(1) ZSCORE, ZMSCORE, membership) and a
C{sortedcontainers.SortedList} of C{(score, member)} tuples, whose
comparison orders ties by member bytes, exactly Redis' order.  The
SortedList gives O(log n) insert and delete (ZADD, ZREM, ZINCRBY), O(log n)
rank (ZRANK) and positional access (ZRANGE by rank), and O(log n) bisection
for score and lex bounds, so every range command costs O(log n + m).
"""

import math
import sys

from sortedcontainers import SortedList

from sonic import errors
from sonic.errors import CommandError
from sonic.store.keyspace import COPIERS, ENCODERS, TYPE_NAMES
from sonic.util import string2d

__all__ = ["ZSet", "parse_score", "store_result"]


class ZSet(object):
    """A sorted set value: members (bytes) with float scores.

    @ivar scores: member -> score.
    @ivar order: SortedList of (score, member), ascending.
    @ivar big: True once Redis would have converted it to a skiplist
        (one-way, like Redis' conversion).
    @ivar scan_order: ZSCAN's snapshot (L{sonic.commands.containers}).
    """
    __slots__ = ("scores", "order", "big", "scan_order")

    def __init__(self, big=False):
        self.scores = {}
        self.order = SortedList()
        self.big = big
        self.scan_order = None

    def __len__(self):
        return len(self.scores)

    def __contains__(self, member):
        return member in self.scores

    def __iter__(self):
        """(member, score) pairs in ascending order."""
        for score, member in self.order:
            yield member, score

    def __repr__(self):
        return "ZSet(%r)" % (list(self),)

    def add(self, member, score):
        """Insert C{member} or move it to C{score}."""
        scores = self.scores
        old = scores.get(member)
        if old is not None:
            if old == score and math.copysign(1.0, old) == math.copysign(1.0, score):
                return
            self.order.remove((old, member))
        scores[member] = score
        self.order.add((score, member))

    def discard(self, member):
        """Remove C{member}; return whether it was there."""
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.order.remove((score, member))
        return True

    def score(self, member):
        """The score of C{member}, or None."""
        return self.scores.get(member)

    def rank(self, member):
        """The 0-based ascending rank of C{member}, or None."""
        score = self.scores.get(member)
        if score is None:
            return None
        return self.order.index((score, member))

    def copy(self):
        """An independent copy with the same encoding."""
        other = ZSet(self.big)
        other.scores = dict(self.scores)
        other.order = SortedList(self.order)
        return other

    def memory_usage(self):
        """Bytes held, estimated: dict, list index and a sample of the entries."""
        n = len(self.scores)
        size = sys.getsizeof(self.scores) + sys.getsizeof(self.order) + 56
        if not n:
            return size
        sample = self.order[:16] if n > 16 else list(self.order)
        per = sum(sys.getsizeof(m) + sys.getsizeof(s) + 64 + 8 for s, m in sample) / len(sample)
        return int(size + per * n)


def parse_score(value):
    """A ZADD/ZINCRBY score: Redis' getDoubleFromObject (strtod, NaN refused)."""
    v = string2d(value)
    if v is None:
        raise CommandError(errors.NOT_FLOAT)
    return v


def store_result(client, key, zs):
    """Store C{zs} at C{key} as a *STORE command does: an empty result deletes the key."""
    db = client.db
    if not zs:
        db.delete(key)
        return
    config = client.server.config
    zs.big = (len(zs) > config.zset_max_listpack_entries
              or max(len(m) for m in zs.scores) > config.zset_max_listpack_value)
    db.set(key, zs)


def _encoding(value, server):
    return "skiplist" if value.big else "listpack"


TYPE_NAMES[ZSet] = "zset"
ENCODERS[ZSet] = _encoding
COPIERS[ZSet] = ZSet.copy

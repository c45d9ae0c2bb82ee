"""The sorted-set algebra (Redis' zunionInterDiffGenericCommand): ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD.

Inputs may be sorted sets (L{ZSet}) or plain sets (L{Set}, every member
scoring 1), as in Redis.  One worker, L{_algebra}, follows Redis' steps so
that replies, errors and even float rounding agree:

 - numkeys, then every key is read (keyspace hits/misses counted, and
   WRONGTYPE for another type) before the options are parsed, so a wrong
   type wins over a syntax error;
 - for union and intersection the inputs are ordered by cardinality,
   smallest first (a stable sort, as glibc's qsort is here): the
   intersection walks the smallest input and probes the others (O(N*K) for
   N the smallest size, K inputs; the probing runs at C speed through
   C{filter}), and the union adds the inputs' scores in that order, which
   decides the rounding of a SUM;
 - each input score is multiplied by its weight; a NaN product (0 * inf)
   counts as 0 (in an intersection only the smallest input's: the others'
   go to the aggregate as NaN), a SUM that gives NaN (inf + -inf) is 0, as
   in Redis' zunionInterAggregate, and MIN and MAX keep the current score
   against a NaN;
 - the difference keeps the first input's members absent from all others,
   with their own scores (no weights, no aggregate).

Results are ordered by (score, member) as a skiplist orders them; the STORE
forms hand a L{ZSet} to L{sonic.commands.zsets.store_result}, which picks
the encoding and deletes the destination for an empty result.
"""

from itertools import filterfalse, islice

from sortedcontainers import SortedList

from sonic import errors
from sonic.commands.keys import _read
from sonic.commands.sets import Set
from sonic.commands.zsets import ZSet, parse_score, store_result
from sonic.errors import CommandError
from sonic.registry import command
from sonic.util import string2ll

__all__ = []

UNION, INTER, DIFF = "union", "inter", "diff"
SUM, MIN, MAX = "sum", "min", "max"

_AGGREGATES = {b"sum": SUM, b"min": MIN, b"max": MAX}


class _Source(object):
    """One input: its value (or None for a missing key) and weight."""
    __slots__ = ("value", "weight", "scores")

    def __init__(self, value):
        self.value = value
        self.weight = 1.0
        # member -> score for a sorted set; None for a plain set (scores 1).
        self.scores = value.scores if type(value) is ZSet else None

    def __len__(self):
        return 0 if self.value is None else len(self.value)

    def items(self):
        """(member, score) pairs, in no particular order."""
        if self.scores is not None:
            return self.scores.items()
        return ((m, 1.0) for m in self.value)

    def members(self):
        """The members, as a container with a fast C{__contains__}."""
        return self.scores.keys() if self.scores is not None else self.value


def _parse(client, name, numkeys, args, op, store, card):
    """Read numkeys, the keys and the options; return (sources, aggregate, withscores, limit)."""
    setnum = string2ll(numkeys)
    if setnum is None:
        raise CommandError(errors.NOT_INTEGER)
    if setnum < 1:
        raise CommandError(errors.AT_LEAST_ONE_KEY % name)
    if setnum > len(args):
        raise CommandError(errors.SYNTAX)
    sources = []
    for key in args[:setnum]:
        value = _read(client, key)
        if value is not None and type(value) is not ZSet and type(value) is not Set:
            raise CommandError(errors.WRONGTYPE)
        sources.append(_Source(value))
    aggregate, withscores, limit = SUM, False, 0
    j, argc = setnum, len(args)
    while j < argc:
        remaining = argc - j
        word = args[j].lower()
        if word == b"weights" and op != DIFF and not card and remaining >= setnum + 1:
            for i in range(setnum):
                try:
                    sources[i].weight = parse_score(args[j + 1 + i])
                except CommandError:
                    raise CommandError(errors.WEIGHT_NOT_FLOAT)
            j += setnum + 1
        elif word == b"aggregate" and op != DIFF and not card and remaining >= 2:
            aggregate = _AGGREGATES.get(args[j + 1].lower())
            if aggregate is None:
                raise CommandError(errors.SYNTAX)
            j += 2
        elif word == b"withscores" and not store and not card:
            withscores = True
            j += 1
        elif word == b"limit" and card and remaining >= 2:
            limit = string2ll(args[j + 1])
            if limit is None or limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            j += 2
        else:
            raise CommandError(errors.SYNTAX)
    return sources, aggregate, withscores, limit


def _combine(aggregate):
    """Redis' zunionInterAggregate as a function(target, value) -> new target."""
    if aggregate == SUM:
        def combine(target, value):
            target = target + value
            return 0.0 if target != target else target  # inf + -inf
    elif aggregate == MIN:
        def combine(target, value):
            return value if value < target else target
    else:
        def combine(target, value):
            return value if value > target else target
    return combine


def _union(sources, aggregate):
    """member -> aggregated score over every input."""
    combine = _combine(aggregate)
    acc = {}
    for src in sorted(sources, key=len):
        if not len(src):
            continue
        w = src.weight
        if not acc and w == 1.0 and src.scores is not None:
            acc = dict(src.scores)  # scores are never NaN: nothing to fix up
            continue
        get = acc.get
        for member, score in src.items():
            score = w * score
            if score != score:
                score = 0.0
            old = get(member)
            acc[member] = score if old is None else combine(old, score)
    return acc


def _intersection(sources, aggregate, limit=0, count_only=False):
    """member -> aggregated score over the members of every input (or their count, with C{count_only})."""
    sources = sorted(sources, key=len)
    first, others = sources[0], sources[1:]
    if not len(first):
        return 0 if count_only else {}
    # The common members, probing from the smallest input at C speed
    # (chained filters over bound __contains__ methods run no Python code
    # per member, and stop early at ZINTERCARD's LIMIT).
    common = iter(first.members())
    for src in others:
        common = filter(src.members().__contains__, common)
    if count_only:
        return len(list(islice(common, limit) if limit else common))
    # Then the common members' scores, aggregated input by input in Redis'
    # order, a whole column at a time.  Every input holds every common
    # member: a sorted set's score is a dict lookup, a plain set's is 1.
    common = list(common)
    n = len(common)
    scores = _column(first, common, n)
    scores = [0.0 if v != v else v for v in scores]  # 0 * inf counts as 0
    for src in others:
        values = _column(src, common, n)
        if aggregate is SUM:
            scores = [s + v for s, v in zip(scores, values)]
            scores = [0.0 if v != v else v for v in scores]  # inf + -inf
        elif aggregate is MIN:
            scores = [v if v < s else s for s, v in zip(scores, values)]
        else:
            scores = [v if v > s else s for s, v in zip(scores, values)]
    return dict(zip(common, scores))


def _column(src, members, n):
    """The weighted scores of C{members} (all present) in C{src}."""
    w = src.weight
    if src.scores is None:
        return [w] * n  # 1 * weight
    values = map(src.scores.__getitem__, members)
    if w == 1.0:
        return list(values)
    return [v * w for v in values]


def _difference(sources):
    """member -> score of the first input's members that no other input holds."""
    first = sources[0]
    if not len(first):
        return {}
    remaining = first.members()
    for src in sources[1:]:
        if len(src):
            remaining = list(filterfalse(src.members().__contains__, remaining))
    if first.scores is None:
        return dict.fromkeys(remaining, 1.0)
    return dict(zip(remaining, map(first.scores.__getitem__, remaining)))


def _compute(sources, op, aggregate):
    if op == UNION:
        return _union(sources, aggregate)
    if op == INTER:
        return _intersection(sources, aggregate)
    return _difference(sources)


def _reply(client, result, withscores):
    """The result ordered by (score, member): members, or WITHSCORES pairs (flat in RESP2, nested in RESP3)."""
    entries = sorted((score, member) for member, score in result.items())
    if not withscores:
        return [member for _, member in entries]
    if client.resp == 2:
        out = []
        for score, member in entries:
            out.append(member)
            out.append(score)
        return out
    return [[member, score] for score, member in entries]


def _store(client, destination, result, event):
    """Store the result as a sorted set (an empty one deletes C{destination}); reply its size."""
    zs = ZSet()
    zs.scores = result
    zs.order = SortedList((score, member) for member, score in result.items())
    store_result(client, destination, zs, event)
    return len(result)


def _algebra(client, name, op, numkeys, args, destination=None):
    sources, aggregate, withscores, _ = _parse(client, name, numkeys, args, op, destination is not None, False)
    result = _compute(sources, op, aggregate)
    if destination is not None:
        return _store(client, destination, result, name.encode())
    return _reply(client, result, withscores)


@command("zunion")
def zunion(client, numkeys, *args):
    """ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]"""
    return _algebra(client, "zunion", UNION, numkeys, args)


@command("zinter")
def zinter(client, numkeys, *args):
    """ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]"""
    return _algebra(client, "zinter", INTER, numkeys, args)


@command("zdiff")
def zdiff(client, numkeys, *args):
    """ZDIFF numkeys key [key ...] [WITHSCORES]"""
    return _algebra(client, "zdiff", DIFF, numkeys, args)


@command("zunionstore")
def zunionstore(client, destination, numkeys, *args):
    """ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]"""
    return _algebra(client, "zunionstore", UNION, numkeys, args, destination)


@command("zinterstore")
def zinterstore(client, destination, numkeys, *args):
    """ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]"""
    return _algebra(client, "zinterstore", INTER, numkeys, args, destination)


@command("zdiffstore")
def zdiffstore(client, destination, numkeys, *args):
    """ZDIFFSTORE destination numkeys key [key ...]"""
    return _algebra(client, "zdiffstore", DIFF, numkeys, args, destination)


@command("zintercard")
def zintercard(client, numkeys, *args):
    """ZINTERCARD numkeys key [key ...] [LIMIT limit]"""
    sources, aggregate, _, limit = _parse(client, "zintercard", numkeys, args, INTER, False, True)
    return _intersection(sources, aggregate, limit, count_only=True)

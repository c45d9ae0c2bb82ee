"""Sorted sets (Redis' t_zset.c): ZADD, ZRANGE and its family, the pops, BZPOPMIN, ZRANDMEMBER, ZSCAN.

Why a dict plus a SortedList (L{ZSet}): Redis keeps a hash table (member ->
score) beside a skiplist ordered by (score, member).  sonic does the same
with a dict (O(1) ZSCORE, ZMSCORE, membership) and a
C{sortedcontainers.SortedList} of C{(score, member)} tuples, whose tuple
comparison orders ties by member bytes, exactly Redis' order.  The
SortedList gives O(log n) insert and delete (ZADD, ZREM, ZINCRBY), O(log n)
rank (ZRANK) and positional access (ZRANGE by rank), and O(log n)
bisection for score and lex bounds, so every range command costs
O(log n + m) and the pops O(log n) per member.

Redis' two encodings are reported (OBJECT ENCODING), not reproduced: a
sorted set is "listpack" until it would hold more than
C{zset-max-listpack-entries} members or a member longer than
C{zset-max-listpack-value} bytes, then "skiplist" for good (L{ZSet.big}).
Where the encoding shows in replies, sonic follows it: a listpack keeps a
score as text, so -0 is stored as 0 there; and the unspecified replies of
lex ranges over members of different scores are those of a listpack's
linear walk for small sets.

The commands share Redis' workers: L{zadd_generic} (ZADD, ZINCRBY),
L{zrange_generic} (all the ZRANGE forms and ZRANGESTORE), L{zrem_range}
(ZREMRANGEBY*) and L{zpop} (the pops, blocking or not).
"""

import math
import random
import re
import sys

from sortedcontainers import SortedList

from sonic import errors
from sonic.blocking import NOT_SERVED, can_block, parse_timeout
from sonic.commands.args import to_int
from sonic.commands.containers import check_random_count, drop_if_empty, read, scan_container, write_lookup
from sonic.notify import NOTIFY_GENERIC, NOTIFY_ZSET, notify, notify_emptied
from sonic.commands.keys import _parse_cursor
from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import NULL_ARRAY, format_double
from sonic.store.keyspace import COPIERS, ENCODERS, TYPE_NAMES
from sonic.util import string2d, string2ll

__all__ = ["ZSet", "parse_score", "parse_range", "parse_lex_range", "store_result",
           "LEX_MIN", "LEX_MAX"]

_INF = float("inf")
LONG_MAX = (1 << 63) - 1

# t_zset.c's own error texts (the others live in sonic.errors).
ERR_LONG_RANGE = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"


class _LexBound(object):
    """The C{-} and C{+} lex bounds: below and above every member."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


#: C{-} and C{+} in ZRANGEBYLEX & co. (Redis' shared.minstring / maxstring).
LEX_MIN = _LexBound("LEX_MIN")
LEX_MAX = _LexBound("LEX_MAX")


class ZSet(object):
    """A sorted set value: members (bytes) with float scores.

    @ivar scores: member -> score.
    @ivar order: SortedList of (score, member), ascending; ties by member.
    @ivar big: True once Redis would have converted it to a skiplist
        (one-way, like Redis' conversion).
    @ivar scan_order: ZSCAN's snapshot (L{sonic.commands.containers}).
    """
    __slots__ = ("scores", "order", "big", "scan_order", "acct")

    def __init__(self, big=False):
        self.scores = {}
        self.order = SortedList()
        self.big = big
        self.scan_order = None

    def __len__(self):
        return len(self.scores)

    def __bool__(self):
        return bool(self.scores)

    def __contains__(self, member):
        return member in self.scores

    def __iter__(self):
        """(member, score) pairs in ascending order."""
        for score, member in self.order:
            yield member, score

    def __repr__(self):
        return "ZSet(%r)" % (list(self),)

    def add(self, member, score):
        """Insert C{member} or move it to C{score} (an equal score, -0 and 0 alike, changes nothing, as in Redis)."""
        scores = self.scores
        old = scores.get(member)
        if old is not None:
            if old == score:
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
        """Bytes held, estimated: the dict, the list index and a sample of the entries."""
        n = len(self.scores)
        size = sys.getsizeof(self.scores) + sys.getsizeof(self.order) + 56
        if not n:
            return size
        sample = self.order[:16] if n > 16 else list(self.order)
        # Per member: the member bytes, the float, the (score, member)
        # tuple (64) and a list slot (8).
        per = sum(sys.getsizeof(m) + sys.getsizeof(s) + 64 + 8 for s, m in sample) / len(sample)
        return int(size + per * n)

    # -- ranges: (start, stop) positions in C{order} -------------------------

    def score_range(self, lo, loex, hi, hiex):
        """Positions [start, stop) of the members with scores between the bounds."""
        order = self.order
        n = len(order)
        if lo > hi or (lo == hi and (loex or hiex)):
            return 0, 0
        if loex:
            if lo == _INF:
                return n, n
            start = order.bisect_left((math.nextafter(lo, _INF),))
        else:
            start = order.bisect_left((lo,))
        if hiex:
            stop = order.bisect_left((hi,))
        elif hi == _INF:
            stop = n
        else:
            stop = order.bisect_left((math.nextafter(hi, _INF),))
        return start, max(start, stop)

    def lex_range(self, spec, reverse=False):
        """Positions [start, stop) of the members within lex bounds C{spec} (L{parse_lex_range}).

        Redis assumes all scores are equal; then the members are in byte
        order and bisection finds the bounds.  When they are not, a small
        (listpack) set is walked as Redis' listpack code walks it (from
        the head, or the tail for C{reverse}); a big one is bisected as if
        ordered, as Redis' skiplist search does.
        """
        order = self.order
        n = len(order)
        if not n or _lex_empty(spec):
            return 0, 0
        lo, loex, hi, hiex = spec
        first = order[0][0]
        if first == order[-1][0]:
            # One score: (score, bound) tuples bisect the members directly.
            if lo is LEX_MIN:
                start = 0
            elif lo is LEX_MAX:
                return 0, 0
            else:
                start = order.bisect_left((first, lo + b"\0" if loex else lo))
            if hi is LEX_MAX:
                stop = n
            elif hi is LEX_MIN:
                return 0, 0
            else:
                stop = order.bisect_left((first, hi if hiex else hi + b"\0"))
            return start, max(start, stop)
        gte, lte = _lex_gte_min, _lex_lte_max
        if not gte(order[-1][1], spec) or not lte(order[0][1], spec):
            return 0, 0
        if not self.big:
            if reverse:
                i = n - 1
                while i >= 0 and not lte(order[i][1], spec):
                    i -= 1
                if i < 0 or not gte(order[i][1], spec):
                    return 0, 0
                j = i
                while j >= 0 and gte(order[j][1], spec):
                    j -= 1
                return j + 1, i + 1
            i = 0
            while i < n and not gte(order[i][1], spec):
                i += 1
            if i == n or not lte(order[i][1], spec):
                return 0, 0
            j = i
            while j < n and lte(order[j][1], spec):
                j += 1
            return i, j
        a, b = 0, n
        while a < b:
            mid = (a + b) // 2
            if gte(order[mid][1], spec):
                b = mid
            else:
                a = mid + 1
        start = a
        b = n
        while a < b:
            mid = (a + b) // 2
            if lte(order[mid][1], spec):
                a = mid + 1
            else:
                b = mid
        return start, max(start, a)

    def pairs(self, start, stop, reverse=False):
        """(score, member) entries at positions [start, stop), descending if C{reverse}."""
        return self.order.islice(start, stop, reverse=reverse)

    def delete_range(self, start, stop):
        """Remove the members at positions [start, stop); return how many."""
        if start >= stop:
            return 0
        order = self.order
        scores = self.scores
        if start == 0 and stop == len(order):
            scores.clear()
            order.clear()
            return stop
        for score, member in order.islice(start, stop):
            del scores[member]
        del order[start:stop]
        return stop - start


def _lex_cmp(member, bound):
    """sdscmplex(member, bound): a member is above C{-} and below C{+}."""
    if bound is LEX_MIN:
        return 1
    if bound is LEX_MAX:
        return -1
    return (member > bound) - (member < bound)


def _lex_gte_min(member, spec):
    c = _lex_cmp(member, spec[0])
    return c > 0 if spec[1] else c >= 0


def _lex_lte_max(member, spec):
    c = _lex_cmp(member, spec[2])
    return c < 0 if spec[3] else c <= 0


def _lex_empty(spec):
    """zslIsInLexRange's first test: a range that can hold nothing."""
    lo, loex, hi, hiex = spec
    if lo is hi and (lo is LEX_MIN or lo is LEX_MAX):
        c = 0
    elif lo is LEX_MIN or hi is LEX_MAX:
        c = -1
    elif lo is LEX_MAX or hi is LEX_MIN:
        c = 1
    else:
        c = (lo > hi) - (lo < hi)
    return c > 0 or (c == 0 and (loex or hiex))


# -- parsing ----------------------------------------------------------------------

def parse_score(value):
    """A ZADD/ZINCRBY score: Redis' getDoubleFromObject (strtod, the whole word, NaN refused)."""
    v = string2d(value)
    if v is None:
        raise CommandError(errors.NOT_FLOAT)
    return v


# What strtod(3) accepts, whole: C-locale spaces, a sign, then a decimal or
# hexadecimal number, inf/infinity or nan(...).
_STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?(?:"
    rb"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    rb"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
    rb"|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?))")


def _strtod_whole(text):
    """zslParseRange's C{strtod(p, &eptr)} with C{*eptr == 0}: a float or None.

    Unlike a ZADD score, leading spaces, overflow (to +-inf) and an empty
    word (0) are accepted; the word ends at a NUL byte, as a C string does.
    """
    nul = text.find(b"\0")
    if nul >= 0:
        text = text[:nul]
    if not text:
        return 0.0
    m = _STRTOD.fullmatch(text)
    if m is None:
        return None
    num = m.group(1)
    body = num.lstrip(b"+-")
    if body[:2] in (b"0x", b"0X"):
        neg = num[:1] == b"-"
        try:
            v = float.fromhex(body.decode())
        except OverflowError:
            v = _INF
        return -v if neg else v
    v = float(num)
    if v != v:
        return None
    return v


def parse_range(lo, hi):
    """zslParseRange: (min, minex, max, maxex) from two score bounds (C{(} = exclusive)."""
    bounds = []
    for word in (lo, hi):
        ex = word[:1] == b"("
        v = _strtod_whole(word[1:] if ex else word)
        if v is None:
            raise CommandError(errors.MINMAX_NOT_FLOAT)
        bounds.append(v)
        bounds.append(ex)
    return tuple(bounds)


def _parse_lex_item(word):
    c = word[:1]
    if c == b"+" or c == b"-":
        if word[1:2] not in (b"", b"\0"):
            return None
        return (LEX_MAX if c == b"+" else LEX_MIN), True
    if c == b"(":
        return word[1:], True
    if c == b"[":
        return word[1:], False
    return None


def parse_lex_range(lo, hi):
    """zslParseLexRange: (min, minex, max, maxex); C{-}/C{+} are L{LEX_MIN}/L{LEX_MAX}."""
    a = _parse_lex_item(lo)
    b = _parse_lex_item(hi)
    if a is None or b is None:
        raise CommandError(errors.MINMAX_NOT_LEX)
    return a[0], a[1], b[0], b[1]


def _positive_count(word, message):
    """getRangeLongFromObjectOrReply(1, LONG_MAX) with one message for every failure."""
    n = string2ll(word)
    if n is None or n < 1:
        raise CommandError(message)
    return n


# -- encodings ---------------------------------------------------------------------

def _normalise(zs):
    """A listpack holds scores as text: -0 is stored (and read back) as 0."""
    for member, score in list(zs.scores.items()):
        if score == 0.0 and math.copysign(1.0, score) < 0:
            zs.order.remove((score, member))
            zs.scores[member] = 0.0
            zs.order.add((0.0, member))


def _insert_new(zs, member, score, config):
    """zsetAdd for a member not in C{zs}: convert to a skiplist first if it no longer fits a listpack."""
    if not zs.big:
        if (len(zs.scores) + 1 > config.zset_max_listpack_entries
                or len(member) > config.zset_max_listpack_value):
            zs.big = True
        else:
            score += 0.0  # a listpack stores -0 as 0
    zs.scores[member] = score
    zs.order.add((score, member))


def store_result(client, key, zs, event=None):
    """Store C{zs} at C{key} for a *STORE command: an empty result deletes the key.

    Like Redis' stored results (ZRANGESTORE, ZUNIONSTORE...), the encoding
    is chosen from the result: listpack when it fits the listpack limits,
    skiplist otherwise.  The key gets no TTL (setKey).  C{event} (bytes) is
    the keyspace event of a stored result; a deleted key gets C{del}.
    """
    db = client.db
    if not zs:
        if db.delete(key):
            notify(client.server, NOTIFY_GENERIC, b"del", key, client.dbnum)
        return
    config = client.server.config
    zs.big = (len(zs) > config.zset_max_listpack_entries
              or max(map(len, zs.scores)) > config.zset_max_listpack_value)
    if not zs.big:
        _normalise(zs)
    zs.scan_order = None
    db.set(key, zs)
    if event is not None:
        notify(client.server, NOTIFY_ZSET, event, key, client.dbnum)


def _encoding(value, server):
    return "skiplist" if value.big else "listpack"


TYPE_NAMES[ZSet] = "zset"
ENCODERS[ZSet] = _encoding
COPIERS[ZSet] = ZSet.copy


# -- replies --------------------------------------------------------------------------

def _with_scores(entries, resp):
    """(score, member) entries as a WITHSCORES reply: flat in RESP2, pairs in RESP3."""
    if resp == 2:
        out = []
        for score, member in entries:
            out.append(member)
            out.append(score)
        return out
    return [[member, score] for score, member in entries]


# -- ZADD, ZINCRBY, ZREM -------------------------------------------------------------

_ZADD_OPTIONS = frozenset((b"NX", b"XX", b"CH", b"INCR", b"GT", b"LT"))


def zadd_generic(client, key, args, incr=False):
    """zaddGenericCommand: ZADD's options and score-member pairs (ZINCRBY passes C{incr})."""
    nx = xx = ch = gt = lt = False
    i = 0
    n = len(args)
    while i < n:
        opt = args[i].upper()
        if opt not in _ZADD_OPTIONS:
            break
        if opt == b"NX":
            nx = True
        elif opt == b"XX":
            xx = True
        elif opt == b"CH":
            ch = True
        elif opt == b"INCR":
            incr = True
        elif opt == b"GT":
            gt = True
        else:
            lt = True
        i += 1
    words = n - i
    if words % 2 or not words:
        raise CommandError(errors.SYNTAX)
    if nx and xx:
        raise CommandError(errors.ZADD_NX_XX)
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError(errors.ZADD_GT_LT_NX)
    if incr and words > 2:
        raise CommandError(errors.ZADD_INCR_PAIR)
    scores = [parse_score(args[j]) for j in range(i, n, 2)]
    db = client.db
    zs = write_lookup(db, key, ZSet)
    created = False
    config = client.server.config
    if zs is None:
        if xx:
            return None if incr else 0
        limit_entries = config.zset_max_listpack_entries
        zs = ZSet(big=limit_entries == 0 or config.zset_max_listpack_value < len(args[i + 1]))
        created = True
    added = updated = processed = 0
    newscore = None
    zscores = zs.scores
    order = zs.order
    for j, score in enumerate(scores):
        member = args[i + 1 + 2 * j]
        cur = zscores.get(member)
        if cur is not None:
            if nx:
                continue
            if incr:
                score += cur
                if score != score:
                    if added or updated:
                        db.modified(key)
                    raise CommandError(errors.SCORE_NAN)
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            newscore = score
            processed += 1
            if score != cur:
                if not zs.big:
                    score += 0.0  # -0 -> 0 in a listpack
                order.remove((cur, member))
                zscores[member] = score
                order.add((score, member))
                updated += 1
        elif not xx:
            newscore = score
            _insert_new(zs, member, score, config)
            added += 1
            processed += 1
    if created:
        db.set(key, zs)
    elif added or updated:
        db.modified(key)
    if (added or updated) and client.server.notify_flags:
        notify(client.server, NOTIFY_ZSET, b"zincr" if incr else b"zadd", key, client.dbnum)
    if incr:
        return newscore if processed else None
    return added + updated if ch else added


@command("zadd")
def zadd(client, key, *args):
    """ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"""
    # The common ZADD key score member, without the option parser: every
    # option starts with a letter, a score that does not cannot be one.
    if len(args) != 2 or args[0][:1] >= b"A":
        return zadd_generic(client, key, args)
    word = args[0]
    score = float(word) if word.isdigit() and len(word) < 300 else parse_score(word)
    member = args[1]
    db = client.db
    zs = db.lookup(key)
    if type(zs) is not ZSet:
        if zs is not None:
            raise CommandError(errors.WRONGTYPE)
        config = client.server.config
        zs = ZSet(big=config.zset_max_listpack_entries == 0 or config.zset_max_listpack_value < len(member))
        _insert_new(zs, member, score, config)
        db.set(key, zs)
        added = 1
    else:
        cur = zs.scores.get(member)
        if cur is None:
            _insert_new(zs, member, score, client.server.config)
            added = 1
        elif cur == score:
            return 0  # nothing changes (-0 and 0 alike), nothing is signalled
        else:
            if not zs.big:
                score += 0.0  # -0 -> 0 in a listpack
            zs.order.remove((cur, member))
            zs.scores[member] = score
            zs.order.add((score, member))
            added = 0
        db.modified(key)
    if client.server.notify_flags:
        notify(client.server, NOTIFY_ZSET, b"zadd", key, client.dbnum)
    return added


@command("zincrby")
def zincrby(client, key, increment, member):
    """ZINCRBY key increment member"""
    # Redis runs ZADD's parser on these words, so an increment spelled
    # like an option (NX, INCR...) is a syntax error there too.
    return zadd_generic(client, key, (increment, member), incr=True)


@command("zrem")
def zrem(client, key, *members):
    """ZREM key member [member ...]"""
    db = client.db
    zs = write_lookup(db, key, ZSet)
    if zs is None:
        return 0
    removed = 0
    for member in members:
        if zs.discard(member):
            removed += 1
            if not zs:
                break
    if removed:
        drop_if_empty(db, key, zs)
        notify_emptied(client.server, NOTIFY_ZSET, b"zrem", key, db, zs)
    return removed


# -- reads ----------------------------------------------------------------------------

@command("zcard")
def zcard(client, key):
    """ZCARD key"""
    zs = read(client, key, ZSet)
    return len(zs) if zs is not None else 0


@command("zscore")
def zscore(client, key, member):
    """ZSCORE key member"""
    zs = read(client, key, ZSet)
    if zs is None:
        return None
    return zs.scores.get(member)


@command("zmscore")
def zmscore(client, key, *members):
    """ZMSCORE key member [member ...]"""
    zs = read(client, key, ZSet)
    if zs is None:
        return [None] * len(members)
    get = zs.scores.get
    return [get(m) for m in members]


def _rank(client, key, member, reverse):
    zs = read(client, key, ZSet)
    if zs is None:
        return None
    rank = zs.rank(member)
    if rank is None:
        return None
    return len(zs) - 1 - rank if reverse else rank


@command("zrank")
def zrank(client, key, member):
    """ZRANK key member"""
    return _rank(client, key, member, False)


@command("zrevrank")
def zrevrank(client, key, member):
    """ZREVRANK key member"""
    return _rank(client, key, member, True)


@command("zcount")
def zcount(client, key, lo, hi):
    """ZCOUNT key min max"""
    spec = parse_range(lo, hi)
    zs = read(client, key, ZSet)
    if zs is None:
        return 0
    start, stop = zs.score_range(*spec)
    return stop - start


@command("zlexcount")
def zlexcount(client, key, lo, hi):
    """ZLEXCOUNT key min max"""
    spec = parse_lex_range(lo, hi)
    zs = read(client, key, ZSet)
    if zs is None:
        return 0
    start, stop = zs.lex_range(spec)
    return stop - start


# -- ZRANGE and its family ---------------------------------------------------------------

RANK, SCORE, LEX = "rank", "score", "lex"


def zrange_generic(client, key, lo, hi, opts, rangetype=None, reverse=None, dst=None):
    """zrangeGenericCommand: every ZRANGE form, and ZRANGESTORE when C{dst} is given.

    C{rangetype} and C{reverse} are fixed by the legacy commands
    (ZRANGEBYSCORE...); left None, the options BYSCORE/BYLEX/REV choose them.
    """
    withscores = False
    offset, limit = 0, -1
    i = 0
    n = len(opts)
    while i < n:
        opt = opts[i].lower()
        if dst is None and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and n - i - 1 >= 2:
            offset = to_int(opts[i + 1])
            limit = to_int(opts[i + 2])
            i += 2
        elif reverse is None and opt == b"rev":
            reverse = True
        elif rangetype is None and opt == b"bylex":
            rangetype = LEX
        elif rangetype is None and opt == b"byscore":
            rangetype = SCORE
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    reverse = bool(reverse)
    if rangetype is None:
        rangetype = RANK
    if limit != -1 and rangetype is RANK:
        raise CommandError(errors.LIMIT_ONLY_BY)
    if withscores and rangetype is LEX:
        raise CommandError(errors.WITHSCORES_BYLEX)
    if reverse and rangetype is not RANK:
        lo, hi = hi, lo  # given as max, min
    if rangetype is RANK:
        start = to_int(lo)
        end = to_int(hi)
    elif rangetype is SCORE:
        spec = parse_range(lo, hi)
    else:
        spec = parse_lex_range(lo, hi)
    zs = read(client, key, ZSet)
    if zs is None:
        if dst is not None:
            if client.db.delete(dst):
                notify(client.server, NOTIFY_GENERIC, b"del", dst, client.dbnum)
            return 0
        return []
    size = len(zs)
    if rangetype is RANK:
        if start < 0:
            start += size
        if end < 0:
            end += size
        if start < 0:
            start = 0
        if start > end or start >= size:
            entries = ()
        else:
            if end >= size:
                end = size - 1
            if reverse:
                entries = list(zs.pairs(size - 1 - end, size - start, True))
            else:
                entries = list(zs.pairs(start, end + 1))
    elif rangetype is LEX and not zs.big and zs.order[0][0] != zs.order[-1][0]:
        entries = _listpack_lex_walk(zs, spec, reverse, offset, limit)
    else:
        if rangetype is SCORE:
            first, stop = zs.score_range(*spec)
        else:
            first, stop = zs.lex_range(spec, reverse)
        if offset < 0 or (offset > 0 and offset >= size):
            entries = ()
        else:
            count = stop - first - offset
            if limit >= 0 and limit < count:
                count = limit
            if count <= 0:
                entries = ()
            elif reverse:
                entries = zs.pairs(stop - offset - count, stop - offset, True)
            else:
                entries = zs.pairs(first + offset, first + offset + count)
    if dst is not None:
        return _store_range(client, dst, entries, rangetype is RANK and len(entries) or -1)
    if withscores:
        return _with_scores(entries, client.resp)
    return [member for score, member in entries]


def _listpack_lex_walk(zs, spec, reverse, offset, limit):
    """A lex range with LIMIT over members of several scores, walked as Redis walks a listpack.

    The offset skips members whether or not they are in range, and the
    walk then stops at the first member past the far bound: with members
    out of byte order this differs from slicing a contiguous segment.
    """
    order = zs.order
    n = len(order)
    lo, hi = zs.lex_range(spec, reverse)
    if lo == hi or offset < 0:
        return []
    gte, lte = _lex_gte_min, _lex_lte_max
    out = []
    if reverse:
        i = hi - 1 - offset
        while i >= 0 and limit != 0 and gte(order[i][1], spec):
            out.append(order[i])
            i -= 1
            limit -= 1
    else:
        i = lo + offset
        while i < n and limit != 0 and lte(order[i][1], spec):
            out.append(order[i])
            i += 1
            limit -= 1
    return out


def _store_range(client, dst, entries, length):
    """ZRANGESTORE's result handler: build dst as Redis does, member by member in reply order.

    Redis creates a skiplist up front when the rank range's C{length} is
    over the listpack limit (-1: unknown, for score and lex ranges), else a
    listpack that converts as members arrive; members stored while it is a
    listpack have -0 read back as 0.
    """
    config = client.server.config
    result = ZSet(big=length > config.zset_max_listpack_entries)
    for score, member in entries:
        _insert_new(result, member, score, config)
    if not result:
        if client.db.delete(dst):
            notify(client.server, NOTIFY_GENERIC, b"del", dst, client.dbnum)
        return 0
    client.db.set(dst, result)
    notify(client.server, NOTIFY_ZSET, b"zrangestore", dst, client.dbnum)
    return len(result)


@command("zrange")
def zrange(client, key, start, stop, *opts):
    """ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"""
    return zrange_generic(client, key, start, stop, opts)


@command("zrangestore")
def zrangestore(client, dst, src, lo, hi, *opts):
    """ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]"""
    return zrange_generic(client, src, lo, hi, opts, dst=dst)


@command("zrevrange")
def zrevrange(client, key, start, stop, *opts):
    """ZREVRANGE key start stop [WITHSCORES]"""
    return zrange_generic(client, key, start, stop, opts, RANK, True)


@command("zrangebyscore")
def zrangebyscore(client, key, lo, hi, *opts):
    """ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]"""
    return zrange_generic(client, key, lo, hi, opts, SCORE, False)


@command("zrevrangebyscore")
def zrevrangebyscore(client, key, hi, lo, *opts):
    """ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]"""
    return zrange_generic(client, key, hi, lo, opts, SCORE, True)


@command("zrangebylex")
def zrangebylex(client, key, lo, hi, *opts):
    """ZRANGEBYLEX key min max [LIMIT offset count]"""
    return zrange_generic(client, key, lo, hi, opts, LEX, False)


@command("zrevrangebylex")
def zrevrangebylex(client, key, hi, lo, *opts):
    """ZREVRANGEBYLEX key max min [LIMIT offset count]"""
    return zrange_generic(client, key, hi, lo, opts, LEX, True)


# -- ZREMRANGEBY* ---------------------------------------------------------------------------

def zrem_range(client, key, lo, hi, rangetype):
    """zremrangeGenericCommand: parse the range, then remove it; an emptied set disappears."""
    if rangetype is RANK:
        start = to_int(lo)
        end = to_int(hi)
    elif rangetype is SCORE:
        spec = parse_range(lo, hi)
    else:
        spec = parse_lex_range(lo, hi)
    db = client.db
    zs = write_lookup(db, key, ZSet)
    if zs is None:
        return 0
    size = len(zs)
    if rangetype is RANK:
        if start < 0:
            start += size
        if end < 0:
            end += size
        if start < 0:
            start = 0
        if start > end or start >= size:
            return 0
        if end >= size:
            end = size - 1
        first, stop = start, end + 1
    elif rangetype is SCORE:
        first, stop = zs.score_range(*spec)
    else:
        first, stop = zs.lex_range(spec)
    removed = zs.delete_range(first, stop)
    if removed:
        drop_if_empty(db, key, zs)
        notify_emptied(client.server, NOTIFY_ZSET, _REMRANGE_EVENTS[rangetype], key, db, zs)
    return removed


_REMRANGE_EVENTS = {RANK: b"zremrangebyrank", SCORE: b"zremrangebyscore", LEX: b"zremrangebylex"}


@command("zremrangebyrank")
def zremrangebyrank(client, key, start, stop):
    """ZREMRANGEBYRANK key start stop"""
    return zrem_range(client, key, start, stop, RANK)


@command("zremrangebyscore")
def zremrangebyscore(client, key, lo, hi):
    """ZREMRANGEBYSCORE key min max"""
    return zrem_range(client, key, lo, hi, SCORE)


@command("zremrangebylex")
def zremrangebylex(client, key, lo, hi):
    """ZREMRANGEBYLEX key min max"""
    return zrem_range(client, key, lo, hi, LEX)


# -- pops ----------------------------------------------------------------------------------

def _pop_entries(db, key, zs, count, maximum):
    """Pop up to C{count} members from one end; delete the key if emptied."""
    order = zs.order
    size = len(order)
    if count >= size:
        entries = list(reversed(order)) if maximum else list(order)
        zs.scores.clear()
        order.clear()
    elif maximum:
        entries = list(order.islice(size - count, size, reverse=True))
        del order[size - count:]
        for score, member in entries:
            del zs.scores[member]
    else:
        entries = list(order.islice(0, count))
        del order[:count]
        for score, member in entries:
            del zs.scores[member]
    drop_if_empty(db, key, zs)
    return entries


def _pop_reply(key, entries, emit_key, nested, resp, count_given):
    """genericZpopCommand's reply shapes.

    ZPOPMIN/ZPOPMAX: flat pairs, nested in RESP3 when a count was given;
    BZPOPMIN/BZPOPMAX: [key, member, score]; ZMPOP/BZMPOP: [key, [[member,
    score], ...]] in both protocols.
    """
    if nested:
        body = [[member, score] for score, member in entries]
    elif resp == 3 and count_given:
        body = [[member, score] for score, member in entries]
    else:
        body = []
        for score, member in entries:
            body.append(member)
            body.append(score)
    if not emit_key:
        return body
    if nested:
        return [key, body]
    return [key] + body


def zpop(client, keys, maximum, count, emit_key, nested, nil_when_empty, count_given=True):
    """genericZpopCommand: pop from the first existing key; WRONGTYPE stops the search."""
    db = client.db
    for key in keys:
        zs = write_lookup(db, key, ZSet)
        if zs is None:
            continue
        if count == 0:
            return []
        entries = _pop_entries(db, key, zs, count, maximum)
        notify_emptied(client.server, NOTIFY_ZSET, b"zpopmax" if maximum else b"zpopmin", key, db, zs)
        return _pop_reply(key, entries, emit_key, nested, client.resp, count_given)
    return NULL_ARRAY if nil_when_empty else []


def _zpop_min_max(client, key, args, maximum):
    if len(args) > 1:
        raise CommandError(errors.SYNTAX)
    if args:
        count = string2ll(args[0])
        if count is None or count < 0:
            raise CommandError(errors.NOT_POSITIVE)
        return zpop(client, (key,), maximum, count, False, False, False, True)
    return zpop(client, (key,), maximum, 1, False, False, False, False)


@command("zpopmin")
def zpopmin(client, key, *args):
    """ZPOPMIN key [count]"""
    return _zpop_min_max(client, key, args, False)


@command("zpopmax")
def zpopmax(client, key, *args):
    """ZPOPMAX key [count]"""
    return _zpop_min_max(client, key, args, True)


def _parse_mpop(args):
    """zmpopGenericCommand's words after the timeout: (keys, maximum, count)."""
    numkeys = _positive_count(args[0], errors.NUMKEYS_NOT_POSITIVE)
    where_idx = numkeys + 1
    if where_idx >= len(args):
        raise CommandError(errors.SYNTAX)
    where = args[where_idx].upper()
    if where == b"MIN":
        maximum = False
    elif where == b"MAX":
        maximum = True
    else:
        raise CommandError(errors.SYNTAX)
    count = None
    j = where_idx + 1
    n = len(args)
    while j < n:
        if count is None and args[j].upper() == b"COUNT" and j + 1 < n:
            count = _positive_count(args[j + 1], errors.COUNT_NOT_POSITIVE)
            j += 2
        else:
            raise CommandError(errors.SYNTAX)
    return list(args[1:where_idx]), maximum, count or 1


@command("zmpop")
def zmpop(client, *args):
    """ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]"""
    keys, maximum, count = _parse_mpop(args)
    return zpop(client, keys, maximum, count, True, True, True)


def _blocking_zpop(client, keys, timeout, maximum, count, emit_key_nested):
    """blockingGenericZpopCommand: pop now if a key has members, else block (or null inside MULTI)."""
    deadline = parse_timeout(timeout, client.server.store.now)
    db = client.db
    nested = emit_key_nested
    for key in keys:
        zs = write_lookup(db, key, ZSet)
        if zs is None or not zs:
            continue
        entries = _pop_entries(db, key, zs, count, maximum)
        notify_emptied(client.server, NOTIFY_ZSET, b"zpopmax" if maximum else b"zpopmin", key, db, zs)
        return _pop_reply(key, entries, True, nested, client.resp, nested)
    if not can_block(client):
        return NULL_ARRAY

    def serve(key):
        # Runs when a key this client waits for was created: it must now
        # be a sorted set with members, or the client waits on.
        zs = db.lookup(key)
        if type(zs) is not ZSet or not zs:
            return NOT_SERVED
        entries = _pop_entries(db, key, zs, count, maximum)
        notify_emptied(client.server, NOTIFY_ZSET, b"zpopmax" if maximum else b"zpopmin", key, db, zs)
        return _pop_reply(key, entries, True, nested, client.resp, nested)

    return client.server.blocking.block(client, keys, deadline, serve, NULL_ARRAY)


@command("bzpopmin")
def bzpopmin(client, *args):
    """BZPOPMIN key [key ...] timeout"""
    return _blocking_zpop(client, args[:-1], args[-1], False, 1, False)


@command("bzpopmax")
def bzpopmax(client, *args):
    """BZPOPMAX key [key ...] timeout"""
    return _blocking_zpop(client, args[:-1], args[-1], True, 1, False)


@command("bzmpop")
def bzmpop(client, timeout, *args):
    """BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]"""
    keys, maximum, count = _parse_mpop(args)
    return _blocking_zpop(client, keys, timeout, maximum, count, True)


# -- ZRANDMEMBER, ZSCAN ------------------------------------------------------------------------

@command("zrandmember")
def zrandmember(client, key, *args):
    """ZRANDMEMBER key [count [WITHSCORES]]"""
    if not args:
        zs = read(client, key, ZSet)
        if zs is None:
            return None
        return zs.order[random.randrange(len(zs))][1]
    count = string2ll(args[0])
    if count is None:
        raise CommandError(errors.NOT_INTEGER)
    if count < -LONG_MAX:
        raise CommandError(ERR_LONG_RANGE)
    withscores = False
    if len(args) > 2 or (len(args) == 2 and args[1].lower() != b"withscores"):
        raise CommandError(errors.SYNTAX)
    if len(args) == 2:
        withscores = True
        if count < -(LONG_MAX // 2) or count > LONG_MAX // 2:
            raise CommandError(errors.VALUE_OUT_OF_RANGE)
    zs = read(client, key, ZSet)
    if zs is None or count == 0:
        return []
    order = zs.order
    size = len(order)
    if count < 0 or count == 1:
        # With repetitions, in random order (Redis' case 1).
        n = -count if count < 0 else 1
        check_random_count(n)
        if size <= 1024:
            entries = random.choices(list(order), k=n)
        else:
            rnd = random.randrange
            entries = [order[rnd(size)] for _ in range(n)]
    elif count >= size:
        # The whole set, in Redis' iteration order (from the tail).
        entries = list(reversed(order))
    else:
        entries = [order[i] for i in random.sample(range(size), count)]
    if withscores:
        return _with_scores(entries, client.resp)
    return [member for score, member in entries]


@command("zscan")
def zscan(client, key, cursor, *opts):
    """ZSCAN key cursor [MATCH pattern] [COUNT count]"""
    _parse_cursor(cursor)
    zs = read(client, key, ZSet)
    if zs is None:
        return [b"0", []]
    scores = zs.scores

    if not zs.big:
        def members():
            return [member for score, member in zs.order]
    else:
        def members():
            return list(scores)

    def pairs(member):
        score = scores.get(member)
        if score is None:
            return None
        return (member, format_double(score))

    return scan_container(zs, cursor, opts, not zs.big, members, pairs)

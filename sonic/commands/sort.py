"""SORT and SORT_RO (Redis' sort.c) over lists, sets and sorted sets.

The steps are Redis' own, in its order: parse every option (syntax and
LIMIT errors come before anything else), look the key up (WRONGTYPE for a
hash or a string; a missing key sorts as an empty list), load the elements,
load each one's weight (the element itself, or the C{BY} pattern's string
or hash field), sort, then reply C{GET} lookups for the LIMIT window or
store it as a list.

How each detail of sort.c is reproduced:

 - Numeric weights are read with C's C{strtod} (leading white space, hex,
   C{inf} accepted; trailing bytes, NaN and out-of-range values refused:
   C{One or more scores can't be converted into double}).  An empty
   weight reads as 0, and a weight is read up to its first NUL byte.  Ties
   are broken by comparing the elements' bytes, so the order is total.
 - ALPHA compares with C{strcoll} when replying (the byte order in the C and
   C.UTF-8 locales Redis runs in, stopping at a NUL) and with the binary
   compareStringObjects when storing.  A missing C{BY} weight sorts first.
   Equal weights keep the input order: glibc's qsort is a stable merge sort,
   and so is Python's sort.  With C{BY} and a LIMIT window Redis uses its
   own partial quicksort (pqsort.c), which is not stable: L{_pqsort} is a
   faithful port, so ties come out exactly as in Redis.
 - C{BY} without C{*} (C{BY nosort}) skips sorting: a list keeps its order,
   a sorted set its score order (both reversed by DESC, and LIMIT read
   straight from the structure), a set its iteration order (ascending for
   an intset; DESC ignored), except with STORE, where a set is sorted
   ALPHA so that replicas agree.
 - Patterns: C{#} is the element itself; the first C{*} is replaced by the
   element; C{key->field} (the first C{->} after the C{*}, with a field
   after it) reads a hash field.  Anything but a string (or a hash, for
   C{->}) reads as missing: nil in replies, an empty string when stored.
 - Sorting a sorted set converts it to a skiplist, as Redis' zsetConvert
   does (OBJECT ENCODING shows it).

Not reproduced: Redis tests C{errno} after C{strtod} without clearing it,
so an C{ERANGE} left by an earlier command can make a later SORT fail
spuriously; sonic judges each weight on its own.
"""

import math
import re
from itertools import islice

from sonic import errors
from sonic.commands.containers import pack, unpack
from sonic.commands.hashes import Hash, hash_value
from sonic.commands.keys import _read
from sonic.errors import CommandError
from sonic.notify import NOTIFY_GENERIC, NOTIFY_LIST, notify
from sonic.registry import command
from sonic.store.compression import Compressed
from sonic.util import string2ll

__all__ = ["sort_generic"]

#: What C's strtod reads (after leading white space): decimal or hex
#: numbers, infinities and NaNs.  Anything else reads nothing.
_STRTOD = re.compile(
    rb"[+-]?(?:"
    rb"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    rb"|inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?"
    rb")", re.IGNORECASE)

#: C's isspace, which strtod skips first.
_C_SPACE = b" \t\n\v\f\r"

_DBL_MIN = 2.2250738585072014e-308


def _word(arg):
    """An option word as Redis' strcasecmp sees it: lower-cased, cut at the first NUL."""
    nul = arg.find(b"\0")
    if nul >= 0:
        arg = arg[:nul]
    return arg.lower()


def _cstr(data):
    """C{data} as a C string sees it: up to its first NUL byte."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


def strtod_weight(data):
    """A numeric weight as sort.c reads it with strtod; None when it must be refused.

    Refused: bytes after the number (before any NUL), NaN, and ERANGE
    (overflow to infinity, or an inexact underflow to zero or a subnormal).
    An empty string reads as 0 (strtod reads nothing and stops at the NUL),
    but a string of spaces does not (strtod then points back at the first
    space).
    """
    # Fast path: without underscores or white space at either end, Python's
    # float() reads exactly the decimal numbers strtod reads completely.
    if data[:1] > b" " and data[-1:] > b" " and b"_" not in data:
        try:
            value = float(data)
        except ValueError:
            pass
        else:
            if value != value:
                return None
            if _DBL_MIN <= abs(value) < math.inf:
                return value
    return _strtod_slow(data)


def _strtod_slow(data):
    """L{strtod_weight} for the rare forms: hex, white space, NUL bytes, infinities, tiny values."""
    text = _cstr(data)
    stripped = text.lstrip(_C_SPACE)
    if not stripped:
        return 0.0 if not text else None
    m = _STRTOD.match(stripped)
    if m is None or m.end() != len(stripped):
        return None
    word = stripped.lstrip(b"+-").lower()
    if word.startswith(b"nan"):
        return None
    if word.startswith(b"inf"):
        return -math.inf if stripped[:1] == b"-" else math.inf
    text = stripped.decode("ascii")
    if word.startswith(b"0x"):
        try:
            value = float.fromhex(text)
        except OverflowError:
            return None
    else:
        value = float(text)
        if math.isinf(value):
            return None
    from fractions import Fraction  # only here: fractions and decimal weigh 0.5 MiB
    if abs(value) < _DBL_MIN and Fraction(value) != _exact(text, word):
        return None  # glibc's ERANGE: a tiny (zero or subnormal) result that is inexact
    return value


def _exact(text, word):
    """The exact rational value of a decimal or hex number's text."""
    from fractions import Fraction
    if not word.startswith(b"0x"):
        return Fraction(text)
    neg = text[:1] == "-"
    digits, _, exp = word[2:].partition(b"p")
    whole, _, frac = digits.partition(b".")
    mant = int((whole + frac) or b"0", 16)
    shift = int(exp or b"0") - 4 * len(frac)
    value = Fraction(mant) * (Fraction(2) ** shift)
    return -value if neg else value


class _Pattern(object):
    """A GET or BY pattern, split once (lookupKeyByPattern's parsing).

    @ivar kind: C{"#"} (the element), C{None} (no C{*}: never found), or
        C{"key"}.
    """
    __slots__ = ("kind", "prefix", "suffix", "field")

    def __init__(self, pattern):
        c = _cstr(pattern)
        self.prefix = self.suffix = self.field = None
        if c == b"#":
            self.kind = "#"
            return
        star = c.find(b"*")
        if star < 0:
            self.kind = None
            return
        self.kind = "key"
        self.prefix = pattern[:star]
        arrow = c.find(b"->", star + 1)
        if arrow >= 0 and arrow + 2 < len(c):
            self.suffix = pattern[star + 1:arrow]
            self.field = pattern[arrow + 2:]
        else:
            self.suffix = pattern[star + 1:]

    def lookup(self, client, element):
        """The pattern's value for C{element} (bytes), or None when missing or of another type."""
        kind = self.kind
        if kind == "#":
            return element
        if kind is None:
            return None
        value = _read(client, self.prefix + element + self.suffix)
        if value is None:
            return None
        if self.field is None:
            t = type(value)
            if t is bytes:
                return value
            if t is Compressed:
                return client.server.compressor.decompress(value)
            return None
        if type(value) is not Hash:
            return None
        return hash_value(client.server, value, self.field)


def _types():
    """The List, Set and ZSet classes (imported late: those modules import more)."""
    from sonic.commands.lists import List
    from sonic.commands.sets import Set
    from sonic.commands.zsets import ZSet
    return List, Set, ZSet


def _limit(limit_start, limit_count, n):
    """sort.c's LIMIT clamping: the (start, stop) slice of the n sorted elements."""
    start = min(max(limit_start, 0), n)
    count = min(max(limit_count, -1), n)
    stop = n if count < 0 else min(start + count, n)
    return start, max(stop, start)


# -- pqsort.c -----------------------------------------------------------------------

def _med3(a, i, j, k, cmp):
    if cmp(a[i], a[j]) < 0:
        if cmp(a[j], a[k]) < 0:
            return j
        return k if cmp(a[i], a[k]) < 0 else i
    if cmp(a[j], a[k]) > 0:
        return j
    return i if cmp(a[i], a[k]) < 0 else k


def _pqsort(a, lo, n, cmp, lrange, rrange):
    """Redis' pqsort.c (Bentley-McIlroy quicksort that skips partitions outside lrange..rrange).

    Sorts C{a[lo:lo+n]} in place so that the positions C{lrange..rrange}
    hold what a full sort would put there, moving elements exactly as the C
    code does, so equal elements end up where Redis puts them.
    """
    while True:
        if n < 7:
            for m in range(lo + 1, lo + n):
                p = m
                while p > lo and cmp(a[p - 1], a[p]) > 0:
                    a[p], a[p - 1] = a[p - 1], a[p]
                    p -= 1
            return
        pm = lo + n // 2
        if n > 7:
            pl = lo
            pn = lo + n - 1
            if n > 40:
                d = n // 8
                pl = _med3(a, pl, pl + d, pl + 2 * d, cmp)
                pm = _med3(a, pm - d, pm, pm + d, cmp)
                pn = _med3(a, pn - 2 * d, pn - d, pn, cmp)
            pm = _med3(a, pl, pm, pn, cmp)
        a[lo], a[pm] = a[pm], a[lo]
        pa = pb = lo + 1
        pc = pd = lo + n - 1
        pivot_at = lo
        while True:
            while pb <= pc:
                r = cmp(a[pb], a[pivot_at])
                if r > 0:
                    break
                if r == 0:
                    a[pa], a[pb] = a[pb], a[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                r = cmp(a[pc], a[pivot_at])
                if r < 0:
                    break
                if r == 0:
                    a[pc], a[pd] = a[pd], a[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            a[pb], a[pc] = a[pc], a[pb]
            pb += 1
            pc -= 1
        pn = lo + n
        r = min(pa - lo, pb - pa)
        for i in range(r):  # vecswap(a, pb - r, r)
            x, y = lo + i, pb - r + i
            a[x], a[y] = a[y], a[x]
        r = min(pd - pc, pn - pd - 1)
        for i in range(r):  # vecswap(pb, pn - r, r)
            x, y = pb + i, pn - r + i
            a[x], a[y] = a[y], a[x]
        r = pb - pa
        if r > 1:
            hi = lo + r - 1
            if not ((lrange < lo and rrange < lo) or (lrange > hi and rrange > hi)):
                _pqsort(a, lo, r, cmp, lrange, rrange)
        r = pd - pc
        if r > 1:
            lo = pn - r
            n = r
            hi = lo + r - 1
            if not ((lrange < lo and rrange < lo) or (lrange > hi and rrange > hi)):
                continue
        return


def _alpha_by_cmp(desc):
    """sortCompare for ALPHA with BY: weights are (None) or bytes; a missing weight sorts first."""
    def cmp(x, y):
        a, b = x[0], y[0]
        if a is None or b is None:
            c = 0 if a is b else (-1 if a is None else 1)
        else:
            c = (a > b) - (a < b)
        return -c if desc else c
    return cmp


# -- SORT --------------------------------------------------------------------------

def sort_generic(client, key, opts, readonly):
    """sortCommandGeneric: SORT (C{readonly} false) and SORT_RO."""
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    sortby = None
    storekey = None
    gets = []
    i = 0
    n = len(opts)
    while i < n:
        word = _word(opts[i])
        left = n - i - 1
        if word == b"asc":
            desc = False
        elif word == b"desc":
            desc = True
        elif word == b"alpha":
            alpha = True
        elif word == b"limit" and left >= 2:
            limit_start = _long(opts[i + 1])
            limit_count = _long(opts[i + 2])
            i += 2
        elif word == b"store" and left >= 1 and not readonly:
            storekey = opts[i + 1]
            i += 1
        elif word == b"by" and left >= 1:
            sortby = opts[i + 1]
            if b"*" not in _cstr(sortby):
                dontsort = True  # a constant pattern: nothing to sort by
            i += 1
        elif word == b"get" and left >= 1:
            gets.append(_Pattern(opts[i + 1]))
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1

    List, Set, ZSet = _types()
    value = _read(client, key)
    vtype = type(value)
    if value is not None and vtype is not List and vtype is not Set and vtype is not ZSet:
        raise CommandError(errors.WRONGTYPE)
    server = client.server

    if dontsort and vtype is Set and storekey is not None:
        # Redis sorts a set anyway when storing, so the stored list is the
        # same everywhere (replicas, AOF).
        dontsort = False
        alpha = True
        sortby = None
    if vtype is ZSet:
        value.big = True  # zsetConvert(..., OBJ_ENCODING_SKIPLIST)

    size = 0 if value is None else len(value)
    start, stop = _limit(limit_start, limit_count, size)
    error = False

    if value is None:
        window = []
    elif dontsort and vtype is List:
        source = reversed(value) if desc else iter(value)
        window = list(islice(source, start, stop))
        if value.packed:  # it may hold compressed elements
            window = [unpack(server, e) for e in window]
    elif dontsort and vtype is ZSet:
        order = value.order
        if desc:
            entries = order.islice(size - stop, size - start, reverse=True)
        else:
            entries = order.islice(start, stop)
        window = [member for _, member in entries]
    else:
        if vtype is List:
            elements = [unpack(server, e) for e in value] if value.packed else list(value)
        elif vtype is Set:
            from sonic.commands.sets import ordered_members
            elements = ordered_members(value)
        else:
            elements = list(value.scores)
        if dontsort:
            window = elements[start:stop]
        else:
            window, error = _sorted_window(client, elements, sortby, alpha, desc,
                                           storekey is not None, start, stop)

    if error:
        raise CommandError(errors.SORT_NOT_DOUBLE)

    if storekey is None:
        if not gets:
            return window
        out = []
        for element in window:
            for pattern in gets:
                out.append(pattern.lookup(client, element))
        return out

    if not gets:
        result = window
    else:
        result = []
        for element in window:
            for pattern in gets:
                v = pattern.lookup(client, element)
                result.append(b"" if v is None else v)
    db = client.db
    if result:
        db.set(storekey, List(pack(server, e) for e in result))
        notify(server, NOTIFY_LIST, b"sortstore", storekey, client.dbnum)
    elif db.delete(storekey):
        notify(server, NOTIFY_GENERIC, b"del", storekey, client.dbnum)
    return len(result)


def _long(arg):
    """getLongFromObjectOrReply: a signed 64-bit integer."""
    v = string2ll(arg)
    if v is None:
        raise CommandError(errors.NOT_INTEGER)
    return v


def _sorted_window(client, elements, sortby, alpha, desc, store, start, stop):
    """Weigh and sort C{elements}; return (the LIMIT window, whether a weight was refused)."""
    pattern = _Pattern(sortby) if sortby is not None else None
    if alpha:
        if pattern is None:
            # Compare the elements themselves: binary when storing,
            # strcoll (a C string's bytes) when replying.
            key = None if store else _cstr
            ordered = sorted(elements, key=key, reverse=desc)
            return ordered[start:stop], False
        weighted = []
        for e in elements:
            w = pattern.lookup(client, e)
            if w is not None and not store:
                w = _cstr(w)
            weighted.append((w, e))
        if start >= stop:
            return [], False
        if start != 0 or stop != len(elements):
            _pqsort(weighted, 0, len(weighted), _alpha_by_cmp(desc), start, stop - 1)
            return [e for _, e in weighted[start:stop]], False
        # A stable sort: equal weights keep the input order, in DESC too.
        weighted.sort(key=lambda x: (x[0] is not None, x[0] or b""), reverse=desc)
        return [e for _, e in weighted], False
    weighted = []
    error = False
    for e in elements:
        if pattern is not None:
            w = pattern.lookup(client, e)
            if w is None:
                weighted.append((0.0, e))  # a missing weight counts as 0
                continue
        else:
            w = e
        score = strtod_weight(w)
        if score is None:
            error = True
            score = 0.0
        weighted.append((score, e))
    if error:
        return [], True
    # (score, element) is a total order: any correct sort, partial or
    # not, gives Redis' result.
    weighted.sort(reverse=desc)
    return [e for _, e in weighted[start:stop]], False


@command("sort")
def sort(client, key, *opts):
    """SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]"""
    return sort_generic(client, key, opts, False)


@command("sort_ro")
def sort_ro(client, key, *opts):
    """SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]"""
    return sort_generic(client, key, opts, True)

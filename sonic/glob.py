"""Redis' glob matching (util.c stringmatchlen), used by KEYS, SCAN MATCH and CONFIG GET.

C{*} any run, C{?} one byte, C{[abc]}, C{[^a]}, C{[a-z]} (reversed ranges
too), C{\\x} a literal.  A pattern is parsed once, as Redis' loop would walk
it, into atoms; each bracket class becomes the exact set of bytes Redis'
loop would accept (signed-char range comparisons, C{tolower} under
C{nocase}, an unterminated C{[} running to the end of the pattern, C{[a-]}
being the range C{a..]}), so odd patterns agree with Redis byte for byte.

Matching never backtracks: the atoms between two C{*} have a fixed length,
so the pattern is split at its stars into fixed-length segments, the first
anchored at the start, the last at the end, and each middle one found at
its leftmost place (which is always a right choice for fixed-length
segments).  That keeps C{KEYS *a*a*a*a*b} linear-ish on long keys, as
Redis' C{skipLongerMatches} does.

A non-empty pattern never matches the empty string, and the empty pattern
matches only it (Redis' loop needs a byte to start); callers shortcut the
pattern C{*} themselves, as Redis does.
"""

import re

__all__ = ["stringmatch", "compile_pattern"]

_CACHE = {}
_STAR = None


def _lower(c):
    return c + 32 if 65 <= c <= 90 else c


def _signed(c):
    return c - 256 if c >= 128 else c


def _class_bytes(members, negate, nocase):
    """The set of bytes a bracket class accepts, evaluated as Redis' loop does."""
    accepted = []
    for c in range(256):
        match = False
        for kind, a, b in members:
            if kind == 0:      # escaped literal: compared exactly, even under nocase
                if a == c:
                    match = True
            elif kind == 1:    # literal
                if (a == c) if not nocase else (_lower(a) == _lower(c)):
                    match = True
            else:              # range, on signed chars; swapped before tolower
                start, end, x = _signed(a), _signed(b), _signed(c)
                if start > end:
                    start, end = end, start
                if nocase:
                    start, end, x = _lower(start), _lower(end), _lower(x)
                if start <= x <= end:
                    match = True
        if match != negate:
            accepted.append(c)
    return accepted


def _regex_class(accepted):
    if not accepted:
        return b"(?!)"
    if len(accepted) == 256:
        return b"[\\x00-\\xff]"
    parts = []
    i = 0
    while i < len(accepted):
        j = i
        while j + 1 < len(accepted) and accepted[j + 1] == accepted[j] + 1:
            j += 1
        if j == i:
            parts.append(b"\\x%02x" % accepted[i])
        else:
            parts.append(b"\\x%02x-\\x%02x" % (accepted[i], accepted[j]))
        i = j + 1
    return b"[" + b"".join(parts) + b"]"


def _atoms(pattern, nocase):
    """Parse C{pattern} into a list of atoms: C{_STAR} or a regex for one byte."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 42:  # *
            while i + 1 < n and pattern[i + 1] == 42:
                i += 1
            out.append(_STAR)
        elif c == 63:  # ?
            out.append(b"[\\x00-\\xff]")
        elif c == 91:  # [
            i += 1
            negate = i < n and pattern[i] == 94
            if negate:
                i += 1
            members = []
            while True:
                rem = n - i
                if rem >= 2 and pattern[i] == 92:
                    i += 1
                    members.append((0, pattern[i], 0))
                elif rem > 0 and pattern[i] == 93:
                    break
                elif rem <= 0:
                    i -= 1
                    break
                elif rem >= 3 and pattern[i + 1] == 45:
                    members.append((2, pattern[i], pattern[i + 2]))
                    i += 2
                else:
                    members.append((1, pattern[i], 0))
                i += 1
            out.append(_regex_class(_class_bytes(members, negate, nocase)))
        else:
            if c == 92 and i + 1 < n:  # backslash escapes the next byte
                i += 1
                c = pattern[i]
            if nocase and (65 <= c <= 90 or 97 <= c <= 122):
                out.append(_regex_class(sorted({c | 32, c & ~32})))
            else:
                out.append(re.escape(bytes([c])))
        i += 1
    return out


class Matcher(object):
    """A compiled Redis glob: C{match(string)} is true when Redis' would be."""

    __slots__ = ("empty", "segments", "lengths", "stars")

    def __init__(self, pattern, nocase=False):
        self.empty = not pattern
        segments = [[]]
        for atom in _atoms(pattern, nocase):
            if atom is _STAR:
                segments.append([])
            else:
                segments[-1].append(atom)
        self.stars = len(segments) > 1
        self.lengths = [len(s) for s in segments]
        self.segments = [re.compile(b"".join(s)) for s in segments]

    def match(self, string):
        """Whether C{string} (bytes) matches."""
        if not string:
            return self.empty
        segs = self.segments
        if not self.stars:
            return segs[0].fullmatch(string) is not None
        lengths = self.lengths
        n = len(string)
        first = lengths[0]
        last = lengths[-1]
        if first + last > n:
            return False
        if first and segs[0].match(string) is None:
            return False
        pos = first
        end = n - last
        for k in range(1, len(segs) - 1):
            if not lengths[k]:
                continue
            m = segs[k].search(string, pos, end)
            if m is None:
                return False
            pos = m.end()
        if last and segs[-1].fullmatch(string, end) is None:
            return False
        return True


def compile_pattern(pattern, nocase=False):
    """The compiled L{Matcher} for a Redis glob C{pattern} (bytes), cached."""
    key = (pattern, nocase)
    m = _CACHE.get(key)
    if m is None:
        if len(_CACHE) > 1024:
            _CACHE.clear()
        m = _CACHE[key] = Matcher(pattern, nocase)
    return m


def stringmatch(pattern, string, nocase=False):
    """Whether C{string} matches the Redis glob C{pattern} (both bytes)."""
    if isinstance(pattern, str):
        pattern = pattern.encode()
    return compile_pattern(pattern, nocase).match(string)

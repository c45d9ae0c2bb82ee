"""Redis' glob matching (stringmatchlen), used by KEYS, SCAN MATCH and CONFIG GET.

C{*} any run, C{?} one byte, C{[abc]}, C{[^a]}, C{[a-z]} (reversed ranges
too), C{\\x} a literal.  Patterns are translated once to a compiled regular
expression and cached; the translation follows util.c's rules, including an
unterminated C{[} (which runs to the end of the pattern).
"""

import re

__all__ = ["stringmatch", "compile_pattern"]

_CACHE = {}


def _translate(pattern):
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 42:  # *
            while i + 1 < n and pattern[i + 1] == 42:
                i += 1
            out.append(b"[\\s\\S]*")
        elif c == 63:  # ?
            out.append(b"[\\s\\S]")
        elif c == 91:  # [
            i += 1
            negate = i < n and pattern[i] == 94
            if negate:
                i += 1
            items = []
            while i < n and pattern[i] != 93:
                if pattern[i] == 92 and i + 1 < n:
                    i += 1
                    items.append(re.escape(bytes([pattern[i]])))
                elif i + 2 < n and pattern[i + 1] == 45:
                    lo, hi = pattern[i], pattern[i + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    items.append(re.escape(bytes([lo])) + b"-" + re.escape(bytes([hi])))
                    i += 2
                else:
                    items.append(re.escape(bytes([pattern[i]])))
                i += 1
            body = b"".join(items)
            if not body:
                out.append(b"[\\s\\S]" if negate else b"(?!)")
            else:
                out.append(b"[" + (b"^" if negate else b"") + body + b"]")
        elif c == 92 and i + 1 < n:  # backslash
            i += 1
            out.append(re.escape(bytes([pattern[i]])))
        else:
            out.append(re.escape(bytes([c])))
        i += 1
    return b"".join(out) + b"\\Z"


def compile_pattern(pattern, nocase=False):
    """The compiled matcher (C{.match}) for a Redis glob C{pattern} (bytes)."""
    key = (pattern, nocase)
    rx = _CACHE.get(key)
    if rx is None:
        if len(_CACHE) > 1024:
            _CACHE.clear()
        rx = re.compile(_translate(pattern), re.DOTALL | (re.IGNORECASE if nocase else 0))
        _CACHE[key] = rx
    return rx


def stringmatch(pattern, string, nocase=False):
    """Whether C{string} matches the Redis glob C{pattern} (both bytes)."""
    if isinstance(pattern, str):
        pattern = pattern.encode()
    return compile_pattern(pattern, nocase).match(string) is not None

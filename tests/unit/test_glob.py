"""sonic.glob against a direct transcription of Redis' stringmatchlen loop."""

import time

from hypothesis import given, settings, strategies as st

from sonic.glob import stringmatch


def _lower(c):
    return c + 32 if 65 <= c <= 90 else c


def _signed(c):
    return c - 256 if c >= 128 else c


def reference(p, s, nocase=False):
    """util.c stringmatchlen_impl, step by step (bytes past the end read as NUL)."""
    p = p + b"\x00"

    def rec(pi, plen, si, slen):
        while plen and slen:
            c = p[pi]
            if c == 42:
                while plen and p[pi + 1] == 42:
                    pi += 1
                    plen -= 1
                if plen == 1:
                    return True
                while slen:
                    if rec(pi + 1, plen - 1, si, slen):
                        return True
                    si += 1
                    slen -= 1
                return False
            elif c == 63:
                si += 1
                slen -= 1
            elif c == 91:
                pi += 1
                plen -= 1
                neg = p[pi] == 94
                if neg:
                    pi += 1
                    plen -= 1
                match = False
                while True:
                    if p[pi] == 92 and plen >= 2:
                        pi += 1
                        plen -= 1
                        if p[pi] == s[si]:
                            match = True
                    elif p[pi] == 93:
                        break
                    elif plen == 0:
                        pi -= 1
                        plen += 1
                        break
                    elif plen >= 3 and p[pi + 1] == 45:
                        start, end, x = _signed(p[pi]), _signed(p[pi + 2]), _signed(s[si])
                        if start > end:
                            start, end = end, start
                        if nocase:
                            start, end, x = _lower(start), _lower(end), _lower(x)
                        pi += 2
                        plen -= 2
                        if start <= x <= end:
                            match = True
                    else:
                        if (p[pi] == s[si]) if not nocase else (_lower(p[pi]) == _lower(s[si])):
                            match = True
                    pi += 1
                    plen -= 1
                if neg:
                    match = not match
                if not match:
                    return False
                si += 1
                slen -= 1
            else:
                if c == 92 and plen >= 2:
                    pi += 1
                    plen -= 1
                a, b = p[pi], s[si]
                if (a != b) if not nocase else (_lower(a) != _lower(b)):
                    return False
                si += 1
                slen -= 1
            pi += 1
            plen -= 1
            if slen == 0:
                while p[pi] == 42:
                    pi += 1
                    plen -= 1
                break
        return plen == 0 and slen == 0

    return rec(0, len(p) - 1, 0, len(s))


def test_basic_patterns():
    """The documented KEYS examples behave as in Redis."""
    assert stringmatch(b"h?llo", b"hello")
    assert stringmatch(b"h*llo", b"heeeello")
    assert stringmatch(b"h[ae]llo", b"hallo")
    assert not stringmatch(b"h[ae]llo", b"hillo")
    assert stringmatch(b"h[^e]llo", b"hallo")
    assert not stringmatch(b"h[^e]llo", b"hello")
    assert stringmatch(b"h[a-b]llo", b"hbllo")
    assert stringmatch(b"a\\*b", b"a*b")
    assert not stringmatch(b"a\\*b", b"axb")


def test_empty_string_and_pattern():
    """A non-empty pattern never matches the empty string; the empty pattern matches only it."""
    assert not stringmatch(b"*", b"")
    assert not stringmatch(b"**", b"")
    assert stringmatch(b"", b"")
    assert not stringmatch(b"", b"a")
    assert stringmatch(b"*", b"a")


def test_odd_classes():
    """Unterminated classes, [a-] ranges, reversed and signed ranges follow Redis' loop."""
    cases = [(b"[a-]", b"]"), (b"[a-]", b"b"), (b"[", b"a"), (b"[^", b"a"), (b"[abc", b"c"),
             (b"[z-a]", b"m"), (b"[a-\xff]", b"b"), (b"[a-\xff]", b"\x80"), (b"[\x80-a]", b"\x90"),
             (b"[\\", b"\\"), (b"[]", b"a"), (b"[^]", b"a"), (b"a[", b"ab"), (b"a[^", b"ab")]
    for p, s in cases:
        assert stringmatch(p, s) == reference(p, s), (p, s)


def test_nocase():
    """nocase folds ASCII letters only, as tolower in the C locale, escapes in classes exact."""
    for p, s in [(b"HEL*", b"hello"), (b"[A-Z]", b"q"), (b"[Z-a]", b"m"), (b"[\\A]", b"a"),
                 (b"\\A", b"a"), (b"[^A]", b"a"), (b"\xc9", b"\xe9")]:
        assert stringmatch(p, s, nocase=True) == reference(p, s, True), (p, s)


alphabet = st.sampled_from(b"ab*?[]^-\\\x80\xffA")
patterns = st.lists(alphabet, max_size=8).map(bytes)
strings = st.lists(st.sampled_from(b"ab]^-\\\x80\xffA*?["), max_size=8).map(bytes)


@settings(max_examples=800, deadline=None)
@given(patterns, strings, st.booleans())
def test_agrees_with_reference(pattern, string, nocase):
    """Any pattern and string over the tricky bytes match exactly when Redis' loop says so."""
    assert stringmatch(pattern, string, nocase) == reference(pattern, string, nocase)


def test_no_catastrophic_backtracking():
    """Many stars against a long near-miss string stay fast (no exponential backtracking)."""
    start = time.perf_counter()
    assert not stringmatch(b"*a*a*a*a*a*a*a*a*b", b"a" * 5000)
    assert time.perf_counter() - start < 0.5

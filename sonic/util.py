"""Small helpers shared by the parser and the commands; no I/O, no Twisted.

Number parsing follows Redis' util.c rules exactly, since they decide which
arguments get C{value is not an integer or out of range}.
"""

import math

LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)


def string2ll(s):
    """Parse C{s} (bytes) as Redis' string2ll does; return an int or None.

    No leading zeros, no C{+}, no spaces, at most 20 characters, within
    a signed 64-bit range.  C{-0} is refused, C{0} accepted.
    """
    n = len(s)
    if n == 0 or n >= 21:
        return None
    if n == 1 and s[0] == 48:
        return 0
    if s[0] == 45:
        digits = s[1:]
        if not digits or not 49 <= digits[0] <= 57 or not digits.isdigit():
            return None
        v = -int(digits)
        return v if v >= LLONG_MIN else None
    if not 49 <= s[0] <= 57 or not s.isdigit():
        return None
    v = int(s)
    return v if v <= LLONG_MAX else None


def string2ld(s):
    """Parse C{s} as Redis' string2ld/strtold for INCRBYFLOAT; return float or None.

    Spaces are refused (Redis checks C{isspace} on the first byte and that the
    whole string was consumed), as are NaN and the empty string.
    """
    if not s or len(s) > 5000 or s[:1].isspace() or s[-1:].isspace():
        return None
    try:
        text = s.decode("ascii")
    except UnicodeDecodeError:
        return None
    low = text.lower()
    if "nan" in low or "_" in text:
        return None
    try:
        v = float(text)
    except ValueError:
        if low.startswith(("0x", "-0x", "+0x")):
            try:
                return float.fromhex(text)
            except ValueError:
                return None
        return None
    return v


def format_ld(value):
    """Format a long double the way Redis' ld2string(LD_STR_HUMAN) does (INCRBYFLOAT).

    Up to 17 significant digits, no exponent, trailing zeros removed.
    """
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    text = "%.17f" % value
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    # %.17f keeps 17 decimals, not 17 significant digits: round to 17 significant.
    digits = "%.17g" % value
    if "e" not in digits:
        text = digits
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text == "-0":
            text = "0"
    return text.encode()

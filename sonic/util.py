"""Small helpers shared by the parser and the commands; no I/O, no Twisted.

Number parsing follows Redis' util.c rules exactly, since they decide which
arguments get C{value is not an integer or out of range}.

INCRBYFLOAT (and HINCRBYFLOAT) compute in C's C{long double}, which on the
x86-64 Linux build of Redis is the x87 80-bit format: a 64-bit significand,
11 more bits than a Python float.  Doing those sums in Python floats gives
visibly different replies (C{10.5 + 0.1} is C{10.6} in Redis, C{10.59999999999999964}
with doubles), so L{LongDouble} models that format exactly with integers:
parsing (glibc C{strtold}), addition and C{%.17Lf} formatting are each
correctly rounded, round-half-even, as the C library does them.
"""

import math
import re

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


# -- x87 80-bit long double -------------------------------------------------

#: Significand bits (the integer bit is explicit in the x87 format).
LD_MANT_BITS = 64
#: Exponent of the last significand bit of the smallest subnormal (2**-16445).
LD_MIN_EXP = -16445
#: Largest exponent with a full significand: the maximum is (2**64-1) * 2**16320.
LD_MAX_EXP = 16320
#: Longest string string2ld accepts (Redis' MAX_LONG_DOUBLE_CHARS buffer, less its NUL).
MAX_LONG_DOUBLE_CHARS = 5 * 1024

_TWO64 = 1 << 64
_TEN17 = 10 ** 17
_TEN4000 = 10 ** 4000
_INF = float("inf")
_DBL_MAX = 1.7976931348623157e308

_DECIMAL = re.compile(rb"([+-]?)(?:([0-9]+)\.?([0-9]*)|\.([0-9]+))(?:[eE]([+-]?)([0-9]+))?\Z")
_HEXFLOAT = re.compile(
    rb"([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))(?:[pP]([+-]?)([0-9]+))?\Z")
_INFINITY = re.compile(rb"([+-]?)(?:inf|infinity)\Z", re.IGNORECASE)


def _digits_to_int(digits, base=10):
    """int(C{digits}) without CPython's 4300-digit guard (inputs here reach 5119 digits)."""
    if len(digits) <= 4000:
        return int(digits, base)
    n = 0
    for i in range(0, len(digits), 4000):
        chunk = digits[i:i + 4000]
        n = n * base ** len(chunk) + int(chunk, base)
    return n


def _int_to_digits(n):
    """str(C{n}) for a non-negative int of any size (long doubles reach 4933 digits)."""
    if n < _TEN4000:
        return b"%d" % n
    high, low = divmod(n, _TEN4000)
    return _int_to_digits(high) + (b"%d" % low).rjust(4000, b"0")


def _round_ld(num, den):
    """Round C{num/den} (C{num} >= 0, C{den} > 0) to the nearest long double.

    Returns (mantissa, exponent) with value mantissa * 2**exponent and
    mantissa < 2**64 (0 when the value rounds to zero), or None when it
    rounds to infinity.  Ties go to the even mantissa, as the FPU does.
    """
    if num == 0:
        return 0, 0
    exp = num.bit_length() - den.bit_length() - LD_MANT_BITS
    if exp < LD_MIN_EXP:
        exp = LD_MIN_EXP
    while True:
        if exp >= 0:
            divisor = den << exp
            q, r = divmod(num, divisor)
        else:
            divisor = den
            q, r = divmod(num << -exp, den)
        if q < _TWO64:
            break
        exp += 1
    twice = r << 1
    if twice > divisor or (twice == divisor and q & 1):
        q += 1
        if q == _TWO64:
            q >>= 1
            exp += 1
    if exp > LD_MAX_EXP:
        return None
    return q, exp


class LongDouble(float):
    """A finite x87 long double, exactly: C{mant * 2**exp} (|mant| < 2**64).

    It is also a float (the nearest double, clamped to the largest finite
    double so that C{math.isinf} stays false), so code that wants a double
    can use it as one; C{+} and C{-} with another number are done at long double
    precision and give a L{LongDouble}, or a float infinity on overflow.
    """
    __slots__ = ("mant", "exp")

    def __new__(cls, mant, exp=0):
        if mant == 0:
            approx = 0.0
        elif exp >= 0:
            try:
                approx = float(mant << exp)
            except OverflowError:
                approx = _DBL_MAX if mant > 0 else -_DBL_MAX
        else:
            try:
                approx = mant / (1 << -exp)  # int / int is correctly rounded
            except OverflowError:
                approx = _DBL_MAX if mant > 0 else -_DBL_MAX
        self = float.__new__(cls, approx)
        self.mant = mant
        self.exp = exp
        return self

    @classmethod
    def from_ratio(cls, num, den=1):
        """The long double nearest C{num/den}; a float infinity if it overflows."""
        neg = num < 0
        rounded = _round_ld(-num if neg else num, den)
        if rounded is None:
            return -_INF if neg else _INF
        mant, exp = rounded
        return cls(-mant if neg else mant, exp)

    def __repr__(self):
        return "LongDouble(%d, %d)" % (self.mant, self.exp)

    def __add__(self, other):
        parts = _ld_parts(other)
        if parts is None:
            if isinstance(other, (int, float)):
                return float(self) + float(other)  # inf or nan stays a float
            return NotImplemented
        m1, e1 = self.mant, self.exp
        m2, e2 = parts
        low = min(e1, e2)
        total = (m1 << (e1 - low)) + (m2 << (e2 - low))
        if low >= 0:
            return LongDouble.from_ratio(total << low)
        return LongDouble.from_ratio(total, 1 << -low)

    __radd__ = __add__

    def __neg__(self):
        return LongDouble(-self.mant, self.exp)

    def __sub__(self, other):
        if isinstance(other, (int, float)):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other):
        return (-self) + other


def _ld_parts(value):
    """(mant, exp) of a finite number as a long double, or None for inf/nan/non-numbers."""
    if isinstance(value, LongDouble):
        return value.mant, value.exp
    if isinstance(value, float):
        if value != value or value in (_INF, -_INF):
            return None
        num, den = value.as_integer_ratio()  # den is a power of two: exact
        return num, 1 - den.bit_length()
    if isinstance(value, int) and not isinstance(value, bool):
        ld = LongDouble.from_ratio(value)
        return None if isinstance(ld, float) and not isinstance(ld, LongDouble) else (ld.mant, ld.exp)
    return None


def string2ld(s):
    """Parse C{s} (bytes) as Redis' string2ld does (glibc strtold); return a value or None.

    The whole string must be a number (no spaces anywhere, nothing after
    it, at most 5119 bytes): decimal with optional exponent, C hex float
    (C{0x1p-3}), or C{inf}/C{infinity} (then a float infinity is returned).
    NaN is refused, and so is a finite number that overflows to infinity or
    underflows to zero (strtold's ERANGE).  Finite results are
    L{LongDouble}s rounded exactly as strtold rounds.
    """
    n = len(s)
    if n == 0 or n >= MAX_LONG_DOUBLE_CHARS:
        return None
    m = _DECIMAL.match(s)
    if m is not None:
        sign, whole, frac, only_frac, exp_sign, exp_digits = m.groups()
        digits = (whole or b"") + (frac or only_frac or b"")
        shift = -len(frac or only_frac or b"")
        digits = digits.lstrip(b"0")
        neg = sign == b"-"
        if not digits:
            return LongDouble(0)
        exp10 = _exponent(exp_sign, exp_digits)
        if exp10 is None:
            return None  # astronomically large exponent on a non-zero number
        exp10 += shift
        magnitude = len(digits) + exp10  # value < 10**magnitude
        if magnitude > 4934:
            return None  # overflow (long double max is 1.19e4932)
        if magnitude < -4952:
            return None  # underflow to zero (half the smallest subnormal is 1.8e-4951)
        mant = _digits_to_int(digits)
        if exp10 >= 0:
            value = LongDouble.from_ratio(mant * 10 ** exp10)
        else:
            value = LongDouble.from_ratio(mant, 10 ** -exp10)
        return _finish(value, neg)
    m = _HEXFLOAT.match(s)
    if m is not None:
        sign, whole, frac, only_frac, exp_sign, exp_digits = m.groups()
        fraction = frac or only_frac or b""
        digits = ((whole or b"") + fraction).lstrip(b"0")
        neg = sign == b"-"
        if not digits:
            return LongDouble(0)
        exp2 = _exponent(exp_sign, exp_digits)
        if exp2 is None:
            return None
        exp2 -= 4 * len(fraction)
        mant = _digits_to_int(digits, 16)
        top = mant.bit_length() + exp2  # value < 2**top
        if top > 16385:
            return None
        if top < LD_MIN_EXP - 2:
            return None
        if exp2 >= 0:
            value = LongDouble.from_ratio(mant << exp2)
        else:
            value = LongDouble.from_ratio(mant, 1 << -exp2)
        return _finish(value, neg)
    m = _INFINITY.match(s)
    if m is not None:
        return -_INF if m.group(1) == b"-" else _INF
    return None


def _exponent(sign, digits):
    """The signed exponent of a number's C{e}/C{p} part (0 if none); None if absurdly large."""
    if digits is None:
        return 0
    digits = digits.lstrip(b"0") or b"0"
    if len(digits) > 9:
        return None if sign != b"-" else -(10 ** 9)
    value = int(digits)
    return -value if sign == b"-" else value


def _finish(value, neg):
    """Apply the sign to a parsed magnitude; None for ERANGE (overflow or underflow)."""
    if not isinstance(value, LongDouble) or value.mant == 0:
        return None
    return -value if neg else value


def format_ld(value):
    """Format a long double the way Redis' ld2string(LD_STR_HUMAN) does (INCRBYFLOAT).

    That is C{printf("%.17Lf")} (exact binary value rounded half-even to 17
    decimals), then trailing zeros and a trailing C{.} removed, and C{-0}
    written C{0}; infinities are C{inf} / C{-inf}.  Accepts a L{LongDouble},
    a float or an int; returns bytes.
    """
    if isinstance(value, LongDouble):
        mant, exp = value.mant, value.exp
    elif isinstance(value, float):
        if value != value:
            return b"nan"
        if value in (_INF, -_INF):
            return b"inf" if value > 0 else b"-inf"
        num, den = value.as_integer_ratio()
        mant, exp = num, 1 - den.bit_length()
        if mant == 0 and math.copysign(1.0, value) < 0:
            return b"0"
    else:
        mant, exp = int(value), 0
    neg = mant < 0
    if neg:
        mant = -mant
    if exp >= 0:
        text = _int_to_digits(mant << exp)
    else:
        divisor = 1 << -exp
        q, r = divmod(mant * _TEN17, divisor)
        twice = r << 1
        if twice > divisor or (twice == divisor and q & 1):
            q += 1
        whole, frac = divmod(q, _TEN17)
        text = _int_to_digits(whole)
        if frac:
            text += b"." + (b"%017d" % frac).rstrip(b"0")
    if neg:
        text = b"-" + text
    if text == b"-0":
        return b"0"
    return text


def string2d(s):
    """Parse C{s} as Redis' string2d / getDoubleFromObject (strtod); return a float or None.

    The same syntax as L{string2ld}, at double precision: NaN, spaces,
    trailing bytes, overflow to infinity and underflow to zero are refused.
    """
    n = len(s)
    if n == 0:
        return None
    if n < 300 and s.isdigit():
        return float(s)  # the common case (ZADD 1 m): plain digits, exact rounding
    if _DECIMAL.match(s) is not None:
        value = float(s)  # the syntax is checked; Python's float() rounds correctly
        if value in (_INF, -_INF):
            return None
        if value == 0.0 and s.lstrip(b"+-").lstrip(b"0.").split(b"e")[0].split(b"E")[0].strip(b"0."):
            return None
        return value
    m = _HEXFLOAT.match(s)
    if m is not None:
        try:
            value = float.fromhex(s.decode("ascii"))
        except (OverflowError, ValueError):
            return None
        if value == 0.0 and s.lstrip(b"+-")[2:].split(b"p")[0].split(b"P")[0].strip(b"0."):
            return None
        return value
    m = _INFINITY.match(s)
    if m is not None:
        return -_INF if m.group(1) == b"-" else _INF
    return None

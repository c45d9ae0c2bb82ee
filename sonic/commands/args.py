"""Argument converters shared by the commands; each raises Redis' exact error.

(fakeredis' C{Int.decode}, Redis' getLongLongFromObjectOrReply.)
"""

from sonic import errors
from sonic.errors import CommandError
from sonic.util import string2ll

__all__ = ["to_int", "to_float"]


def to_int(value, message=errors.NOT_INTEGER):
    """C{value} (bytes) as a signed 64-bit integer, or CommandError(C{message})."""
    n = string2ll(value)
    if n is None:
        raise CommandError(message)
    return n


def to_float(value, message=errors.NOT_FLOAT):
    """C{value} as a double (strtod rules, NaN refused), or CommandError(C{message})."""
    from sonic.util import string2ld
    v = string2ld(value)
    if v is None:
        raise CommandError(message)
    return v

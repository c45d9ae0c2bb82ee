"""CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR and CLIENT TRACKINGINFO (client-side caching).

The options are parsed and checked in the order of Redis 7.0's clientCommand,
with its error texts; the tables and the delivery of invalidation messages
are in L{sonic.tracking}.
"""

from sonic import errors
from sonic.commands.args import to_int
from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import OK, RSet, Raw
from sonic.tracking import tracking_of

__all__ = []


def _c_text(value):
    """A prefix as Redis' C{%s} prints it: up to the first NUL byte."""
    return value.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _overlap(a, b):
    """Redis' stringCheckPrefix: whether one of C{a}, C{b} starts with the other."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _check_prefixes(st, prefixes):
    """Redis' checkPrefixCollisionsOrReply: None if fine, else (error, enable_anyway).

    Redis 7.0 returns the index of the colliding prefix when two given
    prefixes overlap, so for any but the first it has replied with the
    error and then goes on to enable tracking and reply +OK as well.
    """
    existing = sorted(st.prefixes) if st is not None and st.prefixes else ()
    for i, prefix in enumerate(prefixes):
        for old in existing:
            if _overlap(old, prefix):
                return errors.TRACKING_PREFIX_EXISTING % (_c_text(prefix), _c_text(old)), False
        for other in prefixes[i + 1:]:
            if _overlap(prefix, other):
                return errors.TRACKING_PREFIX_PROVIDED % (_c_text(prefix), _c_text(other)), i > 0
    return None


@command("client|tracking")
def client_tracking(client, mode, *options):
    """CLIENT TRACKING ON|OFF [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]"""
    server = client.server
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes = []
    j = 0
    n = len(options)
    while j < n:
        opt = options[j].lower()
        more = n - 1 - j
        if opt == b"redirect" and more:
            j += 1
            if redirect != 0:
                raise CommandError(errors.TRACKING_ONE_REDIRECT)
            redirect = to_int(options[j])
            if redirect <= 0 or redirect not in server.clients:
                raise CommandError(errors.TRACKING_NO_REDIRECT_CLIENT)
        elif opt == b"bcast":
            bcast = True
        elif opt == b"optin":
            optin = True
        elif opt == b"optout":
            optout = True
        elif opt == b"noloop":
            noloop = True
        elif opt == b"prefix" and more:
            j += 1
            prefixes.append(options[j])
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    word = mode.lower()
    if word == b"on":
        st = client.tracking
        if not bcast and prefixes:
            raise CommandError(errors.TRACKING_PREFIX_NEEDS_BCAST)
        if st is not None and st.bcast != bcast:
            raise CommandError(errors.TRACKING_BCAST_SWITCH)
        if bcast and (optin or optout):
            raise CommandError(errors.TRACKING_BCAST_OPTIN)
        if optin and optout:
            raise CommandError(errors.TRACKING_OPTIN_OPTOUT)
        if st is not None and ((optin and st.optout) or (optout and st.optin)):
            raise CommandError(errors.TRACKING_OPT_SWITCH)
        late_error = None
        if bcast:
            collision = _check_prefixes(st, prefixes)
            if collision is not None:
                message, enable_anyway = collision
                if not enable_anyway:
                    raise CommandError(message)
                late_error = message
        tracking_of(server).enable(client, redirect, bcast, optin, optout, noloop, prefixes)
        if late_error is not None:
            # Redis 7.0.15 sends both replies here (see _check_prefixes).
            line = errors.sanitize(late_error).encode("utf-8", "surrogateescape")
            return Raw(b"-" + line + b"\r\n+OK\r\n")
    elif word == b"off":
        if client.tracking is not None:
            server.tracking.disable(client)
    else:
        raise CommandError(errors.SYNTAX)
    return OK


@command("client|caching")
def client_caching(client, mode):
    """CLIENT CACHING YES|NO"""
    st = client.tracking
    if st is None:
        raise CommandError(errors.CACHING_NOT_TRACKING)
    word = mode.lower()
    if word == b"yes":
        if not st.optin:
            raise CommandError(errors.CACHING_YES_OPTIN)
    elif word == b"no":
        if not st.optout:
            raise CommandError(errors.CACHING_NO_OPTOUT)
    else:
        raise CommandError(errors.SYNTAX)
    st.caching = True
    return OK


@command("client|getredir")
def client_getredir(client):
    """CLIENT GETREDIR"""
    st = client.tracking
    return -1 if st is None else st.redirect


@command("client|trackinginfo")
def client_trackinginfo(client):
    """CLIENT TRACKINGINFO"""
    st = client.tracking
    if st is None:
        return {"flags": RSet([b"off"]), "redirect": -1, "prefixes": []}
    flags = [b"on"]
    if st.bcast:
        flags.append(b"bcast")
    if st.optin:
        flags.append(b"optin")
        if st.caching:
            flags.append(b"caching-yes")
    if st.optout:
        flags.append(b"optout")
        if st.caching:
            flags.append(b"caching-no")
    if st.noloop:
        flags.append(b"noloop")
    if st.broken:
        flags.append(b"broken_redirect")
    return {"flags": RSet(flags), "redirect": st.redirect, "prefixes": sorted(st.prefixes)}

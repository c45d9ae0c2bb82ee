"""The RESP request parsers and the reply encoders (sonic/resp.py).

Properties (Hypothesis), as h11's fuzzer states them: any bytes either parse
into argv lists or raise L{ProtocolError}, never anything else; how the input
is split into chunks changes nothing; and L{HiredisParser} answers exactly as
L{RespParser} does.  Then one case per Redis protocol error and limit, the
linearity of byte-by-byte feeding, and every reply type in RESP2 and RESP3.
"""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonic import errors
from sonic.errors import ProtocolError
from sonic.resp import (
    CANONICAL_MAX, NULL_ARRAY, OK, PONG, QUEUED, Error, HiredisParser, Push, Raw, RespParser,
    RSet, Status, Verbatim, canonical_request, encode, format_double, hiredis, make_parser,
    split_args)

needs_hiredis = pytest.mark.skipif(hiredis is None, reason="hiredis is not installed")

PARSERS = [RespParser] + ([HiredisParser] if hiredis is not None else [])


def run(parser, chunks):
    """Feed C{chunks} one after the other, draining commands after each.

    @return: (list of argv, the protocol error's message or None).  Nothing
        is fed after an error, as the connection is then closed.
    """
    commands = []
    for chunk in chunks:
        parser.feed(chunk)
        try:
            while True:
                argv = parser.gets()
                if argv is None:
                    break
                assert type(argv) is list and argv, argv
                assert all(type(a) is bytes for a in argv), argv
                commands.append(argv)
        except ProtocolError as e:
            return commands, e.message
    return commands, None


def parse(data, parser_class=RespParser, **attrs):
    """Parse C{data} fed whole; return (commands, error)."""
    parser = parser_class()
    for name, value in attrs.items():
        setattr(parser, name, value)
    return run(parser, [data])


def bytewise(data):
    """C{data} as one-byte chunks."""
    return [data[i:i + 1] for i in range(len(data))]


def split_at(data, cuts):
    """C{data} cut at the given offsets (taken modulo its length)."""
    if not data:
        return [data]
    points = sorted(set(c % (len(data) + 1) for c in cuts))
    out, last = [], 0
    for p in points + [len(data)]:
        out.append(data[last:p])
        last = p
    return out


def multibulk(args):
    """The canonical RESP encoding of one request."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


# ---------------------------------------------------------------------------
# Strategies

payloads = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"", b"\r\n", b"\0", b"*1\r\n", b"$3\r\n", b'"', b"+OK"]),
    st.integers(min_value=0, max_value=3).map(lambda k: b"x" * (20000 * k + 1)),
)
valid_multibulk = st.lists(payloads, min_size=1, max_size=5).map(multibulk)

plain_word = st.binary(min_size=1, max_size=8).map(
    lambda b: bytes(c for c in b if c not in b" \t\r\n\v\f\"'\0") or b"w")
dq_word = st.lists(st.one_of(
    st.binary(max_size=5).map(lambda b: bytes(c for c in b if c not in b'"\\\0\r\n')),
    st.sampled_from([b"\\n", b"\\r", b"\\t", b"\\b", b"\\a", b'\\"', b"\\\\", b"\\x41",
                     b"\\xZZ", b"\\x4", b"\\q", b" ", b"'"]),
), max_size=4).map(lambda parts: b'"' + b"".join(parts) + b'"')
sq_word = st.lists(st.one_of(
    st.binary(max_size=5).map(lambda b: bytes(c for c in b if c not in b"'\\\0\r\n")),
    st.sampled_from([b"\\'", b"\\", b'"', b" "]),
), max_size=4).map(lambda parts: b"'" + b"".join(parts) + b"'")
separators = st.sampled_from([b" ", b"  ", b"\t", b"\v", b"\f", b" \r", b""])
inline_line = st.lists(st.tuples(st.one_of(plain_word, dq_word, sq_word), separators),
                       max_size=5).map(lambda ws: b"".join(w + s for w, s in ws))
inline_request = st.tuples(inline_line, st.sampled_from([b"\r\n", b"\n", b"\r\r\n"])).map(
    lambda t: t[0] + t[1])

# Small pieces of RESP syntax shuffled together: framing edge cases galore.
TOKENS = [b"*", b"$", b"\r", b"\n", b"\r\n", b"0", b"1", b"2", b"3", b"9", b"-", b"+", b"a",
          b" ", b'"', b"'", b"\\", b"\0", b"\xff", b"~", b"=", b"(", b"|", b"%", b":", b"_",
          b"*1\r\n", b"*2\r\n", b"$1\r\n", b"$0\r\n", b"$-1\r\n", b"*0\r\n", b"*-1\r\n",
          b"PING", b"+PING\r\n", b"=8\r\ntxt:PING\r\n", b"~1\r\n", b"$01\r\n", b"*01\r\n"]
token_soup = st.lists(st.sampled_from(TOKENS), max_size=30).map(b"".join)


@st.composite
def mutated(draw, base):
    """A valid stream with a few bytes replaced, inserted or deleted."""
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.sampled_from(list(b"*$\r\n0123456789-+ \"'\0a~=(")))
        if op == "replace":
            data[i] = byte
        elif op == "insert":
            data.insert(i, byte)
        else:
            del data[i]
    return bytes(data)


# Requests whose elements use every RESP type, not only $ bulks: hiredis
# reads several of them as bytes or lists, Redis refuses them.
typed_element = st.one_of(
    payloads.map(lambda p: b"$%d\r\n%s\r\n" % (len(p), p)),
    plain_word.map(lambda w: b"+" + w + b"\r\n"),
    st.integers(0, 999).map(lambda i: b"(%d\r\n" % i),
    plain_word.map(lambda w: b"=%d\r\ntxt:%s\r\n" % (len(w) + 4, w)),
    st.integers(-5, 5).map(lambda i: b":%d\r\n" % i),
    st.sampled_from([b"_\r\n", b"#t\r\n", b",1.5\r\n", b"-ERR x\r\n", b"*1\r\n$1\r\na\r\n"]),
)
typed_stream = st.lists(
    st.tuples(st.sampled_from([b"*", b"*", b"~", b">", b"%"]), st.lists(typed_element, max_size=4)).map(
        lambda t: t[0] + b"%d\r\n" % len(t[1]) + b"".join(t[1])),
    min_size=1, max_size=4).map(b"".join)

valid_stream = st.lists(st.one_of(valid_multibulk, inline_request, st.just(b"*0\r\n"),
                                  st.just(b"*-1\r\n"), st.just(b"\r\n")),
                        min_size=1, max_size=6).map(b"".join)
any_stream = st.one_of(
    valid_stream,
    typed_stream,
    st.binary(max_size=200),
    token_soup,
    mutated(valid_stream),
    st.tuples(valid_stream, st.one_of(token_soup, st.binary(max_size=30))).map(b"".join),
)
cuts = st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=8)

fuzz = settings(max_examples=400, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------------------
# (a) any bytes: commands or ProtocolError, never anything else


# pytest-twisted wraps a Hypothesis test once per pytest item, so the
# properties below loop over parsers and options instead of parametrizing.


@fuzz
@given(data=st.one_of(st.binary(max_size=300), any_stream))
def test_any_bytes_parse_or_raise_protocol_error(data):
    """Whatever bytes arrive, the parser yields lists of bytes or raises ProtocolError only."""
    for parser_class in PARSERS:
        for auth_required in (False, True):
            parser = parser_class()
            parser.auth_required = auth_required
            # run() lets only ProtocolError through as a result; anything else fails here.
            commands, error = run(parser, [data])
            if error is not None:
                assert error.startswith("ERR Protocol error: ")


# ---------------------------------------------------------------------------
# (b) chunking changes nothing


@fuzz
@given(data=any_stream, cut=cuts)
def test_chunking_does_not_change_the_result(data, cut):
    """Whole, byte-by-byte and randomly split feeding give the same commands and error."""
    for parser_class in PARSERS:
        whole = run(parser_class(), [data])
        assert run(parser_class(), bytewise(data)) == whole
        assert run(parser_class(), split_at(data, cut)) == whole


@settings(max_examples=100, deadline=None)
@given(args=st.lists(st.lists(payloads, min_size=1, max_size=4), min_size=1, max_size=4),
       cut=cuts)
def test_valid_requests_round_trip(args, cut):
    """Canonically encoded requests come back as exactly their arguments, however split."""
    data = b"".join(multibulk(a) for a in args)
    for parser_class in PARSERS:
        assert run(parser_class(), split_at(data, cut)) == (args, None)


# ---------------------------------------------------------------------------
# (c) hiredis and pure Python agree on everything


@needs_hiredis
@settings(max_examples=2000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=any_stream, cut=cuts, auth_required=st.booleans())
def test_hiredis_and_python_parsers_agree(data, cut, auth_required):
    """HiredisParser gives RespParser's commands and error at the same point, whole or split."""
    for chunks in ([data], split_at(data, cut)):
        slow, fast = RespParser(), HiredisParser()
        slow.auth_required = fast.auth_required = auth_required
        assert run(fast, chunks) == run(slow, chunks), chunks


@needs_hiredis
@pytest.mark.parametrize("data, expected", [
    (b"*1\r\n+PING\r\n", ([], "ERR Protocol error: expected '$', got '+'")),
    (b"*1\r\n(123\r\n", ([], "ERR Protocol error: expected '$', got '('")),
    (b"*1\r\n=8\r\ntxt:PING\r\n", ([], "ERR Protocol error: expected '$', got '='")),
    (b"*1\r\n$4\r\nPING\r\n~1\r\n$1\r\na\r\n", ([[b"PING"], [b"~1"], [b"$1"], [b"a"]], None)),
    (b"*2\r\n+0123456789\r\n=5\r\ntxt:a\r\n", ([], "ERR Protocol error: expected '$', got '+'")),
    (b"*1\r\n$1\r\naXY", ([[b"a"]], None)),
    (b"*2\r\n$3\r\nGET\r\n$1\r\n+\r\n", ([[b"GET", b"+"]], None)),
    # hiredis makes False of #f, which once read as "no more replies".
    (b"*1\r\n$4\r\nPING\r\n#f\r\n", ([[b"PING"], [b"#f"]], None)),
    (b"*1\r\n$4\r\nPING\r\n#t\r\n:0\r\n_\r\n", ([[b"PING"], [b"#t"], [b":0"], [b"_"]], None)),
    (b"*1\r\n$4\r\nPING\r\n%1\r\n$1\r\na\r\n$1\r\nb\r\n",
     ([[b"PING"], [b"%1"], [b"$1"], [b"a"], [b"$1"], [b"b"]], None)),
    (b"*1\r\n$4\r\nPING\r\n>1\r\n$4\r\nPING\r\n", ([[b"PING"], [b">1"], [b"$4"], [b"PING"]], None)),
    # Chunks the sentinel status could complete: a partial array, a bulk, an empty bulk.
    (b"*2\r\n$3\r\nGET\r\n", ([], None)),
    (b"*1\r\n$5\r\nab\r\n", ([], None)),
    (b"*1\r\n$4\r\nPING\r\n$0\r\n", ([[b"PING"], [b"$0"]], None)),
    (b"*1\r\n$4\r\nPING\r\n$0\r\n\r\n", ([[b"PING"], [b"$0"]], None)),
    (b"*1\r\n$4\r\nPING\r\n+\r\n", ([[b"PING"], [b"+"]], None)),
    # The chunk's own empty bulk or status, then a request begun: hiredis
    # answers b"" then "no reply", as for the sentinel alone.
    (b"*1\r\n$4\r\nPING\r\n$0\r\n\r\n*3\r\n$3\r\nSET\r\n", ([[b"PING"], [b"$0"]], None)),
    (b"*1\r\n$4\r\nPING\r\n$0\r\n\r\n$5\r\n", ([[b"PING"], [b"$0"], [b"$5"]], None)),
    (b"*1\r\n$4\r\nPING\r\n+\r\n*2\r\n$3\r\nGET\r\n", ([[b"PING"], [b"+"]], None)),
])
def test_hiredis_reply_types_are_not_requests(data, expected):
    """Reply types hiredis turns into bytes or lists are refused or read inline, as by Redis."""
    assert parse(data, HiredisParser) == expected
    assert parse(data, RespParser) == expected


@needs_hiredis
@pytest.mark.parametrize("chunks", [
    [b"*1\r\n$4\r\nPING\r\n$0\r\n\r\n*3\r\n$3\r\nSET\r\n", b"$1\r\nk\r\n$1\r\nv\r\n", b"*1\r\n$4\r\nPING\r\n"],
    [b"*1\r\n$4\r\nPING\r\n$0\r\n\r\n$5\r\n", b"abcde\r\n*1\r\n$4\r\nPING\r\n"],
    [b"*1\r\n$4\r\nPING\r\n$0\r\n\r\n$1\r\nx\r\n", b"*1\r\n$4\r\nPING\r\n"],
])
def test_a_request_begun_after_an_empty_bulk_is_kept(chunks):
    """A request begun after the chunk's own $0 is finished by the next chunk, as Redis reads it.

    hiredis once kept it half read (taking in the sentinel) and the chunk
    counted as whole, so the rest of the request was read as new requests.
    The last case ends in the chunk's own bulk "x", what the probe status
    gives back: a probe fed together with the sentinel would take it for
    its own.
    """
    assert run(HiredisParser(), chunks) == run(RespParser(), chunks)


# A request that a later chunk finishes, after top-level elements of any type.
def _ending_in_newline(data):
    """C{data} as a chunk the hiredis path takes: ending in a newline."""
    return data if data.endswith(b"\n") else data + b"\n"


begun_request = st.tuples(valid_multibulk, st.integers(1, 60)).map(
    lambda t: _ending_in_newline(t[0][:-t[1]]))
elements_then_begun = st.tuples(
    valid_multibulk,
    st.lists(st.one_of(st.sampled_from([b"$0\r\n\r\n", b"+\r\n"]), typed_element, valid_multibulk),
             max_size=3),
    begun_request,
    st.one_of(valid_stream, st.binary(max_size=40))).map(lambda t: [t[0] + b"".join(t[1]) + t[2], t[3]])


@needs_hiredis
@fuzz
@given(chunks=elements_then_begun)
def test_hiredis_and_python_parsers_agree_on_requests_begun(chunks):
    """Whole requests, top-level elements of any type, then a request begun: both parsers read the same."""
    assert run(HiredisParser(), chunks) == run(RespParser(), chunks)


@needs_hiredis
def test_hiredis_ready_holds_the_split_requests():
    """A whole chunk is split at once into C{ready}, next request last; gets() pops it, then the buffer."""
    parser = HiredisParser()
    parser.feed(multibulk([b"GET", b"a"]) + multibulk([b"SET", b"b", b"c"]) + b"*0\r\n" + multibulk([b"PING"]))
    assert parser.ready == [[b"PING"], [b"SET", b"b", b"c"], [b"GET", b"a"]]
    assert parser.ready.pop() == [b"GET", b"a"]
    parser.feed(multibulk([b"ECHO", b"x"]))  # requests still wait: this one comes behind them
    assert run(parser, [b""]) == ([[b"SET", b"b", b"c"], [b"PING"], [b"ECHO", b"x"]], None)
    assert RespParser().ready == []


@pytest.mark.parametrize("parser_class", PARSERS)
def test_a_request_inside_an_argument_is_data(parser_class):
    """Bytes that arrive while an argument is awaited belong to it, even when they read as a request.

    (HiredisParser used to hand such a chunk to hiredis once the partial
    request's header was consumed, and ran the request inside the value.)
    """
    value = multibulk([b"a"])
    head = multibulk([b"SET", b"k", value])[:-len(value) - 2]
    parser = parser_class()
    assert run(parser, [head, value, b"\r\n"]) == ([[b"SET", b"k", value]], None)
    parser = parser_class()
    assert run(parser, [b"*2\r\n$3\r\nGET\r\n", multibulk([b"x"])]) == (
        [], "ERR Protocol error: expected '$', got '*'")


@pytest.mark.parametrize("data, argv", [
    (b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", [b"GET", b"k"]),
    (b"*1\r\n$0\r\n\r\n", [b""]),
    (b"*1\r\n$4\r\na\r\nb\r\n", [b"a\r\nb"]),  # CRLF inside: left to the full parser
    (b"*2\r\n$3\r\nGET\r\n$01\r\nk\r\n", None),  # leading zero: Redis refuses it
    (b"*02\r\n$3\r\nGET\r\n$1\r\nk\r\n", None),
    (b"*+2\r\n$3\r\nGET\r\n$1\r\nk\r\n", None),
    (b"*2\r\n$3\r\nGET\r\n$+1\r\nk\r\n", None),
    (b"*2\r\n$3\r\nGET\r\n$2\r\nk\r\n", None),
    (b"*3\r\n$3\r\nGET\r\n$1\r\nk\r\n", None),
    (b"*1\r\n$3\r\nGET\r\n*1\r\n$3\r\nGET\r\n", None),  # two requests
    (b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nx", None),
    (b"*2\r\n$3\r\nGET\r\n$1\r\nk\n", None),
    (b"*2\r\n+GET\r\n$1\r\nk\r\n", None),
    (b"*0\r\n", None),
    (b"*1\r\n$0\r\n", None),
    (b"", None),
])
def test_canonical_request(data, argv):
    """The one-request shortcut takes exactly the canonical form; the full parser agrees with it."""
    got = canonical_request(data)
    if b"\r\n" in b"".join(argv or []):
        assert got is None
    else:
        assert got == argv
    if argv is not None:
        for parser_class in PARSERS:
            assert run(parser_class(), [data]) == ([argv], None)


@fuzz
@given(data=st.one_of(valid_multibulk, mutated(valid_multibulk), token_soup))
def test_canonical_request_agrees_with_the_full_parser(data):
    """Whatever the shortcut accepts, the full parser (fed byte by byte) reads as that one request."""
    if len(data) > CANONICAL_MAX:
        return
    argv = canonical_request(data)
    if argv is not None:
        assert run(RespParser(), bytewise(data)) == ([argv], None)


@needs_hiredis
def test_hiredis_respects_proto_max_bulk_len():
    """A bulk over proto-max-bulk-len is refused even when hiredis could read the chunk."""
    data = multibulk([b"SET", b"k", b"v" * 2048])
    for cls in PARSERS:
        assert parse(data, cls, max_bulk_len=1024) == ([], errors.PROTO_INVALID_BULK)
        assert parse(data, cls, max_bulk_len=2048) == ([[b"SET", b"k", b"v" * 2048]], None)


@needs_hiredis
def test_make_parser_chooses():
    """make_parser gives the hiredis-assisted parser unless told not to."""
    assert type(make_parser(True)) is HiredisParser
    assert type(make_parser(False)) is RespParser
    assert make_parser(False, 12345).max_bulk_len == 12345


# ---------------------------------------------------------------------------
# (d) each protocol error, limit and quirk of Redis 7.0

LIMIT = 64 * 1024


@pytest.mark.parametrize("parser_class", PARSERS)
@pytest.mark.parametrize("data, expected", [
    # multibulk count
    (b"*abc\r\n", ([], errors.PROTO_INVALID_MBULK)),
    (b"*\r\n", ([], errors.PROTO_INVALID_MBULK)),
    (b"*01\r\n$1\r\na\r\n", ([], errors.PROTO_INVALID_MBULK)),
    (b"*+1\r\n$1\r\na\r\n", ([], errors.PROTO_INVALID_MBULK)),
    (b"* 1\r\n", ([], errors.PROTO_INVALID_MBULK)),
    (b"*2147483648\r\n", ([], errors.PROTO_INVALID_MBULK)),
    (b"*99999999999999999999\r\n", ([], errors.PROTO_INVALID_MBULK)),
    # bulk count
    (b"*1\r\n$abc\r\n", ([], errors.PROTO_INVALID_BULK)),
    (b"*1\r\n$-1\r\n", ([], errors.PROTO_INVALID_BULK)),
    (b"*1\r\n$01\r\na\r\n", ([], errors.PROTO_INVALID_BULK)),
    (b"*1\r\n$\r\n", ([], errors.PROTO_INVALID_BULK)),
    (b"*1\r\n$536870913\r\n", ([], errors.PROTO_INVALID_BULK)),
    # what comes instead of '$'
    (b"*1\r\nPING\r\n", ([], errors.PROTO_EXPECTED_DOLLAR % "P")),
    (b"*1\r\n\r\n", ([], errors.PROTO_EXPECTED_DOLLAR % " ")),
    (b"*1\r\n\n\r\n", ([], errors.PROTO_EXPECTED_DOLLAR % " ")),
    (b"*1\r\n\xff\r\n", ([], errors.PROTO_EXPECTED_DOLLAR % "\udcff")),
    # inline quoting
    (b'SET k "a b\r\n', ([], errors.PROTO_UNBALANCED_QUOTES)),
    (b"SET k 'a\r\n", ([], errors.PROTO_UNBALANCED_QUOTES)),
    (b'SET k "a"b\r\n', ([], errors.PROTO_UNBALANCED_QUOTES)),
    (b"SET k 'a'b\r\n", ([], errors.PROTO_UNBALANCED_QUOTES)),
    # commands before an error still come out first
    (b"PING\r\n*1\r\n$4\r\nECHO\r\n*x\r\n", ([[b"PING"], [b"ECHO"]], errors.PROTO_INVALID_MBULK)),
    # ignored: *0, negative counts, empty inline lines
    (b"*0\r\n*-1\r\n*-5\r\n\r\n\n  \r\nPING\r\n", ([[b"PING"]], None)),
    # Redis skips the two bytes after a count or a bulk without looking at them
    (b"*1\rX$4\rYPINGZZ", ([[b"PING"]], None)),
    # inline splitting as sdssplitargs
    (b'SET k "a b"\r\n', ([[b"SET", b"k", b"a b"]], None)),
    (b"SET k 'a b'\n", ([[b"SET", b"k", b"a b"]], None)),
    (b'ECHO "\\x41\\n\\t\\"\\q"\r\n', ([[b"ECHO", b'A\n\t"q']], None)),
    (b"ECHO 'it\\'s' \"\"\r\n", ([[b"ECHO", b"it's", b""]], None)),
    (b'ECHO a"b c" d\r\n', ([[b"ECHO", b"ab c", b"d"]], None)),
    (b'ECHO a"b c"d\r\n', ([], errors.PROTO_UNBALANCED_QUOTES)),
    (b"ECHO \va\fb\r\n", ([[b"ECHO", b"a\fb"]], None)),
    (b"PING\rPING\n", ([[b"PING", b"PING"]], None)),
])
def test_protocol_cases(parser_class, data, expected):
    """Each framing case gives Redis' commands and error text."""
    assert parse(data, parser_class) == expected
    assert run(parser_class(), bytewise(data)) == expected


@pytest.mark.parametrize("parser_class", PARSERS)
def test_every_protocol_error_constant_is_reachable(parser_class):
    """Every PROTO_* error in sonic.errors is produced by some input."""
    cases = {
        errors.PROTO_TOO_BIG_INLINE: (b"a" * (LIMIT + 1), {}),
        errors.PROTO_UNBALANCED_QUOTES: (b'"\r\n', {}),
        errors.PROTO_TOO_BIG_MBULK: (b"*" + b"1" * (LIMIT + 1), {}),
        errors.PROTO_INVALID_MBULK: (b"*x\r\n", {}),
        errors.PROTO_UNAUTH_MBULK: (b"*11\r\n", {"auth_required": True}),
        errors.PROTO_TOO_BIG_BULK: (b"*1\r\n$" + b"1" * (LIMIT + 1), {}),
        errors.PROTO_EXPECTED_DOLLAR % "x": (b"*1\r\nx\r\n", {}),
        errors.PROTO_INVALID_BULK: (b"*1\r\n$x\r\n", {}),
        errors.PROTO_UNAUTH_BULK: (b"*1\r\n$16385\r\n", {"auth_required": True}),
    }
    names = [n for n in dir(errors) if n.startswith("PROTO_")]
    assert len(names) == len(cases)
    for message, (data, attrs) in cases.items():
        assert parse(data, parser_class, **attrs) == ([], message)


@pytest.mark.parametrize("parser_class", PARSERS)
def test_unauthenticated_limits(parser_class):
    """Before AUTH, 10 arguments and 16 KB bulks are the most; after it, they are not limits."""
    ten = multibulk([b"x"] * 10)
    big = multibulk([b"SET", b"k", b"v" * 16384])
    assert parse(ten, parser_class, auth_required=True) == ([[b"x"] * 10], None)
    assert parse(big, parser_class, auth_required=True) == ([[b"SET", b"k", b"v" * 16384]], None)
    assert parse(multibulk([b"x"] * 11), parser_class, auth_required=True) == (
        [], errors.PROTO_UNAUTH_MBULK)
    assert parse(multibulk([b"v" * 16385]), parser_class, auth_required=True) == (
        [], errors.PROTO_UNAUTH_BULK)
    assert parse(multibulk([b"x"] * 11), parser_class) == ([[b"x"] * 11], None)
    # Inline requests have no such limit.
    assert parse(b"x " * 20 + b"\r\n", parser_class, auth_required=True)[1] is None


@pytest.mark.parametrize("parser_class", PARSERS)
def test_auth_required_can_be_lifted_mid_stream(parser_class):
    """Once authenticated, the next request may be as big as any other."""
    parser = parser_class()
    parser.auth_required = True
    parser.feed(multibulk([b"AUTH", b"pw"]) + multibulk([b"x"] * 11))
    assert parser.gets() == [b"AUTH", b"pw"]
    parser.auth_required = False
    assert parser.gets() == [b"x"] * 11


@pytest.mark.parametrize("parser_class", PARSERS)
def test_proto_max_bulk_len(parser_class):
    """A bulk of exactly proto-max-bulk-len is accepted and one byte more refused."""
    assert parse(b"*1\r\n$1048576\r\n", parser_class, max_bulk_len=1048576) == ([], None)
    assert parse(b"*1\r\n$1048577\r\n", parser_class, max_bulk_len=1048576) == (
        [], errors.PROTO_INVALID_BULK)
    assert parse(b"*1\r\n$536870912\r\n", parser_class) == ([], None)


@pytest.mark.parametrize("parser_class", PARSERS)
@pytest.mark.parametrize("data, message", [
    (b"GET a\0b\r\n", errors.PROTO_TOO_BIG_INLINE),
    (b"*1\0\r\n", errors.PROTO_TOO_BIG_MBULK),
    (b"*1\r\n$1\0\r\n", errors.PROTO_TOO_BIG_BULK),
    (b"*1\r\n\0\r\n", errors.PROTO_TOO_BIG_BULK),
])
def test_nul_byte_hides_the_line_end(parser_class, data, message):
    """Redis finds line ends with strchr, so a NUL before one leaves the line open until the limit."""
    parser = parser_class()
    assert run(parser, [data]) == ([], None)
    assert run(parser, [b"x\r\n" * 100]) == ([], None)
    assert run(parser, [b"y" * LIMIT]) == ([], message)


@pytest.mark.parametrize("parser_class", PARSERS)
def test_nul_byte_inside_a_bulk_is_data(parser_class):
    """In a bulk payload a NUL byte is just a byte."""
    assert parse(multibulk([b"SET", b"\0k\0", b"\0"]), parser_class) == (
        [[b"SET", b"\0k\0", b"\0"]], None)


@pytest.mark.parametrize("parser_class", PARSERS)
@pytest.mark.parametrize("size, ok", [(LIMIT - 2, True), (LIMIT - 1, True), (LIMIT, False),
                                      (LIMIT + 20000, False)])
def test_inline_limit(parser_class, size, ok):
    """An inline line is refused when its LF comes more than 64 KB after its start, however fed."""
    data = b"PING\r\n" + b"a" * size + b"\r\n"
    expected = ([[b"PING"], [b"a" * size]], None) if ok else ([[b"PING"]], errors.PROTO_TOO_BIG_INLINE)
    assert parse(data, parser_class) == expected
    assert run(parser_class(), split_at(data, [7, 10000, 40000])) == expected


@pytest.mark.parametrize("parser_class", PARSERS)
def test_unfinished_inline_line_limit(parser_class):
    """An unfinished line is refused as soon as more than 64 KB of it is buffered, not before."""
    parser = parser_class()
    assert run(parser, [b"a" * LIMIT]) == ([], None)
    assert run(parser, [b"a"]) == ([], errors.PROTO_TOO_BIG_INLINE)


@pytest.mark.parametrize("parser_class", PARSERS)
def test_count_string_limits(parser_class):
    """Count lines longer than 64 KB are refused with Redis' 'too big ... count string' errors."""
    assert parse(b"*" + b"1" * (LIMIT - 1) + b"\r\n", parser_class) == ([], errors.PROTO_INVALID_MBULK)
    assert parse(b"*" + b"1" * LIMIT + b"\r\n", parser_class) == ([], errors.PROTO_TOO_BIG_MBULK)
    assert parse(b"*1\r\n$" + b"1" * (LIMIT - 1) + b"\r\n", parser_class) == (
        [], errors.PROTO_INVALID_BULK)
    assert parse(b"*1\r\n$" + b"1" * LIMIT + b"\r\n", parser_class) == ([], errors.PROTO_TOO_BIG_BULK)


@pytest.mark.parametrize("parser_class", PARSERS)
def test_big_bulk_is_not_a_line(parser_class):
    """A bulk payload far over 64 KB is read by its length, never as a line."""
    value = b"\r\n" * 100000
    assert parse(multibulk([b"SET", b"k", value]), parser_class) == ([[b"SET", b"k", value]], None)


@pytest.mark.parametrize("parser_class", PARSERS)
def test_cr_at_end_of_chunk_waits_for_one_more_byte(parser_class):
    """A count line needs the byte after its CR before it counts as read."""
    parser = parser_class()
    assert run(parser, [b"*1\r"]) == ([], None)
    assert run(parser, [b"\n$4\r"]) == ([], None)
    assert run(parser, [b"\nPING\r"]) == ([], None)
    assert run(parser, [b"\n"]) == ([[b"PING"]], None)
    assert parser.pending() == 0


@pytest.mark.parametrize("parser_class", PARSERS)
def test_pending_counts_unparsed_bytes(parser_class):
    """pending() is the number of buffered bytes not yet returned as a command."""
    parser = parser_class()
    parser.feed(b"PING\r\nPI")
    assert parser.gets() == [b"PING"]
    assert parser.gets() is None
    assert parser.pending() == 2


@pytest.mark.parametrize("parser_class", PARSERS)
def test_buffer_does_not_grow_with_a_stream_of_split_requests(parser_class):
    """Consumed bytes are dropped even when every chunk ends mid-request (inline and multibulk)."""
    parser = parser_class()
    for i in range(20000):
        parser.feed(b"PING\r\nPI")
        assert parser.gets() == [b"PING"] or i == 0
        parser.feed(b"NG\r\n*1\r\n$4\r\nPI")
        while parser.gets() is not None:
            pass
        parser.feed(b"NG\r\n")
    buf = getattr(parser, "_slow", parser)._buf
    assert len(buf) < 2 * LIMIT


def test_split_args_matches_sdssplitargs():
    """split_args follows sdssplitargs, NUL ending the string as in C."""
    assert split_args(b"a b\0c d") == [b"a", b"b"]
    assert split_args(b'"a\0b"') is None
    assert split_args(b"  ") == []
    assert split_args(b'"a"') == [b"a"]
    assert split_args(b'"a" b') == [b"a", b"b"]
    assert split_args(b'"\\x4"') == [b"x4"]
    assert split_args(b'"\\') is None


# ---------------------------------------------------------------------------
# (e) linearity


class CountingBuffer(bytearray):
    """A bytearray that adds up how many bytes its find() calls were asked to scan."""

    scanned = 0

    def find(self, sub, start=0, end=None):
        stop = len(self) if end is None else min(end, len(self))
        CountingBuffer.scanned += max(0, stop - start)
        return bytearray.find(self, sub, start, end if end is not None else len(self))


def feed_bytewise_counting(parser_class, data):
    """Feed C{data} one byte at a time; return (commands, bytes scanned by find())."""
    parser = parser_class()
    slow = getattr(parser, "_slow", parser)
    slow._buf = CountingBuffer()
    CountingBuffer.scanned = 0
    commands = []
    for i in range(len(data)):
        parser.feed(data[i:i + 1])
        argv = parser.gets()
        if argv is not None:
            commands.append(argv)
    return commands, CountingBuffer.scanned


@pytest.mark.parametrize("parser_class", PARSERS)
def test_one_megabyte_bulk_fed_bytewise_is_linear(parser_class):
    """A 1 MB bulk fed one byte at a time parses with work proportional to its size."""
    value = b"v" * (1 << 20)
    data = multibulk([b"SET", b"k", value])
    commands, scanned = feed_bytewise_counting(parser_class, data)
    assert commands == [[b"SET", b"k", value]]
    assert scanned < 4 * len(data)


@pytest.mark.parametrize("parser_class", PARSERS)
def test_long_inline_line_fed_bytewise_is_linear(parser_class):
    """A 60 KB inline line fed one byte at a time is scanned a bounded number of times."""
    data = b"SET k " + b"v" * 60000 + b"\r\n"
    commands, scanned = feed_bytewise_counting(parser_class, data)
    assert commands == [[b"SET", b"k", b"v" * 60000]]
    assert scanned < 4 * len(data)


# ---------------------------------------------------------------------------
# (f) encoders


@pytest.mark.parametrize("value, resp2, resp3", [
    (b"abc", b"$3\r\nabc\r\n", b"$3\r\nabc\r\n"),
    (b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
    (b"\r\n\0", b"$3\r\n\r\n\0\r\n", b"$3\r\n\r\n\0\r\n"),
    ("h\xe9", b"$3\r\nh\xc3\xa9\r\n", b"$3\r\nh\xc3\xa9\r\n"),
    (bytearray(b"ab"), b"$2\r\nab\r\n", b"$2\r\nab\r\n"),
    (memoryview(b"ab"), b"$2\r\nab\r\n", b"$2\r\nab\r\n"),
    (0, b":0\r\n", b":0\r\n"),
    (-(1 << 63), b":-9223372036854775808\r\n", b":-9223372036854775808\r\n"),
    (None, b"$-1\r\n", b"_\r\n"),
    (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
    ([], b"*0\r\n", b"*0\r\n"),
    ((b"a", 1), b"*2\r\n$1\r\na\r\n:1\r\n", b"*2\r\n$1\r\na\r\n:1\r\n"),
    ([b"a", None, [1, []]], b"*3\r\n$1\r\na\r\n$-1\r\n*2\r\n:1\r\n*0\r\n",
     b"*3\r\n$1\r\na\r\n_\r\n*2\r\n:1\r\n*0\r\n"),
    ({b"k": 1, b"m": [b"x"]}, b"*4\r\n$1\r\nk\r\n:1\r\n$1\r\nm\r\n*1\r\n$1\r\nx\r\n",
     b"%2\r\n$1\r\nk\r\n:1\r\n$1\r\nm\r\n*1\r\n$1\r\nx\r\n"),
    ({}, b"*0\r\n", b"%0\r\n"),
    (OK, b"+OK\r\n", b"+OK\r\n"),
    (PONG, b"+PONG\r\n", b"+PONG\r\n"),
    (QUEUED, b"+QUEUED\r\n", b"+QUEUED\r\n"),
    (Status(b"FULLRESYNC x"), b"+FULLRESYNC x\r\n", b"+FULLRESYNC x\r\n"),
    (Error("ERR boom"), b"-ERR boom\r\n", b"-ERR boom\r\n"),
    (Error("-WRONGTYPE x"), b"-WRONGTYPE x\r\n", b"-WRONGTYPE x\r\n"),
    (Error(b"ERR a\r\nb"), b"-ERR a  b\r\n", b"-ERR a  b\r\n"),
    (RSet([b"a", b"b"]), b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", b"~2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    (Push([b"message", b"c", b"m"]), b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n",
     b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"),
    (Verbatim(b"a\nb"), b"$3\r\na\nb\r\n", b"=7\r\ntxt:a\nb\r\n"),
    (True, b":1\r\n", b"#t\r\n"),
    (False, b":0\r\n", b"#f\r\n"),
    (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    (0.1, b"$19\r\n0.10000000000000001\r\n", b",0.10000000000000001\r\n"),
    (1e300, b"$23\r\n1.0000000000000001e+300\r\n", b",1.0000000000000001e+300\r\n"),
    (-0.0, b"$2\r\n-0\r\n", b",-0\r\n"),
    (3.0, b"$1\r\n3\r\n", b",3\r\n"),
    (math.inf, b"$3\r\ninf\r\n", b",inf\r\n"),
    (-math.inf, b"$4\r\n-inf\r\n", b",-inf\r\n"),
    (math.nan, b"$3\r\nnan\r\n", b",nan\r\n"),
    (Raw(b"+RAW\r\n"), b"+RAW\r\n", b"+RAW\r\n"),
    ([RSet([1.5, True]), {b"a": None}, NULL_ARRAY],
     b"*3\r\n*2\r\n$3\r\n1.5\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n*-1\r\n",
     b"*3\r\n~2\r\n,1.5\r\n#t\r\n%1\r\n$1\r\na\r\n_\r\n_\r\n"),
])
def test_encode(value, resp2, resp3):
    """Each reply value encodes to Redis' RESP2 and RESP3 bytes."""
    assert encode(value, 2) == resp2
    assert encode(value, 3) == resp3
    assert encode(value) == resp2


def bulk(item):
    return b"$%d\r\n%s\r\n" % (len(item), item)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(st.one_of(st.binary(max_size=12), st.sampled_from([b"", b"\r\n", b"x" * 1024,
                                                                        b"y" * 1025, b"z" * 5000])),
                      max_size=40),
       intruder=st.sampled_from([None, 7, Status(b"OK"), [b"a"]]), at=st.integers(0, 40))
def test_arrays_of_bulk_strings(items, intruder, at):
    """Long arrays of bytes take the table-and-join path; every item encodes as a bulk, as in the loop."""
    expected_items = [bulk(i) for i in items]
    if intruder is not None and at <= len(items):
        items = items[:at] + [intruder] + items[at:]
        expected_items.insert(at, encode(intruder, 2))
    body = b"".join(expected_items)
    n = len(items)
    assert encode(items, 2) == encode(tuple(items), 3) == b"*%d\r\n" % n + body
    assert encode(RSet(items), 2) == b"*%d\r\n" % n + body
    if intruder is None:
        assert encode(RSet(items), 3) == b"~%d\r\n" % n + body


def test_encode_int_subclass_and_unencodable():
    """An int subclass (not bool) is an integer; an unknown type is a TypeError, not garbage."""
    class Num(int):
        pass
    assert encode(Num(7)) == b":7\r\n"
    assert encode([Num(7)]) == b"*1\r\n:7\r\n"
    with pytest.raises(TypeError):
        encode(object())
    with pytest.raises(TypeError):
        encode([1, object()])


@pytest.mark.parametrize("value, text", [
    (1.0, b"1"), (-2.5, b"-2.5"), (1e17, b"1e+17"), (123456789012345678.0, b"1.2345678901234568e+17"),
    (5e-324, b"4.9406564584124654e-324"), (1 / 3, b"0.33333333333333331"),
])
def test_format_double_is_percent_17g(value, text):
    """Doubles use C's %.17g, as Redis 7.0's addReplyDouble."""
    assert format_double(value) == text


@needs_hiredis
@pytest.mark.parametrize("data", [b"*2147483647\r\n", b"*1\r\n$1\r\na\r\n*1000000\r\n",
                                  b"*1\r\n~9999999\r\n"])
def test_huge_counts_never_reach_hiredis(data):
    """hiredis allocates a whole list on reading a count, so a count of a million or more skips it."""
    class Reader(object):
        def feed(self, chunk):
            raise AssertionError("hiredis was given %r" % (chunk,))
    parser = HiredisParser()
    parser._reader = Reader()
    run(parser, [data])

"""The registry: Redis' metadata for every registered command, handler docstrings, COMMAND's shapes."""

import pytest

import sonic.server  # noqa: F401  (registers every command)
from sonic.commands.server import command_docs, command_info, get_keys
from sonic.registry import all_commands, all_specs, redis_metadata
from sonic.resp import RSet, Status, encode
from tests.helpers import Client, call, make_server


def _redis_knows(spec):
    """Whether Redis 7.0's table has this command or subcommand."""
    if spec.parent is None:
        return spec.fullname in redis_metadata()
    entry = redis_metadata().get(spec.parent.fullname)
    return bool(entry) and any(s["name"] == spec.fullname for s in entry["info"]["subcommands"])


def test_metadata_matches_real_server(real_port):
    """Each registered command's arity, flags and first/last/step equal the real server's COMMAND INFO."""
    import redis
    client = redis.Redis(port=real_port, protocol=3)
    checked = 0
    for spec in all_specs():
        if not _redis_knows(spec):
            continue  # sonic-only (EXP, CLIENT SETINFO): see test_sonic_only_commands_documented
        conn = client.connection_pool.get_connection()
        try:
            conn.send_command("COMMAND", "INFO", spec.fullname)
            reply = conn.read_response()[0]
        finally:
            client.connection_pool.release(conn)
        name, arity, flags, first, last, step = reply[:6]
        assert name.decode() == spec.fullname
        assert (arity, first, last, step) == (spec.arity, spec.first, spec.last, spec.step), spec
        assert {f.decode() for f in flags} == set(spec.flags), spec
        checked += 1
    assert checked > 20
    client.close()


def test_handlers_have_syntax_docstrings():
    """Every registered handler's docstring starts with its command's syntax in upper case."""
    for spec in all_specs():
        if spec.handler is None:
            continue  # a container: it dispatches on the subcommand
        doc = (spec.handler.__doc__ or "").strip()
        words = spec.fullname.upper().split("|")
        assert doc.split()[:len(words)] == words, "%s: %r" % (spec.fullname, doc)


def test_sonic_only_commands_documented():
    """Commands Redis lacks carry a summary, group, since and complexity for COMMAND DOCS."""
    for spec in all_specs():
        if _redis_knows(spec):
            continue
        for field in ("summary", "since", "group", "complexity"):
            assert spec.docs.get(field), (spec.fullname, field)


def test_command_info_shape_resp3():
    """COMMAND INFO get in RESP3: flags, ACL categories, tips and key specs are sets; key flags status."""
    spec = [s for s in all_commands() if s.fullname == "get"][0]
    info = command_info(spec)
    assert len(info) == 10
    assert type(info[2]) is RSet and all(type(f) is Status for f in info[2])
    assert type(info[6]) is RSet and type(info[7]) is RSet and type(info[8]) is RSet
    assert type(info[8][0]["flags"]) is RSet
    assert info[9] == RSet([]) and type(info[9]) is RSet
    assert encode(info, 3).startswith(b"*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n")


def test_command_docs_shape():
    """COMMAND DOCS set: history is a set of pairs, argument flags sets of status strings."""
    spec = [s for s in all_commands() if s.fullname == "set"][0]
    docs = command_docs(spec)
    assert list(docs)[:4] == ["summary", "since", "group", "complexity"]
    assert type(docs["history"]) is RSet
    flags = docs["arguments"][2]["flags"]
    assert type(flags) is RSet and flags == [b"optional"]


def test_container_docs_nest_registered_subcommands():
    """A container's docs nest only the subcommands sonic registers."""
    spec = [s for s in all_commands() if s.fullname == "config"][0]
    subs = command_docs(spec)["subcommands"]
    assert set(subs) == {s.fullname for s in spec.subcommands.values()}
    assert "config|get" in subs


@pytest.mark.parametrize("argv,expected", [
    ([b"get", b"a"], [(1, ["RO", "access"])]),
    ([b"set", b"a", b"b"], [(1, ["OW", "update"])]),
    ([b"set", b"a", b"b", b"GET"], [(1, ["RW", "access", "update"])]),
    ([b"del", b"a", b"b"], [(1, ["RM", "delete"]), (2, ["RM", "delete"])]),
])
def test_get_keys(argv, expected):
    """Key extraction follows the key specs, or SET's argument-dependent flags."""
    spec = [s for s in all_commands() if s.fullname == argv[0].decode()][0]
    assert get_keys(spec, argv) == expected


def test_command_count_and_list_agree():
    """COMMAND COUNT counts top-level commands; COMMAND LIST adds their subcommands."""
    c = Client(make_server())
    names = call(c, "COMMAND", "LIST")
    assert call(c, "COMMAND", "COUNT") == len([n for n in names if "|" not in n])
    assert "config|get" in names
    assert call(c, "COMMAND", "LIST", "FILTERBY", "ACLCAT", "dangerous")
    assert "config|get" in call(c, "COMMAND", "LIST", "FILTERBY", "ACLCAT", "dangerous")


def test_command_docs_duplicate_names_resp3():
    """COMMAND DOCS get get repeats the entry, as Redis' map does, in RESP3 too."""
    c = Client(make_server())
    c.resp = 3
    reply = encode(call(c, "COMMAND", "DOCS", "get", "get"), 3)
    assert reply.startswith(b"%2\r\n$3\r\nget\r\n%5\r\n")


def _spec():
    """A fresh spec, not registered anywhere."""
    from sonic.registry import CommandSpec
    return CommandSpec("x", {"arity": -2, "flags": [], "first": 1, "last": 1, "step": 1}, {})


def test_fold_latency_buckets_like_one_sample_at_a_time():
    """The C-level fold gives exactly the table of rounding each sample alone (10 significant bits)."""
    import random
    from collections import defaultdict
    rng = random.Random(7)
    samples = ([rng.expovariate(1 / 3e-6) for _ in range(5000)] + [rng.random() * 0.05 for _ in range(500)]
               + [0.0, 1e-6, 0.999e-6, 1.023e-3, 1.0239e-3, 1.024e-3, 1.0249e-3, 2.5, 1e-7])
    expected = defaultdict(int)
    for elapsed in samples:
        usec = int(elapsed * 1000000)
        if usec > 1023:
            shift = usec.bit_length() - 10
            usec = usec >> shift << shift
        expected[usec] += 1
    spec = _spec()
    for elapsed in samples:
        spec.count(elapsed, True)
    assert dict(spec.latency_usec) == dict(expected)
    assert spec.calls == len(samples) and spec.latency_samples == []


def test_calls_and_seconds_count_pending_samples():
    """calls and seconds include samples not folded yet; with tracking off they are counted at once."""
    spec = _spec()
    spec.count(0.5, True)
    spec.count(0.25, True)
    assert spec.calls == 2 and spec.latency_samples == [0.5, 0.25]
    assert spec.seconds == 0.75 and spec.latency_samples == []  # read through a fold
    spec.count(1.0, False)
    assert spec.calls == 3 and spec.seconds == 1.75 and sum(spec.latency_usec.values()) == 2
    spec.count(0.125, True)
    spec.calls = 0  # CONFIG RESETSTAT
    spec.seconds = 0.0
    assert spec.calls == 0 and spec.seconds == 0.0 and spec.latency_samples == []


def test_samples_fold_at_4096():
    """At most 4095 samples wait: the 4096th folds them all."""
    spec = _spec()
    for _ in range(4095):
        spec.count(1e-6, True)
    assert len(spec.latency_samples) == 4095
    spec.count(1e-6, True)
    assert spec.latency_samples == [] and spec.calls == 4096

"""The collection types in the keyspace commands: TYPE, OBJECT ENCODING, SCAN TYPE, COPY,
RENAME, MOVE, MEMORY USAGE, DEBUG OBJECT and WATCH, one case per type."""

import re

import pytest

from tests.resp_reader import RawClient

#: type -> (command creating a key "k" of it, a write that changes it)
TYPES = {
    "list": (("RPUSH", "k", "a", "b"), ("LPUSH", "k", "c")),
    "hash": (("HSET", "k", "f", "v"), ("HSET", "k", "g", "w")),
    "set": (("SADD", "k", "1", "2"), ("SADD", "k", "x")),
    "zset": (("ZADD", "k", "1", "a", "2", "b"), ("ZINCRBY", "k", "1", "a")),
}


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_type_encoding_scan_copy_rename_move(parity, kind):
    """TYPE, OBJECT ENCODING, SCAN's TYPE filter, COPY, RENAME and MOVE treat each type as Redis does."""
    create, write = TYPES[kind]
    parity(create, ("SET", "str", "x"), ("TYPE", "k"), ("OBJECT", "ENCODING", "k"),
           ("SCAN", "0", "TYPE", kind), ("SCAN", "0", "TYPE", "string"),
           ("COPY", "k", "c"), ("TYPE", "c"), ("OBJECT", "ENCODING", "c"))
    parity(("TYPE", "k"), ("RENAME", "k", "r"), ("EXISTS", "k"), ("TYPE", "r"),
           ("MOVE", "r", "1"), ("SELECT", "1"), ("TYPE", "r"), ("OBJECT", "ENCODING", "r"),
           ("SELECT", "0"), ("EXISTS", "r"))


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_copy_is_independent(parity, kind):
    """Writing to a COPY leaves the original unchanged."""
    create, write = TYPES[kind]
    read = {"list": ("LRANGE", "k", "0", "-1"), "hash": ("HGETALL", "k"),
            "set": ("SCARD", "k"), "zset": ("ZRANGE", "k", "0", "-1", "WITHSCORES")}[kind]
    parity(create, ("COPY", "k", "c"), tuple("c" if w == "k" else w for w in write), read)


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_watch_sees_writes(parity, kind):
    """A write to a WATCHed collection from another client makes EXEC fail (null array)."""
    create, write = TYPES[kind]
    parity(create)
    parity(("WATCH", "k"), ("MULTI",))
    for side in (parity.sonic, parity.real):
        other = RawClient(side.sock.getpeername()[1])
        other.call(*write)
        other.close()
    parity(("PING",), ("EXEC",))


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_memory_usage_and_debug_object(sonic_port, real_port, kind):
    """MEMORY USAGE gives a positive size and DEBUG OBJECT Redis' encoding name for each type."""
    create, _ = TYPES[kind]
    encodings = []
    for port in (real_port, sonic_port):
        c = RawClient(port)
        c.call("FLUSHALL")
        c.call(*create)
        usage = c.call("MEMORY", "USAGE", "k")
        assert usage.startswith(b":") and int(usage[1:]) > 0
        info = c.call("DEBUG", "OBJECT", "k")
        encodings.append(re.search(rb"encoding:(\w+)", info).group(1))
        c.call("FLUSHALL")
        c.close()
    assert encodings[1] == encodings[0]

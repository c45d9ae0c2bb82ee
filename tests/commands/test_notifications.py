"""Keyspace notifications: notify-keyspace-events and the messages each command sends.

Parity tests subscribe (PSUBSCRIBE) on sonic and on redis-server 7.0, run the
same commands on both and compare every message byte for byte.  After each
command a PUBLISH on a marker channel (matched by the same pattern) closes
that command's messages, so no test waits on a timer to know it saw them
all.  Unit tests drive a server on a task.Clock through a recording
C{server.pubsub} stand-in, for the expiry timer and the cost when off.
"""

import time

import pytest

from sonic import notify as nt
from sonic.config import Config
from tests.conftest import start_sonic, stop
from tests.helpers import Client, call, make_server
from tests.resp_reader import RawClient, encode_command

MARK = b"__key__:mark"
RANDOM = {"SPOP", "SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER"}
ALL = "__key*__:*"


class Watcher(object):
    """One server: a command connection and a pattern subscriber to its keyspace channels."""

    def __init__(self, port, pattern=ALL, resp3=False):
        self.port = port
        self.cmd = RawClient(port)
        self.sub = RawClient(port)
        if resp3:
            self.sub.call("HELLO", "3")
        self.sub.call("PSUBSCRIBE", pattern)
        if pattern != ALL:
            self.sub.call("PSUBSCRIBE", MARK)
        self.marks = 0

    def drain(self):
        """Every message up to a fresh marker: what the commands sent so far sent."""
        self.marks += 1
        self.cmd.call("PUBLISH", MARK, str(self.marks))
        out = []
        while True:
            frame = self.sub.read_reply()
            if b"\r\n" + MARK + b"\r\n" in frame:
                return out
            out.append(frame)

    def run(self, *cmd):
        """(raw reply, raw messages) of one command."""
        reply = self.cmd.call(*cmd)
        return reply, self.drain()

    def take(self, n):
        """The next C{n} messages, however long they take (a timer's C{expired})."""
        return [self.sub.read_reply() for _ in range(n)]

    def wait_blocked(self, count=1):
        """Wait until C{count} clients are blocked (a blocking command sent elsewhere was read)."""
        deadline = time.time() + 10
        while b"blocked_clients:%d\r\n" % count not in self.cmd.call("INFO", "clients"):
            assert time.time() < deadline, "no client blocked"
            time.sleep(0.005)

    def close(self):
        for c in (self.cmd, self.sub):
            c.close()


def messages(frames):
    """(channel, payload) of raw message frames, for readable assertions."""
    out = []
    for frame in frames:
        parts = frame.split(b"\r\n")
        out.append((parts[-4], parts[-2]))
    return out


class Pair(object):
    """The same subscriptions on sonic and redis-server; L{check} compares them."""

    def __init__(self, sonic, real):
        self.sonic = sonic
        self.real = real

    def call(self, *cmd, **kw):
        """Run C{cmd} on both (setup steps): the replies must match; its messages are dropped.

        C{drain=False} inside MULTI, where the marker PUBLISH would only be queued.
        """
        a, b = self.sonic.cmd.call(*cmd), self.real.cmd.call(*cmd)
        assert a == b, "%r: sonic %r != redis %r" % (cmd, a, b)
        if kw.get("drain", True):
            self.sonic.drain()
            self.real.drain()
        return a

    def check(self, *commands):
        """Run each command on both; assert equal replies and equal messages; return sonic's messages."""
        seen = []
        for cmd in commands:
            if isinstance(cmd, str):
                cmd = tuple(cmd.split())
            got, got_msgs = self.sonic.run(*cmd)
            want, want_msgs = self.real.run(*cmd)
            # Random picks differ; the scripts make the state converge again.
            if cmd[0].upper() not in RANDOM:
                assert got == want, "%r: sonic %r != redis %r" % (cmd, got, want)
            assert got_msgs == want_msgs, "%r:\nsonic %r\nredis %r" % (
                cmd, messages(got_msgs), messages(want_msgs))
            seen.extend(got_msgs)
        return messages(seen)


def _config_set(client, value):
    return client.call("CONFIG", "SET", "notify-keyspace-events", value)


@pytest.fixture
def events(sonic_port, real_port):
    """make(flags, pattern=..., resp3=False) -> a L{Pair}; notifications are off again afterwards."""
    made = []

    def make(flags, pattern=ALL, resp3=False):
        pair = Pair(Watcher(sonic_port, pattern, resp3), Watcher(real_port, pattern, resp3))
        made.extend([pair.sonic, pair.real])
        for w in (pair.sonic, pair.real):
            w.cmd.call("FLUSHALL")
            assert _config_set(w.cmd, flags) == b"+OK\r\n"
        return pair

    try:
        yield make
    finally:
        for w in made:
            try:
                _config_set(w.cmd, "")
                w.cmd.call("FLUSHALL")
            finally:
                w.close()


# -- notify-keyspace-events itself ---------------------------------------------------

FLAG_WORDS = ["KEA", "A", "K", "E", "g", "$", "Kx", "xE", "KEg", "KA", "Klg$", "m", "n",
              "KEAmn", "KEAt", "d", "t", "e", "ndtexzhsl$g", "AKE", "Kxe", "KAm", "EAn",
              "Km", "Kn", "En", "gg", ""]


def test_config_set_and_get_normalise_like_redis(parity):
    """CONFIG SET accepts every class letter and CONFIG GET shows Redis' normalised string (A hides n)."""
    try:
        for word in FLAG_WORDS:
            parity(("CONFIG", "SET", "notify-keyspace-events", word),
                   ("CONFIG", "GET", "notify-keyspace-events"))
    finally:
        for c in (parity.sonic, parity.real):
            _config_set(c, "")


def test_config_set_rejects_other_characters(parity):
    """An unknown class character gets Redis' error and leaves the setting unchanged."""
    try:
        parity(("CONFIG", "SET", "notify-keyspace-events", "Kl"))
        for word in ["Z", "K E", "KEAZ", "kea", "*", "K,E"]:
            got = parity(("CONFIG", "SET", "notify-keyspace-events", word),
                         ("CONFIG", "GET", "notify-keyspace-events"))
            assert got[0].startswith(b"-ERR CONFIG SET failed")
            assert b"Invalid event class character. Use 'Ag$lshzxeKEtmdn'." in got[0]
        parity(("CONFIG", "SET", "notify-keyspace-events", "KEA", "notify-keyspace-events", "E"))
        # CONFIG SET is atomic: another bad value leaves the flags as they were.
        parity(("CONFIG", "SET", "notify-keyspace-events", "KEA", "maxmemory-policy", "bogus"),
               ("CONFIG", "GET", "notify-keyspace-events"),
               ("CONFIG", "SET", "maxmemory-policy", "noeviction", "notify-keyspace-events", "Q"),
               ("CONFIG", "GET", "notify-keyspace-events"))
    finally:
        for c in (parity.sonic, parity.real):
            _config_set(c, "")


def test_off_sends_nothing(events):
    """With notify-keyspace-events empty (or without K and E) writes publish nothing."""
    for flags in ("", "A", "gm$n"):
        pair = events(flags)
        assert pair.check("SET a 1", "DEL a", "GET a", "RPUSH l x", "LPOP l") == []


# -- strings -----------------------------------------------------------------------------

STRING_SCRIPT = [
    "SET a 1", "SET a 2", "SET b 1 EX 100", "SET b 1 KEEPTTL", "SET c 1 GET", "SET c 2 GET",
    "SET d 1 NX", "SET d 1 NX", "SET d 2 XX PX 50000", "SETNX d 1", "SETNX d2 1",
    "SETEX e 10 v", "PSETEX f 10000 v", "SET g 1 EXAT 99999999999", "GETSET a 3", "GETSET zz 3",
    "GETDEL zz", "GETDEL zz", "GETEX a EX 100", "GETEX a PERSIST", "GETEX a PERSIST",
    "GETEX a", "GETEX a PXAT 1", "GETEX nokey EX 10", "MSET m1 1 m2 2", "MSETNX m3 1 m4 2",
    "MSETNX m3 1 m5 2", "INCR i", "INCRBY i 5", "DECR i", "DECRBY i 2", "INCRBYFLOAT i 1.5",
    "INCR m1", "SET s x", "INCR s", "APPEND ap x", "APPEND ap y", ("APPEND", "ap", ""),
    ("APPEND", "ap3", ""), ("SETRANGE", "sr", "0", ""), "SETRANGE sr 2 x", ("SETRANGE", "sr", "0", ""),
    "SETRANGE sr 1 yy", "GET nokey", "GET a", "MGET nokey a n2", "STRLEN nokey", "GETRANGE nokey 0 1",
    "SUBSTR nokey 0 1", "LCS nokey a", "LCS a b",
]


@pytest.mark.parametrize("flags", ["KEA", "KEAnm", "E$", "Kg", "Km", "En"])
def test_string_commands(events, flags):
    """String writes send set/expire/incrby/append/setrange/del/persist as Redis does, per class."""
    pair = events(flags)
    seen = pair.check(*STRING_SCRIPT)
    if flags == "KEA":
        assert (b"__keyspace@0__:b", b"expire") in seen
        assert (b"__keyevent@0__:incrbyfloat", b"i") in seen
        assert (b"__keyevent@0__:del", b"a") in seen  # GETEX PXAT in the past


def test_set_with_expire_sends_set_then_expire(events):
    """SET ... EX sends "set" then "expire", on the keyspace channel before the keyevent one."""
    pair = events("KEA")
    assert pair.check("SET k v EX 100") == [
        (b"__keyspace@0__:k", b"set"), (b"__keyevent@0__:set", b"k"),
        (b"__keyspace@0__:k", b"expire"), (b"__keyevent@0__:expire", b"k")]


def test_new_and_keymiss_classes(events):
    """"n" reports keys added (before the command's own event) and "m" read misses only."""
    pair = events("KEAnm")
    seen = pair.check("SET a 1", "GET missing", "INCR missing2", "LPOP missing3")
    assert seen[:4] == [(b"__keyspace@0__:a", b"new"), (b"__keyevent@0__:new", b"a"),
                        (b"__keyspace@0__:a", b"set"), (b"__keyevent@0__:set", b"a")]
    assert (b"__keyevent@0__:keymiss", b"missing") in seen
    assert (b"__keyevent@0__:keymiss", b"missing2") not in seen


# -- generic keyspace commands -------------------------------------------------------------

KEYS_SCRIPT = [
    "SET a 1", "DEL a nokey", "SET a 1", "SET b 2", "DEL a b c", "SET a 1", "UNLINK a",
    "SET a 1", "EXPIRE a 100", "EXPIRE a 100 NX", "PEXPIRE a 200000", "EXPIREAT a 1",
    "SET a 1", "PEXPIREAT a 99999999999999", "EXPIRE a -1", "EXPIRE nokey 10", "SET a 1",
    "PERSIST a", "EXPIRE a 100", "PERSIST a", "PERSIST nokey", "SET s 1", "RENAME s d",
    "RENAME d d", "RENAMENX d e", "SET f 1", "RENAMENX e f", "RENAME e f", "RENAME nokey f",
    "MOVE f 1", "SET f 1", "MOVE f 1", "COPY f g", "COPY f g", "COPY f g REPLACE",
    "COPY f g DB 2", "COPY f h DB 2 REPLACE", "COPY nokey x", "EXISTS f nokey n2",
    "TOUCH f nokey", "TYPE nokey", "TTL nokey", "PTTL nokey", "EXPIRETIME nokey",
    "OBJECT ENCODING nokey", "OBJECT REFCOUNT nokey", "DUMP nokey", "SWAPDB 0 2", "SWAPDB 0 2",
    "SELECT 2", "SET x 1", "RENAME x y", "SELECT 0", "FLUSHDB", "FLUSHALL",
]


@pytest.mark.parametrize("flags", ["KEAnm", "Eg", "Kgn"])
def test_generic_commands(events, flags):
    """DEL, EXPIRE, PERSIST, RENAME, MOVE, COPY and SELECTed databases send Redis' generic events."""
    pair = events(flags)
    seen = pair.check(*KEYS_SCRIPT)
    if flags == "Eg":
        assert (b"__keyevent@0__:rename_from", b"s") in seen
        assert (b"__keyevent@1__:move_to", b"f") in seen
        assert (b"__keyevent@2__:copy_to", b"h") in seen
        assert (b"__keyevent@2__:rename_to", b"y") in seen


def test_rename_over_existing_key_is_new(events):
    """RENAME onto an existing key sends "new" for it (Redis deletes and re-adds it), and no "del"."""
    pair = events("KEn")
    pair.call("SET", "a", "1")
    pair.call("SET", "b", "2")
    assert pair.check("RENAME a b") == [(b"__keyspace@0__:b", b"new"), (b"__keyevent@0__:new", b"b")]


def test_sort_store_restore_and_dump(events):
    """SORT ... STORE sends sortstore (or del when empty), RESTORE sends restore (del when already expired)."""
    pair = events("KEAnm")
    pair.check("RPUSH l 3 1 2", "SORT l STORE d", "SORT l STORE d", "SORT nol STORE d",
               "SORT nol STORE d", "SORT nol", "SORT_RO nol", "SORT l BY w_* GET o_* GET #",
               "HSET hh f 1", "SORT l BY hh->f GET hh->x", "SORT l BY nosort GET o_*")
    payload = pair.real.cmd.call("DUMP", "l")
    payload = payload.split(b"\r\n", 1)[1][:-2]
    pair.real.drain()
    pair.check(("RESTORE", "r", "0", payload), ("RESTORE", "r", "0", payload, "REPLACE"),
               ("RESTORE", "t", "100000", payload), ("RESTORE", "r", "1", payload, "REPLACE", "ABSTTL"),
               ("RESTORE", "r", "1", payload, "ABSTTL"), ("RESTORE", "t", "0", payload))


# -- lists ---------------------------------------------------------------------------------------

LIST_SCRIPT = [
    "LPUSH l a b c", "RPUSH l d", "LPUSHX l e", "RPUSHX l f", "LPUSHX nol e", "LINSERT l BEFORE a x",
    "LINSERT l BEFORE zz x", "LINSERT nol BEFORE a x", "LSET l 0 y", "LREM l 1 x",
    "LREM l 1 nothing", "LTRIM l 0 100", "LTRIM l 1 -1", "LTRIM nol 0 1", "LPOP l", "RPOP l 2",
    "LPOP l 0", "LPOP nol", "LRANGE nol 0 -1", "LLEN nol", "LINDEX nol 0", "LPOS nol a",
    "RPUSH m a", "LMOVE l m LEFT RIGHT", "RPOPLPUSH l m", "LMOVE m m LEFT LEFT",
    "LMOVE l n RIGHT LEFT", "LMPOP 1 n LEFT COUNT 5", "RPUSH o a b", "LTRIM o 5 10",
    "RPUSH o a b", "LREM o 0 a", "LREM o 0 b", "BLPOP nol o 0.01", "RPUSH o a",
    "BLPOP nol o 0.01", "RPUSH o a", "BRPOPLPUSH o p 0.01", "BLMOVE p q LEFT LEFT 0.01",
    "BLMPOP 0.01 1 q LEFT", "RPUSH q a b c", "LMPOP 2 nol q RIGHT COUNT 2",
    "LMPOP 2 nol q RIGHT COUNT 2", "RPUSH r a", "LMOVE r s RIGHT RIGHT",
]


@pytest.mark.parametrize("flags", ["KEAnm", "El", "Kl"])
def test_list_commands(events, flags):
    """List pushes, pops, LMOVE (push event before the pop) and emptied lists' "del" match Redis."""
    pair = events(flags)
    seen = pair.check(*LIST_SCRIPT)
    if flags == "El":
        assert (b"__keyevent@0__:sortstore", b"x") not in seen
        moved = [m for m in seen if m[1] in (b"r", b"s")]
        assert moved == [(b"__keyevent@0__:rpush", b"r"), (b"__keyevent@0__:rpush", b"s"),
                         (b"__keyevent@0__:rpop", b"r")]


@pytest.mark.parametrize("command", [("BLPOP", "bl", "0"), ("BRPOP", "bl", "0"),
                                     ("BLMOVE", "bl", "dst", "LEFT", "RIGHT", "0"),
                                     ("BRPOPLPUSH", "bl", "dst", "0"),
                                     ("BLMPOP", "0", "1", "bl", "LEFT", "COUNT", "5"),
                                     ("BZPOPMIN", "bz", "0"), ("BZMPOP", "0", "1", "bz", "MAX")])
def test_blocked_pop_served_later(events, sonic_port, real_port, command):
    """A blocked pop served by another client's push sends the push's events, then the pop's."""
    pair = events("KEAn")
    blockers = [RawClient(sonic_port), RawClient(real_port)]
    try:
        for blocker in blockers:
            blocker.send_raw(encode_command(command))
        for w in (pair.sonic, pair.real):
            w.wait_blocked()
        if command[0].startswith("BZ"):
            push = ("ZADD", "bz", "1", "a")
        else:
            push = ("RPUSH", "bl", "a")
        seen = pair.check(push)
        assert blockers[0].read_reply() == blockers[1].read_reply()
        assert seen[-1] == (b"__keyevent@0__:del", push[1].encode())
    finally:
        for blocker in blockers:
            blocker.close()


# -- hashes, sets, sorted sets ----------------------------------------------------------------------

HASH_SCRIPT = [
    "HSET h a 1 b 2", "HSET h a 1", "HMSET h c 3", "HSETNX h a 1", "HSETNX h d 1", "HSETNX h2 d 1",
    "HDEL h a zz", "HDEL h zz", "HDEL noh a", "HINCRBY h n 1", "HINCRBYFLOAT h f 1.5",
    "HINCRBY h3 n 1", "HINCRBYFLOAT h4 f 1.5", "HINCRBY h a x", "HGET noh a", "HMGET noh a",
    "HGETALL noh", "HLEN noh", "HEXISTS noh a", "HKEYS noh", "HVALS noh", "HSTRLEN noh a",
    "HRANDFIELD noh", "HRANDFIELD noh 2", "HSCAN noh 0", "HDEL h b c d n f",
]


@pytest.mark.parametrize("flags", ["KEAnm", "Eh", "Khg"])
def test_hash_commands(events, flags):
    """Hash writes send hset/hdel/hincrby/hincrbyfloat and "del" when emptied, as Redis."""
    pair = events(flags)
    seen = pair.check(*HASH_SCRIPT)
    if flags == "Khg":
        assert seen[-2:] == [(b"__keyspace@0__:h", b"hdel"), (b"__keyspace@0__:h", b"del")]


SET_SCRIPT = [
    "SADD s a b c", "SADD s a", "SREM s a zz", "SREM s zz", "SREM nos a", "SPOP s", "SPOP s 5",
    "SADD s 1", "SPOP s", "SADD s a b c d", "SPOP s 0", "SPOP nos", "SPOP nos 2", "SADD t a",
    "SMOVE s t x", "SMOVE t t a", "SMOVE t u a", "SADD s1 1 2", "SADD s2 2 3",
    "SINTERSTORE d s1 s2", "SINTERSTORE d s1 nos", "SINTERSTORE d s1 nos", "SUNIONSTORE d s1 s2",
    "SDIFFSTORE d s1 s2", "SDIFFSTORE d s1 s1", "SDIFFSTORE d s1 s1", "SMEMBERS nos",
    "SISMEMBER nos a", "SCARD nos", "SINTER nos s1", "SINTER nos n2", "SUNION nos n2 s1",
    "SDIFF nos s1", "SINTERCARD 2 nos s1", "SMISMEMBER nos a", "SRANDMEMBER nos",
    "SRANDMEMBER nos 3", "SSCAN nos 0", "SADD w 1 2 3", "SPOP w 3", "SADD w 5", "SMOVE w x 5",
    "SADD x 6", "SMOVE x w 6", "SMOVE x w 5", "SADD y 7", "SADD w 7", "SMOVE y w 7",
]


@pytest.mark.parametrize("flags", ["KEAnm", "Es", "Ksg"])
def test_set_commands(events, flags):
    """Set writes (SMOVE: srem, del, new, sadd in that order) and *STORE results match Redis."""
    pair = events(flags)
    pair.check(*SET_SCRIPT)


ZSET_SCRIPT = [
    "ZADD z 1 a 2 b 3 c", "ZADD z 1 a", "ZADD z 5 a", "ZADD z INCR 1 a", "ZADD z NX INCR 1 a",
    "ZADD z XX 1 new", "ZADD zx XX 1 new", "ZADD z CH 1 a", "ZADD z GT 0 a", "ZINCRBY z 1 a",
    "ZINCRBY z2 1 a", "ZREM z a zz", "ZREM z zz", "ZREMRANGEBYSCORE z 100 200",
    "ZREMRANGEBYSCORE z 2 2", "ZADD z 1 a 2 b 3 c 4 d", "ZREMRANGEBYRANK z 0 0",
    "ZREMRANGEBYRANK z 10 20", "ZADD l 0 a 0 b 0 c", "ZREMRANGEBYLEX l [a [a",
    "ZREMRANGEBYLEX l [a [z", "ZPOPMIN z", "ZPOPMAX z 5", "ZPOPMIN noz", "ZADD z 1 a 2 b",
    "ZPOPMIN z 0", "ZMPOP 1 z MIN COUNT 1", "ZMPOP 1 noz MIN", "BZPOPMIN noz z 0.01",
    "BZPOPMAX z 0.01", "ZADD z 1 a 2 b", "BZMPOP 0.01 2 noz z MAX COUNT 5", "ZADD z1 1 a 2 b",
    "ZADD z2 2 b 3 c", "ZUNIONSTORE d 2 z1 z2", "ZINTERSTORE d 2 z1 z2", "ZINTERSTORE d 2 z1 noz",
    "ZDIFFSTORE d 2 z1 z1", "ZDIFFSTORE d 2 z1 z2", "ZRANGESTORE d z1 0 -1", "ZRANGESTORE d z1 5 6",
    "ZRANGESTORE d noz 0 -1", "ZRANGESTORE d z1 0 -1", "ZRANGESTORE d noz 0 -1", "ZRANGE noz 0 -1",
    "ZSCORE noz a", "ZCARD noz", "ZCOUNT noz 0 1", "ZRANK noz a", "ZREVRANK noz a", "ZMSCORE noz a",
    "ZRANDMEMBER noz", "ZUNION 2 noz z1", "ZINTER 2 noz nox", "ZDIFF 2 noz z1",
    "ZINTERCARD 2 noz nox", "ZLEXCOUNT noz - +", "ZRANGEBYSCORE noz 0 1", "ZREVRANGEBYLEX noz + -",
    "ZSCAN noz 0",
]


@pytest.mark.parametrize("flags", ["KEAnm", "Ez", "Kzg"])
def test_zset_commands(events, flags):
    """Sorted-set writes send zadd/zincr/zrem/zremrangeby*/zpop*/z*store as Redis does."""
    pair = events(flags)
    pair.check(*ZSET_SCRIPT)


# -- expiry ---------------------------------------------------------------------------------------

def test_expired_when_the_timer_removes_the_key(events):
    """A key with a short PX gets "expired" when it is removed, without anyone reading it."""
    pair = events("KEA")
    seen = pair.check("SET k v PX 30", "SADD s a", "PEXPIRE s 40")
    assert len(seen) == 8
    got, want = pair.sonic.take(4), pair.real.take(4)
    # Redis' expiry cycle samples keys at random: compare without the order between keys.
    assert sorted(got) == sorted(want)
    assert set(messages(got)) == {(b"__keyspace@0__:k", b"expired"), (b"__keyevent@0__:expired", b"k"),
                                  (b"__keyspace@0__:s", b"expired"), (b"__keyevent@0__:expired", b"s")}
    assert pair.check("EXISTS k s") == []


def test_expired_class_alone(events):
    """"Ex" sends only the expired events (not set or expire)."""
    pair = events("Ex")
    assert pair.check("SET k v PX 20") == []
    assert pair.sonic.take(1) == pair.real.take(1) == [
        b"*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$22\r\n__keyevent@0__:expired\r\n$1\r\nk\r\n"]


def test_lazy_expiry_then_write(events):
    """With the expiry timers off, touching a key past its TTL sends "expired" first (then new...)."""
    pair = events("KEAnm")
    pair.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        pair.check("SET x 1 PX 1", "RPUSH l a", "PEXPIRE l 1", "SET y 1 PX 1", "SET z 1 PX 1",
                   "HSET h f v", "PEXPIRE h 1", "SET r 1 PX 1", "SET t 1 PX 1", "SET k v")
        time.sleep(0.05)
        seen = pair.check("SET x 2", "RPUSH l b", "GET y", "EXISTS z", "HSET h f v", "RENAME r r2",
                          "SET t 2 NX", "COPY k t", "LPOP nol")
        assert seen[:6] == [(b"__keyspace@0__:x", b"expired"), (b"__keyevent@0__:expired", b"x"),
                            (b"__keyspace@0__:x", b"new"), (b"__keyevent@0__:new", b"x"),
                            (b"__keyspace@0__:x", b"set"), (b"__keyevent@0__:set", b"x")]
    finally:
        pair.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# -- transactions, databases, RESP3 ------------------------------------------------------------

def test_multi_exec_sends_each_commands_events(events):
    """Inside MULTI/EXEC the events come in command order, all at EXEC."""
    pair = events("KEA")
    pair.call("MULTI", drain=False)
    for cmd in (("SET", "a", "1"), ("RPUSH", "l", "x"), ("DEL", "a"), ("LPOP", "l")):
        pair.call(*cmd, drain=False)
    seen = pair.check("EXEC")
    assert [m[1] for m in seen] == [b"set", b"a", b"rpush", b"l", b"del", b"a", b"lpop", b"l", b"del", b"l"]


def test_resp3_subscriber_gets_push_frames(events):
    """A RESP3 subscriber gets the same messages as push frames, byte for byte with Redis."""
    pair = events("KEA", resp3=True)
    pair.check("SET a 1", "HSET h f v", "DEL a h")


def test_one_database_pattern(events):
    """A pattern on one database's channels sees only that database's events."""
    pair = events("KEA", pattern="__keyspace@3__:*")
    pair.call("SELECT", "3")
    pair.check("SET a 1", "SELECT 0", "SET a 1", "SELECT 3", "EXPIRE a 100", "MOVE a 0")


@pytest.fixture(scope="module")
def target_port():
    """A third server (sonic) for MIGRATE: Redis' synchronous MIGRATE cannot target itself."""
    proc, port, _ = start_sonic()
    yield port
    stop(proc)


def test_migrate_sends_del_for_moved_keys(events, target_port):
    """MIGRATE sends keymiss for missing keys and "del" for each key it moved (none with COPY)."""
    pair = events("KEAm", pattern="__key*@0__:*")
    target = RawClient(target_port)
    try:
        pair.call("SET", "a", "1")
        pair.call("SET", "b", "2")
        pair.call("SET", "c", "3")
        seen = pair.check(("MIGRATE", "127.0.0.1", str(target_port), "", "5", "1000", "REPLACE",
                                     "KEYS", "a", "nokey", "b"))
        assert seen == [(b"__keyspace@0__:nokey", b"keymiss"), (b"__keyevent@0__:keymiss", b"nokey"),
                        (b"__keyspace@0__:a", b"del"), (b"__keyevent@0__:del", b"a"),
                        (b"__keyspace@0__:b", b"del"), (b"__keyevent@0__:del", b"b")]
        target.call("SELECT", "5")
        target.call("FLUSHDB")
        seen = pair.check(("MIGRATE", "127.0.0.1", str(target_port), "c", "5", "1000", "COPY", "REPLACE"),
                          ("MIGRATE", "127.0.0.1", str(target_port), "nokey", "5", "1000"))
        assert [m[1] for m in seen] == [b"keymiss", b"nokey"]
    finally:
        target.call("FLUSHALL")
        target.close()


# -- unit tests: flags, the store's own events, cost when off -------------------------------------

class Recorder(object):
    """Stands in for server.pubsub: records what would be published."""

    def __init__(self):
        self.published = []

    def publish(self, channel, message):
        self.published.append((channel, message))
        return 0


def _server(flags, **config):
    server = make_server(**config)
    server.pubsub = Recorder()
    server.config.apply("notify-keyspace-events", [flags])
    return server, Client(server)


def test_parse_and_format_flags():
    """Flag letters parse to Redis' bits, and format back in Redis' order with A, K, E, m."""
    assert nt.parse_flags("KEA") == nt.NOTIFY_KEYSPACE | nt.NOTIFY_KEYEVENT | nt.NOTIFY_ALL
    assert nt.parse_flags("K E") is None
    assert nt.format_flags(nt.parse_flags("ndtzhsl$g")) == "g$lshztdn"
    assert nt.format_flags(nt.parse_flags("ndtexzhsl$g")) == "A"
    assert nt.format_flags(nt.parse_flags("KEAmn")) == "AKEm"
    assert nt.format_flags(0) == ""


def test_config_directive_from_file_words():
    """The directive validates in a config file too and keeps the bits as its value."""
    config = Config()
    config.apply("notify-keyspace-events", ["Elg"])
    assert config.format("notify-keyspace-events") == "glE"
    with pytest.raises(Exception) as e:
        config.apply("notify-keyspace-events", ["Q"])
    assert "Invalid event class character" in str(e.value)


def test_flags_without_k_or_e_cost_nothing():
    """Classes without K or E leave server.notify_flags at 0, so no write path does any work."""
    server, client = _server("A")
    assert server.notify_flags == 0 and server.store.notify_flags == 0

    class Exploding(object):
        def publish(self, channel, message):
            raise AssertionError("published while off")
    server.pubsub = Exploding()
    for cmd in (("SET", "a", "1"), ("GET", "b"), ("RPUSH", "l", "x"), ("DEL", "a", "l")):
        call(client, *cmd)
    call(client, "CONFIG", "SET", "notify-keyspace-events", "KEA")
    assert server.notify_flags != 0
    call(client, "CONFIG", "SET", "notify-keyspace-events", "")
    assert server.notify_flags == 0


def test_expiry_timer_sends_expired():
    """The store's expiry timer removing a key publishes "expired" for its database."""
    server, client = _server("KEx")
    call(client, "SELECT", "4")
    call(client, "SET", "k", "v", "PX", "100")
    assert server.pubsub.published == []
    server.clock.advance(0.2)
    assert server.pubsub.published == [(b"__keyspace@4__:k", b"expired"), (b"__keyevent@4__:expired", b"k")]


def test_lazy_expiry_then_keymiss():
    """A read of a key past its TTL (timer not run yet) sends "expired" then "keymiss"."""
    server, client = _server("Exm", start=False)
    call(client, "SET", "k", "v", "PX", "100")
    server.clock.advance(0.2)
    call(client, "GET", "k")
    assert server.pubsub.published == [(b"__keyevent@0__:expired", b"k"), (b"__keyevent@0__:keymiss", b"k")]


def test_set_over_expired_key_is_expired_then_new():
    """A SET over a key past its TTL expires it first, so "new" follows, as Redis' setKey does."""
    server, client = _server("Exn$", start=False)
    call(client, "SET", "k", "v", "PX", "100")
    server.clock.advance(0.2)
    del server.pubsub.published[:]
    call(client, "SET", "k", "w")
    assert server.pubsub.published == [(b"__keyevent@0__:expired", b"k"), (b"__keyevent@0__:new", b"k"),
                                       (b"__keyevent@0__:set", b"k")]


def test_blocked_client_served_unit():
    """A BLMOVE served by an RPUSH: rpush on the source, then the move's push and pop events."""
    server, pusher = _server("El")
    waiter = Client(server)
    call(waiter, "BLMOVE", "src", "dst", "LEFT", "LEFT", "0")
    call(pusher, "RPUSH", "src", "a")
    assert waiter.unblocked_replies == [b"a"]
    assert server.pubsub.published == [(b"__keyevent@0__:rpush", b"src"), (b"__keyevent@0__:lpush", b"dst"),
                                       (b"__keyevent@0__:lpop", b"src")]


def test_config_override_given_as_letters():
    """A server built with notify_keyspace_events="KEl" keeps the bits and reads back as Redis writes it."""
    server = make_server(notify_keyspace_events="KEl")
    server.pubsub = Recorder()
    client = Client(server)
    assert call(client, "CONFIG", "GET", "notify-keyspace-events") == {"notify-keyspace-events": "lKE"}
    call(client, "RPUSH", "l", "x")
    assert server.pubsub.published == [(b"__keyspace@0__:l", b"rpush"), (b"__keyevent@0__:rpush", b"l")]


# -- a seeded mix of every type's commands on three keys ----------------------------------------

def _mix(seed, count):
    """C{count} commands on keys a, b, c of every type (so WRONGTYPE, emptied keys and TTLs meet)."""
    import random
    rnd = random.Random(seed)

    def k():
        return rnd.choice("abc")

    def m():
        return rnd.choice(["x", "y", "z", "1", "2"])

    makers = [
        lambda: "SET %s %s" % (k(), m()), lambda: "SET %s %s PX %d" % (k(), m(), rnd.choice([1, 100000])),
        lambda: "GET %s" % k(), lambda: "DEL %s %s" % (k(), k()), lambda: "INCR %s" % k(),
        lambda: "APPEND %s %s" % (k(), m()), lambda: "GETDEL %s" % k(), lambda: "GETEX %s PERSIST" % k(),
        lambda: "EXPIRE %s %s" % (k(), rnd.choice(["-1", "0", "100"])), lambda: "PERSIST %s" % k(),
        lambda: "RENAME %s %s" % (k(), k()), lambda: "RENAMENX %s %s" % (k(), k()),
        lambda: "COPY %s %s REPLACE" % (k(), k()), lambda: "LPUSH %s %s %s" % (k(), m(), m()),
        lambda: "RPOP %s" % k(), lambda: "LMOVE %s %s LEFT RIGHT" % (k(), k()), lambda: "LREM %s 0 %s" % (k(), m()),
        lambda: "LTRIM %s 1 -1" % k(), lambda: "LRANGE %s 0 -1" % k(), lambda: "HSET %s %s %s" % (k(), m(), m()),
        lambda: "HDEL %s %s" % (k(), m()), lambda: "HINCRBY %s %s 1" % (k(), m()), lambda: "HGETALL %s" % k(),
        lambda: "SADD %s %s" % (k(), m()), lambda: "SREM %s %s" % (k(), m()),
        lambda: "SMOVE %s %s %s" % (k(), k(), m()), lambda: "SINTERSTORE %s %s %s" % (k(), k(), k()),
        lambda: "SUNIONSTORE %s %s %s" % (k(), k(), k()), lambda: "SDIFFSTORE %s %s %s" % (k(), k(), k()),
        lambda: "SCARD %s" % k(), lambda: "ZADD %s %d %s" % (k(), rnd.randint(-1, 5), m()),
        lambda: "ZINCRBY %s 1 %s" % (k(), m()), lambda: "ZREM %s %s" % (k(), m()), lambda: "ZPOPMIN %s" % k(),
        lambda: "ZUNIONSTORE %s 2 %s %s" % (k(), k(), k()), lambda: "ZRANGESTORE %s %s 0 1" % (k(), k()),
        lambda: "ZREMRANGEBYRANK %s 0 0" % k(), lambda: "EXISTS %s %s" % (k(), k()), lambda: "TYPE %s" % k(),
        lambda: "SORT %s STORE %s" % (k(), k()), lambda: "LPOP %s 2" % k(), lambda: "GETSET %s %s" % (k(), m()),
        lambda: "MSET %s 1 %s 2" % (k(), k()), lambda: "SETRANGE %s 1 %s" % (k(), m()),
        lambda: "INCRBYFLOAT %s 1.5" % k(), lambda: "HINCRBYFLOAT %s %s 1.5" % (k(), m()),
        lambda: "LINSERT %s BEFORE %s %s" % (k(), m(), m()), lambda: "LSET %s 0 %s" % (k(), m()),
        lambda: "ZADD %s INCR 1 %s" % (k(), m()), lambda: "MOVE %s 1" % k(),
        lambda: "ZMPOP 2 %s %s MAX COUNT 2" % (k(), k()), lambda: "LMPOP 2 %s %s LEFT COUNT 2" % (k(), k()),
    ]
    return [rnd.choice(makers)() for _ in range(count)]


@pytest.mark.parametrize("flags,seed", [("KEAnm", 1), ("KEAnm", 2), ("Kl$gxn", 3), ("Ezhm", 4)])
def test_random_command_mix(events, flags, seed):
    """A seeded mix of 250 commands over three keys sends exactly Redis' messages (timers off)."""
    pair = events(flags)
    pair.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        for cmd in _mix(seed, 250):
            pair.check(cmd)
            if cmd.endswith(" PX 1"):
                time.sleep(0.005)  # past its TTL on both servers before the next command
    finally:
        pair.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        pair.call("SELECT", "1")
        pair.call("FLUSHDB")
        pair.call("SELECT", "0")


def test_debug_set_active_expire_stops_and_restarts_the_timers():
    """DEBUG SET-ACTIVE-EXPIRE 0 leaves keys past their TTL for lazy expiry; 1 lets the timers reap them."""
    server, client = _server("Ex")
    assert call(client, "DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
    call(client, "SET", "k", "v", "PX", "100")
    server.clock.advance(0.2)
    assert server.pubsub.published == [] and server.store.dbs[0].shard(b"k").data
    assert call(client, "DEBUG", "SET-ACTIVE-EXPIRE", "1") == b"OK"
    server.clock.advance(0.01)
    assert server.pubsub.published == [(b"__keyevent@0__:expired", b"k")]

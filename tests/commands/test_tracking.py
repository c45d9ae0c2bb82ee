"""Client-side caching (CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO).

Parity tests run the same scenario on raw sockets against sonic and
redis-server 7.0 and compare every byte each connection receives: replies,
invalidation pushes, Pub/Sub messages on C{__redis__:invalidate}, in their
order.  A connection's output is read up to the reply of an ECHO it sends
last (L{Conn.run}), so everything the server wrote to it before is there,
broadcasts included (Redis sends them before its next poll, sonic on the
next reactor turn, both before reading that ECHO).  Client ids differ
between the servers; outputs that show one replace it with a name.

Unit tests drive the tables on a L{tests.helpers} server with a task.Clock.
"""

import itertools
import time

import pytest

from sonic.resp import Raw
from tests.helpers import Client, call, connect, make_server
from tests.resp_reader import RawClient, encode_command, frame_length

_tokens = itertools.count()


class Conn(object):
    """One raw connection of a scenario."""

    def __init__(self, port, resp=2):
        self.raw = RawClient(port)
        if resp == 3:
            self.raw.call("HELLO", "3")
        self.id = int(self.raw.call("CLIENT", "ID")[1:-2])

    subscribed = False

    def send(self, *commands):
        """Send commands (tuples of words) in one write, without reading."""
        for c in commands:
            if c[0].upper() in ("SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"):
                self.subscribed = True  # RESP2: only PING may be used to sync now
        self.raw.send_raw(b"".join(encode_command(list(c)) for c in commands))

    def read(self):
        """All bytes received until the reply of an ECHO (PING when subscribed) sent now."""
        token = b"sync-%d" % next(_tokens)
        bulk = b"$%d\r\n%s\r\n" % (len(token), token)
        # PING's subscribed-context form, or ECHO's (PING's once no subscription is left).
        markers = (b"*2\r\n$4\r\npong\r\n" + bulk, bulk)
        self.raw.send_raw(encode_command([b"PING" if self.subscribed else b"ECHO", token]))
        out = []
        while True:
            frame = self.raw.read_reply()
            if frame in markers:
                self.subscribed = frame == markers[0]
                return b"".join(out)
            out.append(frame)

    def run(self, *commands):
        """Send commands as one pipeline; return everything received back."""
        self.send(*commands)
        return self.read()

    def close(self):
        self.raw.close()


class Session(object):
    """The connections of one scenario on one server."""

    def __init__(self, port):
        self.port = port
        self.conns = []
        self.admin = self.conn()
        self.admin.run(("FLUSHALL",))

    def conn(self, resp=2):
        c = Conn(self.port, resp)
        self.conns.append(c)
        return c

    def named(self, data, **conns):
        """C{data} with each connection's id (as a RESP integer) replaced by its name."""
        for name, c in conns.items():
            data = data.replace(b":%d\r\n" % c.id, b":<%s>\r\n" % name.encode())
            data = data.replace(b"redir=%d " % c.id, b"redir=<%s> " % name.encode())
        return data

    def close(self):
        for c in self.conns:
            c.close()


@pytest.fixture
def both(sonic_port, real_port):
    """Run a scenario (a function of a L{Session}) on both servers; assert equal results."""
    def run(scenario):
        results = {}
        for name, port in (("real", real_port), ("sonic", sonic_port)):
            session = Session(port)
            try:
                results[name] = scenario(session)
            finally:
                session.close()
        assert results["sonic"] == results["real"]
        return results["sonic"]
    return run


# -- commands, options and errors ---------------------------------------------------


def test_option_errors(both):
    """CLIENT TRACKING's option parsing and checks give Redis' errors in Redis' order."""
    def scenario(s):
        a, b = s.conn(), s.conn()
        bid = str(b.id)
        cases = [
            ("CLIENT", "TRACKING"),
            ("CLIENT", "TRACKING", "maybe"),
            ("CLIENT", "TRACKING", "on", "foo"),
            ("CLIENT", "TRACKING", "on", "redirect"),
            ("CLIENT", "TRACKING", "on", "redirect", "abc"),
            ("CLIENT", "TRACKING", "on", "redirect", "99999999"),
            ("CLIENT", "TRACKING", "on", "redirect", "-1"),
            ("CLIENT", "TRACKING", "on", "redirect", "0"),
            ("CLIENT", "TRACKING", "maybe", "redirect", "99999999"),
            ("CLIENT", "TRACKING", "on", "redirect", bid, "redirect", bid),
            ("CLIENT", "TRACKING", "on", "prefix"),
            ("CLIENT", "TRACKING", "on", "prefix", "a"),
            ("CLIENT", "TRACKING", "off", "prefix", "a"),
            ("CLIENT", "TRACKING", "on", "optin", "optout"),
            ("CLIENT", "TRACKING", "on", "bcast", "optin"),
            ("CLIENT", "TRACKING", "on", "bcast", "optout"),
            ("CLIENT", "TRACKING", "on", "bcast", "prefix", "a", "prefix", "ab"),
            ("CLIENT", "TRACKING", "on", "bcast", "prefix", "ab", "prefix", "a"),
            ("CLIENT", "TRACKING", "on", "bcast", "prefix", "a", "prefix", "a"),
            ("CLIENT", "TRACKING", "on", "bcast", "prefix", "a\nb", "prefix", "a"),
            ("CLIENT", "TRACKING", "off", "bcast"),
            ("CLIENT", "TRACKING", "on", "bcast"),
            ("CLIENT", "TRACKING", "on", "optin"),
            ("CLIENT", "TRACKING", "on"),
            ("CLIENT", "TRACKING", "off"),
            ("CLIENT", "TRACKING", "on", "optin"),
            ("CLIENT", "TRACKING", "on", "optout"),
            ("CLIENT", "TRACKING", "off"),
            ("CLIENT", "CACHING", "yes"),
            ("CLIENT", "CACHING", "maybe"),
            ("CLIENT", "CACHING"),
            ("CLIENT", "CACHING", "yes", "no"),
            ("CLIENT", "TRACKING", "on"),
            ("CLIENT", "CACHING", "yes"),
            ("CLIENT", "CACHING", "no"),
            ("CLIENT", "TRACKING", "off"),
            ("CLIENT", "TRACKING", "on", "optin"),
            ("CLIENT", "CACHING", "maybe"),
            ("CLIENT", "CACHING", "no"),
            ("CLIENT", "CACHING", "YES"),
            ("CLIENT", "TRACKING", "off"),
            ("CLIENT", "TRACKING", "on", "optout"),
            ("CLIENT", "CACHING", "yes"),
            ("CLIENT", "CACHING", "No"),
            ("CLIENT", "TRACKING", "OFF"),
            ("CLIENT", "GETREDIR", "x"),
            ("CLIENT", "TRACKINGINFO", "x"),
        ]
        return [a.run(c) for c in cases]
    both(scenario)


def test_trackinginfo_and_getredir(both):
    """TRACKINGINFO's flags, redirect and sorted prefixes, and GETREDIR, in RESP2 and RESP3."""
    def scenario(s):
        out = []
        for resp in (2, 3):
            a, b = s.conn(resp), s.conn()
            bid = str(b.id)
            steps = [
                [("CLIENT", "TRACKINGINFO"), ("CLIENT", "GETREDIR")],
                [("CLIENT", "TRACKING", "on"), ("CLIENT", "TRACKINGINFO"), ("CLIENT", "GETREDIR")],
                [("CLIENT", "TRACKING", "on", "redirect", bid, "noloop"), ("CLIENT", "TRACKINGINFO"),
                 ("CLIENT", "GETREDIR")],
                [("CLIENT", "TRACKING", "on", "optin", "noloop", "noloop"), ("CLIENT", "CACHING", "yes"),
                 ("CLIENT", "TRACKINGINFO"), ("GET", "x"), ("CLIENT", "TRACKINGINFO")],
                [("CLIENT", "TRACKING", "off"), ("CLIENT", "TRACKING", "on", "optout"),
                 ("CLIENT", "CACHING", "no"), ("CLIENT", "TRACKINGINFO")],
                [("CLIENT", "TRACKING", "off"), ("CLIENT", "TRACKINGINFO"), ("CLIENT", "GETREDIR")],
                [("CLIENT", "TRACKING", "on", "bcast", "prefix", "x", "prefix", "b\x00c", "noloop"),
                 ("CLIENT", "TRACKINGINFO")],
                [("CLIENT", "TRACKING", "on", "bcast", "prefix", "xy"), ("CLIENT", "TRACKINGINFO")],
                [("CLIENT", "TRACKING", "on", "bcast", "prefix", "y"), ("CLIENT", "TRACKING", "on", "bcast"),
                 ("CLIENT", "TRACKINGINFO")],
                [("CLIENT", "TRACKING", "off"), ("CLIENT", "TRACKING", "on", "bcast", "prefix", ""),
                 ("CLIENT", "TRACKINGINFO"), ("CLIENT", "TRACKING", "off")],
            ]
            for step in steps:
                out.append(s.named(a.run(*step), b=b))
        return out
    both(scenario)


def test_prefix_overlap_after_the_first_replies_twice(both):
    """Redis 7.0 answers an overlap found for a later prefix with the error AND +OK, and tracks."""
    def scenario(s):
        a = s.conn(3)
        return [a.run(("CLIENT", "TRACKING", "on", "bcast", "prefix", "a", "prefix", "b", "prefix", "bc")),
                a.run(("CLIENT", "TRACKINGINFO"))]
    both(scenario)


# -- default mode ---------------------------------------------------------------------


def test_read_then_other_client_writes(both):
    """A key read by a RESP3 tracking client is invalidated once, when another client writes it."""
    def scenario(s):
        a, w = s.conn(3), s.conn()
        out = [a.run(("CLIENT", "TRACKING", "on"), ("GET", "k"), ("MGET", "m1", "m2", "m1"))]
        w.run(("SET", "k", "1"))
        out.append(a.read())
        w.run(("SET", "k", "2"))  # no longer tracked
        out.append(a.read())
        w.run(("MSET", "m2", "1", "m1", "2", "zz", "3"))
        out.append(a.read())
        w.run(("DEL", "missing"))
        a.run(("GET", "d"))
        w.run(("DEL", "d"))  # nothing deleted: no invalidation
        out.append(a.read())
        w.run(("SELECT", "3"), ("SET", "d", "x"), ("SELECT", "0"))  # the table ignores databases
        out.append(a.read())
        return out
    both(scenario)


def test_own_write_is_sent_after_its_reply(both):
    """Invalidations caused by the tracking client's own write follow that command's reply."""
    def scenario(s):
        a = s.conn(3)
        out = [a.run(("SET", "k", "1"), ("CLIENT", "TRACKING", "on"), ("GET", "k"))]
        out.append(a.run(("GET", "k"), ("SET", "k", "2"), ("PING",)))
        out.append(a.run(("GET", "k"), ("GET", "j"), ("MSET", "k", "3", "j", "4"), ("PING",)))
        out.append(a.run(("GET", "k"), ("DEL", "k"), ("GET", "k"), ("PING",)))
        return out
    both(scenario)


def test_multi_exec_invalidations_follow_exec(both):
    """Inside MULTI the invalidations of the client's own writes wait for EXEC's reply."""
    def scenario(s):
        a = s.conn(3)
        out = [a.run(("CLIENT", "TRACKING", "on"), ("GET", "k"))]
        out.append(a.run(("MULTI",), ("SET", "k", "1"), ("GET", "k"), ("SET", "k", "2"), ("EXEC",), ("PING",)))
        out.append(a.run(("MULTI",), ("SET", "k", "1"), ("FLUSHALL",), ("GET", "n"), ("EXEC",), ("PING",)))
        w = s.conn()
        w.run(("SET", "n", "1"), ("SET", "k", "1"))
        out.append(a.read())
        return out
    both(scenario)


def test_which_commands_are_remembered(both):
    """Keys of read-only commands are remembered (even when they fail); write commands' are not."""
    def scenario(s):
        a, w = s.conn(3), s.conn()
        w.run(("RPUSH", "l", "1"), ("SADD", "s1", "a"), ("HSET", "h", "f", "v"), ("ZADD", "z", "1", "m"))
        reads = [("GET", "l"), ("EXISTS", "e1", "e2"), ("TYPE", "t1"), ("TTL", "t2"), ("OBJECT", "ENCODING", "s1"),
                 ("SINTER", "s1", "s2"), ("SORT_RO", "l"), ("GETRANGE", "g", "0", "1"), ("LCS", "c1", "c2"),
                 ("DUMP", "d1"), ("ZUNION", "2", "z", "z2"), ("TOUCH", "tc"), ("HGET", "h", "f"),
                 ("LRANGE", "l2", "0", "-1"), ("ZSCORE", "z", "m"), ("STRLEN", "sl"), ("HGETALL", "h2"),
                 ("SMISMEMBER", "s3", "a"), ("GETEX", "w1"), ("GETDEL", "w2"), ("SUNIONSTORE", "w3", "w4"),
                 ("SET", "w5", "1"), ("INCR", "w6"), ("GET", "e1", "extra"), ("NOSUCH", "w7")]
        out = [a.run(("CLIENT", "TRACKING", "on"), *reads)]
        keys = ["l", "e1", "e2", "t1", "t2", "s1", "s2", "g", "c1", "c2", "d1", "z", "z2", "tc", "h", "l2", "sl",
                "h2", "s3", "w1", "w2", "w3", "w4", "w5", "w6", "w7"]
        for k in keys:
            w.run(("DEL", k), ("SET", k, "x"))
        out.append(a.read())
        return out
    both(scenario)


def test_optin_optout_and_caching(both):
    """OPTIN remembers only after CACHING YES, OPTOUT skips after CACHING NO; the flag lasts one command or transaction."""
    def scenario(s):
        a, w = s.conn(3), s.conn()
        out = [a.run(
            ("CLIENT", "TRACKING", "on", "optin"),
            ("GET", "o1"), ("CLIENT", "CACHING", "yes"), ("GET", "o2"), ("GET", "o3"),
            ("CLIENT", "CACHING", "yes"), ("NOSUCHCMD",), ("GET", "o4"),
            ("CLIENT", "CACHING", "yes"), ("GET", "o5", "x"), ("GET", "o6"),
            ("CLIENT", "CACHING", "yes"), ("CLIENT", "ID"), ("GET", "o7"),
            ("CLIENT", "CACHING", "yes"), ("MULTI",), ("GET", "o8"), ("GET", "o9"), ("EXEC",), ("GET", "o10"),
            ("MULTI",), ("CLIENT", "CACHING", "yes"), ("GET", "o11"), ("EXEC",), ("GET", "o12"),
            ("CLIENT", "CACHING", "yes"), ("PING",), ("GET", "o13"),
            ("CLIENT", "CACHING", "yes"), ("SET", "o14x", "1"), ("GET", "o14"),
            ("CLIENT", "CACHING", "yes"), ("CLIENT", "TRACKINGINFO"), ("GET", "o15"),
            ("CLIENT", "CACHING", "yes"), ("CLIENT", "NOSUCHSUB"), ("GET", "o16"),
            ("CLIENT", "CACHING", "yes"), ("CLIENT", "GETNAME", "x"), ("GET", "o17"))]
        out[0] = s.named(out[0], a=a)  # CLIENT ID's reply
        for i in range(1, 18):
            w.run(("SET", "o%d" % i, "x"))
        out.append(a.read())
        out.append(a.run(("CLIENT", "TRACKING", "off"), ("CLIENT", "TRACKING", "on", "optout"),
                         ("GET", "p1"), ("CLIENT", "CACHING", "no"), ("GET", "p2"), ("GET", "p3")))
        for i in range(1, 4):
            w.run(("SET", "p%d" % i, "x"))
        out.append(a.read())
        return out
    both(scenario)


def test_off_keeps_table_entries(both):
    """Turning tracking off and on again keeps the keys read before: Redis forgets them lazily."""
    def scenario(s):
        a, w = s.conn(3), s.conn()
        out = [a.run(("CLIENT", "TRACKING", "on"), ("GET", "k1"), ("CLIENT", "TRACKING", "off"), ("GET", "k2"),
                     ("CLIENT", "TRACKING", "on"))]
        w.run(("SET", "k1", "x"), ("SET", "k2", "x"))
        out.append(a.read())
        out.append(a.run(("GET", "k3"), ("CLIENT", "TRACKING", "off"), ("CLIENT", "TRACKING", "on", "bcast",
                                                                        "prefix", "zz")))
        w.run(("SET", "k3", "x"))  # a BCAST client gets no default-mode message
        out.append(a.read())
        return out
    both(scenario)


def test_noloop_default_mode(both):
    """NOLOOP: no message about the client's own writes, and the key is no longer tracked after them."""
    def scenario(s):
        a, w = s.conn(3), s.conn()
        out = [a.run(("CLIENT", "TRACKING", "on", "noloop"), ("GET", "n1"), ("SET", "n1", "1"), ("PING",))]
        w.run(("SET", "n1", "3"))
        out.append(a.read())
        out.append(a.run(("GET", "n1"), ("SET", "n1", "1"), ("GET", "n1")))
        w.run(("SET", "n1", "3"))
        out.append(a.read())
        return out
    both(scenario)


def test_scripts(both):
    """A script's read-only commands make its caller remember the script's declared keys only."""
    def scenario(s):
        a, w = s.conn(3), s.conn()
        out = [a.run(("CLIENT", "TRACKING", "on"),
                     ("EVAL", "return 1", "1", "e1"),
                     ("EVAL_RO", "return 1", "1", "e2"),
                     ("EVAL", "redis.call('set',KEYS[1],'v') return 1", "1", "e3"),
                     ("EVAL", "redis.call('get','zz') return 1", "2", "e4", "e5"),
                     ("EVAL_RO", "return redis.call('get',KEYS[1])", "1", "e6"))]
        for k in ("e1", "e2", "e3", "e4", "e5", "e6", "zz"):
            w.run(("SET", k, "x"))
        out.append(a.read())
        out.append(a.run(("GET", "own"), ("EVAL", "redis.call('set','own','1') return 1", "0"), ("PING",)))
        out.append(a.run(("CLIENT", "TRACKING", "on", "noloop"), ("GET", "own"),
                         ("EVAL", "redis.call('set','own','1') return 1", "0"), ("PING",)))
        return out
    both(scenario)


def test_active_expiry_invalidates(both):
    """A tracked key removed by expiry is invalidated."""
    def scenario(s):
        a, w = s.conn(3), s.conn()
        w.run(("SET", "ex", "1", "PX", "30"))
        out = [a.run(("CLIENT", "TRACKING", "on"), ("GET", "ex"))]
        time.sleep(0.3)
        out.append(a.read())
        return out
    both(scenario)


def test_reply_off_still_gets_pushes(both):
    """CLIENT REPLY OFF mutes replies, not invalidation pushes (own writes included)."""
    def scenario(s):
        a, w = s.conn(3), s.conn()
        a.run(("CLIENT", "TRACKING", "on"), ("GET", "a"), ("GET", "b"))
        a.send(("CLIENT", "REPLY", "OFF"))
        w.run(("SET", "a", "1"))
        a.send(("SET", "b", "1"), ("CLIENT", "REPLY", "ON"))
        return [a.read()]
    both(scenario)


def test_reset_turns_tracking_off(both):
    """RESET disables tracking."""
    def scenario(s):
        a, w = s.conn(3), s.conn()
        out = [a.run(("CLIENT", "TRACKING", "on", "bcast"), ("RESET",), ("HELLO", "3"), ("CLIENT", "TRACKINGINFO"))]
        w.run(("SET", "k", "1"))
        out.append(a.read())
        return [o.replace(b":%d\r\n" % a.id, b":<id>\r\n") for o in out]
    both(scenario)


# -- RESP2 and REDIRECT ---------------------------------------------------------------------


def test_redirect_to_resp2_subscriber(both):
    """With REDIRECT the messages go to a RESP2 client subscribed to anything, as __redis__:invalidate messages."""
    def scenario(s):
        r, a, w = s.conn(), s.conn(), s.conn()
        out = [a.run(("CLIENT", "TRACKING", "on", "redirect", str(r.id)), ("GET", "k"))]
        w.run(("SET", "k", "1"))
        out.append(r.read())  # not subscribed: nothing
        out.append(r.run(("SUBSCRIBE", "__redis__:invalidate")))
        a.run(("GET", "k"), ("MGET", "k", "k2"))
        w.run(("MSET", "k", "3", "k2", "3"))
        out.append(r.read())
        w.run(("FLUSHDB",))
        out.append(r.read())
        out.append(a.read())
        r2 = s.conn()
        r2.run(("SUBSCRIBE", "other"))
        a.run(("CLIENT", "TRACKING", "on", "redirect", str(r2.id)), ("GET", "k"))
        w.run(("SET", "k", "4"))
        out.append(r2.read())
        b = s.conn(3)
        b.run(("CLIENT", "TRACKING", "on", "redirect", str(r.id)), ("GET", "q"))
        w.run(("SET", "q", "1"))
        out.append(r.read())
        w.run(("FLUSHALL",))  # a RESP3 tracker's null reaches the RESP2 target as RESP3's "_"
        out.extend([r.read(), b.read(), r2.read()])
        t3 = s.conn(3)
        a.run(("CLIENT", "TRACKING", "on", "redirect", str(t3.id)), ("GET", "z"))
        w.run(("SET", "z", "1"))
        out.append(t3.read())
        w.run(("FLUSHALL",))
        out.append(t3.read())
        return out
    both(scenario)


def test_broken_redirect(both):
    """When the redirect client is gone a RESP3 tracker gets tracking-redir-broken, once per message."""
    def scenario(s):
        a, b, w = s.conn(), s.conn(3), s.conn()
        t = Conn(s.port, 3)
        tid = str(t.id)
        b.run(("CLIENT", "TRACKING", "on", "redirect", tid), ("GET", "y"), ("GET", "y2"))
        a.run(("CLIENT", "TRACKING", "on", "redirect", tid), ("GET", "y"))
        t.close()
        deadline = time.time() + 5
        while str(t.id).encode() in w.run(("CLIENT", "LIST")) and time.time() < deadline:
            time.sleep(0.01)
        w.run(("MSET", "y", "1", "y2", "2"))
        out = [b.read(), a.read()]
        out.append(b.run(("CLIENT", "TRACKINGINFO"), ("CLIENT", "GETREDIR")))
        w.run(("FLUSHALL",))
        out.extend([b.read(), a.read()])
        out.append(b.run(("CLIENT", "TRACKING", "on", "redirect", tid)))
        out.append(b.run(("CLIENT", "TRACKING", "on"), ("CLIENT", "TRACKINGINFO")))
        return [o.replace(b":%s\r\n" % tid.encode(), b":<t>\r\n") for o in out]
    both(scenario)


def test_resp2_without_redirect_gets_nothing(both):
    """A RESP2 tracking client without REDIRECT is tracked but can receive no message."""
    def scenario(s):
        a, w = s.conn(), s.conn()
        out = [a.run(("CLIENT", "TRACKING", "on"), ("GET", "k"), ("SET", "k", "1"))]
        w.run(("SET", "k", "2"), ("FLUSHALL",))
        out.append(a.read())
        return out
    both(scenario)


# -- BCAST ----------------------------------------------------------------------------------------


def test_bcast_prefixes(both):
    """BCAST sends one message per prefix with its modified keys sorted, after the command's turn."""
    def scenario(s):
        a, w = s.conn(3), s.conn()
        out = [a.run(("CLIENT", "TRACKING", "on", "bcast", "prefix", "b", "prefix", "a"))]
        w.run(("MSET", "b1", "1", "a2", "1", "c1", "1", "a1", "2"))
        out.append(a.read())
        w.run(("SET", "a1", "x"), ("DEL", "a1", "zz"))
        out.append(a.read())
        out.append(a.run(("SET", "a6", "1"), ("PING",)))  # own write, no NOLOOP: told after the pipeline
        b = s.conn(3)
        b.run(("CLIENT", "TRACKING", "on", "bcast", "prefix", "ab"))
        w.run(("MSET", "ab1", "1", "a1", "1"))
        out.extend([a.read(), b.read()])
        c = s.conn(3)
        c.run(("CLIENT", "TRACKING", "on", "bcast"))  # every key
        w.run(("SET", "zz", "1"), ("SET", "ab1", "2"))
        out.extend([a.read(), b.read(), c.read()])
        w.run(("FLUSHALL",))
        out.extend([a.read(), b.read(), c.read()])
        return out
    both(scenario)


def test_bcast_noloop(both):
    """BCAST NOLOOP leaves out the client's own writes, but not a script's nor expiries."""
    def scenario(s):
        b, w = s.conn(3), s.conn()
        out = [b.run(("CLIENT", "TRACKING", "on", "bcast", "noloop"), ("SET", "x1", "1"), ("PING",))]
        w.run(("SET", "x2", "1"))
        out.append(b.read())
        out.append(b.run(("EVAL", "redis.call('set','sc1','1') return 1", "0")))
        out.append(b.run(("MULTI",), ("SET", "sc2", "1"), ("EXEC",)))
        b.run(("SET", "sc3", "1"))
        w.run(("SET", "sc3", "2"))
        out.append(b.read())
        out.append(b.run(("SET", "sc4", "1"), ("SET", "sc5", "1")))
        w.run(("SET", "ex", "1", "PX", "30"))
        b.read()
        time.sleep(0.3)
        out.append(b.read())
        return out
    both(scenario)


def test_bcast_redirect_resp2(both):
    """BCAST with REDIRECT to a RESP2 subscriber sends the prefix's keys as one Pub/Sub message."""
    def scenario(s):
        r, c, w = s.conn(), s.conn(), s.conn()
        r.run(("SUBSCRIBE", "__redis__:invalidate"))
        out = [c.run(("CLIENT", "TRACKING", "on", "bcast", "redirect", str(r.id), "prefix", "q"))]
        w.run(("MSET", "q2", "1", "q1", "2", "x", "3"))
        out.append(r.read())
        w.run(("FLUSHALL",))
        out.append(r.read())
        return out
    both(scenario)


# -- flushes and INFO --------------------------------------------------------------------------------


def test_flush_sends_null(both):
    """FLUSHDB/FLUSHALL send every tracking client a null invalidation, its own after its reply, NOLOOP or not."""
    def scenario(s):
        a, o, w = s.conn(3), s.conn(3), s.conn()
        o.run(("CLIENT", "TRACKING", "on", "optin"))
        out = [a.run(("CLIENT", "TRACKING", "on"), ("GET", "k"), ("FLUSHALL",), ("PING",))]
        out.append(o.read())
        out.append(a.run(("CLIENT", "TRACKING", "on", "noloop"), ("FLUSHDB",), ("PING",)))
        w.run(("FLUSHDB",))
        out.extend([a.read(), o.read()])
        out.append(a.run(("CLIENT", "TRACKING", "off"), ("FLUSHDB",)))
        return out
    both(scenario)


def _tracking_info(conn):
    text = conn.run(("INFO", "everything")).split(b"\r\n")
    return [line for line in text if line.startswith(b"tracking_")]


def test_info_fields(both):
    """INFO counts tracking clients, remembered keys, key/client pairs and prefixes as Redis does."""
    def scenario(s):
        a, b, w = s.conn(3), s.conn(3), s.conn()
        out = [a.run(("CLIENT", "TRACKING", "on"), ("MGET", "k1", "k2")),
               b.run(("CLIENT", "TRACKING", "on"), ("GET", "k1"))]
        deadline = time.time() + 5
        # Clients of earlier tests may still be closing on the servers.
        while _tracking_info(w)[0] != b"tracking_clients:2" and time.time() < deadline:
            time.sleep(0.01)
        out.append(_tracking_info(w))
        b.close()
        while _tracking_info(w)[0] != b"tracking_clients:1" and time.time() < deadline:
            time.sleep(0.01)
        out.append(_tracking_info(w))  # b's entries stay until the keys change
        w.run(("SET", "k1", "1"))
        out.append(_tracking_info(w))
        c = s.conn(3)
        c.run(("CLIENT", "TRACKING", "on", "bcast", "prefix", "p", "prefix", "q"))
        out.append(_tracking_info(w))
        c.run(("CLIENT", "TRACKING", "off"))
        w.run(("FLUSHALL",))
        out.append(_tracking_info(w))
        a.run(("CLIENT", "TRACKING", "off"))
        return out
    both(scenario)


def test_table_limit(both):
    """tracking-table-max-keys: reads past the limit invalidate older keys (which ones is random in Redis)."""
    def scenario(s):
        a, w = s.conn(3), s.conn()
        w.run(("CONFIG", "SET", "tracking-table-max-keys", "2"))
        try:
            out = a.run(("CLIENT", "TRACKING", "on"), ("GET", "k1"), ("GET", "k2"), ("GET", "k3"), ("GET", "k4"))
            out += a.run(("PING",))
            info = _tracking_info(w)
        finally:
            w.run(("CONFIG", "SET", "tracking-table-max-keys", "1000000"))
        # The evicted keys' names differ (random in Redis, oldest first here).
        for k in (b"k1", b"k2", b"k3", b"k4"):
            out = out.replace(b"$2\r\n%s\r\n>" % k, b"$2\r\nkN\r\n>")
            out = out.replace(b"*1\r\n$2\r\n%s\r\n" % k, b"*1\r\n$2\r\nkN\r\n")
        return [out, info, w.run(("CONFIG", "GET", "tracking-table-max-keys")),
                w.run(("CONFIG", "SET", "tracking-table-max-keys", "-1"))]
    both(scenario)


# -- unit tests -----------------------------------------------------------------------------------------


def _pushes(client):
    """The raw bytes of the pushes a bare client collected, then forget them."""
    out = [bytes(p) if isinstance(p, Raw) else p for p in (client.pushes or [])]
    client.pushes = []
    return out


def test_store_pays_nothing_until_someone_tracks():
    """store.tracking stays None until a client tracks, and goes back to None once nothing is tracked."""
    server = make_server()
    a, w = Client(server), Client(server)
    server.add_client(a)
    server.add_client(w)
    assert server.store.tracking is None
    call(a, "HELLO", "3")
    call(a, "CLIENT", "TRACKING", "ON")
    assert server.store.tracking is server.tracking
    call(a, "GET", "k")
    call(a, "CLIENT", "TRACKING", "OFF")
    assert server.store.tracking is server.tracking  # k is still in the table
    call(w, "SET", "k", "1")
    assert server.store.tracking is None
    assert _pushes(a) == []


def test_unit_invalidation_and_counts():
    """Bare clients: remembered keys, one push per key per client, lazy entries of gone clients."""
    server = make_server()
    a, b, w = Client(server), Client(server), Client(server)
    for c in (a, b, w):
        server.add_client(c)
    for c in (a, b):
        call(c, "HELLO", "3")
        call(c, "CLIENT", "TRACKING", "ON")
    call(a, "MGET", "x", "y")
    call(b, "GET", "x")
    t = server.tracking
    assert (t.clients, len(t.table), t.items) == (2, 2, 3)
    server.remove_client(b)
    for hook in server.disconnect_hooks:
        hook(b)
    assert (t.clients, len(t.table), t.items) == (1, 2, 3)
    call(w, "SET", "x", "1")
    assert _pushes(a) == [b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nx\r\n"]
    assert _pushes(b) == []
    assert (len(t.table), t.items) == (1, 1)


def test_unit_bcast_batches_per_turn():
    """BCAST keys modified during one reactor turn go out together on the next one, sorted."""
    server = make_server()
    a, w = Client(server), Client(server)
    server.add_client(a)
    server.add_client(w)
    call(a, "HELLO", "3")
    call(a, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "u:")
    call(w, "SET", "u:2", "1")
    call(w, "SET", "u:1", "1")
    call(w, "SET", "v:1", "1")
    assert _pushes(a) == []
    server.clock.advance(0)
    assert _pushes(a) == [b">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\nu:1\r\n$3\r\nu:2\r\n"]
    server.clock.advance(0)
    assert _pushes(a) == []


def test_unit_own_invalidation_follows_reply_on_the_wire():
    """On a connection, the tracking client's own write is answered first, then invalidated."""
    server = make_server()
    proto, transport = connect(server)
    proto.dataReceived(b"HELLO 3\r\n")
    transport.clear()
    proto.dataReceived(b"CLIENT TRACKING ON\r\nGET k\r\nSET k v\r\nPING\r\n")
    assert transport.value() == (b"+OK\r\n_\r\n+OK\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
                                 b"+PONG\r\n")


def test_unit_expiry_invalidates():
    """A tracked key that expires on the clock is invalidated."""
    server = make_server()
    a, w = Client(server), Client(server)
    server.add_client(a)
    server.add_client(w)
    call(a, "HELLO", "3")
    call(a, "CLIENT", "TRACKING", "ON")
    call(w, "SET", "k", "1", "PX", "100")
    call(a, "GET", "k")
    server.clock.advance(1)
    assert _pushes(a) == [b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"]


def test_unit_table_limit_evicts_oldest():
    """Past tracking-table-max-keys the oldest remembered keys are invalidated first."""
    server = make_server()
    a = Client(server)
    server.add_client(a)
    call(a, "HELLO", "3")
    call(a, "CONFIG", "SET", "tracking-table-max-keys", "2")
    call(a, "CLIENT", "TRACKING", "ON")
    for k in ("k1", "k2", "k3"):
        call(a, "GET", k)
    assert list(server.tracking.table) == [b"k2", b"k3"]
    assert _pushes(a) == [b">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk1\r\n"]
    call(a, "CONFIG", "SET", "tracking-table-max-keys", "1")
    server.clock.advance(0)
    assert list(server.tracking.table) == [b"k3"]


def test_unit_disconnected_redirect_target_is_broken():
    """A redirect target that disconnects makes the tracker's next message a tracking-redir-broken push."""
    server = make_server()
    a, r, w = Client(server), Client(server), Client(server)
    for c in (a, r, w):
        server.add_client(c)
    call(a, "HELLO", "3")
    call(a, "CLIENT", "TRACKING", "ON", "REDIRECT", r.id)
    call(a, "GET", "k")
    server.remove_client(r)
    call(w, "SET", "k", "1")
    assert _pushes(a) == [b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % r.id]
    assert call(a, "CLIENT", "TRACKINGINFO")["flags"] == [b"on", b"broken_redirect"]


def test_redirect_target_subscribed_to_anything(both):
    """A RESP2 redirect target gets the messages while it has any subscription (shard channels, patterns)."""
    def scenario(s):
        w, a = s.conn(), s.conn()
        out = []
        for subscribe, unsubscribe in ((("SSUBSCRIBE", "sh"), ("SUNSUBSCRIBE",)),
                                       (("PSUBSCRIBE", "x*"), ("PUNSUBSCRIBE",))):
            r = s.conn()
            out.append(r.run(subscribe))
            a.run(("CLIENT", "TRACKING", "on", "redirect", str(r.id)), ("GET", "k"))
            w.run(("SET", "k", "1"))
            out.append(r.read())
            out.append(r.run(unsubscribe))
            a.run(("GET", "k"))
            w.run(("SET", "k", "2"))
            out.append(r.read())
        return out
    both(scenario)


def _flags_and_redir(info, s, **conns):
    """The flags= and redir= fields of a CLIENT INFO reply, ids named."""
    fields = dict(f.split(b"=", 1) for f in info.split(b"\r\n", 1)[1].split() if b"=" in f)
    return s.named(b"flags=%s redir=%s " % (fields[b"flags"], fields[b"redir"]), **conns)


def test_client_info_flags_and_redir(both):
    """CLIENT INFO shows t (tracking), R (broken redirect), B (BCAST) and redir= as Redis."""
    def scenario(s):
        a, r = s.conn(3), s.conn()
        steps = [[], [("CLIENT", "TRACKING", "on")], [("CLIENT", "TRACKING", "on", "redirect", str(r.id))],
                 [("CLIENT", "TRACKING", "off"), ("CLIENT", "TRACKING", "on", "bcast", "redirect", str(r.id))]]
        out = []
        for step in steps:
            if step:
                a.run(*step)
            out.append(_flags_and_redir(a.run(("CLIENT", "INFO")), s, r=r))
        a.run(("SET", "k", "1"))
        r.close()
        w = s.conn()
        deadline = time.time() + 5
        while b"id=%d " % r.id in w.run(("CLIENT", "LIST")) and time.time() < deadline:
            time.sleep(0.01)
        a.read()
        out.append(s.named(a.run(("SET", "k", "2")), r=r))
        out.append(_flags_and_redir(a.run(("CLIENT", "INFO")), s, r=r))
        return out
    both(scenario)


def test_bcast_noloop_write_before_switching(both):
    """A key written in the same pipeline before switching to BCAST NOLOOP counts as the client's own write."""
    def scenario(s):
        a, b = s.conn(3), s.conn(3)
        a.run(("CLIENT", "TRACKING", "on", "bcast"))  # collects every key
        out = [b.run(("SET", "k", "1"), ("CLIENT", "TRACKING", "on", "bcast", "noloop"), ("SET", "j", "1"),
                     ("PING",))]
        out.append(a.read())
        return out
    both(scenario)


def test_unit_current_client_is_the_running_connection():
    """The protocol names the connection whose commands run (so NOLOOP skips its own write), then clears it."""
    server = make_server()
    proto, transport = connect(server)
    assert server.current_client is None
    proto.dataReceived(b"HELLO 3\r\nCLIENT TRACKING ON NOLOOP\r\nGET k\r\nSET k v\r\nPING\r\n")
    assert server.current_client is None
    assert transport.value().endswith(b"+OK\r\n_\r\n+OK\r\n+PONG\r\n")


def test_served_blocked_client_is_the_current_client(both):
    """A served BLMOVE's own write is invalidated after its reply (and not at all with NOLOOP)."""
    def scenario(s):
        w = s.conn()
        out = []
        for mode in (("CLIENT", "TRACKING", "on"), ("CLIENT", "TRACKING", "on", "noloop")):
            b = s.conn(3)
            b.run(mode, ("LRANGE", "dst", "0", "-1"), ("LRANGE", "src", "0", "-1"))
            b.send(("BLMOVE", "src", "dst", "LEFT", "LEFT", "0"))
            deadline = time.time() + 5
            while b"blocked_clients:1" not in w.run(("INFO", "clients")) and time.time() < deadline:
                time.sleep(0.01)
            out.append(w.run(("LPUSH", "src", "x")))
            out.append(b.read())
            w.run(("DEL", "src", "dst"))
            b.read()
        return out
    both(scenario)

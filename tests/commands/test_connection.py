"""Connection commands and CLIENT: byte-for-byte parity with redis-server 7.0, plus sonic-only checks.

Replies that carry a connection's own id, address or age are compared with
those parts masked; everything else is compared raw.  Authentication runs
against a sonic and a redis-server both started with C{--requirepass}.
"""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from tests.conftest import free_port, start_sonic, stop, wait_for_port
from tests.helpers import Client, call, make_server
from tests.resp_reader import RawClient
from sonic.resp import Error, Verbatim

PASSWORD = "s3cret"


def masked(reply):
    """A HELLO reply with its (server-specific) client id replaced."""
    return re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"$2\r\nid\r\n:ID\r\n", reply)


def both(sonic_port, real_port, scenario):
    """Run C{scenario(connect)} on each server; assert equal transcripts; return sonic's."""
    results = []
    for port in (real_port, sonic_port):
        opened = []

        def connect(port=port):
            c = RawClient(port)
            opened.append(c)
            return c
        try:
            results.append(scenario(connect))
        finally:
            for c in opened:
                c.close()
    assert results[1] == results[0], "sonic %r != redis %r" % (results[1], results[0])
    return results[1]


# -- PING, ECHO, SELECT, QUIT, RESET --------------------------------------------------

def test_ping_echo(parity):
    """PING with and without a message, ECHO, and their arity errors match Redis."""
    parity(("PING",), ("PING", "hello"), ("PING", ""), ("PING", "a", "b"),
           ("ECHO", "x y"), ("ECHO", ""), ("ECHO",), ("ECHO", "a", "b"), ("ping",), ("PiNg", "m"))


def test_ping_echo_resp3(parity):
    """In RESP3 PING still answers a simple string and ECHO a bulk string."""
    for c in (parity.sonic, parity.real):
        c.call("HELLO", "3")
    parity(("PING",), ("PING", "m"), ("ECHO", "e"))


def test_select(parity):
    """SELECT switches databases and rejects bad indexes with Redis' errors."""
    parity(("SET", "k", "db0"), ("SELECT", "1"), ("GET", "k"), ("SET", "k", "db1"),
           ("SELECT", "0"), ("GET", "k"), ("SELECT", "15"), ("SELECT", "16"),
           ("SELECT", "-1"), ("SELECT", "x"), ("SELECT", "01"), ("SELECT", "-0"),
           ("SELECT", "2147483648"), ("SELECT", "4294967296"), ("SELECT", "-2147483649"),
           ("SELECT", "99999999999999999999"), ("SELECT",), ("SELECT", "1", "2"))


def test_quit(parity):
    """QUIT answers +OK, ignores its arguments and closes the connection."""
    assert parity.raw(b"QUIT\r\n") == b"+OK\r\n"


def test_quit_with_arguments_inside_multi(parity):
    """QUIT with arguments inside MULTI is not queued: +OK, then the connection closes."""
    assert parity.raw(b"MULTI\r\nQUIT 1 2\r\n") == b"+OK\r\n+OK\r\n"


def test_quit_pipelined_stops_later_commands(sonic_port, real_port):
    """Commands pipelined after QUIT are not run."""
    def scenario(connect):
        c = connect()
        c.send_raw(b"SET q 1\r\nQUIT\r\nSET q 2\r\n")
        out = [c.is_closed(1.0), c.buf]
        other = connect()
        return out + [other.call("GET", "q"), other.call("DEL", "q")]
    assert both(sonic_port, real_port, scenario) == [True, b"+OK\r\n+OK\r\n", b"$1\r\n1\r\n", b":1\r\n"]


def test_reset(parity):
    """RESET leaves MULTI, selects db 0, drops the name and answers +RESET."""
    assert parity.raw(b"SELECT 3\r\nSET r 3\r\nCLIENT SETNAME me\r\nMULTI\r\nRESET\r\n"
                      b"PING\r\nCLIENT GETNAME\r\nGET r\r\nEXEC\r\nRESET x\r\n") == (
        b"+OK\r\n+OK\r\n+OK\r\n+OK\r\n+RESET\r\n+PONG\r\n$-1\r\n$-1\r\n-ERR EXEC without MULTI\r\n"
        b"-ERR wrong number of arguments for 'reset' command\r\n")


def test_reset_back_to_resp2_and_reply_on(parity):
    """RESET returns to RESP2 and turns CLIENT REPLY OFF back on."""
    for c in (parity.sonic, parity.real):
        c.call("HELLO", "3")
    parity.raw(b"CLIENT REPLY OFF\r\nPING\r\nRESET\r\nGET nokey\r\n")


def test_reset_unwatches(sonic_port, real_port):
    """Keys WATCHed before RESET no longer abort a later transaction."""
    def scenario(connect):
        a, b = connect(), connect()
        a.call("WATCH", "w")
        a.call("RESET")
        b.call("SET", "w", "1")
        return [a.call("MULTI"), a.call("EXEC"), b.call("DEL", "w")]
    assert both(sonic_port, real_port, scenario)[1] == b"*0\r\n"


# -- HELLO --------------------------------------------------------------------------

def test_hello_without_arguments_keeps_resp2(sonic_port, real_port):
    """HELLO with no argument answers the 7-field map as a flat RESP2 array."""
    out = both(sonic_port, real_port, lambda connect: masked(connect().call("HELLO")))
    assert out.startswith(b"*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n")


def test_hello_3_switches_to_resp3(sonic_port, real_port):
    """HELLO 3 answers a RESP3 map and later replies use RESP3 types."""
    def scenario(connect):
        c = connect()
        return [masked(c.call("HELLO", "3")), c.call("GET", "nokey"), masked(c.call("HELLO", "2")),
                c.call("GET", "nokey")]
    out = both(sonic_port, real_port, scenario)
    assert out[0].startswith(b"%7\r\n") and out[1] == b"_\r\n" and out[3] == b"$-1\r\n"


def test_hello_reply_id_is_client_id(sonic_port):
    """The id HELLO reports is the connection's CLIENT ID."""
    c = RawClient(sonic_port)
    cid = c.call("CLIENT", "ID")
    assert b"$2\r\nid\r\n" + cid in c.call("HELLO", "2")
    c.close()


def test_hello_setname_and_auth_options(sonic_port, real_port):
    """HELLO SETNAME names the connection; HELLO AUTH default works without a password set."""
    def scenario(connect):
        c = connect()
        return [masked(c.call("HELLO", "2", "SETNAME", "named")), c.call("CLIENT", "GETNAME"),
                masked(c.call("HELLO", "2", "AUTH", "default", "any", "SETNAME", "")),
                c.call("CLIENT", "GETNAME"), masked(c.call("hello", "3", "setname", "x", "setname", "y")),
                c.call("CLIENT", "GETNAME")]
    both(sonic_port, real_port, scenario)


def test_hello_errors(parity):
    """HELLO's protocol-version, option-syntax, name and credential errors match Redis."""
    parity(("HELLO", "1"), ("HELLO", "4"), ("HELLO", "0"), ("HELLO", "-1"), ("HELLO", "abc"),
           ("HELLO", "3", "foo"), ("HELLO", "3", "AUTH", "a"), ("HELLO", "3", "SETNAME"),
           ("HELLO", "3", "SETNAME", "a b"), ("HELLO", "3", "SETNAME", "a b", "foo"),
           ("HELLO", "3", "foo", "SETNAME", "a b"), ("HELLO", "3", "AUTH", "x", "y", "SETNAME", "a\nb"),
           ("HELLO", "3", "AUTH", "nouser", "pw"), ("HELLO", "4", "foo"),
           ("HELLO", "3", "SETNAME", "a\nb", "AUTH", "x", "y"), ("HELLO", "3", "AUTH", "default", "pw", "x"),
           ("GET", "nokey"))


# -- AUTH without a password --------------------------------------------------------

def test_auth_without_password_configured(parity):
    """AUTH <password> with no password set is Redis' error; AUTH default <any> succeeds."""
    parity(("AUTH", "x"), ("AUTH", "default", "x"), ("AUTH", "nouser", "x"),
           ("AUTH", "a", "b", "c"), ("AUTH",), ("PING",))


# -- AUTH with requirepass ----------------------------------------------------------

@pytest.fixture(scope="module")
def auth_ports():
    """(sonic port, redis port) of two servers started with --requirepass."""
    sonic_proc, sport, _ = start_sonic("--requirepass", PASSWORD)
    binary = shutil.which("redis-server")
    real_proc = None
    if binary is None:
        stop(sonic_proc)
        if os.environ.get("SONIC_REQUIRE_REAL"):
            pytest.fail("redis-server is required (SONIC_REQUIRE_REAL)")
        pytest.skip("no redis-server binary")
    rport = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-auth-")
    real_proc = subprocess.Popen(
        [binary, "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--requirepass", PASSWORD, "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_port(rport, real_proc)
        yield sport, rport
    finally:
        stop(real_proc)
        stop(sonic_proc)


def test_noauth_before_auth(auth_ports):
    """Before AUTH every ordinary command, PING included, gets -NOAUTH; QUIT still works."""
    def scenario(connect):
        c = connect()
        out = [c.call("GET", "k"), c.call("PING"), c.call("SELECT", "1"), c.call("CLIENT", "ID"),
               c.call("NOSUCHCMD"), c.call("GET"), c.call("EXEC"), c.call("EXEC", "x"), c.call("MULTI")]
        c.send_raw(b"QUIT\r\n")
        return out + [c.read_reply(), c.is_closed()]
    out = both(*auth_ports, scenario)
    assert out[0] == b"-NOAUTH Authentication required.\r\n"


def test_auth_wrong_then_right(auth_ports):
    """A wrong password gets -WRONGPASS and keeps the client out; the right one lets it in."""
    def scenario(connect):
        c = connect()
        return [c.call("AUTH", "wrong"), c.call("GET", "k"), c.call("AUTH", "default", "wrong"),
                c.call("AUTH", "other", PASSWORD), c.call("AUTH", PASSWORD), c.call("GET", "k"),
                c.call("AUTH", "wrong"), c.call("PING"), c.call("AUTH", "default", PASSWORD),
                c.call("AUTH", "a", "b", "c")]
    out = both(*auth_ports, scenario)
    assert out[0] == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert out[7] == b"+PONG\r\n"


def test_hello_requires_auth(auth_ports):
    """HELLO without AUTH is refused with Redis' long -NOAUTH; HELLO AUTH logs in and switches protocol."""
    def scenario(connect):
        c = connect()
        return [c.call("HELLO", "3"), c.call("HELLO"), c.call("HELLO", "3", "AUTH", "default", "bad"),
                c.call("HELLO", "3", "SETNAME", "x"), c.call("CLIENT", "GETNAME"),
                masked(c.call("HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "n")),
                c.call("CLIENT", "GETNAME"), c.call("GET", "nokey")]
    out = both(*auth_ports, scenario)
    assert out[0].startswith(b"-NOAUTH HELLO must be called with the client already authenticated")
    assert out[-1] == b"_\r\n"


def test_hello_auth_stays_after_a_later_bad_option(auth_ports):
    """HELLO AUTH logs in before a later bad option is rejected, as in Redis."""
    def scenario(connect):
        c = connect()
        return [c.call("HELLO", "3", "AUTH", "default", PASSWORD, "bogus"), c.call("GET", "nokey"),
                c.call("HELLO", "3", "AUTH", "default", "bad", "SETNAME", "a b"), c.call("GET", "nokey")]
    out = both(*auth_ports, scenario)
    assert out[:2] == [b"-ERR Syntax error in HELLO option 'bogus'\r\n", b"$-1\r\n"]


def test_reset_requires_auth_again(auth_ports):
    """After RESET an authenticated client must AUTH again."""
    def scenario(connect):
        c = connect()
        return [c.call("AUTH", PASSWORD), c.call("GET", "k"), c.call("RESET"), c.call("GET", "k")]
    assert both(*auth_ports, scenario)[-1] == b"-NOAUTH Authentication required.\r\n"


def test_unauthenticated_multibulk_limit(auth_ports):
    """Before AUTH a multibulk of more than 10 items is a protocol error that closes the connection."""
    def scenario(connect):
        c = connect()
        c.send_raw(b"*10\r\n" + b"$1\r\na\r\n" * 10)
        first = c.read_reply()
        c.send_raw(b"*11\r\n$3\r\nSET\r\n")
        return [first, c.is_closed(1.0), c.buf]
    out = both(*auth_ports, scenario)
    assert out[1] is True and out[2] == b"-ERR Protocol error: unauthenticated multibulk length\r\n"


def test_unauthenticated_bulk_limit(auth_ports):
    """Before AUTH a bulk longer than 16384 bytes is a protocol error; 16384 itself is allowed."""
    def scenario(connect):
        c = connect()
        c.send_raw(b"*2\r\n$4\r\nECHO\r\n$16384\r\n" + b"x" * 16384 + b"\r\n")
        first = c.read_reply()[:20]
        c.send_raw(b"*2\r\n$4\r\nECHO\r\n$16385\r\n")
        return [first, c.is_closed(1.0), c.buf]
    out = both(*auth_ports, scenario)
    assert out[2] == b"-ERR Protocol error: unauthenticated bulk length\r\n"


def test_limits_lifted_after_auth(auth_ports):
    """After AUTH, long multibulks and big bulks are accepted."""
    def scenario(connect):
        c = connect()
        c.call("AUTH", PASSWORD)
        return [c.call("DEL", *["k%d" % i for i in range(20)]), len(c.call("ECHO", "y" * 20000))]
    assert both(*auth_ports, scenario) == [b":0\r\n", 20000 + len(b"$20000\r\n\r\n")]


# -- CLIENT ID / SETNAME / GETNAME / SETINFO -----------------------------------------

def test_client_setname_getname(parity):
    """CLIENT SETNAME validates like Redis; GETNAME returns the name or null; '' clears it."""
    parity(("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "app-1"), ("CLIENT", "GETNAME"),
           ("CLIENT", "SETNAME", "a b"), ("CLIENT", "SETNAME", "a\nb"), ("CLIENT", "SETNAME", "\x7f"),
           ("CLIENT", "SETNAME", "é"), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", ""),
           ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME"), ("CLIENT", "SETNAME", "a", "b"),
           ("CLIENT", "GETNAME", "x"), ("client", "setname", "!~"), ("client", "getname"))


def test_client_arity_and_unknown_subcommand(parity):
    """CLIENT alone, unknown subcommands and wrong arities answer Redis' errors."""
    parity(("CLIENT",), ("CLIENT", "FOO"), ("CLIENT", "ID", "x"), ("CLIENT", "INFO", "x"),
           ("CLIENT", "KILL"), ("CLIENT", "NO-EVICT"), ("CLIENT", "REPLY"), ("CLIENT", "REPLY", "on", "x"),
           ("CLIENT", "PAUSE"), ("CLIENT", "UNPAUSE", "x"), ("CLIENT", "HELP", "x"), ("CLIENT", "UNBLOCK"))


def test_client_id_is_a_positive_integer(sonic_port):
    """CLIENT ID answers an integer, growing with each new connection."""
    a = RawClient(sonic_port)
    first = int(a.call("CLIENT", "ID")[1:])
    b = RawClient(sonic_port)
    assert int(b.call("CLIENT", "ID")[1:]) > first > 0
    a.close()
    b.close()


def test_client_setinfo(sonic_port):
    """CLIENT SETINFO (Redis 7.2) stores LIB-NAME/LIB-VER, shown in CLIENT INFO, with 7.2's errors."""
    c = RawClient(sonic_port)
    assert c.call("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == b"+OK\r\n"
    assert c.call("CLIENT", "SETINFO", "lib-ver", "8.1.0") == b"+OK\r\n"
    info = c.call("CLIENT", "INFO")
    assert info.endswith(b" lib-name=redis-py lib-ver=8.1.0\n\r\n")
    assert c.call("CLIENT", "SETINFO", "lib-name", "a b") == (
        b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n")
    assert c.call("CLIENT", "SETINFO", "color", "x") == b"-ERR Unrecognized option 'color'\r\n"
    assert c.call("CLIENT", "SETINFO", "lib-name") == (
        b"-ERR wrong number of arguments for 'client|setinfo' command\r\n")
    c.close()


# -- CLIENT LIST / INFO ---------------------------------------------------------------

def _fields(line):
    return [f.split(b"=", 1)[0] for f in line.strip().split(b" ")]


def test_client_info_fields_match_redis(sonic_port, real_port):
    """CLIENT INFO has Redis 7.0's fields in Redis' order (plus 7.2's lib-name and lib-ver)."""
    real = RawClient(real_port).call("CLIENT", "INFO")
    ours = RawClient(sonic_port).call("CLIENT", "INFO")
    body = lambda r: r.split(b"\r\n", 1)[1]
    assert _fields(body(ours)) == _fields(body(real)) + [b"lib-name", b"lib-ver"]


def test_client_info_values(sonic_port):
    """CLIENT INFO reports this connection's id, address, name, db, multi state, cmd and resp."""
    c = RawClient(sonic_port)
    cid = int(c.call("CLIENT", "ID")[1:])
    c.call("CLIENT", "SETNAME", "viewer")
    c.call("SELECT", "2")
    local = "%s:%d" % c.sock.getsockname()[:2]
    line = c.call("CLIENT", "INFO").split(b"\r\n")[1].decode()
    fields = dict(f.split("=", 1) for f in line.strip().split(" "))
    assert fields["id"] == str(cid)
    assert fields["addr"] == local
    assert fields["laddr"] == "127.0.0.1:%d" % sonic_port
    assert (fields["name"], fields["db"], fields["flags"], fields["multi"]) == ("viewer", "2", "N", "-1")
    assert (fields["cmd"], fields["user"], fields["resp"], fields["age"]) == ("client|info", "default", "2", "0")
    c.call("MULTI")
    c.call("SET", "a", "1")
    c.call("CLIENT", "INFO")
    line = c.call("EXEC").split(b"\r\n")[3].decode()
    fields = dict(f.split("=", 1) for f in line.strip().split(" "))
    assert (fields["flags"], fields["multi"]) == ("x", "2")
    c.close()


def test_client_info_is_verbatim_in_resp3(sonic_port, real_port):
    """In RESP3 CLIENT INFO and CLIENT LIST are verbatim strings of format txt."""
    def scenario(connect):
        c = connect()
        c.call("HELLO", "3")
        return [c.call("CLIENT", "INFO")[:1], c.call("CLIENT", "INFO").split(b"\r\n")[1][:7],
                c.call("CLIENT", "LIST", "TYPE", "pubsub")]
    assert both(sonic_port, real_port, scenario) == [b"=", b"txt:id=", b"=4\r\ntxt:\r\n"]


def test_client_list_filters(parity):
    """CLIENT LIST TYPE/ID filters and their errors match Redis."""
    parity(("CLIENT", "LIST", "TYPE", "pubsub"), ("CLIENT", "LIST", "TYPE", "master"),
           ("CLIENT", "LIST", "TYPE", "replica"), ("CLIENT", "LIST", "TYPE", "slave"),
           ("CLIENT", "LIST", "TYPE", "foo"), ("CLIENT", "LIST", "ID", "abc"),
           ("CLIENT", "LIST", "ID", "999999"), ("CLIENT", "LIST", "ID", "0"),
           ("CLIENT", "LIST", "ID", "1", "abc"), ("CLIENT", "LIST", "ID"), ("CLIENT", "LIST", "foo"),
           ("CLIENT", "LIST", "TYPE", "normal", "ID", "3"), ("CLIENT", "LIST", "TYPE"))


def test_client_list_shows_connections(sonic_port):
    """CLIENT LIST shows every connection, one line each; ID and TYPE normal select them."""
    a, b = RawClient(sonic_port), RawClient(sonic_port)
    ida, idb = (int(x.call("CLIENT", "ID")[1:]) for x in (a, b))
    b.call("CLIENT", "SETNAME", "bee")
    listing = a.call("CLIENT", "LIST").decode()
    assert ("id=%d " % ida) in listing and ("id=%d " % idb) in listing and "name=bee " in listing
    one = a.call("CLIENT", "LIST", "ID", str(idb), "999999").decode().split("\r\n")[1]
    assert one.startswith("id=%d addr=" % idb) and one.count("\n") == 1
    normal = a.call("CLIENT", "LIST", "TYPE", "NORMAL").decode()
    assert ("id=%d " % idb) in normal
    a.close()
    b.close()


# -- CLIENT KILL ----------------------------------------------------------------------

def test_client_kill_errors(parity):
    """CLIENT KILL's syntax, id, type and user errors match Redis (nothing is killed)."""
    parity(("CLIENT", "KILL", "1.2.3.4:5"), ("CLIENT", "KILL", "id"), ("CLIENT", "KILL", "ID", "abc"),
           ("CLIENT", "KILL", "ID", "0"), ("CLIENT", "KILL", "ID", "-1"), ("CLIENT", "KILL", "ID", "999999"),
           ("CLIENT", "KILL", "foo", "bar"), ("CLIENT", "KILL", "TYPE", "foo"),
           ("CLIENT", "KILL", "USER", "nosuch"), ("CLIENT", "KILL", "SKIPME", "maybe"),
           ("CLIENT", "KILL", "ID", "1", "SKIPME"), ("CLIENT", "KILL", "MAXAGE", "10"),
           ("CLIENT", "KILL", "ADDR", "1.2.3.4:5"), ("CLIENT", "KILL", "LADDR", "1.2.3.4:5"),
           ("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "ID"), ("CLIENT", "KILL", "ID", "999999", "ID", "999998"),
           ("CLIENT", "KILL", "TYPE", "master"), ("CLIENT", "KILL", "TYPE", "pubsub"),
           ("PING",))


def test_client_kill_by_id(sonic_port, real_port):
    """CLIENT KILL ID closes the target (after replies it already has) and counts it."""
    def scenario(connect):
        killer, victim = connect(), connect()
        vid = victim.call("CLIENT", "ID")[1:-2].decode()
        victim.call("SET", "kv", "1")
        out = [killer.call("CLIENT", "KILL", "ID", vid), victim.is_closed(1.0),
               killer.call("CLIENT", "LIST", "ID", vid), killer.call("CLIENT", "KILL", "ID", vid)]
        killer.call("DEL", "kv")
        return out
    assert both(sonic_port, real_port, scenario)[:2] == [b":1\r\n", True]


def test_client_kill_old_form_by_address(sonic_port, real_port):
    """CLIENT KILL ip:port closes the connection from that address and answers +OK."""
    def scenario(connect):
        killer, victim = connect(), connect()
        addr = "%s:%d" % victim.sock.getsockname()[:2]
        return [killer.call("CLIENT", "KILL", addr), victim.is_closed(1.0),
                killer.call("CLIENT", "KILL", addr)]
    assert both(sonic_port, real_port, scenario) == [b"+OK\r\n", True, b"-ERR No such client\r\n"]


def test_client_kill_filters_addr_laddr_skipme(sonic_port, real_port):
    """ADDR plus LADDR select one client; SKIPME no lets a client kill itself after its reply."""
    def scenario(connect):
        killer, victim = connect(), connect()
        addr = "%s:%d" % victim.sock.getsockname()[:2]
        laddr = "%s:%d" % victim.sock.getpeername()[:2]
        me = "%s:%d" % killer.sock.getsockname()[:2]
        out = [killer.call("CLIENT", "KILL", "ADDR", addr, "LADDR", "1.1.1.1:1"),
               killer.call("CLIENT", "KILL", "ADDR", addr, "LADDR", laddr, "USER", "default"),
               victim.is_closed(1.0), killer.call("CLIENT", "KILL", "ADDR", me),
               killer.call("CLIENT", "KILL", "ADDR", me, "SKIPME", "no")]
        return out + [killer.is_closed(1.0)]
    assert both(sonic_port, real_port, scenario) == [b":0\r\n", b":1\r\n", True, b":0\r\n", b":1\r\n", True]


def test_client_kill_old_form_self(sonic_port, real_port):
    """The old form may name the caller itself: +OK arrives, then the connection closes."""
    def scenario(connect):
        c = connect()
        return [c.call("CLIENT", "KILL", "%s:%d" % c.sock.getsockname()[:2]), c.is_closed(1.0)]
    assert both(sonic_port, real_port, scenario) == [b"+OK\r\n", True]


# -- CLIENT REPLY / NO-EVICT / PAUSE / UNBLOCK / HELP --------------------------------

def test_client_reply_modes(parity):
    """REPLY OFF mutes everything (errors too), SKIP drops one reply, SKIP under OFF is ignored."""
    parity.raw(b"CLIENT REPLY OFF\r\nPING\r\nFOO\r\nCLIENT REPLY ON\r\nPING\r\n"
               b"CLIENT REPLY SKIP\r\nPING\r\nECHO shown\r\n"
               b"CLIENT REPLY SKIP\r\nCLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nECHO x\r\n"
               b"CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nPING\r\nECHO y\r\n"
               b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING\r\nPING\r\nCLIENT REPLY ON\r\n"
               b"CLIENT REPLY MAYBE\r\n")


def test_client_no_evict_pause_unblock(parity):
    """NO-EVICT, PAUSE, UNPAUSE and UNBLOCK check their arguments as Redis does."""
    parity(("CLIENT", "NO-EVICT", "on"), ("CLIENT", "NO-EVICT", "OFF"), ("CLIENT", "NO-EVICT", "maybe"),
           ("CLIENT", "PAUSE", "abc"), ("CLIENT", "PAUSE", "-1"), ("CLIENT", "PAUSE", "10", "foo"),
           ("CLIENT", "PAUSE", "0", "write"), ("CLIENT", "PAUSE", "0", "ALL", "x"),
           ("CLIENT", "PAUSE", "99999999999999999999"), ("CLIENT", "PAUSE", "0"), ("CLIENT", "UNPAUSE"),
           ("CLIENT", "UNBLOCK", "abc"), ("CLIENT", "UNBLOCK", "1", "foo"),
           ("CLIENT", "UNBLOCK", "abc", "foo"), ("CLIENT", "UNBLOCK", "1", "TIMEOUT", "x"),
           ("CLIENT", "UNBLOCK", "999999", "error"), ("CLIENT", "UNBLOCK", "-5"),
           ("CLIENT", "GETREDIR"))


def test_client_no_evict_flag(sonic_port):
    """NO-EVICT on shows as flag 'e' in CLIENT INFO; RESET clears it."""
    c = RawClient(sonic_port)
    c.call("CLIENT", "NO-EVICT", "on")
    assert b" flags=e " in c.call("CLIENT", "INFO")
    c.call("RESET")
    assert b" flags=N " in c.call("CLIENT", "INFO")
    c.close()


def test_client_tracking_off_subcommands(parity):
    """TRACKINGINFO (tracking is off) and CACHING answer as Redis does for a non-tracking client."""
    parity(("CLIENT", "TRACKINGINFO"), ("CLIENT", "CACHING", "yes"), ("CLIENT", "CACHING", "maybe"),
           ("CLIENT", "CACHING"), ("CLIENT", "TRACKINGINFO", "x"))
    for c in (parity.sonic, parity.real):
        c.call("HELLO", "3")
    parity(("CLIENT", "TRACKINGINFO"), ("CLIENT", "GETREDIR"))


def test_client_help(parity):
    """CLIENT HELP prints Redis 7.0's text, line for line."""
    parity(("CLIENT", "HELP"), ("client", "help"))


# -- unit tests on the dispatcher -----------------------------------------------------

def test_unit_hello_and_name():
    """Without sockets, HELLO 3 SETNAME switches the protocol and names the client."""
    server = make_server()
    c = Client(server)
    reply = call(c, "HELLO", "3", "SETNAME", "unit")
    assert reply["proto"] == 3 and reply["id"] == c.id and c.resp == 3 and c.name == b"unit"
    assert isinstance(call(c, "CLIENT", "INFO"), Verbatim)


def test_unit_auth_with_requirepass():
    """A dispatcher client starts unauthenticated under requirepass and AUTH lets it in."""
    server = make_server(requirepass="pw")
    c = Client(server)
    assert call(c, "GET", "k").message.startswith("NOAUTH")
    assert isinstance(call(c, "AUTH", "nope"), Error)
    assert call(c, "AUTH", "pw") == b"OK" and c.authenticated
    assert call(c, "GET", "k") is None


def test_unit_client_kill_closes_other_client():
    """CLIENT KILL ID marks the target to close and drops it from the client table."""
    server = make_server()
    a, b = Client(server), Client(server)
    server.add_client(a)
    server.add_client(b)
    assert call(a, "CLIENT", "KILL", "ID", str(b.id)) == 1
    assert b.close_after_reply and b.id not in server.clients and a.id in server.clients

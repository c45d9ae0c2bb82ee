"""The write stream a master propagates (sonic.replication.propagate), checked against what redis-server 7.0.15 sends.

Each test attaches a listener to the server's propagator (as the backlog
does) and compares the RESP commands it receives with the stream a real
redis-server 7.0.15 master sent a raw PSYNC connection for the same
commands (recorded by hand; deadlines computed from the task.Clock).
"""

from tests.helpers import Client, call, make_server
from tests.helpers import stream_commands as commands, with_propagator as setup

NOW = 1_700_000_000_000


def stream(units):
    """The stream without its SELECTs."""
    return [c for c in commands(units) if c[0] != b"SELECT"]


def test_plain_write_propagates_with_select_first():
    """A write goes out as sent, after a SELECT of its db; later writes in that db need no SELECT."""
    server, c, units = setup()
    call(c, "SET", "a", "1")
    call(c, "SET", "b", "2")
    assert commands(units) == [[b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2"]]


def test_reads_and_no_op_writes_propagate_nothing():
    """Reads, and writes that changed nothing (DEL of a missing key, SET NX on an existing one), add nothing."""
    server, c, units = setup()
    call(c, "SET", "a", "1")
    units.clear()
    call(c, "GET", "a")
    call(c, "DEL", "missing")
    call(c, "SET", "a", "2", "NX")
    call(c, "EXPIRE", "missing", "10")
    call(c, "GETEX", "a")
    assert units == []


def test_select_when_the_db_changes():
    """Writes in another db are preceded by SELECT n, as in Redis' stream."""
    server, c, units = setup()
    call(c, "SET", "a", "1")
    call(c, "SELECT", "1")
    call(c, "SET", "x", "1")
    assert commands(units) == [[b"SELECT", b"0"], [b"SET", b"a", b"1"],
                               [b"SELECT", b"1"], [b"SET", b"x", b"1"]]


def test_relative_expiries_become_absolute():
    """SET EX/PX/EXAT, SETEX, PSETEX, EXPIRE, PEXPIRE, EXPIREAT, GETEX EX as Redis 7.0 rewrites them."""
    server, c, units = setup()
    now = server.store.snapshot()
    call(c, "SET", "a", "1", "EX", "100")
    call(c, "SET", "b", "1", "EX", "100", "GET")
    call(c, "SET", "b", "2", "EXAT", "2000000000")
    call(c, "SET", "b", "2", "KEEPTTL")
    call(c, "SETEX", "c", "100", "v")
    call(c, "PSETEX", "c", "100000", "v")
    call(c, "EXPIRE", "c", "100")
    call(c, "PEXPIRE", "c", "100000")
    call(c, "EXPIREAT", "c", "2000000000")
    call(c, "GETEX", "a", "EX", "100")
    call(c, "GETEX", "a", "PERSIST")
    d = b"%d" % (now + 100000)
    assert stream(units) == [
        [b"SET", b"a", b"1", b"PXAT", d],
        [b"SET", b"b", b"1", b"PXAT", d],
        [b"SET", b"b", b"2", b"PXAT", b"2000000000000"],
        [b"SET", b"b", b"2", b"KEEPTTL"],
        [b"SET", b"c", b"v", b"PXAT", d],
        [b"SET", b"c", b"v", b"PXAT", d],
        [b"PEXPIREAT", b"c", d],
        [b"PEXPIREAT", b"c", d],
        [b"PEXPIREAT", b"c", b"2000000000000"],
        [b"PEXPIREAT", b"a", d],
        [b"PERSIST", b"a"],
    ]


def test_past_deadlines_propagate_del():
    """EXPIRE with a negative time and PEXPIREAT in the past delete the key: the stream says DEL."""
    server, c, units = setup()
    call(c, "SET", "c", "1")
    call(c, "SET", "q", "1")
    units.clear()
    call(c, "EXPIRE", "c", "-1")
    call(c, "PEXPIREAT", "q", "100")
    assert stream(units) == [[b"DEL", b"c"], [b"DEL", b"q"]]


def test_set_get_without_expiry_drops_get_and_getset_is_set():
    """SET ... GET propagates without GET; GETSET as SET."""
    server, c, units = setup()
    call(c, "SET", "a", "1", "GET")
    call(c, "GETSET", "a", "2")
    assert stream(units) == [[b"SET", b"a", b"1"], [b"SET", b"a", b"2"]]


def test_spop_becomes_srem_and_del():
    """SPOP -> SREM; SPOP with a count -> one SREM per member in MULTI/EXEC, or DEL when it empties the set."""
    server, c, units = setup()
    call(c, "SADD", "s", "a", "b", "c", "d", "e")
    units.clear()
    one = call(c, "SPOP", "s")
    assert stream(units) == [[b"SREM", b"s", one]]
    units.clear()
    two = call(c, "SPOP", "s", "2")
    assert stream(units) == [[b"MULTI"]] + [[b"SREM", b"s", m] for m in two] + [[b"EXEC"]]
    units.clear()
    call(c, "SPOP", "s", "10")
    assert stream(units) == [[b"DEL", b"s"]]


def test_float_increments_become_sets():
    """INCRBYFLOAT -> SET key value KEEPTTL; HINCRBYFLOAT -> HSET key field value."""
    server, c, units = setup()
    call(c, "INCRBYFLOAT", "f", "1.5")
    call(c, "HSET", "h", "f", "1")
    call(c, "HINCRBYFLOAT", "h", "f", "2.5")
    assert stream(units) == [[b"SET", b"f", b"1.5", b"KEEPTTL"], [b"HSET", b"h", b"f", b"1"],
                             [b"HSET", b"h", b"f", b"3.5"]]


def test_multi_exec_wraps_several_writes_only():
    """EXEC of two writes is MULTI ... EXEC after the SELECT; EXEC of one write is that write; of none, nothing."""
    server, c, units = setup()
    for cmd in (("MULTI",), ("SET", "m1", "1"), ("INCR", "m1"), ("GET", "m1"), ("EXEC",)):
        call(c, *cmd)
    assert commands(units) == [[b"SELECT", b"0"], [b"MULTI"], [b"SET", b"m1", b"1"],
                               [b"INCR", b"m1"], [b"EXEC"]]
    units.clear()
    for cmd in (("MULTI",), ("SET", "m2", "1"), ("EXEC",)):
        call(c, *cmd)
    assert commands(units) == [[b"SET", b"m2", b"1"]]
    units.clear()
    for cmd in (("MULTI",), ("GET", "m2"), ("EXEC",)):
        call(c, *cmd)
    assert units == []


def test_lazy_expiry_then_write_is_one_transaction():
    """A key expired lazily by a write goes out as DEL, wrapped with the write in MULTI/EXEC (Redis 7.0)."""
    server, c, units = setup()
    server.store.active_expire = False
    call(c, "SET", "p", "1", "PX", "50")
    units.clear()
    server.clock.advance(0.1)
    call(c, "INCR", "p")
    assert stream(units) == [[b"MULTI"], [b"DEL", b"p"], [b"INCR", b"p"], [b"EXEC"]]


def test_lazy_expiry_on_read_is_a_bare_del():
    """A read that finds its key expired propagates the DEL alone, not the read."""
    server, c, units = setup()
    server.store.active_expire = False
    call(c, "SET", "p", "1", "PX", "50")
    units.clear()
    server.clock.advance(0.1)
    assert call(c, "GET", "p") is None
    assert stream(units) == [[b"DEL", b"p"]]


def test_active_expiry_propagates_del():
    """The expiry timer's removals go out as DEL at once, outside any command."""
    server, c, units = setup()
    call(c, "SET", "p", "1", "PX", "50")
    units.clear()
    server.clock.advance(0.1)
    assert stream(units) == [[b"DEL", b"p"]]


def test_nonblocking_pop_forms():
    """LMPOP and ZMPOP propagate as LPOP/RPOP/ZPOPMIN with the count popped; blocking pops served at once likewise."""
    server, c, units = setup()
    call(c, "RPUSH", "q", "a", "b", "c")
    call(c, "ZADD", "z", "1", "a", "2", "b", "3", "c")
    units.clear()
    call(c, "LMPOP", "1", "q", "RIGHT")
    call(c, "BLMPOP", "0", "1", "q", "LEFT", "COUNT", "5")
    call(c, "ZMPOP", "1", "z", "MIN", "COUNT", "2")
    call(c, "BZPOPMAX", "z", "0")
    call(c, "RPUSH", "l", "x", "y")
    call(c, "BLPOP", "l", "0")
    call(c, "BLMOVE", "l", "d", "LEFT", "RIGHT", "0")
    call(c, "BRPOPLPUSH", "d", "l", "0")
    assert stream(units) == [
        [b"RPOP", b"q", b"1"], [b"LPOP", b"q", b"2"], [b"ZPOPMIN", b"z", b"2"],
        [b"ZPOPMAX", b"z"], [b"RPUSH", b"l", b"x", b"y"], [b"LPOP", b"l"],
        [b"LMOVE", b"l", b"d", b"LEFT", b"RIGHT"], [b"RPOPLPUSH", b"d", b"l"]]


def test_served_blocking_pops_follow_the_push():
    """Clients parked in BLPOP/BLMOVE/BZPOPMIN/BLMPOP are propagated after the push, as their non-blocking forms."""
    server, c, units = setup()
    waiters = []
    for cmd in (("BLPOP", "bl", "0"), ("BLMOVE", "bl3", "dst", "LEFT", "RIGHT", "0"),
                ("BZPOPMIN", "z", "0"), ("BLMPOP", "0", "2", "q1", "q2", "LEFT", "COUNT", "2")):
        w = Client(server)
        server.add_client(w)
        call(w, *cmd)
        waiters.append(w)
    call(c, "RPUSH", "bl", "a", "b", "c")
    call(c, "RPUSH", "bl3", "x", "y")
    call(c, "ZADD", "z", "1", "a", "2", "b")
    call(c, "RPUSH", "q2", "a", "b", "c")
    assert all(w.unblocked_replies for w in waiters)
    assert stream(units) == [
        [b"RPUSH", b"bl", b"a", b"b", b"c"], [b"LPOP", b"bl"],
        [b"RPUSH", b"bl3", b"x", b"y"], [b"LMOVE", b"bl3", b"dst", b"left", b"right"],
        [b"ZADD", b"z", b"1", b"a", b"2", b"b"], [b"ZPOPMIN", b"z"],
        [b"RPUSH", b"q2", b"a", b"b", b"c"], [b"LPOP", b"q2", b"2"]]


def test_master_client_commands_are_not_propagated():
    """Commands applied from our own master (flag M) are passed on by the replica side, never re-propagated."""
    server, c, units = setup()
    c.flags = "M"
    call(c, "SET", "a", "1")
    assert units == []


def test_flushall_and_swapdb_propagate_as_sent():
    """FLUSHALL and SWAPDB go out unchanged."""
    server, c, units = setup()
    call(c, "SET", "a", "1")
    call(c, "SWAPDB", "0", "1")
    call(c, "FLUSHALL")
    assert stream(units) == [[b"SET", b"a", b"1"], [b"SWAPDB", b"0", b"1"], [b"FLUSHALL"]]


def test_no_propagator_costs_nothing():
    """Without a replica the server has no propagator and commands run as before."""
    server = make_server()
    c = Client(server)
    assert server.propagator is None
    assert call(c, "SET", "a", "1") == b"OK" or call(c, "GET", "a") == b"1"


def test_lazyfree_lazy_expire_propagates_unlink():
    """Under lazyfree-lazy-expire, expiries and past-deadline EXPIREs go out as UNLINK, as Redis sends them."""
    server, c, units = setup(lazyfree_lazy_expire=True)
    call(c, "SET", "p", "1", "PX", "50")
    call(c, "SET", "q", "1")
    units.clear()
    server.clock.advance(0.1)
    call(c, "EXPIRE", "q", "-1")
    assert stream(units) == [[b"UNLINK", b"p"], [b"UNLINK", b"q"]]


def test_aof_and_replicas_keep_their_own_select_and_publish_skips_the_aof():
    """PUBLISH reaches the replicas but not the AOF, and each stream gets the SELECTs it needs (Redis' aof_selected_db and slaveseldb)."""
    server, client, replica = setup()
    prop = server.propagator
    aof = []
    prop.aof_feed = aof.append
    prop.listeners.append(prop.aof_feed)
    call(client, "SELECT", "2")
    call(client, "PUBLISH", "ch", "m")   # replicas only
    call(client, "SET", "a", "1")
    prop.seldb = -1                      # a new full sync: the replicas' stream re-selects
    call(client, "SET", "b", "2")
    call(client, "MULTI")
    call(client, "PUBLISH", "ch", "x")
    call(client, "SET", "c", "3")
    call(client, "EXEC")
    assert commands(aof) == [[b"SELECT", b"2"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2"],
                             [b"SET", b"c", b"3"]]
    assert commands(replica) == [
        [b"SELECT", b"2"], [b"PUBLISH", b"ch", b"m"], [b"SET", b"a", b"1"],
        [b"SELECT", b"2"], [b"SET", b"b", b"2"],
        [b"MULTI"], [b"PUBLISH", b"ch", b"x"], [b"SET", b"c", b"3"], [b"EXEC"]]

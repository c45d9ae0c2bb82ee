"""The master side (sonic.replication.master): PSYNC/SYNC, the backlog, full syncs, ACKs, WAIT, ROLE, INFO.

Replicas here are protocol connections on StringTransports; time is the
server's task.Clock (full-sync slices and PINGs are callLaters on it).
"""

import io

from sonic.blocking import BLOCKED
from sonic.commands.info import info_text
from sonic.rdb.reader import iter_rdb
from sonic.replication.master import Backlog, get_master

from tests.helpers import Client, call, connect, make_server, stream_commands


def send(proto, *args):
    """Feed one command to a protocol connection."""
    words = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    proto.dataReceived(b"*%d\r\n" % len(words) + b"".join(
        b"$%d\r\n%s\r\n" % (len(w), w) for w in words))


def attach(server):
    """A protocol connection whose transport knows the server's clock (for L{take})."""
    proto, transport = connect(server)
    transport.clock = server.clock
    return proto, transport


def take(transport):
    """What was written to C{transport}, once this reactor turn's batched stream writes ran."""
    clock = getattr(transport, "clock", None)
    if clock is not None:
        clock.advance(0)
    data = transport.value()
    transport.clear()
    return data


def full_sync(server, proto, transport, *psync):
    """PSYNC (default ? -1), run the snapshot slices, return (header line, rdb bytes, rest)."""
    send(proto, "PSYNC", *(psync or ("?", "-1")))
    for _ in range(1000):
        server.clock.advance(0)
        if get_master(server).syncs == []:
            break
    data = take(transport)
    line, rest = data.split(b"\r\n", 1)
    assert rest.startswith(b"$")
    size, rest = rest[1:].split(b"\r\n", 1)
    size = int(size)
    return line, rest[:size], rest[size:]


def parse(data):
    return stream_commands([data])


def test_backlog_keeps_the_last_bytes():
    """The backlog trims to its size, tracks the offset of its first byte and answers ranges inside it."""
    b = Backlog(10, 1)
    b.append(b"abcdef")
    b.append(b"ghijkl")
    assert (b.first, b.histlen) == (3, 10)
    assert b.since(3) == b"cdefghijkl"
    assert b.since(9) == b"ijkl"
    assert b.has(3) and b.has(13) and not b.has(2) and not b.has(14)
    b.resize(4)
    assert (b.first, b.since(9)) == (9, b"ijkl")


def test_full_sync_sends_an_rdb_of_every_key_then_the_stream():
    """PSYNC ? -1 gets +FULLRESYNC replid offset, an RDB with the keys, TTLs and replication aux fields, then later writes."""
    server = make_server()
    c = Client(server)
    call(c, "SET", "s", "v")
    call(c, "SET", "t", "v", "PX", "100000")
    call(c, "RPUSH", "l", "a", "b")
    call(c, "HSET", "h", "f", "v")
    call(c, "SADD", "st", "1", "2")
    call(c, "ZADD", "z", "1.5", "m")
    call(c, "SELECT", "3")
    call(c, "SET", "in3", "x")
    proto, transport = attach(server)
    line, rdb, rest = full_sync(server, proto, transport)
    assert line == b"+FULLRESYNC %s 0" % server.replid.encode()
    assert len(server.replid) == 40
    reader = iter_rdb(io.BytesIO(rdb))
    entries = {(e.db, e.key): e for e in reader}
    assert reader.aux[b"repl-id"] == server.replid.encode()
    assert entries[(0, b"s")].value == b"v"
    assert entries[(0, b"t")].expire_ms == server.store.now + 100000
    assert entries[(0, b"l")].value == [b"a", b"b"]
    assert entries[(0, b"h")].value == [(b"f", b"v")]
    assert sorted(entries[(0, b"st")].value) == [b"1", b"2"]
    assert entries[(0, b"z")].value == [(b"m", 1.5)]
    assert entries[(3, b"in3")].value == b"x"
    assert rest == b""
    call(c, "SET", "after", "1")
    assert parse(take(transport)) == [[b"SELECT", b"3"], [b"SET", b"after", b"1"]]
    assert "S" in proto.flags


def test_writes_during_the_snapshot_are_queued_and_the_snapshot_stays_exact():
    """A write between FULLRESYNC and the end of the RDB is not in the RDB (copy-on-write) and follows it in the stream."""
    server = make_server()
    c = Client(server)
    for i in range(300):
        call(c, "RPUSH", "l%d" % i, "a")
    proto, transport = attach(server)
    send(proto, "PSYNC", "?", "-1")
    master = get_master(server)
    assert master.syncs
    call(c, "RPUSH", "l299", "b")       # in place, before its shard was written
    call(c, "SET", "new", "1")
    for _ in range(1000):
        server.clock.advance(0)
        if not master.syncs:
            break
    data = take(transport)
    line, rest = data.split(b"\r\n", 1)
    size, rest = rest[1:].split(b"\r\n", 1)
    rdb, stream = rest[:int(size)], rest[int(size):]
    entries = {e.key: e for e in iter_rdb(io.BytesIO(rdb))}
    assert entries[b"l299"].value == [b"a"]
    assert b"new" not in entries
    assert parse(stream) == [[b"SELECT", b"0"], [b"RPUSH", b"l299", b"b"], [b"SET", b"new", b"1"]]


def test_partial_resync_continues_from_the_backlog():
    """A replica that comes back with the replid and an offset inside the backlog gets +CONTINUE and the missed bytes."""
    server = make_server()
    c = Client(server)
    proto, transport = attach(server)
    line, rdb, rest = full_sync(server, proto, transport)
    replid, offset = line.split()[1:]
    call(c, "SET", "a", "1")
    mid = server.repl_offset
    call(c, "SET", "b", "2")
    proto.transport.loseConnection()
    proto.connectionLost(None)
    assert get_master(server).replicas == []
    proto2, transport2 = attach(server)
    send(proto2, "PSYNC", replid, mid + 1)
    data = take(transport2)
    assert data.startswith(b"+CONTINUE %s\r\n" % replid)
    assert parse(data.split(b"\r\n", 1)[1]) == [[b"SET", b"b", b"2"]]
    info = info_text(server, ["stats"])
    assert "sync_full:1" in info and "sync_partial_ok:1" in info


def test_unknown_history_or_offset_gets_a_full_resync():
    """PSYNC with another replid, or an offset outside the backlog, falls back to +FULLRESYNC."""
    server = make_server()
    proto, transport = attach(server)
    full_sync(server, proto, transport)
    call(Client(server), "SET", "a", "1")
    proto2, transport2 = attach(server)
    line, _, _ = full_sync(server, proto2, transport2, "f" * 40, "1")
    assert line.startswith(b"+FULLRESYNC")
    proto3, transport3 = attach(server)
    line, _, _ = full_sync(server, proto3, transport3, server.replid, server.repl_offset + 5)
    assert line.startswith(b"+FULLRESYNC")
    assert "sync_partial_err:2" in info_text(server, ["stats"])


def test_sync_sends_only_the_payload():
    """The old SYNC gets the RDB bulk with no +FULLRESYNC line."""
    server = make_server()
    proto, transport = attach(server)
    send(proto, "SYNC")
    for _ in range(100):
        server.clock.advance(0)
    data = take(transport)
    assert data.startswith(b"$") and b"REDIS0010" in data


def test_acks_info_and_role():
    """REPLCONF listening-port and ACK show in INFO slave0 and ROLE; ACK gets no reply."""
    server = make_server()
    proto, transport = attach(server)
    send(proto, "REPLCONF", "listening-port", "6380")
    assert take(transport) == b"+OK\r\n"
    full_sync(server, proto, transport)
    call(Client(server), "SET", "a", "1")
    take(transport)
    send(proto, "REPLCONF", "ACK", server.repl_offset)
    assert take(transport) == b""
    info = info_text(server, ["replication"])
    assert "connected_slaves:1" in info
    assert "slave0:ip=192.168.1.1,port=6380,state=online,offset=%d,lag=0" % server.repl_offset in info
    assert "repl_backlog_active:1" in info
    stats = dict(line.split(":", 1) for line in info_text(server, ["stats"]).split("\r\n")[1:] if line)
    assert int(stats["total_net_repl_output_bytes"]) == get_master(server).net_output > 0
    assert "master_repl_offset:%d" % server.repl_offset in info
    assert call(Client(server), "ROLE") == [b"master", server.repl_offset,
                                            [[b"192.168.1.1", b"6380", b"%d" % server.repl_offset]]]


def test_ping_goes_down_the_stream_every_period():
    """Every repl-ping-replica-period seconds the replicas get a PING in the stream (counted in the offset)."""
    server = make_server(repl_ping_replica_period=2)
    proto, transport = attach(server)
    full_sync(server, proto, transport)
    before = server.repl_offset
    server.clock.advance(1)
    assert take(transport) == b""
    server.clock.advance(1)
    assert take(transport) == b"*1\r\n$4\r\nping\r\n"
    assert server.repl_offset == before + len(b"*1\r\n$4\r\nping\r\n")


def test_wait_blocks_until_acks_or_timeout():
    """WAIT answers at once when enough replicas acknowledged, else blocks, sends GETACK, and wakes on ACK or timeout."""
    server = make_server()
    c = Client(server)
    server.add_client(c)
    assert call(c, "WAIT", "0", "0") == 0
    proto, transport = attach(server)
    full_sync(server, proto, transport)
    call(c, "SET", "a", "1")
    take(transport)
    target = server.repl_offset
    assert call(c, "WAIT", "1", "1000") is BLOCKED
    assert parse(take(transport)) == [[b"REPLCONF", b"GETACK", b"*"]]
    send(proto, "REPLCONF", "ACK", target)
    assert c.unblocked_replies == [1]
    assert call(c, "WAIT", "1", "0") == 1
    assert call(c, "WAIT", "2", "500") is BLOCKED
    server.clock.advance(0.5)
    assert c.unblocked_replies == [1, 1]


def test_wait_errors():
    """WAIT's argument errors are Redis'."""
    server = make_server()
    c = Client(server)
    assert call(c, "WAIT", "a", "0").message == "ERR value is not an integer or out of range"
    assert call(c, "WAIT", "1", "-1").message == "ERR timeout is negative"
    assert call(c, "WAIT", "1", "a").message == "ERR timeout is not an integer or out of range"
    assert call(c, "REPLCONF", "ack").message == "ERR syntax error"
    assert call(c, "REPLCONF", "foo", "bar").message == "ERR Unrecognized REPLCONF option: foo"


def test_min_replicas_to_write():
    """With min-replicas-to-write 1, writes get -NOREPLICAS until a replica acknowledges, and again once its ACKs are older than min-replicas-max-lag."""
    server = make_server(min_replicas_to_write=1, min_replicas_max_lag=10)
    c = Client(server)
    err = "NOREPLICAS Not enough good replicas to write."
    assert call(c, "SET", "a", "1").message == err
    assert call(c, "GET", "a") is None
    proto, transport = attach(server)
    full_sync(server, proto, transport)
    send(proto, "REPLCONF", "ACK", server.repl_offset)
    assert call(c, "SET", "a", "1") == b"OK"
    server.clock.advance(12)
    assert call(c, "SET", "a", "1").message == err
    send(proto, "REPLCONF", "ACK", server.repl_offset)
    assert call(c, "SET", "a", "2") == b"OK"
    call(c, "CONFIG", "SET", "min-replicas-to-write", "2")
    assert call(c, "SET", "a", "1").message == err
    call(c, "CONFIG", "SET", "min-replicas-to-write", "0")
    assert call(c, "SET", "a", "3") == b"OK"


def test_served_blmove_during_a_snapshot_keeps_the_snapshot_exact():
    """A parked BLMOVE served into an existing list while the RDB is being written leaves the RDB's copy of that list as it was."""
    server = make_server()
    c = Client(server)
    for i in range(300):
        call(c, "SET", "k%d" % i, "v")
    call(c, "RPUSH", "dst", "old")
    w = Client(server)
    server.add_client(w)
    assert call(w, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0") is BLOCKED
    proto, transport = attach(server)
    send(proto, "PSYNC", "?", "-1")
    master = get_master(server)
    call(c, "RPUSH", "src", "x")
    assert w.unblocked_replies == [b"x"]
    for _ in range(1000):
        server.clock.advance(0)
        if not master.syncs:
            break
    data = take(transport)
    line, rest = data.split(b"\r\n", 1)
    size, rest = rest[1:].split(b"\r\n", 1)
    rdb, stream = rest[:int(size)], rest[int(size):]
    entries = {e.key: e for e in iter_rdb(io.BytesIO(rdb))}
    assert entries[b"dst"].value == [b"old"]
    assert parse(stream)[1:] == [[b"RPUSH", b"src", b"x"],
                                 [b"LMOVE", b"src", b"dst", b"left", b"right"]]


def test_chained_replica_passes_its_masters_stream_on():
    """On a replica, bytes applied from its master reach its own replicas and backlog unchanged; its local writes and expiries are not propagated."""
    server = make_server()
    proto, transport = attach(server)
    full_sync(server, proto, transport)
    master = get_master(server)
    # Now this server becomes a replica whose link is up (the replica side's job).
    server.master_host, server.master_port = "127.0.0.1", 1
    server.store.replica = True
    upstream = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
    server.repl_offset += len(upstream)   # the replica side counts first
    server.repl_proxy(upstream)
    assert take(transport) == upstream
    assert master.backlog.since(master.backlog.first).endswith(upstream)
    local = Client(server)
    call(local, "SET", "local", "1")
    assert take(transport) == b""
    server.repl_full_resync("a" * 40, 1000)
    assert master.replicas == [] and master.backlog.first == 1001


def test_psync_on_a_replica_without_its_master_is_refused():
    """A replica whose own link is down answers PSYNC with -NOMASTERLINK."""
    server = make_server()
    server.master_host, server.master_port = "127.0.0.1", 1
    c = Client(server)
    assert call(c, "PSYNC", "?", "-1").message == \
        "NOMASTERLINK Can't SYNC while not connected with my master"
    assert call(c, "WAIT", "1", "0").message.startswith("ERR WAIT cannot be used with replica")
    assert call(c, "ROLE") == [b"slave", b"127.0.0.1", 1, b"connect", -1]


def test_waiting_replicas_get_newline_keepalives():
    """While its RDB is being written a replica gets a newline each second, as Redis sends."""
    server = make_server()
    for i in range(2000):
        server.store.dbs[0].set(b"k%d" % i, b"v")
    proto, transport = attach(server)
    send(proto, "PSYNC", "?", "-1")
    master = get_master(server)
    master.syncs[0].cancel()      # hold the snapshot: it is still being written
    transport.clear()
    server.clock.advance(1)
    assert take(transport) == b"\n"


def test_silent_psync_replica_is_dropped_after_repl_timeout():
    """A PSYNC replica that sends no ACK for repl-timeout seconds is disconnected; a SYNC one is kept."""
    server = make_server(repl_timeout=5)
    proto, transport = attach(server)
    full_sync(server, proto, transport)
    old, old_transport = attach(server)
    send(old, "SYNC")
    take(old_transport)
    master = get_master(server)
    assert len(master.replicas) == 2
    for _ in range(7):
        server.clock.advance(1)
    assert [link.client for link in master.replicas] == [old]
    assert transport.disconnecting


def test_replica_backlog_lets_former_siblings_continue_after_promotion():
    """A replica keeps its master's stream in a backlog from the first byte, so after REPLICAOF NO ONE a sibling continues with PSYNC on the old replid."""
    server = make_server()
    old_replid = "b" * 40
    server.master_host, server.master_port = "127.0.0.1", 1
    server.store.replica = True
    server.replid, server.repl_offset = old_replid, 100
    cmds = [b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n", b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n"]
    for data in cmds:
        server.repl_offset += len(data)
        server.repl_proxy(data)
    backlog = get_master(server).backlog
    assert (backlog.first, backlog.histlen) == (101, sum(map(len, cmds)))
    assert server.replid == old_replid
    # REPLICAOF NO ONE, as the replica side does it.
    server.master_host = server.master_port = None
    server.store.replica = False
    server.replid2, server.second_repl_offset = old_replid, server.repl_offset + 1
    server.replid = "c" * 40
    server.repl_promoted()
    proto, transport = attach(server)
    send(proto, "PSYNC", old_replid, 101 + len(cmds[0]))
    data = take(transport)
    assert data == b"+CONTINUE %s\r\n" % (b"c" * 40) + cmds[1]


def test_replicas_arriving_together_share_one_snapshot():
    """A second full sync asked before anything was written shares the snapshot in progress; after a write it gets its own."""
    server = make_server()
    c = Client(server)
    call(c, "SET", "a", "1")
    p1, t1 = attach(server)
    p2, t2 = attach(server)
    p3, t3 = attach(server)
    send(p1, "PSYNC", "?", "-1")
    send(p2, "PSYNC", "?", "-1")
    master = get_master(server)
    assert len(master.syncs) == 1 and len(master.syncs[0].links) == 2
    call(c, "SET", "b", "2")
    send(p3, "PSYNC", "?", "-1")
    assert len(master.syncs) == 2
    for t in (t1, t2):
        line, rest = take(t).split(b"\r\n", 1)
        size, rest = rest[1:].split(b"\r\n", 1)
        keys = [e.key for e in iter_rdb(io.BytesIO(rest[:int(size)]))]
        assert keys == [b"a"]
        assert parse(rest[int(size):]) == [[b"SELECT", b"0"], [b"SET", b"b", b"2"]]
    line, rest = take(t3).split(b"\r\n", 1)
    size, rest = rest[1:].split(b"\r\n", 1)
    assert sorted(e.key for e in iter_rdb(io.BytesIO(rest[:int(size)]))) == [b"a", b"b"]
    assert rest[int(size):] == b""


def test_diskless_sync_for_replicas_with_capa_eof():
    """A replica with capa eof gets the RDB framed $EOF:<mark> ... <mark>; the stream follows its first ACK."""
    server = make_server()
    c = Client(server)
    call(c, "SET", "a", "1")
    proto, transport = attach(server)
    send(proto, "REPLCONF", "capa", "eof", "capa", "psync2")
    assert take(transport) == b"+OK\r\n"
    send(proto, "PSYNC", "?", "-1")
    call(c, "SET", "b", "2")
    data = take(transport)
    line, rest = data.split(b"\r\n", 1)
    assert line.startswith(b"+FULLRESYNC")
    head, body = rest.split(b"\r\n", 1)
    assert head.startswith(b"$EOF:") and len(head) == 45
    mark = head[5:]
    assert body.endswith(mark)
    assert [e.key for e in iter_rdb(io.BytesIO(body[:-40]))] == [b"a"]
    call(c, "SET", "c", "3")
    assert take(transport) == b""
    send(proto, "REPLCONF", "ACK", "0")
    assert parse(take(transport)) == [[b"SELECT", b"0"], [b"SET", b"b", b"2"], [b"SET", b"c", b"3"]]


def test_diskless_sync_can_be_turned_off():
    """With repl-diskless-sync no, a replica with capa eof still gets $<len>."""
    server = make_server(repl_diskless_sync=False)
    proto, transport = attach(server)
    send(proto, "REPLCONF", "capa", "eof")
    take(transport)
    line, rdb, rest = full_sync(server, proto, transport)
    assert rdb.startswith(b"REDIS0010")


def test_big_collections_are_encoded_off_the_reactor_and_arrive_whole():
    """Collections past BIG_VALUE elements go through the thread runner and come out in the RDB intact, TTL included."""
    from sonic.replication import master as master_module
    server = make_server()
    c = Client(server)
    n = master_module.BIG_VALUE + 5
    call(c, "RPUSH", "l", *range(n))
    call(c, "ZADD", "z", *[w for i in range(n) for w in (i, "m%d" % i)])
    call(c, "PEXPIRE", "z", "100000")
    call(c, "SET", "s", "v")
    ran = []
    runner = server.store._run_in_thread

    def counting(f, *args):
        ran.append(f.__name__)
        return runner(f, *args)
    server.store._run_in_thread = counting
    proto, transport = attach(server)
    line, rdb, rest = full_sync(server, proto, transport)
    entries = {e.key: e for e in iter_rdb(io.BytesIO(rdb))}
    assert ran == ["encode_object", "encode_object"]
    assert entries[b"l"].value == [b"%d" % i for i in range(n)]
    assert len(entries[b"z"].value) == n and entries[b"z"].expire_ms == server.store.now + 100000
    assert entries[b"s"].value == b"v"


def test_wait_can_be_unblocked_and_its_client_can_leave():
    """CLIENT UNBLOCK ends a WAIT with the replica count; a WAITing client that disconnects is forgotten."""
    server = make_server()
    proto, transport = attach(server)
    full_sync(server, proto, transport)
    c = Client(server)
    server.add_client(c)
    call(c, "SET", "a", "1")
    assert call(c, "WAIT", "1", "0") is BLOCKED
    assert server.blocked_clients == 1
    admin = Client(server)
    assert call(admin, "CLIENT", "UNBLOCK", c.id) == 1
    assert c.unblocked_replies == [0] and server.blocked_clients == 0
    assert call(c, "WAIT", "1", "1000") is BLOCKED
    server.blocking.client_gone(c)
    assert server.blocked_clients == 0 and server.blocking.with_timeout == 0
    send(proto, "REPLCONF", "ACK", server.repl_offset)
    assert c.unblocked_replies == [0]


def test_backlog_chunks_small_writes_and_trims_across_chunks():
    """Many small appends are kept in 16 KB chunks; trimming and ranges work across chunk and tail boundaries."""
    from sonic.replication.master import BACKLOG_CHUNK
    b = Backlog(3 * BACKLOG_CHUNK, 1)
    stream = b"".join(b"%08d" % i for i in range(20000))   # 160,000 bytes in 8-byte writes
    for i in range(0, len(stream), 8):
        b.append(stream[i:i + 8])
    assert len(b.chunks) <= 3
    assert b.histlen == 3 * BACKLOG_CHUNK
    assert b.first == len(stream) - 3 * BACKLOG_CHUNK + 1
    for offset in (b.first, b.first + 1, b.first + BACKLOG_CHUNK + 3, len(stream), len(stream) + 1):
        assert b.since(offset) == stream[offset - 1:]


def test_replica_past_the_output_buffer_hard_limit_is_dropped():
    """A replica whose queued stream passes client-output-buffer-limit replica's hard limit is disconnected."""
    server = make_server(client_output_buffer_limit="normal 0 0 0 replica 1kb 0 0 pubsub 0 0 0")
    for i in range(3000):
        server.store.dbs[0].set(b"k%d" % i, b"v")
    proto, transport = attach(server)
    send(proto, "PSYNC", "?", "-1")
    master = get_master(server)
    master.syncs[0].cancel()      # the RDB is still being written: the stream queues
    c = Client(server)
    call(c, "SET", "x", "y" * 600)
    server.clock.advance(0)
    assert len(master.replicas) == 1
    call(c, "SET", "x", "y" * 600)
    server.clock.advance(0)
    assert master.replicas == [] and transport.disconnecting

"""SLOWLOG and LATENCY: reply shapes, errors and recorded entries against redis-server 7.0.

Durations differ between the two servers, so entries are compared by what
must be equal (arguments as truncated and redacted, client name, order);
the thresholds are changed on both servers and restored afterwards.
"""

import hiredis
import pytest

from sonic.commands.latency import cumulative, histogram_counts, percentile, _sparkline
from sonic.commands.slowlog import entry_argv
from tests.helpers import call, make_server, Client
from tests.resp_reader import RawClient


def _decode(raw):
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


@pytest.mark.parametrize("cmd", [
    ("SLOWLOG", "HELP"), ("SLOWLOG", "GET", "abc"), ("SLOWLOG", "GET", "-2"),
    ("SLOWLOG", "GET", "-1", "x"), ("SLOWLOG", "GET", "0"), ("SLOWLOG", "LEN", "x"),
    ("SLOWLOG", "RESET", "x"), ("SLOWLOG", "FOO"), ("SLOWLOG",), ("SLOWLOG", "HELP", "x"),
    ("LATENCY", "HELP"), ("LATENCY", "FOO"), ("LATENCY", "LATEST", "x"), ("LATENCY", "HISTORY"),
    ("LATENCY", "HISTORY", "nosuchevent"), ("LATENCY", "HISTORY", "a", "b"),
    ("LATENCY", "GRAPH", "nosuchevent"), ("LATENCY", "GRAPH"), ("LATENCY", "RESET", "foo", "bar"),
    ("LATENCY", "HISTOGRAM", "nosuchcommand"), ("LATENCY", "HISTOGRAM", "nosuch|sub"),
    ("LATENCY", "DOCTOR", "x"), ("LATENCY",), ("LATENCY", "DOCTOR"), ("LATENCY", "LATEST"),
    ("LATENCY", "RESET"),
])
def test_shapes_and_errors(parity, cmd):
    """Help texts, argument errors and empty answers are Redis' bytes, in RESP2 and RESP3."""
    parity(cmd)
    parity.resp3()
    parity(cmd)


def test_percentile_config(parity):
    """latency-tracking-info-percentiles validates and shows values as Redis does."""
    try:
        parity(("CONFIG", "SET", "latency-tracking-info-percentiles", "50.0 99 100"),
               ("CONFIG", "GET", "latency-tracking-info-percentiles"),
               ("CONFIG", "SET", "latency-tracking-info-percentiles", "101"),
               ("CONFIG", "SET", "latency-tracking-info-percentiles", "abc"),
               ("CONFIG", "GET", "latency-tracking"))
    finally:
        parity(("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9"))


def _slowlog_run(port, commands):
    c = RawClient(port)
    try:
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        c.call("SLOWLOG", "RESET")
        for cmd in commands:
            c.call(*cmd)
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        entries = _decode(c.call("SLOWLOG", "GET", "-1"))
        length = _decode(c.call("SLOWLOG", "LEN"))
        few = _decode(c.call("SLOWLOG", "GET", "2"))
        return entries, length, few
    finally:
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        c.call("SLOWLOG", "RESET")
        c.close()


SLOW_COMMANDS = [
    ("SET", "k", "v"),
    ("SET", "long", "x" * 200),
    ("RPUSH", "list") + tuple(str(i) for i in range(40)),
    ("AUTH", "secret"),
    ("HELLO", "2", "AUTH", "default", "secret"),
    ("CLIENT", "SETNAME", "slowpoke"),
    ("GET", "k"),
    ("MULTI",), ("INCR", "n"), ("EXEC",),
    ("EVAL", "return redis.call('get', KEYS[1])", "1", "k"),
    ("CONFIG", "SET", "masterauth", "pw"),
    ("CONFIG", "SET", "masterauth", ""),
    ("GET",),                      # refused before running: not logged
    ("BLPOP", "nolist", "0.01"),   # blocked, then timed out: not logged
    ("BLPOP", "list", "0"),        # served at once: logged
    ("FLUSHALL",),
]


def test_slowlog_entries_match_redis(sonic_port, real_port):
    """With slowlog-log-slower-than 0 both servers log the same commands with the same arguments.

    Arguments over 32 or longer than 128 bytes are cut, passwords redacted,
    EXEC is left out (its commands are logged), script commands come from
    C{?:0}, and entries carry the client's name.
    """
    got, got_len, got_few = _slowlog_run(sonic_port, SLOW_COMMANDS)
    expected, expected_len, expected_few = _slowlog_run(real_port, SLOW_COMMANDS)

    def essentials(entries):
        return [(e[3], e[5], e[4] == b"?:0") for e in entries]

    assert essentials(got) == essentials(expected)
    assert got_len == expected_len == len(expected)
    assert essentials(got_few) == essentials(expected_few) and len(got_few) == 2
    for e in got:
        assert len(e) == 6 and isinstance(e[1], int) and isinstance(e[2], int)
    ids = [e[0] for e in got]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)


def test_slowlog_max_len(sonic_port, real_port):
    """slowlog-max-len keeps the newest entries only, on both servers alike."""
    commands = [("SET", "k%d" % i, "v") for i in range(6)]
    results = []
    for port in (sonic_port, real_port):
        c = RawClient(port)
        try:
            c.call("CONFIG", "SET", "slowlog-max-len", "3")
            entries, length, _ = _slowlog_run(port, commands)
            results.append(([e[3] for e in entries], length))
        finally:
            c.call("CONFIG", "SET", "slowlog-max-len", "128")
            c.call("FLUSHALL")
            c.close()
    assert results[0] == results[1]
    assert results[0][1] == 3


def test_entry_argv_truncation():
    """32 arguments at most (the last says how many more), 128 bytes each (plus how many more)."""
    argv = [b"rpush", b"l"] + [b"%d" % i for i in range(40)]
    out = entry_argv(argv)
    assert len(out) == 32 and out[-1] == b"... (11 more arguments)" and out[30] == b"28"
    assert entry_argv([b"set", b"k", b"y" * 130]) == [b"set", b"k", b"y" * 128 + b"... (2 more bytes)"]
    assert entry_argv([b"a"] * 32) == [b"a"] * 32


def test_slowlog_unit_threshold_and_reset():
    """The threshold and slowlog-max-len apply at once; RESET empties; -1 turns logging off."""
    server = make_server(slowlog_log_slower_than=0, slowlog_max_len=2)
    c = Client(server)
    for i in range(3):
        call(c, "SET", "k", str(i))
    entries = call(c, "SLOWLOG", "GET")
    assert [e[3] for e in entries] == [[b"SET", b"k", b"2"], [b"SET", b"k", b"1"]]
    assert [e[0] for e in entries] == [2, 1]
    assert call(c, "SLOWLOG", "LEN") == 2
    assert call(c, "SLOWLOG", "RESET") == b"OK"
    assert call(c, "SLOWLOG", "LEN") == 1  # SLOWLOG RESET itself is logged after resetting
    server.config.apply("slowlog-log-slower-than", ["-1"])
    call(c, "SLOWLOG", "RESET")
    call(c, "SET", "k", "v")
    assert call(c, "SLOWLOG", "LEN") == 0
    assert server.slow_threshold == float("inf")


def test_latency_events_unit():
    """Samples over latency-monitor-threshold go to command/fast-command, one per second, max kept."""
    server = make_server(latency_monitor_threshold=5)
    mon = server.latency
    mon.add_sample("command", 7)
    mon.add_sample("command", 9)
    mon.add_sample("command", 8)
    c = Client(server)
    latest = call(c, "LATENCY", "LATEST")
    assert len(latest) == 1 and latest[0][0] == b"command" and latest[0][2:] == [9, 9]
    assert [s[1] for s in call(c, "LATENCY", "HISTORY", "command")] == [9]
    graph = call(c, "LATENCY", "GRAPH", "command")
    assert graph.startswith(b"command - high 9 ms, low 9 ms (all time high 9 ms)\n" + b"-" * 80 + b"\n")
    doctor = call(c, "LATENCY", "DOCTOR")
    assert doctor.startswith(b"Dave, I have observed latency spikes")
    assert b"1. command: 1 latency spikes (average 9ms, mean deviation 0ms, period 1.00 sec)" in doctor
    assert call(c, "LATENCY", "RESET") == 1
    assert call(c, "LATENCY", "LATEST") == []
    assert call(c, "LATENCY", "DOCTOR").startswith(b"Dave, no latency spike was observed")


def test_slow_path_records_latency_event():
    """A command slower than latency-monitor-threshold adds a command (or fast-command) sample."""
    server = make_server(latency_monitor_threshold=1)
    c = Client(server)
    from sonic.registry import TABLE
    server.slowlog.command(c, TABLE[b"get"], [b"GET", b"k"], 0.0031)
    server.slowlog.command(c, TABLE[b"keys"], [b"KEYS", b"*"], 0.0042)
    assert server.latency.events["fast-command"][-1][1] == 3
    assert server.latency.events["command"][-1][1] == 4
    assert call(c, "SLOWLOG", "LEN") == 0  # 3 ms < slowlog-log-slower-than (10 ms)


def test_sparkline_matches_redis_single_sample():
    """One sample renders as Redis' latency graph does: three blank rows, '_', margin, label."""
    assert _sparkline([(20, "0s")], 20, 20, 4) == " \n \n \n_\n \n0\ns\n"


def test_hdr_buckets_and_percentiles():
    """Durations are bucketed as Redis' HdrHistogram (values in ns, 2 significant digits)."""
    counts = histogram_counts({0: 1, 1: 3, 15: 1, 1286: 1})
    assert percentile(counts, 50) == 1003       # p50 of 1 us -> 1.003
    assert percentile(counts, 0.001) == 1       # 0 us is recorded as 1 ns -> 0.001
    assert percentile(counts, 100) == 1286143   # 1286 us -> 1286.143
    assert cumulative(counts) == [(1, 4), (16, 5), (2113, 6)]  # 2^21 ns bucket's top


def test_histogram_and_latencystats_parity(sonic_port, real_port):
    """LATENCY HISTOGRAM and INFO latencystats have Redis' shapes, and the call counts agree."""
    shapes = []
    for port in (sonic_port, real_port):
        c = RawClient(port)
        try:
            c.call("CONFIG", "RESETSTAT")
            for i in range(5):
                c.call("SET", "k", str(i))
            c.call("CLIENT", "ID")
            hist = _decode(c.call("LATENCY", "HISTOGRAM", "set", "CLIENT", "nosuch"))
            c.call("HELLO", "3")
            hist3 = _decode(c.call("LATENCY", "HISTOGRAM", "set"))
            c.call("HELLO", "2")
            info = _decode(c.call("INFO", "latencystats")).decode()
            c.call("CONFIG", "SET", "latency-tracking", "no")
            info_off = _decode(c.call("INFO", "latencystats")).decode()
        finally:
            c.call("CONFIG", "SET", "latency-tracking", "yes")
            c.call("FLUSHALL")
            c.close()
        as_map = dict(zip(hist[::2], hist[1::2]))
        assert set(as_map) == {b"set", b"client|id"}
        entry = dict(zip(as_map[b"set"][::2], as_map[b"set"][1::2]))
        assert entry[b"calls"] == 5
        buckets = entry[b"histogram_usec"]
        assert buckets[-1] == 5 and all(b > 0 for b in buckets[::2])
        assert set(hist3) == {b"set"} and hist3[b"set"][b"calls"] == 5
        lines = [l for l in info.split("\r\n") if l.startswith("latency_percentiles_usec_set:")]
        assert len(lines) == 1
        assert [p.split("=")[0] for p in lines[0].split(":")[1].split(",")] == ["p50", "p99", "p99.9"]
        assert info_off.strip() == "# Latencystats"
        shapes.append(info.split("\r\n")[0])
    assert shapes[0] == shapes[1]


def _latency_round(port):
    c = RawClient(port)
    try:
        c.call("CONFIG", "SET", "latency-monitor-threshold", "2")
        c.call("LATENCY", "RESET")
        c.call("DEBUG", "SLEEP", "0.005")
        c.call("DEBUG", "SLEEP", "0")        # under the threshold: no sample
        latest = _decode(c.call("LATENCY", "LATEST"))
        history = _decode(c.call("LATENCY", "HISTORY", "command"))
        graph = _decode(c.call("LATENCY", "GRAPH", "command")).split(b"\n")
        doctor = _decode(c.call("LATENCY", "DOCTOR"))
        reset = _decode(c.call("LATENCY", "RESET", "command", "command", "other"))
        return latest, history, graph, doctor, reset
    finally:
        c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
        c.call("LATENCY", "RESET")
        c.close()


def test_latency_monitor_parity(sonic_port, real_port):
    """Over latency-monitor-threshold, DEBUG SLEEP adds one 'command' sample on both servers,
    shown alike by LATEST, HISTORY, GRAPH and DOCTOR."""
    got = _latency_round(sonic_port)
    expected = _latency_round(real_port)
    for latest, history, graph, doctor, reset in (got, expected):
        assert len(latest) == 1 and latest[0][0] == b"command" and latest[0][2] >= 5
        assert latest[0][2] == latest[0][3]
        assert len(history) == 1 and history[0][1] == latest[0][2]
        assert graph[0] == b"command - high %d ms, low %d ms (all time high %d ms)" % ((latest[0][2],) * 3)
        assert reset == 1
    ms_got, ms_expected = got[0][0][2], expected[0][0][2]
    assert got[2][1:] == expected[2][1:]  # the sparkline and its label
    assert got[3].replace(b"%dms" % ms_got, b"Nms") == expected[3].replace(b"%dms" % ms_expected, b"Nms")


def test_latency_samples_are_folded_in_batches_and_on_read():
    """The dispatcher only appends each duration; the table folds them every 4096 calls and whenever it is read, losing none."""
    from sonic.registry import lookup
    server = make_server()
    c = Client(server)
    spec = lookup(b"echo")
    spec.latency_usec.clear()
    for _ in range(5000):
        call(c, "ECHO", "x")
    assert len(spec.latency_samples) == 5000 - 4096  # folded once, at 4096
    reply = call(c, "LATENCY", "HISTOGRAM", "echo")
    assert reply["echo"]["calls"] == 5000
    assert spec.latency_samples == []

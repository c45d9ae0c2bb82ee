"""INFO's text: section selection, line format, counters and RESP3 verbatim, on a task.Clock server."""

from sonic.commands.info import bytes_to_human, info_text
from sonic.resp import Verbatim, encode
from tests.helpers import Client, call, make_server

#: Fields Prometheus' redis_exporter and Sentinel read, per section.
MONITORED_FIELDS = {
    "Server": ["redis_version", "redis_mode", "os", "arch_bits", "process_id", "run_id",
               "tcp_port", "uptime_in_seconds", "uptime_in_days", "hz", "executable",
               "config_file", "lru_clock", "redis_git_sha1", "redis_build_id"],
    "Clients": ["connected_clients", "blocked_clients", "maxclients", "tracking_clients",
                "client_recent_max_input_buffer", "client_recent_max_output_buffer"],
    "Memory": ["used_memory", "used_memory_rss", "used_memory_peak", "used_memory_lua",
               "maxmemory", "maxmemory_policy", "mem_fragmentation_ratio", "total_system_memory",
               "used_memory_overhead", "used_memory_startup", "used_memory_dataset"],
    "Persistence": ["loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress",
                    "rdb_last_save_time", "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec",
                    "aof_enabled", "aof_rewrite_in_progress", "aof_last_bgrewrite_status",
                    "aof_last_write_status"],
    "Stats": ["total_connections_received", "total_commands_processed",
              "instantaneous_ops_per_sec", "total_net_input_bytes", "total_net_output_bytes",
              "rejected_connections", "expired_keys", "evicted_keys", "keyspace_hits",
              "keyspace_misses", "pubsub_channels", "pubsub_patterns", "latest_fork_usec",
              "total_error_replies"],
    "Replication": ["role", "connected_slaves", "master_repl_offset", "master_replid",
                    "repl_backlog_size", "second_repl_offset", "master_failover_state"],
    "CPU": ["used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children"],
    "Cluster": ["cluster_enabled"],
}


def parse_info(reply):
    """A raw INFO reply (bulk or verbatim) or text as {section: {field: value}}, in order."""
    if isinstance(reply, bytes) and reply[:1] in (b"$", b"="):
        body = reply[reply.index(b"\r\n") + 2:-2]
        if reply[:1] == b"=":
            body = body[4:]
        reply = body
    if isinstance(reply, bytes):
        reply = reply.decode()
    out = {}
    current = None
    for line in reply.split("\r\n"):
        if line.startswith("# "):
            current = out.setdefault(line[2:], {})
        elif line:
            field, _, value = line.partition(":")
            current[field] = value
    return out


def test_default_sections_in_redis_order():
    """INFO with no argument lists Redis' default sections in order, then Compression."""
    server = make_server()
    info = parse_info(call(Client(server), "INFO"))
    assert list(info) == ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication",
                          "CPU", "Modules", "Errorstats", "Cluster", "Keyspace", "Compression"]


def test_line_format_and_blank_line_between_sections():
    """Sections are '# Name' lines, fields 'name:value', separated by one CRLF blank line."""
    text = info_text(make_server(), ["cluster", "modules"])
    assert text == "# Modules\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n"


def test_section_names_case_insensitive_and_unknown_ignored():
    """Section names match case-insensitively; unknown names give nothing."""
    server = make_server()
    c = Client(server)
    assert list(parse_info(call(c, "INFO", "KeySpace", "CPU"))) == ["CPU", "Keyspace"]
    assert call(c, "INFO", "nosuch") == b""
    everything = parse_info(call(c, "INFO", "everything"))
    assert "Commandstats" in everything and "Latencystats" in everything
    assert list(parse_info(call(c, "INFO", "all"))) == list(everything)


def test_keyspace_lists_only_non_empty_databases():
    """db lines appear only for databases holding keys, with their TTL counts."""
    server = make_server()
    c = Client(server)
    call(c, "SET", "a", "1")
    server.store.dbs[0].set(b"b", b"1", deadline=server.store.now + 5000)
    call(c, "SELECT", "3")
    call(c, "SET", "z", "1")
    ks = parse_info(call(c, "INFO", "keyspace"))["Keyspace"]
    assert ks == {"db0": "keys=2,expires=1,avg_ttl=0", "db3": "keys=1,expires=0,avg_ttl=0"}


def test_server_fields():
    """Server has the version sonic answers as, the mode, port and run id."""
    from sonic.server import REDIS_VERSION
    server = make_server()
    info = parse_info(call(Client(server), "INFO", "server"))["Server"]
    assert info["redis_version"] == REDIS_VERSION == "7.0.15"
    assert info["redis_mode"] == "standalone"
    assert info["tcp_port"] == str(server.tcp_port)
    assert info["run_id"] == server.run_id and len(info["run_id"]) == 40
    assert info["server_time_usec"] == str(int(server.clock.seconds() * 1e6))
    assert info["sonic_version"] == server.version


def test_stats_count_commands_and_dirty():
    """total_commands_processed and rdb_changes_since_last_save follow the commands run."""
    server = make_server()
    c = Client(server)
    call(c, "SET", "a", "1")
    call(c, "SET", "b", "1")
    info = parse_info(call(c, "INFO", "stats", "persistence"))
    assert info["Stats"]["total_commands_processed"] == "2"
    assert int(info["Persistence"]["rdb_changes_since_last_save"]) == server.store.dirty >= 2


def test_commandstats_and_resetstat():
    """Commandstats has Redis' cmdstat line per used command; CONFIG RESETSTAT clears it."""
    server = make_server()
    c = Client(server)
    call(c, "CONFIG", "RESETSTAT")  # per-command counters live in the process-wide registry
    call(c, "SET", "a", "1")
    call(c, "GET", "a")
    call(c, "GET", "a")
    stats = parse_info(call(c, "INFO", "commandstats"))["Commandstats"]
    fields = dict(kv.split("=") for kv in stats["cmdstat_get"].split(","))
    assert list(fields) == ["calls", "usec", "usec_per_call", "rejected_calls", "failed_calls"]
    assert fields["calls"] == "2"
    call(c, "CONFIG", "RESETSTAT")
    stats = parse_info(call(c, "INFO", "commandstats"))["Commandstats"]
    assert "cmdstat_get" not in stats
    assert parse_info(call(c, "INFO", "stats"))["Stats"]["total_commands_processed"] == "2"  # RESETSTAT and INFO


def test_compression_section():
    """The Compression section reports compressed keys and bytes saved."""
    server = make_server()
    c = Client(server)
    call(c, "SET", "big", "a" * 10000)
    comp = parse_info(call(c, "INFO", "compression"))["Compression"]
    assert comp["compressed_keys"] == "1"
    assert int(comp["bytes_saved"]) > 9000


def test_resp3_info_is_verbatim():
    """In RESP3 INFO is a verbatim string (=N txt:...) as in Redis 7.0."""
    server = make_server()
    c = Client(server)
    c.resp = 3
    value = call(c, "INFO", "cluster")
    assert type(value) is Verbatim
    assert encode(value, 3) == b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"


def test_bytes_to_human():
    """Sizes read like Redis' bytesToHuman."""
    assert bytes_to_human(0) == "0B"
    assert bytes_to_human(1023) == "1023B"
    assert bytes_to_human(1039800) == "1015.43K"
    assert bytes_to_human(7204864) == "6.87M"
    assert bytes_to_human(25276514304) == "23.54G"

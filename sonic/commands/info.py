"""INFO: Redis 7.0's sections and field names, plus sonic's C{# Compression}.

Monitoring reads INFO by field name (Prometheus' redis_exporter, Sentinel,
redis-cli --stat), so every section keeps Redis 7.0's fields in Redis'
order, with sonic's values where it has them and Redis' idle values (0,
C{ok}, C{-1}) for machinery sonic does not have (forks, AOF, defrag).

Simplified: C{instantaneous_*} figures are averaged since the previous INFO
call (Redis samples every 100 ms); C{# Commandstats} has Redis' line format
from the registry's counters; C{# Errorstats} is empty (sonic keeps no
per-error counts yet); C{# Latencystats} comes from the per-command
latency tables (sonic.commands.latency), in command-table order.
"""

import os
import platform
import resource
import sys
import time

from sonic.registry import all_specs, command
from sonic.commands.latency import latencystats
from sonic.resp import Verbatim
from sonic.tracking import info_fields as tracking_info

__all__ = ["info_text", "bytes_to_human", "SECTIONS", "DEFAULT_SECTIONS"]

#: Every section, in Redis' output order; C{compression} is sonic's.
SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication",
            "cpu", "modules", "commandstats", "errorstats", "latencystats",
            "cluster", "keyspace", "compression")

#: What INFO (and INFO default) shows: Redis' default set plus compression.
DEFAULT_SECTIONS = ("server", "clients", "memory", "persistence", "stats",
                    "replication", "cpu", "modules", "errorstats", "cluster",
                    "keyspace", "compression")

_TITLES = {"cpu": "CPU", "commandstats": "Commandstats", "errorstats": "Errorstats",
           "latencystats": "Latencystats"}


def bytes_to_human(n):
    """Redis' bytesToHuman: C{1015.43K}, C{6.87M}, C{0B}."""
    if n < 1024:
        return "%dB" % n
    for unit, power in (("K", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5)):
        if n < 1024 ** (power + 1) or unit == "P":
            return "%.2f%s" % (n / 1024.0 ** power, unit)


def _total_system_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _server(server):
    config = server.config
    from sonic.server import REDIS_VERSION
    uptime = int(server.uptime())
    uname = platform.uname()
    now = server.clock.seconds()
    return [
        ("redis_version", REDIS_VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", "0"),
        ("redis_mode", "standalone"),
        ("os", "%s %s %s" % (uname.system, uname.release, uname.machine)),
        ("arch_bits", 64 if sys.maxsize > 2 ** 32 else 32),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", "0.0.0"),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", server.run_id),
        ("tcp_port", server.tcp_port),
        ("server_time_usec", int(now * 1e6)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", config.hz),
        ("configured_hz", config.hz),
        ("lru_clock", int(now) & ((1 << 24) - 1)),
        ("executable", os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""),
        ("config_file", getattr(config, "config_file", None) or ""),
        ("io_threads_active", 0),
        ("sonic_version", server.version),
        ("python_version", platform.python_version()),
    ]


def _clients(server):
    from sonic.commands.clients import buffer_peaks
    max_in, max_out = buffer_peaks(server)
    return [
        ("connected_clients", len(server.clients)),
        ("cluster_connections", 0),
        ("maxclients", server.config.maxclients),
        ("client_recent_max_input_buffer", max_in),
        ("client_recent_max_output_buffer", max_out),
        ("blocked_clients", server.blocked_clients),
        ("tracking_clients", tracking_info(server)[0]),
        ("clients_in_timeout_table", server.blocking.with_timeout),
    ]


def _memory(server):
    from sonic.server import peak_rss_bytes, rss_bytes
    # Under maxmemory, used_memory is start-up memory plus the dataset's byte
    # count (sonic.store.eviction); otherwise the RSS.
    used = server.used_memory()
    rss = rss_bytes()
    peak = max(peak_rss_bytes(), used)
    startup = getattr(server, "startup_memory", 0) or 0
    total = _total_system_memory()
    maxmemory = server.config.maxmemory
    dataset = max(used - startup, 0)
    # EVAL's Lua state and script cache (sonic.scripting.engine).
    from sonic.scripting import eval_memory  # not the engine: that loads lupa
    lua_vm, lua_scripts, lua_count = eval_memory(server)
    # FUNCTION libraries' Lua state and code (sonic.commands.functions).
    from sonic.commands.functions import functions_memory
    n_functions, n_libraries, fn_vm, fn_bytes = functions_memory(server)
    return [
        ("used_memory", used),
        ("used_memory_human", bytes_to_human(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", bytes_to_human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", bytes_to_human(peak)),
        ("used_memory_peak_perc", "%.2f%%" % (100.0 * used / peak if peak else 100.0)),
        ("used_memory_overhead", startup),
        ("used_memory_startup", startup),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", "%.2f%%" % (100.0 * dataset / used if used else 0.0)),
        ("allocator_allocated", used),
        ("allocator_active", used),
        ("allocator_resident", used),
        ("total_system_memory", total),
        ("total_system_memory_human", bytes_to_human(total)),
        ("used_memory_lua", lua_vm),
        ("used_memory_vm_eval", lua_vm),
        ("used_memory_lua_human", bytes_to_human(lua_vm)),
        ("used_memory_scripts_eval", lua_scripts),
        ("number_of_cached_scripts", lua_count),
        ("number_of_functions", n_functions),
        ("number_of_libraries", n_libraries),
        ("used_memory_vm_functions", fn_vm),
        ("used_memory_vm_total", lua_vm + fn_vm),
        ("used_memory_vm_total_human", bytes_to_human(lua_vm + fn_vm)),
        ("used_memory_functions", fn_bytes),
        ("used_memory_scripts", lua_scripts + fn_bytes),
        ("used_memory_scripts_human", bytes_to_human(lua_scripts + fn_bytes)),
        ("maxmemory", maxmemory),
        ("maxmemory_human", bytes_to_human(maxmemory)),
        ("maxmemory_policy", server.config.maxmemory_policy),
        ("allocator_frag_ratio", "1.00"),
        ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", "1.00"),
        ("allocator_rss_bytes", 0),
        ("rss_overhead_ratio", "1.00"),
        ("rss_overhead_bytes", 0),
        # RSS against used_memory: 1.00 without maxmemory, where used_memory
        # is the RSS (CPython has no allocator statistics).
        ("mem_fragmentation_ratio", "%.2f" % (rss / used if used else 1.0)),
        ("mem_fragmentation_bytes", rss - used),
        # sonic's start-up memory is not compared with maxmemory (sonic.store.eviction).
        ("mem_not_counted_for_evict", startup if server.config.maxmemory else 0),
        ("mem_replication_backlog", getattr(getattr(server.repl_master, "backlog", None), "histlen", 0)),
        ("mem_total_replication_buffers", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", 0),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", 0),
        ("mem_allocator", "libc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", 0),
        ("lazyfreed_objects", 0),
    ]


def _persistence(server):
    dirty = server.store.dirty - getattr(server, "dirty_at_save", 0)
    snaps = getattr(server, "snapshots", None)  # sonic.persistence.snapshot
    job = snaps.bgsave_job if snaps is not None else None
    aof = getattr(server, "aof", None)
    return [
        ("loading", 1 if server.loading else 0),
        ("async_loading", 0),
        ("current_cow_peak", _cow_now(server)),
        ("current_cow_size", _cow_now(server)),
        ("current_cow_size_age", 0),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", 0),
        ("rdb_changes_since_last_save", dirty),
        ("rdb_bgsave_in_progress", 1 if job is not None else 0),
        ("rdb_last_save_time", int(server.lastsave)),
        ("rdb_last_bgsave_status", "ok" if snaps is None or snaps.last_ok else "err"),
        ("rdb_last_bgsave_time_sec", snaps.last_seconds if snaps is not None else -1),
        ("rdb_current_bgsave_time_sec",
         int(time.time() - job.wall_start) if job is not None else -1),
        ("rdb_saves", snaps.saves if snaps is not None else 0),
        ("rdb_last_cow_size", snaps.last_cow_size if snaps is not None else 0),
        ("rdb_last_load_keys_expired", snaps.loaded_expired if snaps is not None else 0),
        ("rdb_last_load_keys_loaded", snaps.loaded_keys if snaps is not None else 0),
    ] + _aof(aof) + _loading(server)


def _cow_now(server):
    """Bytes copied so far by the running BGSAVE or AOF rewrite (copy-on-write, sonic.replication.master)."""
    snaps = getattr(server, "snapshots", None)
    job = snaps.bgsave_job if snaps is not None else None
    aof = getattr(server, "aof", None)
    rewrite = getattr(aof, "rewrite", None)
    return sum(getattr(j, "cow_bytes", 0) for j in (job, rewrite) if j is not None)


def _aof(aof):
    """The aof_* rows: the AOF's own (sonic.persistence.aof), or a disabled AOF's."""
    if aof is not None and hasattr(aof, "info_fields"):
        return aof.info_fields()
    return [
        ("aof_enabled", 0),
        ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0),
        ("aof_last_rewrite_time_sec", -1),
        ("aof_current_rewrite_time_sec", -1),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", 0),
        ("aof_rewrites_consecutive_failures", 0),
        ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", 0),
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]


def _loading(server):
    """Redis' loading_* fields, while dump.rdb loads at start-up (sonic.persistence.snapshot)."""
    progress = getattr(server, "loading_progress", None)
    if not server.loading or progress is None:
        return []
    start, total, done = progress
    loaded = done[0]
    elapsed = time.time() - start
    eta = int(elapsed * (total - loaded) / loaded) if loaded else 1
    return [
        ("loading_start_time", int(start)),
        ("loading_total_bytes", total),
        ("loading_rdb_used_mem", 0),
        ("loading_loaded_bytes", loaded),
        ("loading_loaded_perc", "%.2f" % (100.0 * loaded / total if total else 0.0)),
        ("loading_eta_seconds", eta),
    ]


def _instantaneous(server):
    """(ops/sec, input kbps, output kbps) since the previous INFO call."""
    now = time.monotonic()
    sample = (now, server.stat_commands, server.stat_net_input, server.stat_net_output)
    last = getattr(server, "_info_sample", None)
    server._info_sample = sample
    if last is None or now - last[0] <= 0:
        return 0, 0.0, 0.0
    dt = now - last[0]
    return (int((sample[1] - last[1]) / dt),
            (sample[2] - last[2]) / dt / 1024.0,
            (sample[3] - last[3]) / dt / 1024.0)


def _stats(server):
    store = server.store
    ops, kin, kout = _instantaneous(server)
    return [
        ("total_connections_received", server.stat_connections),
        ("total_commands_processed", server.stat_commands),
        ("instantaneous_ops_per_sec", ops),
        ("total_net_input_bytes", server.stat_net_input),
        ("total_net_output_bytes", server.stat_net_output),
        ("total_net_repl_input_bytes", 0),
        ("total_net_repl_output_bytes", getattr(server.repl_master, "net_output", 0)),
        ("instantaneous_input_kbps", "%.2f" % kin),
        ("instantaneous_output_kbps", "%.2f" % kout),
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", server.stat_rejected_connections),
        ("sync_full", getattr(server.repl_master, "sync_full", 0)),
        ("sync_partial_ok", getattr(server.repl_master, "sync_partial_ok", 0)),
        ("sync_partial_err", getattr(server.repl_master, "sync_partial_err", 0)),
        ("expired_keys", store.expired_keys),
        ("expired_stale_perc", "0.00"),
        ("expired_time_cap_reached_count", 0),
        ("expire_cycle_cpu_milliseconds", 0),
        ("evicted_keys", store.evicted_keys),
        ("evicted_clients", 0),
        ("total_eviction_exceeded_time", 0),
        ("current_eviction_exceeded_time", 0),
        ("keyspace_hits", server.stat_keyspace_hits),
        ("keyspace_misses", server.stat_keyspace_misses),
        ("pubsub_channels", len(server.pubsub.channels)),
        ("pubsub_patterns", len(server.pubsub.patterns)),
        ("pubsubshard_channels", len(server.pubsub.shard_channels)),
        ("latest_fork_usec", 0),
        ("total_forks", 0),
        ("migrate_cached_sockets", len(getattr(getattr(server, "migrate_pool", None), "conns", ()))),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", tracking_info(server)[1]),
        ("tracking_total_items", tracking_info(server)[2]),
        ("tracking_total_prefixes", tracking_info(server)[3]),
        ("unexpected_error_replies", 0),
        ("total_error_replies", sum(s.failed_calls + s.rejected_calls for s in _all_specs())),
        ("dump_payload_sanitizations", 0),
        ("total_reads_processed", 0),
        ("total_writes_processed", 0),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
    ]


def _replication(server):
    if server.master_host is not None:
        from sonic.replication.replica import info_fields
        head = info_fields(server)
    else:
        head = [("role", "master")]
    from sonic.replication.master import replication_info
    return head + replication_info(server)


def _cpu(server):
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        main = resource.getrusage(resource.RUSAGE_THREAD)
    except (AttributeError, ValueError):
        main = me
    return [
        ("used_cpu_sys", "%.6f" % me.ru_stime),
        ("used_cpu_user", "%.6f" % me.ru_utime),
        ("used_cpu_sys_children", "%.6f" % kids.ru_stime),
        ("used_cpu_user_children", "%.6f" % kids.ru_utime),
        ("used_cpu_sys_main_thread", "%.6f" % main.ru_stime),
        ("used_cpu_user_main_thread", "%.6f" % main.ru_utime),
    ]


def _all_specs():
    return (spec for spec in all_specs() if spec.handler is not None)


def _commandstats(server):
    out = []
    for spec in _all_specs():
        if spec.calls or spec.failed_calls or spec.rejected_calls:
            usec = int(spec.seconds * 1e6)
            per = usec / spec.calls if spec.calls else 0.0
            out.append(("cmdstat_" + spec.fullname,
                        "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d" % (
                            spec.calls, usec, per, spec.rejected_calls, spec.failed_calls)))
    return out


def _keyspace(server):
    out = []
    for db in server.store.dbs:
        n = len(db)
        if n:
            out.append(("db%d" % db.index, "keys=%d,expires=%d,avg_ttl=%d" % (
                n, db.expires_count(), getattr(db, "avg_ttl", 0))))
    return out


def _empty(server):
    return []


_BUILDERS = {
    "server": _server, "clients": _clients, "memory": _memory,
    "persistence": _persistence, "stats": _stats, "replication": _replication,
    "cpu": _cpu, "modules": _empty, "commandstats": _commandstats,
    "errorstats": _empty, "latencystats": lambda server: latencystats(server),
    "cluster": lambda server: [("cluster_enabled", 0)],
    "keyspace": _keyspace,
    "compression": lambda server: server.compressor.info(),
}


def wanted_sections(names):
    """The sections INFO C{names} asks for, in Redis' order (unknown names add nothing)."""
    if not names:
        return list(DEFAULT_SECTIONS)
    wanted = set()
    for name in names:
        name = name.lower()
        if name == "default":
            wanted.update(DEFAULT_SECTIONS)
        elif name in ("all", "everything"):
            wanted.update(SECTIONS)
        elif name in _BUILDERS:
            wanted.add(name)
    return [s for s in SECTIONS if s in wanted]


def info_text(server, names=()):
    """INFO's text: C{# Title\\r\\nfield:value\\r\\n...}, a blank line between sections."""
    parts = []
    for section in wanted_sections(names):
        title = _TITLES.get(section, section.capitalize())
        lines = ["# %s\r\n" % title]
        for field, value in _BUILDERS[section](server):
            lines.append("%s:%s\r\n" % (field, value))
        parts.append("".join(lines))
    return "\r\n".join(parts)


@command("info")
def info(client, *sections):
    """INFO [section [section ...]]"""
    names = [s.decode("utf-8", "replace") for s in sections]
    text = info_text(client.server, names).encode("utf-8", "replace")
    if client.resp == 3:
        return Verbatim(text)
    return text

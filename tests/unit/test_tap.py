"""The twistd plugin's options (sonic.tap.Options) and the service tree makeService builds.

Nothing here starts the global reactor: services are started, when at all,
on a MemoryReactorClock, and listening sockets are only bound on port 0.
"""

import os
import socket

import pytest
from twisted.application import service
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage

from sonic import tap
from sonic.config import Config
from sonic.store import ShardedStore


def parse(*argv):
    """Options parsed from C{argv} (as after C{twistd -n sonic})."""
    options = tap.Options()
    options.parseOptions(list(argv))
    return options


def write(tmp_path, text, name="sonic.conf"):
    """A configuration file holding C{text}; its path as str."""
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# -- options ------------------------------------------------------------------


def test_defaults():
    """Without options the configuration is Redis' defaults and sonic's bind default."""
    config = parse().configuration
    assert config.port == 6379
    assert config.bind == "127.0.0.1 -::1"
    assert config.shards == 16
    assert config.databases == 16
    assert config.compression == "gzip"


def test_core_options():
    """--port, --bind, --shards, --databases, --requirepass and the compression settings apply."""
    config = parse("--port", "7001", "--bind", "127.0.0.1 ::1", "--shards", "4",
                   "--databases", "2", "--requirepass", "s e c", "--compression", "none",
                   "--compression-threshold", "2kb", "--compression-level", "6",
                   "--compression-min-saving", "30",
                   "--compression-thread-threshold", "1mb").configuration
    assert config.port == 7001
    assert config.bind == "127.0.0.1 ::1"
    assert config.shards == 4
    assert config.databases == 2
    assert config.requirepass == "s e c"
    assert config.compression == "none"
    assert config.compression_threshold == 2048
    assert config.compression_level == 6
    assert config.compression_min_saving == 30
    assert config.compression_thread_threshold == 1 << 20


def test_every_directive_is_an_option():
    """Each directive of sonic.config.DIRECTIVES, aliases included, is a --name option."""
    from sonic.config import DIRECTIVES
    names = {row[0] for row in tap.Options.optParameters}
    assert set(DIRECTIVES) <= names


def test_list_directives_split_on_spaces():
    """List directives take several words in one option value (--save "3600 1")."""
    config = parse("--save", "3600 1 300 100").configuration
    assert config.save == "3600 1 300 100"
    assert parse("--save", "").configuration.save == ""


def test_alias_options():
    """An alias (--slave-read-only, --slaveof) sets its directive."""
    config = parse("--slave-read-only", "no", "--slaveof", "127.0.0.1 6380").configuration
    assert config.replica_read_only is False
    assert config.replicaof == "127.0.0.1 6380"


def test_unknown_option_names_it():
    """An option naming no directive is a usage error that names it."""
    with pytest.raises(usage.UsageError) as info:
        parse("--no-such-directive", "1")
    assert str(info.value) == "option --no-such-directive: unknown directive 'no-such-directive'"


def test_bad_value_names_option():
    """A bad value is a one-line usage error naming the option and the reason."""
    with pytest.raises(usage.UsageError) as info:
        parse("--port", "70000")
    assert str(info.value) == "option --port: argument must be between 0 and 65535 inclusive"
    with pytest.raises(usage.UsageError) as info:
        parse("--compression", "lz4")
    assert "option --compression:" in str(info.value)


def test_under_twistd_errors_are_one_stderr_line(capfd):
    """As twistd's subcommand, a bad option prints one line on stderr and exits 1."""
    options = tap.Options()
    options.parent = object()  # what twistd's ServerOptions sets on its subcommand
    with pytest.raises(SystemExit) as info:
        options.parseOptions(["--maxmemory", "lots"])
    assert info.value.code == 1
    out, err = capfd.readouterr()
    assert out == ""
    assert err == "sonic: option --maxmemory: argument must be a memory value\n"


def test_config_file(tmp_path):
    """--config reads a redis.conf-syntax file: comments, quotes, aliases."""
    path = write(tmp_path, '# comment\n\nport 7002\nrequirepass "a b"\nslave-read-only no\n'
                           'save 900 1\n')
    config = parse("--config", path).configuration
    assert config.port == 7002
    assert config.requirepass == "a b"
    assert config.replica_read_only is False
    assert config.save == "900 1"


def test_options_override_config_file(tmp_path):
    """Options on the command line win over the file's lines."""
    path = write(tmp_path, "port 7002\nshards 8\n")
    config = parse("--config", path, "--port", "7003").configuration
    assert config.port == 7003
    assert config.shards == 8


def test_config_file_as_argument(tmp_path):
    """A file named after the options is read like --config (twistd -n sonic sonic.conf)."""
    path = write(tmp_path, "port 7004\n")
    assert parse(path).configuration.port == 7004


def test_config_file_bad_line_names_file_and_line(tmp_path):
    """A bad line in a file is an error naming the file, the line number and the directive."""
    path = write(tmp_path, "port 7002\n# fine\nmaxmemory 10zz\n")
    with pytest.raises(usage.UsageError) as info:
        parse("--config", path)
    assert str(info.value) == "%s line 3: maxmemory: argument must be a memory value" % path


def test_config_file_unknown_directive(tmp_path):
    """An unknown directive in a file names it and its line."""
    path = write(tmp_path, "port 7002\nfrobnicate yes\n")
    with pytest.raises(usage.UsageError) as info:
        parse("--config", path)
    assert str(info.value) == "%s line 2: frobnicate: unknown directive 'frobnicate'" % path


def test_missing_config_file(tmp_path):
    """A configuration file that cannot be read is a usage error naming it."""
    missing = str(tmp_path / "nope.conf")
    with pytest.raises(usage.UsageError) as info:
        parse("--config", missing)
    assert missing in str(info.value)


def test_dir_made_absolute(tmp_path, monkeypatch):
    """--dir is checked at parse time and kept as an absolute path (CONFIG GET dir shows it)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert parse("--dir", "data").configuration.dir == str(tmp_path / "data")


def test_missing_dir_is_an_error(tmp_path):
    """A --dir that does not exist stops start-up with Redis' wording."""
    with pytest.raises(usage.UsageError) as info:
        parse("--dir", str(tmp_path / "nope"))
    assert "Can't chdir to '%s'" % (tmp_path / "nope") in str(info.value)


# -- bind addresses -----------------------------------------------------------


def test_listen_addresses():
    """bind words become (host, optional) pairs; * and ::* are the wildcard addresses."""
    assert tap.listen_addresses(Config(bind="127.0.0.1 -::1")) == [
        ("127.0.0.1", False), ("::1", True)]
    assert tap.listen_addresses(Config(bind="* -::*")) == [("0.0.0.0", False), ("::", True)]
    assert tap.listen_addresses(Config(bind="")) == [("0.0.0.0", False), ("::", True)]


# -- the service tree ---------------------------------------------------------


def test_make_service_tree():
    """makeService gives a MultiService: the store service named "store" and one listener per address."""
    top = tap.makeService(parse("--port", "7005", "--bind", "127.0.0.1 -::1", "--shards", "3"))
    assert isinstance(top, service.MultiService)
    store = top.getServiceNamed("store")
    assert isinstance(store, ShardedStore)
    assert store is top.server.store
    assert store.nshards == 3
    listeners = top.listeners()
    assert [(s.host, s.portno, s.optional) for s in listeners] == [
        ("127.0.0.1", 7005, False), ("::1", 7005, True)]
    assert top.getServiceNamed("tcp:127.0.0.1:7005") is listeners[0]
    assert all(s.factory is top.factory for s in listeners)
    assert top.factory.server is top.server
    assert not top.running


def test_port_zero_has_no_listener():
    """port 0 means no TCP listener, as in Redis."""
    top = tap.build_service(Config(port=0), MemoryReactorClock())
    assert top.listeners() == []


def test_build_service_sets_shutdown():
    """server.shutdown (SHUTDOWN's hook) closes every client and stops the reactor on the next turn."""
    reactor = MemoryReactorClock()
    reactor.running = True
    top = tap.build_service(Config(port=0), reactor)
    closed = []
    top.factory.close_all = lambda: closed.append(True)
    top.server.shutdown()
    assert closed == [True]
    assert not reactor.hasStopped
    reactor.advance(0)
    assert reactor.hasStopped


def test_listener_binds_and_stops():
    """A listener binds its socket when started and gives the port to the reactor."""
    reactor = MemoryReactorClock()
    listener = tap.TCPListener("127.0.0.1", 0, object(), reactor)
    listener.privilegedStartService()
    listener.startService()
    assert len(reactor.adoptedPorts) == 1
    assert reactor.adoptedPorts[0][1] == socket.AF_INET
    assert listener.port is not None
    listener.stopService()
    assert listener.port is None


def test_optional_missing_address_is_skipped():
    """An optional address the machine lacks (TEST-NET-1) is skipped, not an error."""
    reactor = MemoryReactorClock()
    listener = tap.TCPListener("192.0.2.1", 0, object(), reactor, optional=True)
    listener.privilegedStartService()
    assert listener.skipped
    assert listener.port is None
    assert reactor.adoptedPorts == []


def test_required_missing_address_is_an_error():
    """A required address the machine lacks stops start-up with Redis' message."""
    listener = tap.TCPListener("192.0.2.1", 0, object(), MemoryReactorClock())
    with pytest.raises(tap.StartupError) as info:
        listener.privilegedStartService()
    assert str(info.value).startswith(
        "Could not create server TCP listening socket 192.0.2.1:0: bind: ")


def test_port_in_use_is_an_error():
    """A port another socket holds is a StartupError naming address and port."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        listener = tap.TCPListener("127.0.0.1", port, object(), MemoryReactorClock(), optional=True)
        with pytest.raises(tap.StartupError) as info:
            listener.privilegedStartService()
        assert str(info.value) == (
            "Could not create server TCP listening socket 127.0.0.1:%d: "
            "bind: Address already in use" % port)
    finally:
        busy.close()


def test_all_addresses_skipped_is_an_error(tmp_path):
    """If every bind address was optional and missing, start-up fails as in Redis."""
    reactor = MemoryReactorClock()
    top = tap.build_service(Config(port=7006, bind="-192.0.2.1", dir=str(tmp_path)), reactor,
                            handle_signals=False)
    top._chdir_done = True  # keep the test process where it is
    top.privilegedStartService()
    with pytest.raises(tap.StartupError) as info:
        top.startService()
    assert str(info.value) == "Failed listening on port 7006 (tcp), aborting."


def test_start_changes_into_dir_and_writes_pidfile(tmp_path, monkeypatch):
    """Starting the tree changes into dir (as redis-server does) and writes pidfile there; stopping removes it."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    reactor = MemoryReactorClock()
    config = parse("--port", "0", "--dir", str(data), "--pidfile", "sonic.pid").configuration
    top = tap.build_service(config, reactor, handle_signals=False)
    top.privilegedStartService()
    top.startService()
    assert os.getcwd() == str(data)
    assert (data / "sonic.pid").read_text() == "%d\n" % os.getpid()
    assert top.store.running
    top.stopService()
    assert not (data / "sonic.pid").exists()
    assert not top.store.running


def test_start_failure_goes_to_hook():
    """With on_startup_error set (twistd), a StartupError is handed to it instead of raised."""
    top = tap.build_service(Config(port=7007, bind="192.0.2.1"), MemoryReactorClock(),
                            handle_signals=False)
    top._chdir_done = True
    seen = []
    top.on_startup_error = seen.append
    top.privilegedStartService()
    assert len(seen) == 1
    assert isinstance(seen[0], tap.StartupError)


def test_stop_closes_clients():
    """Stopping the tree disconnects every client."""
    top = tap.build_service(Config(port=0), MemoryReactorClock(), handle_signals=False)
    closed = []
    top.factory.close_all = lambda: closed.append(True)
    top.stopService()
    assert closed == [True]

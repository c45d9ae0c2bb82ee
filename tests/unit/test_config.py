"""Configuration: redis.conf parsing, validation errors, aliases, CONFIG SET/GET/REWRITE on a Clock server."""

import os

import pytest

from sonic.config import Config, ConfigError, DIRECTIVES, parse_file
from sonic.resp import Error
from tests.helpers import Client, call, make_server


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_comments_blank_lines_and_quoted_strings(tmp_path):
    """Comments and blank lines are skipped; quoted values keep spaces and escapes."""
    path = _write(tmp_path, "s.conf", '# a comment\n\n   # indented comment\nport 7001\n'
                  'requirepass "se cret\\x41"\nsave \'\'\nmaxmemory 2mb\nappendonly YES\n')
    config = Config()
    parse_file(path, config)
    assert config.port == 7001
    assert config.requirepass == "se cretA"
    assert config.save == ""
    assert config.maxmemory == 2 * 1024 * 1024
    assert config.appendonly is True
    assert config.config_file == os.path.abspath(path)


def test_include_reads_other_file(tmp_path):
    """include reads another file in place; later lines win."""
    inc = _write(tmp_path, "inc.conf", "hz 20\ntimeout 7\n")
    path = _write(tmp_path, "main.conf", "timeout 3\ninclude %s\nhz 30\n" % inc)
    config = Config()
    parse_file(path, config)
    assert (config.timeout, config.hz) == (7, 30)
    assert config.config_file == os.path.abspath(path)


def test_unknown_directive_names_file_line_and_directive(tmp_path):
    """An unknown directive is a one-line ConfigError naming the file, the line and the directive."""
    path = _write(tmp_path, "bad.conf", "port 7000\n\nfrobnicate yes\n")
    with pytest.raises(ConfigError) as e:
        parse_file(path, Config())
    message = str(e.value)
    assert "\n" not in message
    assert path in message and "line 3" in message and "frobnicate" in message


def test_bad_value_names_directive_and_reason(tmp_path):
    """A bad value names its directive and Redis' reason."""
    path = _write(tmp_path, "bad.conf", "maxmemory lots\n")
    with pytest.raises(ConfigError) as e:
        parse_file(path, Config())
    assert "line 1" in str(e.value) and "maxmemory" in str(e.value)
    assert "argument must be a memory value" in str(e.value)


def test_unbalanced_quotes_and_missing_include(tmp_path):
    """Unbalanced quotes and a missing include file are errors naming the place."""
    path = _write(tmp_path, "q.conf", 'requirepass "abc\n')
    with pytest.raises(ConfigError, match="line 1"):
        parse_file(path, Config())
    path = _write(tmp_path, "i.conf", "include /nonexistent/x.conf\n")
    with pytest.raises(ConfigError, match="x.conf"):
        parse_file(path, Config())


def test_aliases_set_the_same_directive(tmp_path):
    """Old names (slaveof, slave-read-only, hash-max-ziplist-entries) set the new directive."""
    path = _write(tmp_path, "a.conf", "slave-read-only no\nhash-max-ziplist-entries 99\n")
    config = Config()
    parse_file(path, config)
    assert config.replica_read_only is False
    assert config.get("hash-max-listpack-entries") == 99
    assert DIRECTIVES["slaveof"] is DIRECTIVES["replicaof"]


def test_integers_follow_redis_rules():
    """Integers are parsed as Redis' string2ll: no spaces, underscores or plus signs."""
    row = DIRECTIVES["timeout"]
    assert row.parse(["12"]) == 12
    for bad in ("1_000", " 5", "+5", "5x", ""):
        with pytest.raises(ConfigError, match="couldn't be parsed into an integer"):
            row.parse([bad])


def test_save_validation():
    """save takes pairs of integers or nothing, as Redis checks."""
    row = DIRECTIVES["save"]
    assert row.parse_runtime("900 1 300 10") == "900 1 300 10"
    assert row.parse_runtime("") == ""
    with pytest.raises(ConfigError, match="Invalid save parameters"):
        row.parse_runtime("900")


def test_config_set_is_atomic():
    """A bad value anywhere in CONFIG SET leaves every directive unchanged."""
    server = make_server()
    c = Client(server)
    reply = call(c, "CONFIG", "SET", "timeout", "9", "maxmemory", "huge")
    assert reply == Error("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - "
                          "argument must be a memory value")
    assert server.config.timeout == 0
    assert call(c, "CONFIG", "SET", "timeout", "9", "maxmemory", "1mb") == b"OK"
    assert (server.config.timeout, server.config.maxmemory) == (9, 1 << 20)


def test_config_set_runs_hooks():
    """CONFIG SET of a compression setting reaches the live compressor."""
    server = make_server()
    c = Client(server)
    call(c, "CONFIG", "SET", "compression-level", "6", "compression", "none")
    assert server.compressor.level == 6 and server.compressor.enabled is False


def test_config_get_sonic_directives_and_aliases():
    """CONFIG GET finds sonic's own directives and answers an alias under the name asked."""
    c = Client(make_server())
    assert call(c, "CONFIG", "GET", "compression-threshold") == {"compression-threshold": "1024"}
    assert call(c, "CONFIG", "GET", "slaveof") == {"slaveof": ""}
    assert call(c, "CONFIG", "GET", "bind") == {"bind": "127.0.0.1 -::1"}
    got = call(c, "CONFIG", "GET", "compression*")
    assert set(got) == {"compression", "compression-threshold", "compression-level",
                        "compression-min-saving", "compression-thread-threshold"}


def test_config_rewrite_without_file():
    """CONFIG REWRITE without a config file is Redis' error."""
    c = Client(make_server())
    assert call(c, "CONFIG", "REWRITE") == Error("ERR The server is running without a config file")


def test_config_rewrite_keeps_comments_and_updates_values(tmp_path):
    """CONFIG REWRITE updates directives in place, keeps comments, appends changed ones."""
    path = _write(tmp_path, "r.conf", "# my settings\nport 7100\ntimeout 3\ntimeout 4\nnotadirective here\n")
    config = Config()
    with pytest.raises(ConfigError):
        parse_file(path, config)  # the unknown line is refused at load...
    path = _write(tmp_path, "r.conf", "# my settings\nport 7100\ntimeout 3\ntimeout 4\n")
    config = Config()
    parse_file(path, config)
    server = make_server()
    server.config = config
    c = Client(server)
    assert call(c, "CONFIG", "SET", "timeout", "11", "maxmemory", "5mb", "requirepass", "a b") == b"OK"
    assert call(c, "CONFIG", "REWRITE") == b"OK"
    text = open(path).read()
    lines = text.splitlines()
    assert lines[:3] == ["# my settings", "port 7100", "timeout 11"]
    assert "maxmemory 5242880" in lines and 'requirepass "a b"' in lines
    again = Config()
    parse_file(path, again)
    assert (again.timeout, again.maxmemory, again.requirepass) == (11, 5 << 20, "a b")


def test_hz_reported_clamped():
    """hz above 500 is accepted and reported as 500, as Redis does."""
    c = Client(make_server())
    assert call(c, "CONFIG", "SET", "hz", "1000") == b"OK"
    assert call(c, "CONFIG", "GET", "hz") == {"hz": "500"}


def test_directive_defaults_match_redis(real_port):
    """Every directive sonic shares with Redis has Redis 7.0's default (bind and dir on purpose not)."""
    import redis
    client = redis.Redis(port=real_port, decode_responses=True)
    real = client.config_get("*")
    # Set by the test fixture's command line, or deliberately different in sonic.
    skip = {"port", "bind", "dir", "save", "enable-debug-command", "daemonize", "pidfile",
            "logfile", "appendonly"}
    checked = 0
    for name, row in DIRECTIVES.items():
        if name in skip or row.sonic:
            continue
        assert name in real, name
        assert row.format(row.default) == real[name], name
        checked += 1
    assert checked > 60
    client.close()

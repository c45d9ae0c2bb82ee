"""Dump the command table of a running redis-server into sonic's registry data.

sonic answers COMMAND, COMMAND INFO and COMMAND DOCS from the same metadata
Redis 7.0 publishes about itself (arity, flags, key specs, ACL categories,
summaries, argument trees).  Rather than typing ~240 commands' metadata by
hand (and drifting, as fakeredis's strings did), we read it once from the
reference server and keep it as data in ``sonic/commands/redis_commands.json``.

Usage::

    redis-server --port 6390 --daemonize yes
    python scripts/dump_command_table.py 127.0.0.1 6390 > sonic/commands/redis_commands.json

The output maps each command name to ``{"info": ..., "docs": ...}`` where
``info`` is COMMAND INFO's 10 fields as a JSON object and ``docs`` is the
COMMAND DOCS map.  Sets in RESP3 become JSON lists; the encoder in
``sonic.commands.server`` knows which fields are sets.
"""
import json
import socket
import sys

import hiredis


def query(sock, reader, *args):
    """Send one command and return its parsed RESP3 reply."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    while True:
        reply = reader.gets()
        if reply is not False:
            return reply
        reader.feed(sock.recv(1 << 20))


def text(value):
    """Turn hiredis' bytes into str, recursively."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [text(v) for v in value]
    if isinstance(value, dict):
        return {text(k): text(v) for k, v in value.items()}
    return value


def info_to_json(entry):
    """Name the ten positional fields of one COMMAND INFO entry."""
    name, arity, flags, first, last, step, acl, tips, key_specs, subs = entry
    return {
        "name": name, "arity": arity, "flags": flags, "first": first,
        "last": last, "step": step, "acl": acl, "tips": tips,
        "key_specs": key_specs,
        "subcommands": sorted((info_to_json(s) for s in subs), key=lambda s: s["name"]),
    }


def main(host="127.0.0.1", port="6379"):
    sock = socket.create_connection((host, int(port)))
    reader = hiredis.Reader()
    query(sock, reader, "HELLO", "3")
    infos = text(query(sock, reader, "COMMAND"))
    docs = text(query(sock, reader, "COMMAND", "DOCS"))
    table = {}
    for entry in sorted(infos, key=lambda e: e[0]):
        info = info_to_json(entry)
        table[info["name"]] = {"info": info, "docs": docs.get(info["name"], {})}
    json.dump(table, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:])

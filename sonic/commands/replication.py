"""Replication commands of the master side: SYNC, PSYNC, REPLCONF, WAIT, ROLE.

The machinery is in L{sonic.replication.master}; these handlers parse
arguments and reply as Redis 7.0 does.  A replica connection gets no reply
to its commands after SYNC/PSYNC except the replication stream itself
(REPLCONF ACK answers nothing), so those handlers return an empty L{Raw}.
"""

from sonic import errors
from sonic.errors import CommandError
from sonic.registry import command
from sonic.replication.master import get_master, role_reply
from sonic.resp import OK, Raw
from sonic.util import string2ll

__all__ = []

NOMASTERLINK = "NOMASTERLINK Can't SYNC while not connected with my master"
WAIT_ON_REPLICA = ("ERR WAIT cannot be used with replica instances. Please also note that "
                   "since Redis 4.0 if a replica is configured to be writable (which is not "
                   "the default) writes to replicas are just local and are not propagated.")
WAIT_TIMEOUT = "ERR timeout is not an integer or out of range"

_NOTHING = Raw(b"")


def _refuse_sync(client):
    server = client.server
    if "S" in client.flags:
        return _NOTHING  # Redis ignores SYNC/PSYNC from a client already a replica
    if server.master_host is not None:
        link = getattr(server, "replica_link", None)
        if link is None or getattr(link, "master_link_status", "down") != "up":
            raise CommandError(NOMASTERLINK)
    return None


@command("sync")
def sync(client):
    """SYNC"""
    refused = _refuse_sync(client)
    if refused is not None:
        return refused
    return get_master(client.server).sync(client, psync=False)


@command("psync")
def psync(client, replid, offset):
    """PSYNC replicationid offset"""
    off = string2ll(offset)
    if off is None:
        raise CommandError(errors.NOT_INTEGER)
    refused = _refuse_sync(client)
    if refused is not None:
        return refused
    return get_master(client.server).sync(
        client, replid.decode("utf-8", "replace"), off, psync=True)


@command("replconf")
def replconf(client, *args):
    """REPLCONF [option value ...]"""
    if len(args) % 2:
        raise CommandError(errors.SYNTAX)
    server = client.server
    for i in range(0, len(args), 2):
        option = args[i].lower()
        value = args[i + 1]
        if option == b"listening-port":
            port = string2ll(value)
            if port is None:
                raise CommandError(errors.NOT_INTEGER)
            client.repl_listening_port = port
            link = server.repl_master.link_of(client) if server.repl_master else None
            if link is not None:
                link.port = port
        elif option == b"ip-address":
            client.repl_ip = value.decode("utf-8", "replace")
        elif option == b"capa":
            caps = getattr(client, "repl_capa", None)
            if caps is None:
                caps = client.repl_capa = set()
            caps.add(value.lower())
        elif option in (b"ack", b"fack"):
            # From a replica only; never answered (Redis).
            if "S" not in client.flags or server.repl_master is None:
                return _NOTHING
            if option == b"ack":
                offset = string2ll(value)
                if offset is not None:
                    server.repl_master.ack(client, offset)
            return _NOTHING
        elif option == b"getack":
            # Answered by replicas (the replica side handles its master's);
            # a master ignores it.
            return _NOTHING
        elif option in (b"rdb-only", b"rdb-filter-only"):
            pass
        else:
            raise CommandError("ERR Unrecognized REPLCONF option: %s" % args[i].decode(
                "utf-8", "replace"))
    return OK


@command("wait")
def wait(client, numreplicas, timeout):
    """WAIT numreplicas timeout"""
    server = client.server
    if server.master_host is not None:
        raise CommandError(WAIT_ON_REPLICA)
    n = string2ll(numreplicas)
    if n is None:
        raise CommandError(errors.NOT_INTEGER)
    t = string2ll(timeout)
    if t is None:
        raise CommandError(WAIT_TIMEOUT)
    if t < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    master = server.repl_master
    if master is None:
        return 0
    return master.wait(client, n, t)


@command("role")
def role(client):
    """ROLE"""
    return role_reply(client.server)

"""REPLICAOF and SLAVEOF: make this server a replica of another, or a master again.

The link itself lives in L{sonic.replication.replica}; these commands only
check their arguments (with Redis 7.0's replies) and switch the role.
"""

from sonic import errors
from sonic.errors import CommandError
from sonic.registry import command
from sonic.resp import OK, Status
from sonic.util import string2ll

__all__ = []

ALREADY_CONNECTED = Status(b"OK Already connected to specified master")


def _replicaof(client, host, port):
    from sonic.replication import replica
    server = client.server
    if "S" in client.flags:
        raise CommandError("ERR Command is not valid when client is a replica.")
    if host.lower() == b"no" and port.lower() == b"one":
        if server.master_host is not None:
            replica.become_master(server)
        return OK
    number = string2ll(port)
    if number is None or not 0 <= number <= 65535:
        raise CommandError(errors.INVALID_MASTER_PORT)
    name = host.decode("utf-8", "surrogateescape")
    if (server.master_host is not None and server.master_host.lower() == name.lower()
            and server.master_port == number):
        return ALREADY_CONNECTED
    replica.become_replica(server, name, number, reactor=getattr(server, "replica_reactor", None))
    return OK


@command("replicaof")
def replicaof(client, host, port):
    """REPLICAOF host port | NO ONE"""
    return _replicaof(client, host, port)


@command("slaveof")
def slaveof(client, host, port):
    """SLAVEOF host port | NO ONE"""
    return _replicaof(client, host, port)

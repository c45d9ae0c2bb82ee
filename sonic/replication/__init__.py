"""Replication: sonic as a master (L{master}, L{propagate}) and as a replica (L{replica}).

State shared by both sides lives on the L{sonic.server.Server}:

  - C{server.replid}, C{server.repl_offset}: the replication id and offset
    (master_repl_offset on a master; the applied offset on a replica).
  - C{server.replid2}, C{server.second_repl_offset}: the previous history,
    valid up to that offset (after a promotion or a replid change).
  - C{server.master_host}, C{server.master_port}, C{server.replica_link}:
    set by the replica side while REPLICAOF is on; ROLE and INFO read
    C{replica_link.state} and C{replica_link.offset}.
  - C{server.repl_master}: the L{master.ReplicationMaster} (replicas,
    backlog), None until a replica attaches.
  - C{server.propagator}: the L{propagate.Propagator} (the write stream),
    None until a replica attaches; the dispatcher checks it once per command.
  - C{server.repl_proxy(data)}, C{server.repl_full_resync(replid, offset)},
    C{server.repl_promoted()}: installed by the master side once it has a
    backlog, called by the replica side (chained replication).
"""

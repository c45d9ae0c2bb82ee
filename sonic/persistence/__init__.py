"""Persistence: RDB snapshots (L{sonic.persistence.snapshot}) and the append-only file.

Hooks between the two (documented in L{sonic.persistence.snapshot}):
C{snapshot.load_at_startup(server)} chooses what to load at start-up, and
C{server.snapshots} (a L{snapshot.Snapshots}) tells whether a BGSAVE runs.
"""

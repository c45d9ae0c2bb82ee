"""sonic: a Redis-compatible data server on Twisted.

Layout
======
  - L{sonic.resp}: the sans-IO RESP parser (pure Python, hiredis-assisted)
    and the RESP2/RESP3 reply encoders.
  - L{sonic.errors}: every error reply, worded as Redis 7.0 words it.
  - L{sonic.registry}: the one command table, with Redis' metadata.
  - L{sonic.dispatch}: per-client state and the checks every command passes
    (existence, arity, auth, flags, MULTI queueing) before its handler.
  - L{sonic.server}: the server-wide state (config, stats, clients).
  - L{sonic.protocol}: the Twisted Protocol/Factory: bytes in, replies out.
  - L{sonic.store}: the C{ShardedStore} service: databases split into shards
    by hash slot, lazy plus timer-driven expiry, gzip compression at rest.
  - L{sonic.commands}: one module per Redis command group.
  - L{sonic.config}: redis.conf parsing and the CONFIG directives.
  - L{sonic.tap}: the twistd plugin's options and service tree.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]

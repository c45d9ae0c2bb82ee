"""The keyspace (L{keyspace.ShardedStore}), its expiry timers and compression at rest."""

from sonic.store.keyspace import ShardedStore, Database, key_hash_slot

__all__ = ["ShardedStore", "Database", "key_hash_slot"]

"""Hashes (Redis' t_hash.c): HSET, HGET, HGETALL, HSCAN..."""

"""Sorted sets (Redis' t_zset.c): ZADD, ZRANGE, BZPOPMIN..."""

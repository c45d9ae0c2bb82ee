"""Sets (Redis' t_set.c): SADD, SINTER, SSCAN..."""

"""Lists (Redis' t_list.c): LPUSH, LRANGE, LMOVE, the blocking pops..."""

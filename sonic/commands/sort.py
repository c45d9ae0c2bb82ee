"""SORT and SORT_RO (Redis' sort.c) over lists, sets and sorted sets."""

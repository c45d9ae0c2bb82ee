"""Integration tests: real sonic processes driven by unmodified clients (redis-py, redis-cli)."""

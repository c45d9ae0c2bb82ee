"""maxmemory directives and the per-key access data of the LRU/LFU policies, compared with redis-server."""


def _restore(parity):
    parity(("CONFIG", "SET", "maxmemory-policy", "noeviction"), ("CONFIG", "SET", "maxmemory", "0"),
           ("CONFIG", "SET", "maxmemory-samples", "5"), ("CONFIG", "SET", "maxmemory-eviction-tenacity", "10"),
           ("CONFIG", "SET", "lfu-log-factor", "10"), ("CONFIG", "SET", "lfu-decay-time", "1"))


def test_eviction_directives(parity):
    """CONFIG GET/SET of the eviction directives, their ranges and errors, as Redis."""
    try:
        parity(*[("CONFIG", "GET", name) for name in (
            "maxmemory", "maxmemory-policy", "maxmemory-samples", "maxmemory-eviction-tenacity",
            "lfu-log-factor", "lfu-decay-time")])
        parity(
               ("CONFIG", "GET", "replica-ignore-maxmemory"), ("CONFIG", "GET", "slave-ignore-maxmemory"),
               ("CONFIG", "SET", "maxmemory-eviction-tenacity", "101"),
               ("CONFIG", "SET", "maxmemory-eviction-tenacity", "100"),
               ("CONFIG", "SET", "lfu-log-factor", "-1"), ("CONFIG", "SET", "lfu-decay-time", "x"),
               ("CONFIG", "SET", "maxmemory-samples", "0"), ("CONFIG", "SET", "maxmemory-samples", "10"),
               ("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"),
               ("CONFIG", "SET", "maxmemory-policy", "lru"),
               ("CONFIG", "GET", "maxmemory-policy"), ("CONFIG", "GET", "maxmemory-eviction-tenacity"))
    finally:
        _restore(parity)


def test_lfu_counter_of_new_and_read_keys(parity):
    """Under allkeys-lfu a new key's OBJECT FREQ is 5 and its first reads raise it (each certain below 6)."""
    try:
        parity(("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"), ("SET", "k", "v"),
               ("OBJECT", "FREQ", "k"), ("GET", "k"), ("OBJECT", "FREQ", "k"),
               ("OBJECT", "FREQ", "k"), ("OBJECT", "IDLETIME", "k"), ("OBJECT", "FREQ", "nokey"))
    finally:
        _restore(parity)


def test_lru_idletime_and_errors(parity):
    """Under allkeys-lru OBJECT IDLETIME of a fresh key is 0 and OBJECT FREQ is refused, as Redis."""
    try:
        parity(("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"), ("SET", "k", "v"),
               ("OBJECT", "IDLETIME", "k"), ("OBJECT", "FREQ", "k"))
    finally:
        _restore(parity)


def test_noeviction_oom_reply(parity):
    """noeviction with a limit nothing fits under: the exact -OOM for writes; reads and DEL still answer."""
    try:
        parity(("SET", "k", "v"), ("CONFIG", "SET", "maxmemory", "1"), ("SET", "x", "y"),
               ("GET", "k"), ("DEL", "k"), ("CONFIG", "SET", "maxmemory-policy", "volatile-lru"),
               ("SET", "x", "y"))
    finally:
        _restore(parity)

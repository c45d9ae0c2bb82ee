"""Application patterns on the collection types through redis-py, sonic next to redis-server.

Each scenario runs with redis-py's own helpers and response callbacks (RESP2
and RESP3, bytes and decoded) against both servers; the parsed results must
be equal, so what an application sees does not depend on the server.
"""

import pytest
import redis


def job_queue(c):
    """A reliable queue: producers LPUSH, a worker BLMOVEs into a processing list and acknowledges."""
    out = [c.lpush("jobs", "j1", "j2", "j3")]
    out.append(c.blmove("jobs", "processing", 1, "RIGHT", "LEFT"))
    out.append(c.lrange("processing", 0, -1))
    out.append(c.lrem("processing", 1, "j1"))
    out.append(c.brpop(["jobs", "other"], 1))
    out.append(c.lmpop(2, "nothing", "jobs", direction="LEFT", count=5))
    out.append(c.brpop(["jobs"], 0.05))  # times out: None
    out.append(c.exists("jobs", "processing"))
    return out


def leaderboard(c):
    """A leaderboard: scores added and incremented, top-N with scores, ranks, score ranges."""
    out = [c.zadd("board", {"alice": 10, "bob": 20, "carol": 15, "dave": 20})]
    out.append(c.zincrby("board", 2.5, "alice"))
    out.append(c.zrevrange("board", 0, 2, withscores=True))
    out.append(c.zrange("board", 0, -1, withscores=True))
    out.append(c.zrank("board", "carol"))
    out.append(c.zrevrank("board", "bob"))
    out.append(c.zscore("board", "alice"))
    out.append(c.zmscore("board", ["alice", "nobody"]))
    out.append(c.zrangebyscore("board", "(12.5", "+inf", withscores=True))
    out.append(c.zcount("board", "-inf", 15))
    out.append(c.zpopmax("board", 2))
    out.append(c.bzpopmin("board", 1))
    out.append(c.zunionstore("merged", {"board": 2, "extra": 1}))
    out.append(c.zrange("merged", 0, -1, withscores=True))
    return out


def sessions(c):
    """Sessions in hashes: mapping writes, counters, field reads, deletion of the last field."""
    out = [c.hset("session:1", mapping={"user": "alice", "visits": 1, "cart": "[]"})]
    out.append(c.hincrby("session:1", "visits", 3))
    out.append(c.hincrbyfloat("session:1", "spent", "10.25"))
    out.append(c.hgetall("session:1"))
    out.append(c.hmget("session:1", ["user", "missing"]))
    out.append(sorted(c.hkeys("session:1")))
    out.append(c.hexists("session:1", "cart"))
    out.append(c.hdel("session:1", "user", "visits", "cart", "spent"))
    out.append(c.exists("session:1"))
    return out


def tags(c):
    """Tag sets: membership, intersections and unions, stored results."""
    out = [c.sadd("tag:py", "a", "b", "c"), c.sadd("tag:web", "b", "c", "d")]
    out.append(sorted(c.sinter("tag:py", "tag:web")))
    out.append(sorted(c.sunion("tag:py", "tag:web")))
    out.append(c.sismember("tag:py", "a"))
    out.append(c.smismember("tag:py", ["a", "z"]))
    out.append(c.sintercard(2, ["tag:py", "tag:web"]))
    out.append(c.sdiffstore("only:py", ["tag:py", "tag:web"]))
    out.append(c.smembers("only:py"))
    out.append(c.sadd("ids", 3, 1, 2))
    out.append(c.sort("ids"))
    return out


SCENARIOS = [job_queue, leaderboard, sessions, tags]


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("decode", [False, True])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_same_results_through_redis_py(sonic_port, real_port, scenario, protocol, decode):
    """redis-py parses the same results from sonic as from redis-server for each application pattern."""
    results = []
    for port in (real_port, sonic_port):
        c = redis.Redis(port=port, protocol=protocol, decode_responses=decode)
        try:
            c.flushall()
            results.append(scenario(c))
            c.flushall()
        finally:
            c.close()
    assert results[1] == results[0]


def test_pipeline_with_transaction(sonic_port, real_port):
    """A redis-py transactional pipeline over several types answers the same on both servers."""
    results = []
    for port in (real_port, sonic_port):
        c = redis.Redis(port=port, protocol=3)
        c.flushall()
        with c.pipeline(transaction=True) as p:
            p.rpush("l", 1, 2, 3).hset("h", "f", "v").sadd("s", "x").zadd("z", {"m": 1.5})
            p.lpop("l").hgetall("h").smembers("s").zrange("z", 0, -1, withscores=True)
            p.blpop(["empty"], 1)  # inside MULTI: answers at once
            results.append(p.execute())
        c.flushall()
        c.close()
    assert results[1] == results[0]

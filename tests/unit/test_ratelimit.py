"""Rate limits (hugbox.ratelimit): counted in memory by default, in Redis when configured, and
open, with a warning, when Redis cannot be reached."""

from __future__ import annotations

import logging
import uuid

import pytest
import redis

from hugbox.auth.sessions import LoginLimiter
from hugbox.errors import TooManyRequests
from hugbox.ratelimit import RateLimit, open_storage
from support import free_port

REDIS_URL = "redis://127.0.0.1:6379/1"  # db 1: this suite's; keys are unique per test


def redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def test_in_memory_by_default_ten_failures_then_refused() -> None:
    limiter = LoginLimiter(open_storage(None))
    for _ in range(10):
        limiter.check("ip:a", "user:alice")
        limiter.fail("ip:a", "user:alice")
    with pytest.raises(TooManyRequests):
        limiter.check("ip:a", "user:bob")  # the address is spent, whoever it tries
    with pytest.raises(TooManyRequests):
        limiter.check("ip:b", "user:alice")  # and so is the name, from anywhere
    limiter.check("ip:b", "user:bob")


def test_each_process_counts_apart_without_redis() -> None:
    one, other = LoginLimiter(open_storage(None)), LoginLimiter(open_storage(None))
    for _ in range(10):
        one.fail("user:alice")
    other.check("user:alice")


@pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379")
def test_replicas_share_counts_in_redis() -> None:
    key = f"user:{uuid.uuid4().hex}"
    one, other = LoginLimiter(open_storage(REDIS_URL)), LoginLimiter(open_storage(REDIS_URL))
    for _ in range(5):
        one.fail(key)
        other.fail(key)
    with pytest.raises(TooManyRequests):
        one.check(key)
    with pytest.raises(TooManyRequests):
        other.check(key)


def test_unreachable_redis_lets_requests_through_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limit = RateLimit(
        open_storage(f"redis://127.0.0.1:{free_port()}/1"), "login", attempts=1, window=60
    )
    with caplog.at_level(logging.WARNING, logger="hugbox.ratelimit"):
        for _ in range(3):
            limit.hit("user:alice")
            assert limit.allows("user:alice")
    warnings = [r for r in caplog.records if "not enforced" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once a request

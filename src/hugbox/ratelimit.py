"""Rate limits that every replica shares: the `limits` library, counting in this process's memory
by default and in Redis when `HUGBOX_REDIS_URL` is set (spec/scale-out.md §6).

A limit counts in a moving window, so a burst at a window's edge cannot double it. With several
replicas, per-process counts would multiply a limit by the number of replicas; in Redis each
failed attempt is seen by all of them (about 0.1-0.5 ms per hit here).
"""

from __future__ import annotations

import logging
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A limiter that waits on an unreachable Redis would hold each login for the OS's TCP timeout.
_REDIS_TIMEOUT_S = 0.5
_WARN_EVERY_S = 60.0


def open_storage(redis_url: str | None) -> Storage:
    """Where counts live: Redis when a URL is given (nothing connects until the first hit)."""
    if not redis_url:
        storage = storage_from_string("memory://")
    else:
        storage = storage_from_string(
            redis_url,
            key_prefix="hugbox-limits",
            socket_connect_timeout=_REDIS_TIMEOUT_S,
            socket_timeout=_REDIS_TIMEOUT_S,
        )
    assert isinstance(storage, Storage)  # not the asyncio flavour: limits are checked in threads
    return storage


class RateLimit:
    """At most `attempts` hits per key in `window` seconds, in the `name` namespace.

    Decision: when the storage is unreachable the limit lets requests through (fail open) and
    logs a warning at most once a minute. The limits guard against guessing (each guess still
    costs an argon2 hash); failing closed would lock every user out of the web pages while Redis
    is down, and answering 500 would break the promise of no 500s.
    """

    def __init__(self, storage: Storage, name: str, *, attempts: int, window: float):
        self.name = name
        self.item: RateLimitItem = RateLimitItemPerSecond(attempts, int(window))
        self.limiter = MovingWindowRateLimiter(storage)
        self._warned_at = -_WARN_EVERY_S

    def allows(self, key: str) -> bool:
        """Whether one more hit on `key` would be within the limit (nothing is counted)."""
        try:
            return bool(self.limiter.test(self.item, self.name, key))
        except (RedisError, OSError) as error:
            self._warn(error)
            return True

    def hit(self, key: str) -> None:
        try:
            self.limiter.hit(self.item, self.name, key)
        except (RedisError, OSError) as error:
            self._warn(error)

    def _warn(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "rate limit %r not enforced, its storage is unreachable: %s", self.name, error
            )

"""Request counts in fixed windows, kept by the `limits` library's storage: this process's memory
by default, Redis when `HUGBOX_REDIS_URL` is set, so every replica sees one count.

Decision: a failing Redis must not fail requests (no 500s) nor hold each one for its timeout.
On an error the counts move to this process's memory for `_RETRY_AFTER_S` (a warning is logged
once per outage), then Redis is tried again. Limits stay roughly enforced per replica meanwhile.
"""

from __future__ import annotations

import logging
import time

from limits.storage import MemoryStorage, Storage
from redis.exceptions import RedisError

from hugbox.ratelimit import open_storage

log = logging.getLogger(__name__)

_RETRY_AFTER_S = 10.0


class Counters:
    def __init__(self, redis_url: str | None):
        self.local = MemoryStorage()
        self.shared: Storage = open_storage(redis_url) if redis_url else self.local
        self._down_until = 0.0

    def _storage(self) -> Storage:
        if self.shared is self.local or time.monotonic() >= self._down_until:
            return self.shared
        return self.local

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """`key`'s count after adding `amount`; a new key lives `expiry` seconds."""
        storage = self._storage()
        try:
            return int(storage.incr(key, expiry, amount))
        except (RedisError, OSError) as error:
            self._fail(error)
            return int(self.local.incr(key, expiry, amount))

    def get(self, key: str) -> int:
        storage = self._storage()
        try:
            return int(storage.get(key))
        except (RedisError, OSError) as error:
            self._fail(error)
            return int(self.local.get(key))

    def _fail(self, error: Exception) -> None:
        if time.monotonic() >= self._down_until:
            log.warning(
                "rate limits counted in this process for %.0f s: Redis is unreachable: %s",
                _RETRY_AFTER_S, error,
            )  # fmt: skip
        self._down_until = time.monotonic() + _RETRY_AFTER_S

"""Request counts in fixed windows: in this process's memory by default; shared by every replica
through Redis when `HUGBOX_REDIS_URL` is set.

Decision: with Redis, a request never waits for it. Each process counts in its own memory and a
background thread adds those counts to Redis's every `FLUSH_S`, reading back the totals of all
replicas; a request is judged on the last total plus what this process added since. A round
trip per request would cost 0.15-0.4 ms here (more across a network), over the limiter's 0.2 ms
budget; the price is that replicas learn of each other's requests up to `FLUSH_S` late, so a
burst may pass a quota by what the others admit in that time. (A caller new to a process in a
window costs one read, so it starts from every replica's count.) A failing Redis fails open: the
counts stay in this process (one warning per outage) and reach Redis once it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

FLUSH_S = 0.02
_REDIS_TIMEOUT_S = 0.5
_PREFIX = "hugbox-limits:"
_SWEEP_S = 60.0


class Counters(Protocol):
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """`key`'s count after adding `amount`; a new key lives `expiry` seconds."""
        ...

    def get(self, key: str) -> int: ...


def open_counters(redis_url: str | None) -> Counters:
    return SharedCounters(redis_url) if redis_url else LocalCounters()


class LocalCounters:
    """This process's counts: a dict of windows' keys, expired ones swept once a minute.

    Decision: not `limits`' MemoryStorage, whose expiry runs a new timer thread every 10 ms while
    any key lives; under load those threads and their locks cost more throughput than the rest
    of the limiter. Counts are written on the event loop only, so they need no lock."""

    def __init__(self) -> None:
        self._counts: dict[str, list[float]] = {}  # key: [count, monotonic end]
        self._sweep_at = 0.0

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.monotonic()
        entry = self._counts.get(key)
        if entry is None or entry[1] <= now:
            if now >= self._sweep_at:
                self._sweep(now)
            entry = self._counts[key] = [0, now + expiry]
        entry[0] += amount
        return int(entry[0])

    def get(self, key: str) -> int:
        entry = self._counts.get(key)
        return int(entry[0]) if entry is not None and entry[1] > time.monotonic() else 0

    def _sweep(self, now: float) -> None:
        self._sweep_at = now + _SWEEP_S
        for key in [k for k, (_, ends) in self._counts.items() if ends <= now]:
            del self._counts[key]


@dataclass
class _Count:
    seen: int  # every replica's total, as Redis last said
    pending: int  # added here since, not yet sent
    expiry: int
    ends: float  # monotonic time after which the key is dropped here


class SharedCounters:
    """Counts every replica shares through Redis, flushed in the background (see the module)."""

    def __init__(self, redis_url: str):
        self.redis = redis.Redis.from_url(
            redis_url, socket_timeout=_REDIS_TIMEOUT_S, socket_connect_timeout=_REDIS_TIMEOUT_S
        )
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        # A key new to this process starts from Redis's total: one round trip per caller and
        # window here, not one per request.
        seen = None if key in self._counts else self._read(key)
        with self._lock:
            count = self._counts.get(key)
            if count is None:
                count = self._counts[key] = _Count(seen or 0, 0, expiry, time.monotonic() + expiry)
            count.pending += amount
            total = count.seen + count.pending
        self._start()
        return total

    def get(self, key: str) -> int:
        count = self._counts.get(key)
        if count is not None:
            return count.seen + count.pending
        return self._read(key)

    def _read(self, key: str) -> int:
        if self._failing:
            return 0
        try:
            value = self.redis.get(_PREFIX + key)
        except (RedisError, OSError) as error:
            self._fail(error)
            return 0
        return int(value) if isinstance(value, bytes | int) else 0

    def _start(self) -> None:
        self._wake.set()
        if self._thread is None or not self._thread.is_alive():
            with self._lock:  # one thread, also after a fork (threads do not survive one)
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="hugbox-limits", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(FLUSH_S)
            if not self.flush():
                self._wake.clear()  # nothing counted any more: sleep until a request comes

    def flush(self) -> bool:
        """Send what was counted here, read back every replica's totals; whether any key is
        still live."""
        with self._lock:
            now = time.monotonic()
            for key in [k for k, c in self._counts.items() if c.ends < now]:
                del self._counts[key]
            sent = {key: (c.pending, c.expiry) for key, c in self._counts.items()}
            for count in self._counts.values():
                count.pending = 0
        if not sent:
            return False
        try:
            totals = self._send(sent)
        except (RedisError, OSError) as error:
            self._fail(error)
            self._keep(sent)
            return True
        self._failing = False
        with self._lock:
            for key, total in totals.items():
                if key in self._counts:
                    self._counts[key].seen = total
        return True

    def _send(self, sent: dict[str, tuple[int, int]]) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        for key, (amount, expiry) in sent.items():
            if amount:
                pipe.incrby(_PREFIX + key, amount)
                pipe.expire(_PREFIX + key, expiry)
            else:
                pipe.get(_PREFIX + key)
        replies = iter(pipe.execute())
        totals = {}
        for key, (amount, _) in sent.items():
            totals[key] = int(next(replies) or 0)
            if amount:
                next(replies)  # EXPIRE's
        return totals

    def _keep(self, sent: dict[str, tuple[int, int]]) -> None:
        """Redis did not take them: they stay counted here, to be sent again."""
        with self._lock:
            for key, (amount, _) in sent.items():
                if key in self._counts:
                    self._counts[key].pending += amount

    def _fail(self, error: Exception) -> None:
        if not self._failing:
            self._failing = True
            log.warning("rate limits counted in this process only: Redis is unreachable: %s", error)

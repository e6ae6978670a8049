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

Marks (who was refused in a window, and since when: the admin view's "rate limited now") travel
the same way: a sorted set per window in Redis, each member sent once per process with ZADD NX,
so its score is the first refusal any replica saw.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol, cast

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

    def scan(self, pattern: str) -> dict[str, int]:
        """Every live key matching the glob `pattern`, with its count (the admin view's reads:
        not on any request's path)."""
        ...

    def mark(self, key: str, member: str, at: float, expiry: int) -> None:
        """Note `member` in the set `key` at time `at`, unless it is there already (its first
        time stays); a new set lives `expiry` seconds."""
        ...

    def marks(self, key: str) -> dict[str, float]:
        """The members of the set `key`, each with the first time it was marked."""
        ...


def open_counters(redis_url: str | None) -> Counters:
    return SharedCounters(redis_url) if redis_url else LocalCounters()


class LocalCounters:
    """This process's counts: a dict of windows' keys, expired ones swept once a minute.

    Decision: not `limits`' MemoryStorage, whose expiry runs a new timer thread every 10 ms while
    any key lives; under load those threads and their locks cost more throughput than the rest
    of the limiter. Counts are written on the event loop only, so they need no lock."""

    def __init__(self) -> None:
        self._counts: dict[str, list[float]] = {}  # key: [count, monotonic end]
        self._marks: dict[str, tuple[float, dict[str, float]]] = {}  # key: (end, members)
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

    def scan(self, pattern: str) -> dict[str, int]:
        now = time.monotonic()
        return {key: int(count) for key, (count, ends) in list(self._counts.items())
                if ends > now and fnmatch.fnmatchcase(key, pattern)}  # fmt: skip

    def mark(self, key: str, member: str, at: float, expiry: int) -> None:
        now = time.monotonic()
        entry = self._marks.get(key)
        if entry is None or entry[0] <= now:
            entry = self._marks[key] = (now + expiry, {})
        entry[1].setdefault(member, at)

    def marks(self, key: str) -> dict[str, float]:
        entry = self._marks.get(key)
        return dict(entry[1]) if entry is not None and entry[0] > time.monotonic() else {}

    def _sweep(self, now: float) -> None:
        self._sweep_at = now + _SWEEP_S
        for key in [k for k, (_, ends) in self._counts.items() if ends <= now]:
            del self._counts[key]
        for key in [k for k, (ends, _) in self._marks.items() if ends <= now]:
            del self._marks[key]


@dataclass(frozen=True)
class _Mark:
    key: str
    member: str
    at: float
    expiry: int


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
        # Marks made here: sent once each (ZADD NX keeps every replica's first), kept till their
        # set expires so that the next refusal of the same caller sends nothing.
        self._marked: dict[tuple[str, str], float] = {}  # (key, member): monotonic end
        self._marks_pending: list[_Mark] = []
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

    def scan(self, pattern: str) -> dict[str, int]:
        with self._lock:
            local = {key: (c.seen, c.pending) for key, c in self._counts.items()
                     if fnmatch.fnmatchcase(key, pattern)}  # fmt: skip
        try:
            keys = list(self.redis.scan_iter(match=_PREFIX + pattern, count=1000))
            values = cast(list[bytes | None], self.redis.mget(keys)) if keys else []
        except (RedisError, OSError) as error:
            self._fail(error)
            return {key: seen + pending for key, (seen, pending) in local.items()}
        totals = {
            key.decode()[len(_PREFIX) :]: int(value or 0)
            for key, value in zip(keys, values, strict=True)
        }
        for key, (_, pending) in local.items():  # not sent yet
            totals[key] = totals.get(key, 0) + pending
        return totals

    def mark(self, key: str, member: str, at: float, expiry: int) -> None:
        if (key, member) in self._marked:
            return
        with self._lock:
            self._marked[(key, member)] = time.monotonic() + expiry
            self._marks_pending.append(_Mark(key, member, at, expiry))
        self._start()

    def marks(self, key: str) -> dict[str, float]:
        with self._lock:
            found = {m.member: m.at for m in self._marks_pending if m.key == key}
        try:
            sent = cast(
                list[tuple[bytes, float]], self.redis.zrange(_PREFIX + key, 0, -1, withscores=True)
            )
        except (RedisError, OSError) as error:
            self._fail(error)
            return found
        for member, at in sent:
            name = member.decode()
            found[name] = min(found.get(name, at), at)
        return found

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
        """Send what was counted and marked here, read back every replica's totals; whether
        any key is still live."""
        with self._lock:
            now = time.monotonic()
            for key in [k for k, c in self._counts.items() if c.ends < now]:
                del self._counts[key]
            for mark in [m for m, ends in self._marked.items() if ends < now]:
                del self._marked[mark]
            sent = {key: (c.pending, c.expiry) for key, c in self._counts.items()}
            for count in self._counts.values():
                count.pending = 0
            marks, self._marks_pending = self._marks_pending, []
        if not sent and not marks:
            return False
        try:
            totals = self._send(sent, marks)
        except (RedisError, OSError) as error:
            self._fail(error)
            self._keep(sent, marks)
            return True
        self._failing = False
        with self._lock:
            for key, total in totals.items():
                if key in self._counts:
                    self._counts[key].seen = total
        return True

    def _send(self, sent: dict[str, tuple[int, int]], marks: list[_Mark]) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        for key, (amount, expiry) in sent.items():
            if amount:
                pipe.incrby(_PREFIX + key, amount)
                pipe.expire(_PREFIX + key, expiry)
            else:
                pipe.get(_PREFIX + key)
        for mark in marks:
            pipe.zadd(_PREFIX + mark.key, {mark.member: mark.at}, nx=True)
            pipe.expire(_PREFIX + mark.key, mark.expiry)
        replies = iter(pipe.execute())
        totals = {}
        for key, (amount, _) in sent.items():
            totals[key] = int(next(replies) or 0)
            if amount:
                next(replies)  # EXPIRE's
        return totals

    def _keep(self, sent: dict[str, tuple[int, int]], marks: list[_Mark]) -> None:
        """Redis did not take them: they stay counted here, to be sent again."""
        with self._lock:
            live = [m for m in marks if m.at + m.expiry > time.time()]  # an outage's old ones go
            self._marks_pending[:0] = live
            for key, (amount, _) in sent.items():
                if key in self._counts:
                    self._counts[key].pending += amount

    def _fail(self, error: Exception) -> None:
        if not self._failing:
            self._failing = True
            log.warning("rate limits counted in this process only: Redis is unreachable: %s", error)

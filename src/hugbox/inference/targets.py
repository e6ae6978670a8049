"""A short memory of the models callers were allowed to run. A busy client sends the same model
and token hundreds of times a second, and resolving them costs database queries and git reads
each time; an entry lives `ttl_s` seconds, so a revoked token, a repo made private or a new
commit on the branch takes effect within that time."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hugbox.inference.service import Target

_MAX_ENTRIES = 4096
Key = tuple[bytes, str, str]


class TargetCache:
    """(token, URL path, model named in the body) -> Target, for `ttl_s` seconds; 0 keeps none.
    Concurrent callers with the same key share one resolution."""

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._entries: OrderedDict[Key, tuple[float, Target]] = OrderedDict()
        self._resolving: dict[Key, asyncio.Future[Target]] = {}

    @staticmethod
    def key(token: str | None, path: str, model: str | None) -> Key:
        # The token itself is a secret: keep only its digest in memory.
        digest = hashlib.sha256(token.encode()).digest() if token else b""
        return digest, path, model or ""

    async def get(self, key: Key, resolve: Callable[[], Awaitable[Target]]) -> Target:
        entry = self._entries.get(key)
        if entry is not None and entry[0] >= time.monotonic():
            return entry[1]
        if key in self._resolving:  # shield: one caller leaving must not cancel the others
            return await asyncio.shield(self._resolving[key])
        future = asyncio.ensure_future(resolve())
        self._resolving[key] = future
        try:
            target = await asyncio.shield(future)
        finally:
            del self._resolving[key]
        self._put(key, target)
        return target

    def _put(self, key: Key, target: Target) -> None:
        if self.ttl_s <= 0:
            return
        self._entries[key] = (time.monotonic() + self.ttl_s, target)
        self._entries.move_to_end(key)
        while len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)

"""The models callers were recently allowed to run (`auth.recent.RecentAccess`), with one
resolution at a time per key: a burst of requests for a cold key resolves it once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from hugbox.auth.recent import Key, RecentAccess

if TYPE_CHECKING:
    from hugbox.inference.service import Target

_MAX_ENTRIES = 4096


class TargetCache:
    """(token, URL path, model named in the body) -> Target, for `ttl_s` seconds; 0 keeps none.
    Concurrent callers with the same key share one resolution."""

    def __init__(self, ttl_s: float):
        self._recent = RecentAccess(ttl_s, max_entries=_MAX_ENTRIES)
        self._resolving: dict[Key, asyncio.Future[Target]] = {}

    @staticmethod
    def key(token: str | None, path: str, model: str | None) -> Key:
        return RecentAccess.key(token, path, model or "")

    async def get(self, key: Key, resolve: Callable[[], Awaitable[Target]]) -> Target:
        found: Target | None = self._recent.get(key)
        if found is not None:
            return found
        if key in self._resolving:  # shield: one caller leaving must not cancel the others
            return await asyncio.shield(self._resolving[key])
        future = asyncio.ensure_future(resolve())
        self._resolving[key] = future
        try:
            target = await asyncio.shield(future)
        finally:
            del self._resolving[key]
        self._recent.put(key, target)
        return target

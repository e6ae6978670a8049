"""A short memory of what a caller's token was allowed to read. Busy clients (paging through a
dataset, calling a model) send the same token and name many times a second, and checking access
each time costs database queries and git reads; an entry lives `ttl_s` seconds, so a revoked
token, a repo made private or a new commit takes effect within that time."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

Key = tuple[Any, ...]


class RecentAccess:
    """(token, names...) -> a value, for `ttl_s` seconds, the least recently stored dropped past
    `max_entries`; `ttl_s` 0 keeps nothing. Safe from threads and the event loop alike."""

    def __init__(self, ttl_s: float = 1.0, max_entries: int = 1024):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(token: str | None, *names: str) -> Key:
        # The token is a secret: only its digest is kept.
        return (hashlib.sha256(token.encode()).digest() if token else b"", *names)

    def get(self, key: Key) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] >= time.monotonic() else None

    def put(self, key: Key, value: Any) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

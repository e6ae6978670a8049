"""A one-second memory of who may read which dataset, and its export. Paging clients send the
same token and dataset many times a second; checking access and loading the manifest each time
costs a few queries. A revoked token, a dataset made private or a new export takes effect within
`ttl_s` seconds (the inference API's TargetCache makes the same trade)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

MAX_ENTRIES = 1024
Key = tuple[bytes, str]


class RecentAccess:
    def __init__(self, ttl_s: float = 1.0):
        self.ttl_s = ttl_s
        self._entries: OrderedDict[Key, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(token: str | None, dataset: str) -> Key:
        # The token is a secret: only its digest is kept.
        return (hashlib.sha256(token.encode()).digest() if token else b"", dataset)

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
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)

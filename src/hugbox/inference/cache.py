"""The response cache of the Inference API (`use_cache`, spec §6.9): deterministic answers kept
in memory, least recently used dropped first once their JSON outgrows a byte budget.

One cache per server process (`hugbox serve --workers N` keeps N); keys come from
`tasks.cache_key`, which already names the model's commit, so a push never serves stale answers.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class _Entry:
    body: Any
    size: int


class ResponseCache:
    """A bounded LRU of answer bodies; `max_bytes` 0 turns it off."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Any | None:
        """The cached body, or None (JSON `null` is never a pipeline answer)."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.body

    def put(self, key: str, body: Any) -> None:
        size = len(json.dumps(body, separators=(",", ":")))
        if size > self.max_bytes // 4:  # one huge answer must not flush everything else
            return
        self._drop(key)
        self._entries[key] = _Entry(body, size)
        self.size += size
        while self.size > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= entry.size

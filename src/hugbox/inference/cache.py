"""The response cache of the Inference API (`use_cache`, spec §6.9): deterministic answers kept
in memory as the JSON bytes sent, least recently used dropped first past a byte budget.

One cache per server process (`hugbox serve --workers N` keeps N); keys come from
`calls.cache_key`, which already names the model's commit, so a push never serves stale answers.
"""

from __future__ import annotations

from collections import OrderedDict


class ResponseCache:
    """A bounded LRU of answer bodies; `max_bytes` 0 turns it off."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> bytes | None:
        content = self._entries.get(key)
        if content is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return content

    def put(self, key: str, content: bytes) -> None:
        if len(content) > self.max_bytes // 4:  # one huge answer must not flush everything else
            return
        self._drop(key)
        self._entries[key] = content
        self.size += len(content)
        while self.size > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        content = self._entries.pop(key, None)
        if content is not None:
            self.size -= len(content)

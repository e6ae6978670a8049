"""Recipes: a file uploaded through Xet, described as runs of chunks of stored xorbs.

The sha256 store keeps such a file as its recipe instead of a second, whole copy of its bytes
(docs/architecture.md, "Xet storage"); `xet/reader.py` reads the bytes back. Only json here:
the push hook, which asks the store for sizes, imports no decoder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

ChunkRows = list[tuple[bytes, int, int]]  # a xorb's chunks: (hash, stored end, unpacked end)


def stored_start(rows: ChunkRows, index: int) -> int:
    """Where chunk `index` begins in the stored xorb."""
    return rows[index - 1][1] if index else 0


def unpacked_start(rows: ChunkRows, index: int) -> int:
    """The uncompressed length of the xorb's chunks before chunk `index`."""
    return rows[index - 1][2] if index else 0


@dataclass(frozen=True)
class Segment:
    """Consecutive chunks of one xorb."""

    xorb: str
    stored: list[int]  # offset of the first chunk in the stored xorb, then the end of each chunk
    unpacked: list[int]  # 0, then the uncompressed length up to the end of each chunk

    @property
    def size(self) -> int:
        return self.unpacked[-1]


@dataclass(frozen=True)
class Recipe:
    sha256: str
    segments: list[Segment]

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)

    def to_json(self) -> bytes:
        """A header line (what `size` needs, read alone), then the segments (~300 KB a GiB)."""
        header = {"version": 1, "sha256": self.sha256, "size": self.size}
        segments = [[s.xorb, s.stored, s.unpacked] for s in self.segments]
        lines = (json.dumps(part, separators=(",", ":")) for part in (header, segments))
        return "\n".join(lines).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Recipe:
        header, _, body = raw.partition(b"\n")
        segments = [Segment(str(x), list(s), list(u)) for x, s, u in json.loads(body)]
        return cls(str(json.loads(header)["sha256"]), segments)


def recipe_size(header: bytes) -> int:
    """The file size from a recipe's first line."""
    return int(json.loads(header)["size"])


def segment(xorb: str, rows: ChunkRows, start: int, end: int) -> Segment:
    """Chunks [start, end) of a xorb, from its chunk table."""
    base = unpacked_start(rows, start)
    return Segment(
        xorb,
        [stored_start(rows, start)] + [rows[i][1] for i in range(start, end)],
        [0] + [rows[i][2] - base for i in range(start, end)],
    )

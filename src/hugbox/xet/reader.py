"""Reading a recipe's file back from its xorbs: anywhere in it (`RecipeReader`, for `resolve`
with Range and every `BlobStore.open`) or from end to end, decoded a few blocks ahead on
another thread (`iter_blocks`, to check a sha256).
"""

from __future__ import annotations

import bisect
import io
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import accumulate

from hugbox.storage.blobs import BlobStore
from hugbox.xet import format as fmt
from hugbox.xet.recipes import Recipe, Segment

BLOCK = 4 * 1024 * 1024  # uncompressed bytes decoded at a time
# One thread decodes ahead while the reader hashes: a second one was measured no faster on
# 2 cores (decoding is partly GIL-bound, and the hash needs a core too).
DECODERS = 1


def _decode(xorbs: BlobStore, part: Segment, first: int, last: int) -> bytes:
    """The uncompressed bytes of chunks [first, last) of a segment."""
    with xorbs.open(part.xorb) as handle:
        handle.seek(part.stored[first])
        data = handle.read(part.stored[last] - part.stored[first])
    out = b"".join(chunk for _end, chunk in fmt.iter_chunks(data))
    if len(out) != part.unpacked[last] - part.unpacked[first]:
        raise OSError(f"xorb {part.xorb} does not hold the chunks its recipe names")
    return out


def _blocks(recipe: Recipe) -> Iterator[tuple[Segment, int, int]]:
    """The file cut into runs of whole chunks of about BLOCK bytes, in order."""
    for part in recipe.segments:
        first = 0
        while first < len(part.unpacked) - 1:
            last = _block_end(part, first)
            yield part, first, last
            first = last


def _block_end(part: Segment, first: int) -> int:
    """The chunk after the last one of a block starting at `first` (at least one chunk)."""
    limit = part.unpacked[first] + BLOCK
    return max(first + 1, bisect.bisect_right(part.unpacked, limit) - 1)


def iter_blocks(recipe: Recipe, xorbs: BlobStore) -> Iterator[bytes]:
    """The whole file, in order, decoded a few blocks ahead of the caller."""
    with ThreadPoolExecutor(DECODERS, thread_name_prefix="xet-decode") as pool:
        pending: deque[Future[bytes]] = deque()
        for part, first, last in _blocks(recipe):
            pending.append(pool.submit(_decode, xorbs, part, first, last))
            if len(pending) > 2 * DECODERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class RecipeReader(io.RawIOBase):
    """A seekable read-only file over a recipe: each read decodes the chunks it needs (the last
    block decoded is kept, so small sequential reads decode each chunk once)."""

    def __init__(self, recipe: Recipe, xorbs: BlobStore):
        self._recipe = recipe
        self._xorbs = xorbs
        self._starts = [0, *accumulate(s.size for s in recipe.segments)]
        self._pos = 0
        self._block: tuple[int, bytes] = (0, b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._starts[-1]}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._pos >= self._starts[-1]:
            return 0
        start, data = self._block
        if not start <= self._pos < start + len(data):
            start, data = self._block = self._decode_at(self._pos)
        view = memoryview(data)[self._pos - start :]
        n = min(len(buffer), len(view))
        buffer[:n] = view[:n]
        self._pos += n
        return n

    def _decode_at(self, pos: int) -> tuple[int, bytes]:
        index = bisect.bisect_right(self._starts, pos) - 1
        part = self._recipe.segments[index]
        first = bisect.bisect_right(part.unpacked, pos - self._starts[index]) - 1
        last = _block_end(part, first)
        return self._starts[index] + part.unpacked[first], _decode(self._xorbs, part, first, last)

"""A bounded local copy of remote immutable objects, for the readers that need a file path.

Objects are named by their sha256 and never change, so a cached copy can never be stale: the
cache only has to bound its size. Least recently used copies go first (a hit refreshes the
file's mtime). A reader that already opened an evicted copy keeps reading it (POSIX unlink).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, Protocol

from hugbox.storage.blobs import is_sha256


class Opener(Protocol):
    def open(self, oid: str) -> BinaryIO: ...


class ReadThroughCache:
    def __init__(self, root: Path, max_bytes: int):
        self.root = root
        self.max_bytes = max_bytes
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._evicting = threading.Lock()

    def _path(self, oid: str) -> Path:
        if not is_sha256(oid):
            raise ValueError(f"not a sha256: {oid!r}")
        return self.root / oid[:2] / oid

    def path(self, oid: str, source: Opener) -> Path:
        """A local file with the object's bytes, read from `source` on a miss."""
        path = self._path(oid)
        try:
            os.utime(path)
            return path
        except FileNotFoundError:
            pass
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="fill-")
        with os.fdopen(fd, "wb") as out, source.open(oid) as data:
            shutil.copyfileobj(data, out, 1024 * 1024)
        path.parent.mkdir(exist_ok=True)
        Path(name).chmod(0o444)
        Path(name).replace(path)  # concurrent fills write the same bytes: the last one stays
        self.evict(keep=path)
        return path

    def forget(self, oid: str) -> None:
        self._path(oid).unlink(missing_ok=True)

    def evict(self, keep: Path | None = None) -> None:
        """Drop the least recently used copies until the cache fits its budget."""
        with self._evicting:
            files = [p for p in self.root.glob("??/*") if p != keep]
            stats = {p: p.stat() for p in files if p.is_file()}
            total = sum(s.st_size for s in stats.values()) + (keep.stat().st_size if keep else 0)
            for path in sorted(stats, key=lambda p: stats[p].st_mtime):
                if total <= self.max_bytes:
                    break
                path.unlink(missing_ok=True)
                total -= stats[path].st_size

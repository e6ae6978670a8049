"""Large files, content-addressed by sha256, behind a small protocol (local disk by default)."""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def is_sha256(oid: str) -> bool:
    return bool(SHA256_RE.match(oid))


class BlobMismatch(ValueError):
    """The bytes received do not hash to the oid they were announced as."""


class BlobWriter(Protocol):
    def write(self, data: bytes | memoryview) -> None: ...
    def commit(self, expected_oid: str | None = None, expected_size: int | None = None) -> str: ...
    def abort(self) -> None: ...


class BlobStore(Protocol):
    remote: bool  # the bytes live elsewhere (a bucket): uploads are worth streaming on

    def exists(self, oid: str) -> bool: ...
    def size(self, oid: str) -> int | None: ...
    def local_path(self, oid: str) -> Path | None:
        """The object's own file, when the store keeps it on this machine's disk."""
        ...

    def cached_path(self, oid: str) -> Path | None:
        """A local file with the object's bytes: its own file, or a read-through copy of a
        remote one (for readers that need a path: the viewer, git, inference)."""
        ...

    def download_url(self, oid: str, disposition: str | None = None) -> str | None:
        """A URL clients can fetch the bytes from directly (presigned), if the store has one;
        answered with `disposition` as its Content-Disposition (the file's name), if given."""
        ...

    def open(self, oid: str) -> BinaryIO: ...
    def writer(self, oid: str | None = None, size: int | None = None) -> BlobWriter:
        """A writer; `oid` and `size`, when announced upfront, let a remote store stream the
        bytes to their final place (commit still checks them)."""
        ...

    def adopt(self, src: Path, oid: str) -> None: ...
    def delete(self, oid: str) -> None: ...


def publish(src: Path, dest: Path) -> None:
    """Rename `src` to `dest` durably: the bytes reach the disk before the name does, and the
    name (with any folder made for it) before this returns, so a commit that names the file
    never outlives it on power loss."""
    with src.open("rb") as handle:
        os.fsync(handle.fileno())
    make_dirs(dest.parent)
    src.replace(dest)
    _fsync_dir(dest.parent)


# sync_file_range(2): start writing a file's dirty pages out without waiting, so that the
# fsync at publish time waits only for the tail (a 1 GiB upload otherwise stalls ~0.4 s there).
_WRITEBACK_EVERY = 32 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing `length` bytes at `offset` to disk (Linux only; a no-op
    elsewhere or on failure: the fsync at publish time is what makes the bytes durable)."""
    if _libc is not None:
        _libc.sync_file_range(fd, ctypes.c_int64(offset), ctypes.c_int64(length),
                              _SYNC_FILE_RANGE_WRITE)  # fmt: skip


def make_dirs(path: Path) -> None:
    """`mkdir -p` whose new folders survive power loss."""
    if path.is_dir():
        return
    make_dirs(path.parent)
    path.mkdir(exist_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobWriter:
    """Streams bytes to a temp file while hashing; publishes it under its sha256 on commit."""

    def __init__(self, store: LocalBlobStore, oid: str | None = None, size: int | None = None):
        self._store = store
        self._announced = oid, size
        fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="upload-")
        self._file = os.fdopen(fd, "wb")
        self._path = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0
        self._flushed = 0  # bytes whose writeback has been started

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)
        if self.size - self._flushed >= _WRITEBACK_EVERY:
            self._file.flush()
            start_writeback(self._file.fileno(), self._flushed, self.size - self._flushed)
            self._flushed = self.size

    def commit(self, expected_oid: str | None = None, expected_size: int | None = None) -> str:
        self._file.close()
        oid = self._hash.hexdigest()
        expected_oid = expected_oid or self._announced[0]
        expected_size = self._announced[1] if expected_size is None else expected_size
        if (expected_oid and oid != expected_oid) or (
            expected_size is not None and self.size != expected_size
        ):
            self._path.unlink(missing_ok=True)
            raise BlobMismatch(
                f"Uploaded content has sha256 {oid} and size {self.size}, "
                f"expected {expected_oid} and size {expected_size}"
            )
        self._store.adopt(self._path, oid)
        return oid

    def abort(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)


class LocalBlobStore:
    """Objects at `root/ab/cd/<sha256>`; written once, never modified, renamed in atomically."""

    remote = False

    def __init__(self, root: Path):
        self.root = root
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, oid: str) -> Path:
        if not is_sha256(oid):
            raise ValueError(f"not a sha256: {oid!r}")
        return self.root / oid[:2] / oid[2:4] / oid

    def exists(self, oid: str) -> bool:
        return self._path(oid).is_file()

    def size(self, oid: str) -> int | None:
        path = self._path(oid)
        return path.stat().st_size if path.is_file() else None

    def local_path(self, oid: str) -> Path | None:
        path = self._path(oid)
        return path if path.is_file() else None

    def cached_path(self, oid: str) -> Path | None:
        return self.local_path(oid)

    def download_url(self, oid: str, disposition: str | None = None) -> str | None:
        return None

    def open(self, oid: str) -> BinaryIO:
        return self._path(oid).open("rb")

    def writer(self, oid: str | None = None, size: int | None = None) -> LocalBlobWriter:
        return LocalBlobWriter(self, oid, size)

    def adopt(self, src: Path, oid: str) -> None:
        """Move an already-verified file in; a concurrent identical upload simply wins the race."""
        dest = self._path(oid)
        if dest.exists():
            src.unlink(missing_ok=True)
            return
        src.chmod(0o444)
        publish(src, dest)

    def delete(self, oid: str) -> None:
        """Remove an object (garbage collection); a missing one is not an error."""
        self._path(oid).unlink(missing_ok=True)

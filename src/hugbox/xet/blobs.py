"""The hub's sha256 store, where files uploaded through Xet are kept as recipes over xorbs.

A plain LFS upload is a file named by its sha256 (`LocalBlobStore`, or `S3BlobStore` at scale).
A Xet upload is already stored once, deduplicated, as xorbs: its sha256 names a recipe instead
of a second copy, and every reader of the store (`resolve`, git-lfs, checkouts, the viewer,
inference) reads it through `open` like any other object. A recipe is published only once the
server has rebuilt the file and checked its sha256 (xet/service.py), so the store never serves
unproven bytes.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from hugbox.storage.blobs import (
    BlobStore,
    BlobWriter,
    LocalBlobStore,
    is_sha256,
    make_dirs,
    publish,
)
from hugbox.storage.cache import ReadThroughCache
from hugbox.xet.recipes import Recipe, recipe_size


class Shelf(Protocol):
    """Small documents by name: recipes (keyed by sha256) and the storage epoch."""

    def read(self, oid: str) -> bytes | None: ...
    def write(self, oid: str, data: bytes) -> None: ...
    def delete(self, oid: str) -> None: ...
    def names(self) -> Iterator[str]: ...
    def claim(self, name: str, data: bytes) -> bytes: ...


class LocalShelf:
    """Documents at `root/ab/cd/<sha256>` (or `root/<name>` for a claimed name)."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, oid: str) -> Path:
        if not is_sha256(oid):
            raise ValueError(f"not a sha256: {oid!r}")
        return self.root / oid[:2] / oid[2:4] / oid

    def read(self, oid: str) -> bytes | None:
        try:
            return self._path(oid).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, oid: str, data: bytes) -> None:
        """Atomically: readers see all or nothing."""
        dest = self._path(oid)
        make_dirs(dest.parent)
        draft = dest.with_name(f"{dest.name}.{secrets.token_hex(4)}.tmp")
        draft.write_bytes(data)
        publish(draft, dest)

    def delete(self, oid: str) -> None:
        self._path(oid).unlink(missing_ok=True)

    def names(self) -> Iterator[str]:
        for path in self.root.glob("*/*/*"):
            if is_sha256(path.name):  # not a draft being published
                yield path.name

    def claim(self, name: str, data: bytes) -> bytes:
        """`data` under `name` unless another process got there first: theirs, then."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / name
        if not path.exists():
            draft = self.root / f"{name}-{secrets.token_hex(4)}"
            draft.write_bytes(data)
            with contextlib.suppress(FileExistsError):  # another worker was first
                os.link(draft, path)
            draft.unlink()
        return path.read_bytes()


class XetBlobStore:
    """`BlobStore` over plain objects and Xet recipes; plain copies win where both exist."""

    def __init__(
        self, plain: BlobStore, *, xorbs: BlobStore, shards: BlobStore, recipes: Shelf,
        meta: Shelf, tmp_dir: Path, cache: ReadThroughCache | None = None,
    ):  # fmt: skip
        self.plain = plain
        self.remote = plain.remote
        self.xorbs = xorbs  # verified xorbs, keyed by Xet hash
        self.shards = shards  # uploaded shards, keyed by sha256 (an audit log)
        self.recipe_shelf = recipes
        self.meta = meta  # the storage epoch
        self.tmp_dir = tmp_dir  # xorbs are spooled here before they are adopted
        self._cache = cache

    def recipe(self, oid: str) -> Recipe | None:
        data = self.recipe_shelf.read(oid)
        return None if data is None else Recipe.from_json(data)

    def publish(self, recipe: Recipe) -> None:
        """Name a verified file's bytes by its sha256 (atomically: readers see all or nothing)."""
        self.recipe_shelf.write(recipe.sha256, recipe.to_json())

    def exists(self, oid: str) -> bool:
        return self.plain.exists(oid) or self.recipe_shelf.read(oid) is not None

    def size(self, oid: str) -> int | None:
        found = self.plain.size(oid)
        if found is None:
            data = self.recipe_shelf.read(oid)
            return None if data is None else recipe_size(data.split(b"\n", 1)[0])
        return found

    def local_path(self, oid: str) -> Path | None:
        """A plain file holding the bytes, if there is one (a recipe has none)."""
        return self.plain.local_path(oid)

    def cached_path(self, oid: str) -> Path | None:
        """The plain file, or (when the store keeps a cache) a local copy of the bytes."""
        path = self.plain.local_path(oid)
        if path is None and self._cache is not None and self.exists(oid):
            return self._cache.path(oid, self)
        return path

    def download_url(self, oid: str, disposition: str | None = None) -> str | None:
        """A direct URL for a plain object (a recipe's bytes exist only as decoded here)."""
        if not self.remote:  # on disk: no stat on the download path, the hub sends the file
            return None
        return self.plain.download_url(oid, disposition) if self.plain.exists(oid) else None

    def open(self, oid: str) -> BinaryIO:
        if self.plain.exists(oid) or (recipe := self.recipe(oid)) is None:
            return self.plain.open(oid)
        from hugbox.xet.reader import RecipeReader  # decoders load only where files are read

        return io.BufferedReader(RecipeReader(recipe, self.xorbs), buffer_size=1024 * 1024)

    def writer(self, oid: str | None = None, size: int | None = None) -> BlobWriter:
        return self.plain.writer(oid, size)

    def adopt(self, src: Path, oid: str) -> None:
        self.plain.adopt(src, oid)

    def delete(self, oid: str) -> None:
        self.plain.delete(oid)
        self.recipe_shelf.delete(oid)

    def recipes(self) -> Iterator[Recipe]:
        for name in self.recipe_shelf.names():
            if (recipe := self.recipe(name)) is not None:
                yield recipe


def open_blob_store(
    blobs_dir: Path, xet_dir: Path, *, blob_url: str | None = None, cache_dir: Path | None = None,
    cache_bytes: int = 0,
) -> XetBlobStore:  # fmt: skip
    """The sha256 store of a data dir, Xet recipes included (readable in every preupload mode):
    on local disk, or in the bucket `blob_url` names (`s3://bucket/prefix`)."""
    if blob_url:
        return _open_bucket_store(blob_url, cache_dir or blobs_dir.parent / "cache", cache_bytes)
    return XetBlobStore(
        LocalBlobStore(blobs_dir), xorbs=LocalBlobStore(xet_dir / "xorbs"),
        shards=LocalBlobStore(xet_dir / "shards"), recipes=LocalShelf(xet_dir / "recipes"),
        meta=LocalShelf(xet_dir), tmp_dir=xet_dir / "tmp",
    )  # fmt: skip


def _open_bucket_store(url: str, cache_dir: Path, cache_bytes: int) -> XetBlobStore:
    from hugbox.storage import s3  # obstore loads only where a bucket is used

    bucket = s3.open_bucket(url)
    cache = ReadThroughCache(cache_dir / "blobs", cache_bytes)
    spool = cache_dir / "spool"

    def objects(root: str) -> s3.S3BlobStore:
        return s3.S3BlobStore(bucket, root, spool, cache)

    return XetBlobStore(
        objects("lfs"), xorbs=objects("xet/xorbs"), shards=objects("xet/shards"),
        recipes=s3.S3Shelf(bucket, "xet/recipes"), meta=s3.S3Shelf(bucket, "xet"),
        tmp_dir=spool, cache=cache,
    )  # fmt: skip

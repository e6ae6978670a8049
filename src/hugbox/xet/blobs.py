"""The hub's sha256 store, where files uploaded through Xet are kept as recipes over xorbs.

A plain LFS upload is a file named by its sha256 (`LocalBlobStore`). A Xet upload is already
stored once, deduplicated, as xorbs: its sha256 names a recipe instead of a second copy, and
every reader of the store (`resolve`, git-lfs, checkouts, the viewer, inference) reads it
through `open` like any other object. A recipe is published only once the server has rebuilt
the file and checked its sha256 (xet/service.py), so the store never serves unproven bytes.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from hugbox.storage.blobs import LocalBlobStore, LocalBlobWriter, is_sha256, make_dirs, publish
from hugbox.xet.recipes import Recipe, recipe_size


class XetBlobStore:
    """`BlobStore` over plain objects and Xet recipes; plain copies win where both exist."""

    def __init__(self, plain: LocalBlobStore, xet_dir: Path):
        self.plain = plain
        self.xorbs = LocalBlobStore(xet_dir / "xorbs")  # verified xorbs, keyed by Xet hash
        self.recipes_dir = xet_dir / "recipes"

    def _recipe_path(self, oid: str) -> Path:
        if not is_sha256(oid):
            raise ValueError(f"not a sha256: {oid!r}")
        return self.recipes_dir / oid[:2] / oid[2:4] / oid

    def recipe(self, oid: str) -> Recipe | None:
        try:
            return Recipe.from_json(self._recipe_path(oid).read_bytes())
        except FileNotFoundError:
            return None

    def publish(self, recipe: Recipe) -> None:
        """Name a verified file's bytes by its sha256 (atomically: readers see all or nothing)."""
        dest = self._recipe_path(recipe.sha256)
        make_dirs(dest.parent)
        draft = dest.with_name(f"{dest.name}.{secrets.token_hex(4)}.tmp")
        draft.write_bytes(recipe.to_json())
        publish(draft, dest)

    def exists(self, oid: str) -> bool:
        return self.plain.exists(oid) or self._recipe_path(oid).is_file()

    def size(self, oid: str) -> int | None:
        found = self.plain.size(oid)
        if found is None:
            try:
                with self._recipe_path(oid).open("rb") as handle:
                    return recipe_size(handle.readline())
            except FileNotFoundError:
                return None
        return found

    def local_path(self, oid: str) -> Path | None:
        """A plain file holding the bytes, if there is one (a recipe has none)."""
        return self.plain.local_path(oid)

    def open(self, oid: str) -> BinaryIO:
        if self.plain.exists(oid) or (recipe := self.recipe(oid)) is None:
            return self.plain.open(oid)
        from hugbox.xet.reader import RecipeReader  # decoders load only where files are read

        return io.BufferedReader(RecipeReader(recipe, self.xorbs), buffer_size=1024 * 1024)

    def writer(self) -> LocalBlobWriter:
        return self.plain.writer()

    def adopt(self, src: Path, oid: str) -> None:
        self.plain.adopt(src, oid)

    def delete(self, oid: str) -> None:
        self.plain.delete(oid)
        self._recipe_path(oid).unlink(missing_ok=True)

    def recipes(self) -> Iterator[Recipe]:
        for path in self.recipes_dir.glob("*/*/*"):
            if is_sha256(path.name):  # not a draft being published
                yield Recipe.from_json(path.read_bytes())


def open_blob_store(blobs_dir: Path, xet_dir: Path) -> XetBlobStore:
    """The sha256 store of a data dir, Xet recipes included (readable in every preupload mode)."""
    return XetBlobStore(LocalBlobStore(blobs_dir), xet_dir)

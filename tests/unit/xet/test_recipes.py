"""Recipes: files read back from stored xorbs, whole or from any offset, and the store over them."""

from __future__ import annotations

import hashlib
import io
import os
import random
from pathlib import Path

import lz4.frame
import pytest

from hugbox.storage.blobs import LocalBlobStore
from hugbox.xet import format as fmt
from hugbox.xet import reader, recipes
from hugbox.xet.blobs import XetBlobStore, open_blob_store
from hugbox.xet.reader import RecipeReader
from hugbox.xet.recipes import Recipe


def _stored_xorb(store: LocalBlobStore, tmp: Path, chunks: list[bytes]) -> tuple[str, list]:
    """Store a xorb of LZ4 chunks (every third one uncompressed); returns (name, chunk table)."""
    body, rows, unpacked = b"", [], 0
    for i, chunk in enumerate(chunks):
        payload, scheme = (chunk, 0) if i % 3 == 2 else (lz4.frame.compress(chunk), 1)
        body += bytes([0]) + len(payload).to_bytes(3, "little") + bytes([scheme])
        body += len(chunk).to_bytes(3, "little") + payload
        unpacked += len(chunk)
        rows.append((fmt.chunk_hash(chunk), len(body), unpacked))
    leaves = [(row[0], len(chunk)) for row, chunk in zip(rows, chunks, strict=True)]
    name = fmt.hash_to_str(fmt.merkle_root(leaves))
    (tmp / name).write_bytes(body)
    store.adopt(tmp / name, name)
    return name, rows


@pytest.fixture
def made(tmp_path: Path) -> tuple[XetBlobStore, Recipe, bytes]:
    """A file of 3 segments: chunks 1..5 of xorb A, all of xorb B, chunk 0 of A again."""
    blobs = open_blob_store(tmp_path / "lfs", tmp_path / "xet")
    rng = random.Random(7)
    a = [rng.randbytes(rng.randrange(1000, 9000)) * 3 for _ in range(6)]
    b = [os.urandom(5000) for _ in range(4)]
    name_a, rows_a = _stored_xorb(blobs.xorbs, tmp_path, a)
    name_b, rows_b = _stored_xorb(blobs.xorbs, tmp_path, b)
    data = b"".join(a[1:6] + b + a[:1])
    segments = [
        recipes.segment(name_a, rows_a, 1, 6),
        recipes.segment(name_b, rows_b, 0, 4),
        recipes.segment(name_a, rows_a, 0, 1),
    ]
    return blobs, Recipe(hashlib.sha256(data).hexdigest(), segments), data


def test_a_recipe_reads_back_whole_in_blocks(
    made: tuple[XetBlobStore, Recipe, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs, recipe, data = made
    monkeypatch.setattr(reader, "BLOCK", 10_000)  # several blocks per segment
    assert recipe.size == len(data)
    assert b"".join(reader.iter_blocks(recipe, blobs.xorbs)) == data
    assert Recipe.from_json(recipe.to_json()) == recipe


def test_a_recipe_reads_from_any_offset(made: tuple[XetBlobStore, Recipe, bytes]) -> None:
    blobs, recipe, data = made
    reader = io.BufferedReader(RecipeReader(recipe, blobs.xorbs))  # raw reads may be short
    rng = random.Random(1)
    for _ in range(200):
        start = rng.randrange(len(data))
        length = rng.randrange(1, 40_000)
        reader.seek(start)
        assert reader.read(length) == data[start : start + length]
    assert reader.seek(-10, io.SEEK_END) == len(data) - 10
    assert reader.read() == data[-10:]
    assert reader.read(5) == b""


def test_the_store_serves_recipes_and_prefers_plain_copies(
    made: tuple[XetBlobStore, Recipe, bytes], tmp_path: Path
) -> None:
    blobs, recipe, data = made
    oid = recipe.sha256
    assert not blobs.exists(oid)
    blobs.publish(recipe)
    assert (blobs.exists(oid), blobs.size(oid), blobs.local_path(oid)) == (True, len(data), None)
    with blobs.open(oid) as handle:
        assert handle.read() == data
    assert list(blobs.recipes()) == [recipe]
    writer = blobs.writer()
    writer.write(data)
    writer.commit(expected_oid=oid)
    assert blobs.local_path(oid) is not None  # a plain copy is read as a file again
    blobs.delete(oid)
    assert not blobs.exists(oid) and list(blobs.recipes()) == []


def test_a_recipe_over_a_lost_xorb_fails_loudly(made: tuple[XetBlobStore, Recipe, bytes]) -> None:
    blobs, recipe, _data = made
    blobs.publish(recipe)
    blobs.xorbs.delete(recipe.segments[1].xorb)
    with pytest.raises(FileNotFoundError), blobs.open(recipe.sha256) as handle:
        handle.read()

"""One contract for every BlobStore: local disk, and S3 (moto in process, or the real server
S3_ENDPOINT names, e.g. Ceph RGW in CI). Content-addressed writes publish verified bytes or
nothing, whichever way they arrive."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hugbox.storage.blobs import BlobMismatch, BlobStore
from hugbox.xet.blobs import XetBlobStore, open_blob_store
from hugbox.xet.recipes import Recipe, Segment
from s3 import S3Server

MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def xet_blobs(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> XetBlobStore:
    if request.param == "local":
        return open_blob_store(tmp_path / "lfs", tmp_path / "xet")
    s3: S3Server = request.getfixturevalue("s3")
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    url = f"s3://{s3.new_bucket()}/hub"
    return open_blob_store(
        tmp_path / "lfs", tmp_path / "xet", blob_url=url, cache_dir=tmp_path / "cache",
        cache_bytes=64 * MiB,
    )  # fmt: skip


@pytest.fixture
def blobs(xet_blobs: XetBlobStore) -> BlobStore:
    return xet_blobs.plain


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(blobs: BlobStore, data: bytes, *, announce: bool = False) -> str:
    writer = blobs.writer(_sha(data), len(data)) if announce else blobs.writer()
    for start in range(0, len(data), MiB):
        writer.write(data[start : start + MiB])
    return writer.commit(expected_oid=_sha(data), expected_size=len(data))


@pytest.mark.parametrize("announce", [False, True], ids=["spooled", "streamed"])
def test_write_then_read_by_sha256(blobs: BlobStore, announce: bool) -> None:
    data = os.urandom(3 * MiB + 5)
    oid = _write(blobs, data, announce=announce)
    assert oid == _sha(data)
    assert blobs.exists(oid) and blobs.size(oid) == len(data)
    with blobs.open(oid) as handle:
        assert handle.read() == data


def test_a_large_announced_upload_goes_up_in_parts(blobs: BlobStore) -> None:
    data = os.urandom(40 * MiB + 3)  # over two S3 parts
    oid = _write(blobs, data, announce=True)
    with blobs.open(oid) as handle:
        handle.seek(33 * MiB)
        assert handle.read(MiB) == data[33 * MiB : 34 * MiB]


@pytest.mark.parametrize("announce", [False, True], ids=["spooled", "streamed"])
def test_wrong_hash_or_size_stores_nothing(blobs: BlobStore, announce: bool) -> None:
    data = os.urandom(20 * MiB)
    for expected in ({"expected_oid": "0" * 64}, {"expected_size": 3}):
        writer = blobs.writer(_sha(data), 3) if announce else blobs.writer()
        writer.write(data)
        with pytest.raises(BlobMismatch):
            writer.commit(**expected)  # type: ignore[arg-type]
    assert not blobs.exists(_sha(data)) and blobs.size(_sha(data)) is None
    assert blobs.cached_path(_sha(data)) is None


def test_an_announced_upload_with_other_bytes_never_replaces_the_object(
    blobs: BlobStore,
) -> None:
    data = b"the real bytes"
    oid = _write(blobs, data)
    writer = blobs.writer(oid, len(data))
    writer.write(b"other bytes!!!")
    with pytest.raises(BlobMismatch):
        writer.commit()
    with blobs.open(oid) as handle:
        assert handle.read() == data


def test_aborted_uploads_leave_nothing(blobs: BlobStore) -> None:
    data = os.urandom(MiB)
    for writer in (blobs.writer(), blobs.writer(_sha(data), len(data))):
        writer.write(data)
        writer.abort()
    assert not blobs.exists(_sha(data))


def test_identical_concurrent_uploads_keep_one_copy(blobs: BlobStore) -> None:
    data = os.urandom(2 * MiB)
    oids: list[str] = []

    def upload(announce: bool) -> None:
        oids.append(_write(blobs, data, announce=announce))

    threads = [threading.Thread(target=upload, args=(i % 2 == 0,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert oids == [_sha(data)] * 4
    with blobs.open(_sha(data)) as handle:
        assert handle.read() == data


def test_adopt_and_delete(blobs: BlobStore, tmp_path: Path) -> None:
    src = tmp_path / "verified"
    src.write_bytes(b"adopted")
    blobs.adopt(src, _sha(b"adopted"))
    assert blobs.size(_sha(b"adopted")) == 7 and not src.exists()
    blobs.delete(_sha(b"adopted"))
    blobs.delete(_sha(b"adopted"))  # already gone: not an error
    assert not blobs.exists(_sha(b"adopted"))


def test_missing_objects(blobs: BlobStore) -> None:
    oid = _sha(b"never stored")
    assert not blobs.exists(oid) and blobs.size(oid) is None
    assert blobs.local_path(oid) is None and blobs.cached_path(oid) is None
    with pytest.raises(FileNotFoundError):
        blobs.open(oid)


def test_invalid_oids_are_refused(blobs: BlobStore) -> None:
    with pytest.raises(ValueError, match="sha256"):
        blobs.exists("../../etc/passwd")


def test_cached_path_holds_the_bytes(blobs: BlobStore) -> None:
    data = os.urandom(MiB)
    oid = _write(blobs, data)
    path = blobs.cached_path(oid)
    assert path is not None and path.read_bytes() == data
    assert blobs.cached_path(oid) == path  # the second reader gets the same copy


def test_download_url_serves_single_ranges(blobs: BlobStore) -> None:
    data = os.urandom(2 * MiB)
    oid = _write(blobs, data)
    url = blobs.download_url(oid)
    if blobs.local_path(oid) is not None:
        assert url is None  # on disk: the hub serves it (sendfile)
        return
    assert url is not None
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content == data
    part = httpx.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]


def test_recipes_and_epoch(xet_blobs: XetBlobStore) -> None:
    recipe = Recipe(sha256=_sha(b"x"), segments=[Segment("0" * 64, [0, 9], [0, 1])])
    assert xet_blobs.recipe(recipe.sha256) is None and not xet_blobs.exists(recipe.sha256)
    xet_blobs.publish(recipe)
    assert xet_blobs.recipe(recipe.sha256) == recipe
    assert xet_blobs.size(recipe.sha256) == 1 and list(xet_blobs.recipes()) == [recipe]
    assert xet_blobs.download_url(recipe.sha256) is None  # decoded by the hub only
    first = xet_blobs.meta.claim("epoch", b"one")
    assert first == b"one" and xet_blobs.meta.claim("epoch", b"two") == b"one"
    xet_blobs.delete(recipe.sha256)
    assert list(xet_blobs.recipes()) == []


def test_xorbs_and_shards_are_kept_apart(xet_blobs: XetBlobStore) -> None:
    oid = _write(xet_blobs.xorbs, b"a xorb")
    assert xet_blobs.xorbs.exists(oid)
    assert not xet_blobs.plain.exists(oid) and not xet_blobs.shards.exists(oid)


@pytest.fixture
def only_s3(blobs: BlobStore) -> Iterator[BlobStore]:
    if blobs.local_path(_write(blobs, b"probe")) is not None:
        pytest.skip("a local store needs no cache")
    yield blobs


def test_the_cache_stays_within_its_budget(xet_blobs: XetBlobStore, only_s3: BlobStore) -> None:
    paths = [only_s3.cached_path(_write(only_s3, os.urandom(20 * MiB))) for _ in range(4)]
    cached = [p for p in paths if p is not None and p.exists()]
    assert 0 < len(cached) <= 3  # 64 MiB of budget holds three 20 MiB copies
    assert paths[-1] in cached  # the newest stays


def test_reads_seek_anywhere_and_stream_on(blobs: BlobStore) -> None:
    data = os.urandom(5 * MiB + 7)
    oid = _write(blobs, data)
    with blobs.open(oid) as handle:
        assert handle.read(10) == data[:10]
        assert handle.read() == data[10:]  # reading on: one stream to the end
        assert handle.read(5) == b""
        handle.seek(4 * MiB)
        assert handle.read(3) == data[4 * MiB : 4 * MiB + 3]
        handle.seek(7)
        chunks = [handle.read(MiB) for _ in range(6)]
        assert b"".join(chunks) == data[7:]
        handle.seek(-4, os.SEEK_END)
        assert handle.read() == data[-4:] and handle.tell() == len(data)

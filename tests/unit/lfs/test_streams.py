"""Multipart parts streamed on to a bucket: only in order, only to a remote store, and the
stream publishes nothing unless every byte came in order and hashes to the oid."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hugbox.lfs.streams import PartStreams, tee
from hugbox.storage.blobs import BlobMismatch
from hugbox.xet.blobs import XetBlobStore, open_blob_store
from s3 import S3Server

PART = 1024 * 1024


@pytest.fixture
def bucket_store(s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> XetBlobStore:
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    return open_blob_store(
        tmp_path / "lfs", tmp_path / "xet", blob_url=f"s3://{s3.new_bucket()}",
        cache_dir=tmp_path / "cache", cache_bytes=PART,
    )  # fmt: skip


async def _body(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 64 * 1024):
        yield data[start : start + 64 * 1024]


def _send(streams: PartStreams, store: XetBlobStore, data: bytes, size: int, n: int) -> bool:
    """Part `n` (from 1) of `data`; whether it went to a stream."""
    oid = hashlib.sha256(data).hexdigest()
    stream = streams.claim(store, oid, size, (n - 1) * PART)

    async def drain() -> None:
        async for _ in tee(_body(data[(n - 1) * PART : n * PART]), stream):
            pass

    asyncio.run(drain())
    if stream is not None:
        streams.release(oid, stream, ok=True)
    return stream is not None


def test_parts_in_order_are_published_once_verified(bucket_store: XetBlobStore) -> None:
    data = os.urandom(2 * PART + 5)
    oid = hashlib.sha256(data).hexdigest()
    streams = PartStreams()
    assert all(_send(streams, bucket_store, data, len(data), n) for n in (1, 2, 3))
    assert not bucket_store.exists(oid)  # nothing before completion
    stream = streams.take(oid)
    assert stream is not None
    stream.writer.commit(expected_oid=oid, expected_size=len(data))
    with bucket_store.open(oid) as handle:
        assert handle.read() == data


def test_a_part_out_of_order_drops_the_stream(bucket_store: XetBlobStore) -> None:
    data = os.urandom(2 * PART + 5)
    streams = PartStreams()
    assert _send(streams, bucket_store, data, len(data), 1)
    assert not _send(streams, bucket_store, data, len(data), 3)
    assert not _send(streams, bucket_store, data, len(data), 2)  # the file took over
    assert streams.take(hashlib.sha256(data).hexdigest()) is None


def test_wrong_bytes_in_order_publish_nothing(bucket_store: XetBlobStore) -> None:
    data = os.urandom(PART + 5)
    oid = hashlib.sha256(data).hexdigest()
    streams = PartStreams()
    forged = os.urandom(len(data))
    stream = streams.claim(bucket_store, oid, len(data), 0)
    assert stream is not None

    async def drain() -> None:
        async for _ in tee(_body(forged), stream):
            pass

    asyncio.run(drain())
    streams.release(oid, stream, ok=True)
    taken = streams.take(oid)
    assert taken is not None
    with pytest.raises(BlobMismatch):
        taken.writer.commit(expected_oid=oid, expected_size=len(data))
    assert not bucket_store.exists(oid)


def test_a_local_store_is_never_streamed(tmp_path: Path) -> None:
    local = open_blob_store(tmp_path / "lfs", tmp_path / "xet")
    assert PartStreams().claim(local, "a" * 64, 10, 0) is None

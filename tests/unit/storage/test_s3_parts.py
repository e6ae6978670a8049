"""Direct multipart uploads into the bucket (moto in process, or the S3 server S3_ENDPOINT names):
parts PUT to presigned URLs land at a staging key, and only bytes that hash to the announced oid
are ever published under it; a lying upload, a forged or expired part URL publish nothing."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from hugbox.storage.blobs import BlobMismatch
from hugbox.storage.s3 import S3BlobStore
from hugbox.storage.s3_parts import MIN_PART, S3PartUploads, UploadGone, open_part_uploads
from hugbox.xet.blobs import open_blob_store
from s3 import S3Server

PART = MIN_PART


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _uploads(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ttl: timedelta | None = None
) -> tuple[S3PartUploads, str]:
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    bucket = s3.new_bucket()
    url = f"s3://{bucket}/hub"
    store = open_blob_store(tmp_path / "lfs", tmp_path / "xet", blob_url=url,
                            cache_dir=tmp_path / "cache", cache_bytes=0).plain  # fmt: skip
    assert isinstance(store, S3BlobStore)
    return open_part_uploads(store, *([ttl] if ttl else [])), bucket


@pytest.fixture
def uploads(s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3PartUploads:
    return _uploads(s3, tmp_path, monkeypatch)[0]


def _put_parts(urls: list[str], data: bytes) -> list[tuple[int, str]]:
    parts = []
    for number, url in enumerate(urls, start=1):
        answer = httpx.put(url, content=data[(number - 1) * PART : number * PART], timeout=60)
        assert answer.status_code == 200, answer.text
        parts.append((number, answer.headers["etag"]))
    return parts


def _keys(s3: S3Server, bucket: str) -> list[str]:
    listing = s3.client().list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_part_sizes() -> None:
    sizer = S3PartUploads(None, None)  # type: ignore[arg-type]
    assert sizer.part_size(10 * PART, PART - 1) is None  # below what S3 accepts
    assert sizer.part_size(PART, PART) is None  # one part: a plain PUT does
    assert sizer.part_size(PART + 1, PART) == PART
    assert sizer.part_size(20_000 * PART, PART) == 2 * PART  # at most 10,000 parts


def test_parts_land_verified(s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uploads, bucket = _uploads(s3, tmp_path, monkeypatch)
    data = os.urandom(2 * PART + 17)
    started = uploads.start(len(data), PART)
    assert len(started.part_urls) == 3
    assert all(url.startswith(s3.endpoint) for url in started.part_urls)
    parts = _put_parts(started.part_urls, data)
    uploads.complete(started.token, started.upload_id, parts, oid=_sha(data), size=len(data))
    with uploads.store.open(_sha(data)) as handle:
        assert handle.read() == data
    assert _keys(s3, bucket) == [f"hub/{uploads.store.key(_sha(data))}"]  # no staging left


def test_a_lying_upload_publishes_nothing(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads, bucket = _uploads(s3, tmp_path, monkeypatch)
    real = os.urandom(PART + 5)
    for body in (os.urandom(len(real)), real[:-1]):  # other bytes; fewer bytes
        started = uploads.start(len(real), PART)
        parts = _put_parts(started.part_urls, body)
        with pytest.raises(BlobMismatch):
            uploads.complete(started.token, started.upload_id, parts, oid=_sha(real),
                             size=len(real))  # fmt: skip
    assert not uploads.store.exists(_sha(real))
    assert _keys(s3, bucket) == []


def test_verified_bytes_are_never_overwritten(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads, bucket = _uploads(s3, tmp_path, monkeypatch)
    data = os.urandom(PART + 5)
    oid = _sha(data)
    first, second = uploads.start(len(data), PART), uploads.start(len(data), PART)
    first_parts = _put_parts(first.part_urls, data)
    second_parts = _put_parts(second.part_urls, data)
    uploads.complete(first.token, first.upload_id, first_parts, oid=oid, size=len(data))
    key = f"hub/{uploads.store.key(oid)}"
    before = s3.client().head_object(Bucket=bucket, Key=key)
    uploads.complete(second.token, second.upload_id, second_parts, oid=oid, size=len(data))
    after = s3.client().head_object(Bucket=bucket, Key=key)
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])
    assert _keys(s3, bucket) == [key]


def test_unknown_completed_or_aborted_uploads_are_gone(uploads: S3PartUploads) -> None:
    data = os.urandom(PART + 5)
    started = uploads.start(len(data), PART)
    parts = _put_parts(started.part_urls, data)
    with pytest.raises(UploadGone):
        uploads.complete("0" * 32, "not-an-upload", parts, oid=_sha(data), size=len(data))
    with pytest.raises(UploadGone):
        uploads.complete("../x", started.upload_id, parts, oid=_sha(data), size=len(data))
    with pytest.raises(UploadGone):  # an ETag the part did not answer
        uploads.complete(started.token, started.upload_id, [(1, '"0"'), (2, '"0"')],
                         oid=_sha(data), size=len(data))  # fmt: skip
    uploads.complete(started.token, started.upload_id, parts, oid=_sha(data), size=len(data))
    with pytest.raises(UploadGone):  # once done, the upload id is spent
        uploads.complete(started.token, started.upload_id, parts, oid=_sha(data), size=len(data))
    other = uploads.start(len(data), PART)
    uploads.abort(other.token, other.upload_id)
    uploads.abort(other.token, other.upload_id)  # twice: fine
    with pytest.raises(UploadGone):
        uploads.complete(other.token, other.upload_id, parts, oid=_sha(data), size=len(data))


def _real_server(s3: S3Server) -> None:
    if not os.environ.get("S3_ENDPOINT"):
        pytest.skip("moto checks no signatures: run with S3_ENDPOINT (Ceph RGW, make test-s3)")


def test_forged_part_urls_fail(s3: S3Server, uploads: S3PartUploads) -> None:
    _real_server(s3)
    started = uploads.start(PART + 5, PART)
    url = started.part_urls[0]
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")  # the signature's last digit
    assert httpx.put(forged, content=b"x").status_code == 403
    as_plain_put = url.replace(f"uploadId={started.upload_id}", "").replace("partNumber=1", "")
    assert httpx.put(as_plain_put, content=b"x").status_code == 403
    other = uploads.start(PART + 5, PART)  # another upload's id in this URL
    swapped = url.replace(started.upload_id, other.upload_id)
    assert httpx.put(swapped, content=b"x").status_code == 403


def test_expired_part_urls_fail(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _real_server(s3)
    uploads, _ = _uploads(s3, tmp_path, monkeypatch, ttl=timedelta(seconds=1))
    started = uploads.start(PART + 5, PART)
    time.sleep(2.5)
    assert httpx.put(started.part_urls[0], content=b"x").status_code == 403

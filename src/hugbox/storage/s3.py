"""Content-addressed objects in any S3-compatible bucket (obstore), behind the `BlobStore` protocol.

Objects are immutable and named by their hash, so a write either publishes verified bytes at
their final key or publishes nothing: an unknown oid is spooled to a local temp file while it is
hashed and then put once with `If-None-Match: *`; a known oid streams into a multipart upload
at its final key that is completed only when the hash matches (aborted otherwise). Nothing is
ever copied between keys: S3's CopyObject stops at 5 GiB and HF files go to 50 GB.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import AlreadyExistsError
from obstore.store import S3Store

from hugbox.storage.blobs import BlobMismatch, is_sha256
from hugbox.storage.cache import ReadThroughCache

if TYPE_CHECKING:
    from obstore import WritableFile

# A conditional (If-None-Match) put is a single PUT, which holds its body in memory; larger
# verified files go up in parts, where an identical concurrent upload may also complete: the
# bytes are the same, so the later one only rewrites them.
SINGLE_PUT_MAX = 64 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024  # obstore keeps part size x concurrency in memory per upload
PART_CONCURRENCY = 4
PRESIGN_TTL = timedelta(hours=1)
STREAM_CHUNK = 1024 * 1024


def open_bucket(url: str) -> S3Store:
    """The bucket and prefix of `s3://bucket/prefix`, with credentials, region and endpoint
    from the standard AWS_* variables (AWS_ENDPOINT_URL for a non-AWS server)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3:// URL: {url!r}")
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT")
    config: dict[str, Any] = {}
    if endpoint:
        # Self-hosted servers (Ceph RGW, moto, Garage) rarely have a DNS name per bucket.
        config["virtual_hosted_style_request"] = False
    if endpoint and endpoint.startswith("http://"):
        config["client_options"] = {"allow_http": True}
    prefix = parts.path.strip("/") or None
    return S3Store(parts.netloc, prefix=prefix, **config)


def boto3_client() -> Any:
    """A boto3 S3 client configured from the same AWS_* variables as `open_bucket`, for what
    obstore 0.12 cannot do (sign `upload_part` or response-header URLs, complete a multipart
    upload it did not stream). Thread-safe: keep one."""
    import boto3  # loads only where a bucket is used
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT")
    style = "path" if endpoint else "auto"  # self-hosted servers rarely resolve bucket names
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    config = Config(signature_version="s3v4", s3={"addressing_style": style})
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)


def _key(root: str, oid: str) -> str:
    if not is_sha256(oid):
        raise ValueError(f"not a sha256: {oid!r}")
    return f"{root}/{oid[:2]}/{oid[2:4]}/{oid}"


class S3Reader(io.RawIOBase):
    """A seekable, closable reader over one object. A read right after a seek gets exactly the
    bytes asked for (a xorb's segment: one ranged GET); reading on from where the last read
    ended continues one streaming GET to the end (a download: one request, not one per MiB,
    which is what obstore's own reader sends)."""

    def __init__(self, bucket: S3Store, key: str):
        self._bucket, self._key = bucket, key
        self.size = int(obstore.head(bucket, key)["size"])  # FileNotFoundError when missing
        self._pos, self._last_end = 0, -1
        self._stream: Iterator[Any] | None = None
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self.size - self._pos)
        if want <= 0:
            return 0
        if self._stream is None and self._pos == self._last_end:
            stream = obstore.get(self._bucket, self._key, options={"range": (self._pos, self.size)})
            self._stream = iter(stream.stream(min_chunk_size=STREAM_CHUNK))
        if self._stream is None:
            data = obstore.get_range(self._bucket, self._key, start=self._pos, length=want)
            count = len(data)
            view[:count] = memoryview(data)
        else:
            count = self._take(view[:want])
        self._pos += count
        self._last_end = self._pos
        return count

    def _take(self, view: memoryview) -> int:
        if not self._pending:
            chunk = next(self._stream, None) if self._stream is not None else None
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset != self._pos:
            self._pos, self._stream, self._pending = base + offset, None, memoryview(b"")
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._stream, self._pending = None, memoryview(b"")
        super().close()


class SpooledS3Writer:
    """For an oid not known in advance: a local temp file while hashing, then one put."""

    def __init__(self, store: S3BlobStore):
        self._store = store
        fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="upload-")
        self._file = os.fdopen(fd, "wb")
        self._path = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def commit(self, expected_oid: str | None = None, expected_size: int | None = None) -> str:
        self._file.close()
        oid = self._hash.hexdigest()
        try:
            _check(oid, self.size, expected_oid, expected_size)
            self._store.adopt(self._path, oid)
        finally:
            self._path.unlink(missing_ok=True)
        return oid

    def abort(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)


class MultipartS3Writer:
    """For an oid announced upfront (LFS, Xet): parts go straight to the final key, and the
    upload is completed only if the bytes hash to that oid, so no other key and no copy."""

    def __init__(self, store: S3BlobStore, oid: str, size: int | None):
        self._oid, self._expected_size = oid, size
        self._file: WritableFile = obstore.open_writer(
            store.bucket, _key(store.root, oid), buffer_size=PART_SIZE,
            max_concurrency=PART_CONCURRENCY,
        )  # fmt: skip
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def commit(self, expected_oid: str | None = None, expected_size: int | None = None) -> str:
        oid = self._hash.hexdigest()
        expected_size = self._expected_size if expected_size is None else expected_size
        try:
            _check(oid, self.size, expected_oid or self._oid, expected_size)
        except BlobMismatch:
            self.abort()
            raise
        self._file.close()  # completes the multipart upload (or does the single small PUT)
        return oid

    def abort(self) -> None:
        """Leaving the writer with an exception aborts the multipart upload: nothing is kept."""
        if not self._file.closed():
            self._file.__exit__(BlobMismatch, BlobMismatch("aborted"), None)


def _check(oid: str, size: int, expected_oid: str | None, expected_size: int | None) -> None:
    if (expected_oid and oid != expected_oid) or (
        expected_size is not None and size != expected_size
    ):
        raise BlobMismatch(
            f"Uploaded content has sha256 {oid} and size {size}, "
            f"expected {expected_oid} and size {expected_size}"
        )


@dataclass
class S3BlobStore:
    """Objects at `<bucket prefix>/<root>/ab/cd/<oid>`; `tmp_dir` spools unknown uploads and
    `cache` keeps local copies for the readers that need a file (the viewer, git, inference)."""

    bucket: S3Store
    root: str
    tmp_dir: Path
    cache: ReadThroughCache
    remote = True
    _signer: Any = field(default=None, init=False, repr=False)  # boto3, made on first use

    def __post_init__(self) -> None:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def key(self, oid: str) -> str:
        """The object's key in the bucket (under the store's prefix)."""
        return _key(self.root, oid)

    @property
    def bucket_name(self) -> str:
        return str(self.bucket.config["bucket"])

    def bucket_path(self, key: str) -> str:
        """`key`, relative to the bucket URL as obstore takes it, as the bucket itself names it:
        the URL's prefix included (what clients that do not know the prefix, boto3, are given)."""
        prefix = self.bucket.prefix
        return f"{prefix}/{key}" if prefix else key

    def bucket_key(self, oid: str) -> str:
        """The object's whole key in the bucket."""
        return self.bucket_path(self.key(oid))

    def exists(self, oid: str) -> bool:
        return self.size(oid) is not None

    def size(self, oid: str) -> int | None:
        try:
            return int(obstore.head(self.bucket, _key(self.root, oid))["size"])
        except FileNotFoundError:
            return None

    def local_path(self, oid: str) -> Path | None:
        """None: the bytes are not on this machine's disk (see `cached_path`)."""
        return None

    def cached_path(self, oid: str) -> Path | None:
        return self.cache.path(oid, self) if self.exists(oid) else None

    def open(self, oid: str) -> BinaryIO:
        return io.BufferedReader(S3Reader(self.bucket, _key(self.root, oid)), STREAM_CHUNK)

    def writer(
        self, oid: str | None = None, size: int | None = None
    ) -> SpooledS3Writer | MultipartS3Writer:
        if oid is not None and is_sha256(oid):
            return MultipartS3Writer(self, oid, size)
        return SpooledS3Writer(self)

    def adopt(self, src: Path, oid: str) -> None:
        """Put an already-verified file at its key; an identical upload may have won the race."""
        key = _key(self.root, oid)
        try:
            if src.stat().st_size <= SINGLE_PUT_MAX:
                obstore.put(self.bucket, key, src, mode="create")
            elif not self.exists(oid):
                obstore.put(
                    self.bucket, key, src, chunk_size=PART_SIZE, max_concurrency=PART_CONCURRENCY
                )
        except AlreadyExistsError:
            pass
        src.unlink(missing_ok=True)

    def delete(self, oid: str) -> None:
        obstore.delete(self.bucket, _key(self.root, oid))
        self.cache.forget(oid)

    def download_url(self, oid: str, disposition: str | None = None) -> str | None:
        """A presigned GET (single ranges work; never hand it a multi-range request). With a
        `disposition` the URL asks S3 to answer with it (`response-content-disposition`, as
        HF's CDN URLs do), which obstore cannot sign: boto3 signs those."""
        if disposition is None:
            return str(obstore.sign(self.bucket, "GET", self.key(oid), PRESIGN_TTL))
        params = {"Bucket": self.bucket_name, "Key": self.bucket_key(oid),
                  "ResponseContentDisposition": disposition}  # fmt: skip
        expires = int(PRESIGN_TTL.total_seconds())
        if self._signer is None:
            self._signer = boto3_client()
        url: str = self._signer.generate_presigned_url("get_object", Params=params,
                                                       ExpiresIn=expires)  # fmt: skip
        return url


class S3Shelf:
    """Small named documents (Xet recipes) as objects, keyed by sha256."""

    def __init__(self, bucket: S3Store, root: str):
        self.bucket, self.root = bucket, root

    def read(self, oid: str) -> bytes | None:
        try:
            return bytes(obstore.get(self.bucket, _key(self.root, oid)).bytes())
        except FileNotFoundError:
            return None

    def write(self, oid: str, data: bytes) -> None:
        obstore.put(self.bucket, _key(self.root, oid), data)  # atomic: readers see all or nothing

    def delete(self, oid: str) -> None:
        obstore.delete(self.bucket, _key(self.root, oid))

    def claim(self, name: str, data: bytes) -> bytes:
        """`data` under `name` unless another replica got there first: theirs, then."""
        key = f"{self.root}/{name}"
        try:
            obstore.put(self.bucket, key, data, mode="create")
        except AlreadyExistsError:
            return bytes(obstore.get(self.bucket, key).bytes())
        return data

    def names(self) -> Iterator[str]:
        for batch in obstore.list(self.bucket, f"{self.root}/"):
            for meta in batch:
                name = meta["path"].rsplit("/", 1)[-1]
                if is_sha256(name):
                    yield name

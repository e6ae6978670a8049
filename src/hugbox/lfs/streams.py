"""LFS multipart parts that arrive in order also go on to a remote store's final key as they
are received, so the hub's upload to the bucket overlaps the client's upload to the hub.

The sparse file of `service.MultipartUpload` stays the record: a retried or out-of-order part,
a part that failed half-way, or a completion on another replica simply drops the stream, and
completion then falls back to hashing that file. The stream is completed only when its bytes
hash to the oid (the store's announced-oid writer checks), so the final key never holds
unverified bytes. Memory is bounded: a few streams at once, each buffering one batch here plus
the store's parts in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from hugbox.storage.blobs import BlobStore, BlobWriter

log = logging.getLogger(__name__)
BATCH = 8 * 1024 * 1024  # bytes handed to the store per thread hop
MAX_STREAMS = 4  # concurrent streamed uploads per process; more go through the file only
IDLE_AFTER = 600.0  # seconds without a part after which a stream is given up


@dataclass
class PartStream:
    writer: BlobWriter
    size: int
    next_offset: int = 0  # bytes fed so far, in order
    busy: bool = False  # a part is being received
    broken: bool = False  # another part came meanwhile or out of order: drop at release
    touched: float = field(default_factory=time.monotonic)
    _batch: bytearray = field(default_factory=bytearray)

    async def feed(self, chunk: bytes) -> None:
        self._batch += chunk
        self.next_offset += len(chunk)
        if len(self._batch) >= BATCH:
            await self.flush()

    async def flush(self) -> None:
        if self._batch:
            data, self._batch = bytes(self._batch), bytearray()
            await run_in_threadpool(self.writer.write, data)


class PartStreams:
    """The streamed multipart uploads of one process, by oid."""

    def __init__(self) -> None:
        self._open: dict[str, PartStream] = {}
        self._lock = threading.Lock()

    def claim(self, blobs: BlobStore, oid: str, size: int, offset: int) -> PartStream | None:
        """The stream a part at `offset` continues (a new one for the first part), or None."""
        with self._lock:
            self._drop_idle()
            found = self._open.get(oid)
            if found is not None and (found.busy or found.next_offset != offset):
                # A retry, a part out of order or in parallel: the file takes over. A stream
                # being written to is aborted by its own request, at release.
                found.broken = True
                if not found.busy:
                    self._drop(oid)
                return None
            if found is None:
                if offset != 0 or not blobs.remote or len(self._open) >= MAX_STREAMS:
                    return None
                found = self._open[oid] = PartStream(blobs.writer(oid, size), size)
            found.busy, found.touched = True, time.monotonic()
            return found

    def release(self, oid: str, stream: PartStream, ok: bool) -> None:
        """After a part: a stream that failed or broke meanwhile is aborted."""
        with self._lock:
            stream.busy = False
            if ok and not stream.broken:
                return
            if self._open.get(oid) is stream:
                del self._open[oid]
        stream.writer.abort()

    def take(self, oid: str) -> PartStream | None:
        """The stream for completion, if it holds every byte (else it is dropped)."""
        with self._lock:
            stream = self._open.pop(oid, None)
            if stream is not None and stream.busy:
                stream.broken = True  # its part's request aborts it
                return None
        if stream is not None and stream.next_offset != stream.size:
            stream.writer.abort()
            return None
        return stream

    def _drop(self, oid: str) -> None:
        """Abort an idle stream (under the lock)."""
        stream = self._open.pop(oid, None)
        if stream is not None:
            stream.writer.abort()

    def _drop_idle(self) -> None:
        now = time.monotonic()
        idle = [o for o, s in self._open.items() if not s.busy and now - s.touched > IDLE_AFTER]
        for oid in idle:
            log.info("multipart upload of %s idle: its stream to the store is aborted", oid)
            self._drop(oid)


async def tee(body: AsyncIterator[bytes], stream: PartStream | None) -> AsyncIterator[bytes]:
    """The part's chunks, fed to `stream` on the way."""
    async for chunk in body:
        if stream is not None:
            await stream.feed(chunk)
        yield chunk
    if stream is not None:
        await stream.flush()

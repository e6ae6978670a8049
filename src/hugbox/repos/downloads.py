"""HTTP responses for file downloads: every header HF clients read, Range/206/416, no buffering."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

from fastapi import Request, Response
from starlette.responses import FileResponse, StreamingResponse

from hugbox.repos.content import RepoFile
from hugbox.storage.blobs import BlobStore


class BlobFileResponse(FileResponse):
    # Bigger reads than Starlette's 64 KiB default: fewer thread hops per GiB served.
    chunk_size = 1024 * 1024


def file_headers(file: RepoFile, commit: str, *, attachment: bool = False) -> dict[str, str]:
    """`attachment`: the browser saves the file rather than shows it (`?download=true`)."""
    disposition = "attachment" if attachment else "inline"
    headers = {
        "X-Repo-Commit": commit,
        "ETag": f'"{file.lfs.oid if file.lfs else file.blob_id}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{_quote_name(file.path)}",
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if file.lfs:
        headers["X-Linked-Etag"] = f'"{file.lfs.oid}"'
        headers["X-Linked-Size"] = str(file.lfs.size)
    return headers


def _quote_name(path: str) -> str:
    return quote(path.rsplit("/", 1)[-1], safe="")


def blob_response(
    request: Request, blobs: BlobStore, oid: str, headers: dict[str, str], *, redirect: bool
) -> Response | None:
    """A large file's bytes: a redirect to the bucket when `redirect` and the store can sign
    one, from its file when the store has one (sendfile, Range by Starlette), else read through
    the store as they are sent (a Xet recipe, decoded on the way); None when the store does not
    hold it."""
    # A multi-range request stays here: S3 servers answer one wrongly (RGW: the first range).
    multi_range = "," in request.headers.get("range", "")
    disposition = headers.get("Content-Disposition")  # the bucket answers with the file's name
    if redirect and not multi_range and (url := blobs.download_url(oid, disposition)) is not None:
        return redirect_response(url, headers)
    path = blobs.local_path(oid)
    if path is not None and request.method == "HEAD" and "range" not in request.headers:
        return _head_response(path, headers)
    if path is not None:
        # Stat here, in the caller's thread: the response would take a thread-pool hop for it.
        return BlobFileResponse(
            path, headers=headers, media_type="application/octet-stream", stat_result=path.stat()
        )
    total = blobs.size(oid)
    return None if total is None else _read_response(request, blobs, oid, total, headers)


def redirect_response(url: str, headers: dict[str, str]) -> Response:
    """A 302 to the bytes elsewhere, as huggingface.co answers with its CDN: clients read the
    file's metadata (X-Repo-Commit, X-Linked-Etag, X-Linked-Size) from the redirect itself and
    follow it without their token (another host), sending their single Range there."""
    kept = {k: v for k, v in headers.items() if k not in ("Accept-Ranges", "Content-Disposition")}
    return Response(status_code=302, headers={**kept, "Location": url})


def _head_response(path: Path, headers: dict[str, str]) -> Response:
    """The HEAD of a stored file without a Range: the headers `BlobFileResponse` would send, in
    its order, without its machinery (a sixth of the HEAD's time on the event loop)."""
    stat = path.stat()
    headers = {
        **headers,
        "content-type": "application/octet-stream",
        "content-length": str(stat.st_size),
        "last-modified": formatdate(stat.st_mtime, usegmt=True),
    }
    return Response(headers=headers)


def _read_response(
    request: Request, blobs: BlobStore, oid: str, total: int, headers: dict[str, str]
) -> Response:
    span = _single_range(request.headers.get("range"), total)
    if span is UNSATISFIABLE:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{total}"})
    start, end = span or (0, total)
    headers = {**headers, "Accept-Ranges": "bytes", "Content-Length": str(end - start)}
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
    status = 206 if span is not None else 200
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    body = _read_blob(blobs, oid, start, end)
    return StreamingResponse(body, status, headers, media_type="application/octet-stream")


def _read_blob(blobs: BlobStore, oid: str, start: int, end: int) -> Iterator[bytes]:
    with blobs.open(oid) as handle:
        handle.seek(start)
        while start < end:
            data = handle.read(min(BlobFileResponse.chunk_size, end - start))
            if not data:
                raise OSError(f"object {oid} ended before its size")
            start += len(data)
            yield data


def bytes_response(request: Request, data: bytes, headers: dict[str, str]) -> Response:
    """A small (git-stored) file, with single-range support."""
    total = len(data)
    span = _single_range(request.headers.get("range"), total)
    if span is UNSATISFIABLE:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{total}"})
    if span is None:
        return Response(data, headers=headers, media_type="application/octet-stream")
    start, end = span
    headers = {**headers, "Content-Range": f"bytes {start}-{end - 1}/{total}"}
    return Response(
        data[start:end], status_code=206, headers=headers, media_type="application/octet-stream"
    )


def size_response(size: int, headers: dict[str, str]) -> Response:
    """The HEAD of a small (git-stored) file without a Range: what `bytes_response` would send,
    without reading the file."""
    headers = {**headers, "content-length": str(size)}
    return Response(headers=headers, media_type="application/octet-stream")


UNSATISFIABLE = (-1, -1)


def _single_range(header: str | None, total: int) -> tuple[int, int] | None:
    """(start, end) of a single `bytes=` range; None to send it all; UNSATISFIABLE for 416."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if first == "":
            start, end = max(0, total - int(last)), total
        else:
            start = int(first)
            end = min(int(last) + 1, total) if last else total
    except ValueError:
        return None
    if start >= total or start >= end:
        return UNSATISFIABLE
    return start, end

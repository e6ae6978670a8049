"""HTTP responses for file downloads: every header HF clients read, Range/206/416, no buffering."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Request, Response
from starlette.responses import FileResponse

from hugbox.repos.content import RepoFile


class BlobFileResponse(FileResponse):
    # Bigger reads than Starlette's 64 KiB default: fewer thread hops per GiB served.
    chunk_size = 1024 * 1024


def file_headers(file: RepoFile, commit: str) -> dict[str, str]:
    headers = {
        "X-Repo-Commit": commit,
        "ETag": f'"{file.lfs.oid if file.lfs else file.blob_id}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"inline; filename*=UTF-8''{_quote_name(file.path)}",
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if file.lfs:
        headers["X-Linked-Etag"] = f'"{file.lfs.oid}"'
        headers["X-Linked-Size"] = str(file.lfs.size)
    return headers


def _quote_name(path: str) -> str:
    return quote(path.rsplit("/", 1)[-1], safe="")


def lfs_response(path: Path, headers: dict[str, str]) -> Response:
    return BlobFileResponse(path, headers=headers, media_type="application/octet-stream")


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

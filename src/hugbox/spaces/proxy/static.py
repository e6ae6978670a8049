"""Static spaces: files under the space's root, never outside it (no `..`, no symlinks out)."""

from __future__ import annotations

import asyncio
import mimetypes
from email.utils import parsedate
from pathlib import Path
from urllib.parse import unquote

from starlette.datastructures import Headers
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import NotModifiedResponse

from hugbox.errors import HubError, NotFound

# The types that matter to browsers, not left to the host's /etc/mime.types.
_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".css": "text/css", ".js": "text/javascript",
    ".mjs": "text/javascript", ".json": "application/json", ".svg": "image/svg+xml",
    ".wasm": "application/wasm", ".txt": "text/plain", ".md": "text/markdown",
}  # fmt: skip
# Repo internals a checkout may hold: never served, even though they are under the root.
_HIDDEN = frozenset({".", "..", ".git"})


class MethodNotAllowed(HubError):
    status_code = 405
    default_message = "A static space only answers GET and HEAD"


async def static_response(
    *, root: Path, index_file: str, rest: str, method: str, headers: Headers, url_path: str
) -> Response:
    """The answer to `rest` (the raw path under the space's prefix, starting with `/`)."""
    if method not in ("GET", "HEAD"):
        raise MethodNotAllowed(headers={"Allow": "GET, HEAD"})
    found = await asyncio.to_thread(find_file, root, rest, index_file)
    if found is None:
        raise NotFound("No such file in this space")
    if found.is_dir():  # relative links in its index need the slash
        return RedirectResponse(url_path + "/", status_code=307)
    response = FileResponse(found, media_type=_media_type(found), stat_result=found.stat())
    response.headers["Cache-Control"] = "no-cache"  # a push may change any file: revalidate
    response.headers["X-Content-Type-Options"] = "nosniff"
    if _not_modified(headers, response):
        return NotModifiedResponse(response.headers)
    return response


def find_file(root: Path, rest: str, index_file: str) -> Path | None:
    """The file `rest` names; a directory when `rest` names one without the trailing slash."""
    parts = unquote(rest).split("/")
    if any(part in _HIDDEN or "\\" in part or "\0" in part for part in parts):
        return None
    base = root.resolve()
    target = _inside(base, base.joinpath(*(part for part in parts if part)))
    if target is not None and target.is_dir():
        if not rest.endswith("/"):
            return target
        target = _inside(base, target / index_file)
    return target if target is not None and target.is_file() else None


def _inside(base: Path, path: Path) -> Path | None:
    """`path` with its symlinks resolved, if it exists and stays under `base`."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    return resolved if resolved.is_relative_to(base) else None


def _media_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _not_modified(request: Headers, response: FileResponse) -> bool:
    if if_none_match := request.get("if-none-match"):
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or response.headers["etag"] in tags
    since = parsedate(request.get("if-modified-since", ""))
    modified = parsedate(response.headers["last-modified"])
    return since is not None and modified is not None and since >= modified

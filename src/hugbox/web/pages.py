"""The site's own pages (home, static files) and `install`, which wires the web UI into the app."""

from __future__ import annotations

import functools
import mimetypes
import re
from collections.abc import Iterable

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse

from hugbox.errors import HubError, NotFound
from hugbox.web import templates

router = APIRouter(tags=["pages"])
STATIC_DIR = templates.TEMPLATES_DIR.parent / "static"
_STATIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@functools.lru_cache(maxsize=64)
def _static(name: str) -> bytes | None:
    path = STATIC_DIR / name
    return path.read_bytes() if _STATIC_NAME.match(name) and path.is_file() else None


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    data = _static(name)
    if data is None:
        raise NotFound(f"No static file {name!r}")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(data, media_type=media_type, headers=headers)


def render_error_page(request: Request, error: HubError) -> HTMLResponse | None:
    return templates.error_page(request, error) if templates.wants_html(request) else None


def install(app: FastAPI, *, secret: bytes, domain_pages: Iterable[APIRouter]) -> None:
    """Pages come after the API routes: `/{namespace}/{name}` must not shadow them. The domains'
    page routers are included in the order given: the first route that matches wins."""
    app.state.web_secret = secret
    app.state.render_error_page = render_error_page
    for page_router in (router, *domain_pages):
        app.include_router(page_router)

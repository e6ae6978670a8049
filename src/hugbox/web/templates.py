"""Rendering pages: the Jinja2 environment, its filters, security headers, the error page."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hugbox.errors import HubError, RepoNotFound
from hugbox.requestid import current_request_id
from hugbox.urls import base_url
from hugbox.web import session as web_session

TEMPLATES_DIR = Path(__file__).parent / "templates"

# Scripts and styles come only from our own files: no inline script can run, whatever a
# model card manages to smuggle past the sanitiser.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def filesize(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover


def timeago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = (datetime.now(UTC) - moment.replace(tzinfo=moment.tzinfo or UTC)).total_seconds()
    for size, unit in ((31536000, "year"), (2592000, "month"), (86400, "day"), (3600, "hour"),
                       (60, "minute")):  # fmt: skip
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def compact(number: int) -> str:
    if number < 1000:
        return str(number)
    if number < 1_000_000:
        return f"{number / 1000:.1f}k".replace(".0k", "k")
    return f"{number / 1_000_000:.1f}M".replace(".0M", "M")


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        filesize=filesize, timeago=timeago, compact=compact, urlquote=lambda s: quote(s, safe="/")
    )
    return env


# What a page needs from a part this layer does not know (the repo header's tabs, for one): each
# part lists a function in `app.state.page_context` at wiring time, and it adds to the context
# of the pages it concerns.
ContextProcessor = Callable[[Request, dict[str, Any]], None]


def _context_processors(request: Request) -> Sequence[ContextProcessor]:
    state = getattr(request.scope.get("app"), "state", None)
    return getattr(state, "page_context", ())


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    for add_context in _context_processors(request):
        add_context(request, context)
    page = (
        environment()
        .get_template(template)
        .render(
            request=request,
            user=getattr(request.state, "viewer", None),
            csrf_token=web_session.csrf_token(request),
            path=request.url.path,
            **context,
        )
    )
    response = HTMLResponse(page, status_code=status_code, headers=_headers(context))
    web_session.finish_cookies(request, response)
    return response


def _headers(context: dict[str, Any]) -> dict[str, str]:
    """A page that embeds another origin (a space's app) names it in `frame_src`."""
    frame_src = context.get("frame_src")
    if not frame_src:
        return PAGE_HEADERS
    return {**PAGE_HEADERS, "Content-Security-Policy": f"{CSP}; frame-src {frame_src}"}


def wants_html(request: Request) -> bool:
    """Page routes answer errors with a page; unmatched GETs do so when a browser asks."""
    route = request.scope.get("route")
    if route is not None:
        return "pages" in (getattr(route, "tags", None) or [])
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "text/html" in accept


_TITLES = {401: "Log in to see this", 403: "Not allowed", 404: "Not found", 429: "Slow down"}


def _same_site_referer(request: Request) -> str | None:
    """Where the person came from (a form, say), when it is a page of this site."""
    referer = request.headers.get("referer", "")
    return referer if referer.startswith(base_url(request) + "/") else None


def error_page(request: Request, error: HubError) -> HTMLResponse:
    """The HTML face of the one error handler: same error, same headers, a way back."""
    status = error.status_code
    if isinstance(error, RepoNotFound):
        status = 404  # a private repo and a missing one look the same, logged in or not
    response = render(
        request,
        "error.html",
        status_code=status,
        title=_TITLES.get(status, "Something went wrong"),
        message=error.message,
        status=status,
        request_id=current_request_id(),
        back=_same_site_referer(request),
    )
    for key, value in error.headers.items():
        if key.lower() not in ("www-authenticate", "lfs-authenticate"):
            response.headers[key] = value
    return response

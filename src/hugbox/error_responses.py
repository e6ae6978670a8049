"""The one handler that renders the error tree (`hugbox.errors`) the way HF clients parse
errors, for HubError, framework errors and crashes alike.

Every error carries `X-Error-Message` and `X-Request-Id` headers (HEAD answers have no body, so
headers are the only channel there) and, where clients branch on it, `X-Error-Code`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from hugbox.errors import BadRequest, HubError, Redirect
from hugbox.names import CONTROL_CHARACTERS
from hugbox.requestid import current_request_id
from hugbox.urls import base_url
from hugbox.wire import WireModel

log = logging.getLogger(__name__)


class ErrorBody(WireModel):
    """What an error sends (HEAD answers aside): the message, and what clients read beside it."""

    error: str
    url: str | None = None  # RepoExists: the existing repo, for create_repo(exist_ok=True)


def _header_safe(text: str) -> str:
    # Header values must be latin-1 and single-line; a control character in one makes uvicorn
    # drop the connection without an answer, so each is shown as its escape instead.
    flat = CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", " ".join(text.split()))
    return flat.encode("latin-1", "replace").decode("latin-1")[:1000]


def _body_safe(text: str) -> str:
    # A lone surrogate cannot be encoded as UTF-8: the JSON body would fail to render.
    return text.encode("utf-8", "replace").decode("utf-8")


def error_response(request: Request, error: HubError) -> Response:
    headers = {**error.headers, "X-Request-Id": current_request_id()}
    if isinstance(error, Redirect):
        return Response(status_code=error.status_code, headers=headers)
    page = _error_page(request, error)
    if page is not None:  # pages get the same error as HTML (see hugbox.web.templates)
        page.headers["X-Error-Message"] = _header_safe(error.message)
        if error.error_code:  # a script or test tells the errors apart as a client does
            page.headers["X-Error-Code"] = error.error_code
        return page
    headers["X-Error-Message"] = _header_safe(error.message)
    if error.error_code:
        headers["X-Error-Code"] = error.error_code
    if error.status_code == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="hugbox"')
    if request.method == "HEAD":
        return Response(status_code=error.status_code, headers=headers)
    body = {"error": _body_safe(error.message), **error.extra_body(base_url(request))}
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def _error_page(request: Request, error: HubError) -> Response | None:
    app = request.scope.get("app")
    render: Callable[[Request, HubError], Response | None] | None = getattr(
        getattr(app, "state", None), "render_error_page", None
    )
    if render is None or request.method == "HEAD":
        return None
    return render(request, error)


def install_error_handlers(app: FastAPI) -> None:
    """Render HubError, framework errors and crashes the same way."""

    async def on_hub_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HubError)
        return error_response(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(request, BadRequest(f"Invalid request: {where}: {first.get('msg')}"))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error = HubError(str(exc.detail))
        error.status_code = exc.status_code
        return error_response(request, error)

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = HubError("Internal error; the request id in X-Request-Id identifies it in the logs")
        error.status_code = 500
        return error_response(request, error)

    app.add_exception_handler(HubError, on_hub_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_crash)

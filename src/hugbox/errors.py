"""The one error tree, and the one handler that renders it the way HF clients parse errors.

Every error carries `X-Error-Message` and `X-Request-Id` headers (HEAD answers have no body, so
headers are the only channel there) and, where clients branch on it, `X-Error-Code`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from hugbox.requestid import current_request_id
from hugbox.urls import base_url

log = logging.getLogger(__name__)


class HubError(Exception):
    """Base of every error a client may see. Subclasses set the status and the error code."""

    status_code: int = 400
    error_code: str | None = None
    default_message: str = "Bad request"

    def __init__(self, message: str | None = None, *, headers: Mapping[str, str] | None = None):
        self.message = message or self.default_message
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def extra_body(self, base_url: str) -> dict[str, Any]:
        """Fields clients read beside `error` (most errors have none)."""
        return {}


class BadRequest(HubError):
    status_code = 400


class InvalidCredentials(HubError):
    status_code = 401
    default_message = "Invalid credentials in Authorization header"


class AuthenticationRequired(HubError):
    status_code = 401
    default_message = "Authentication required: pass a token with `Authorization: Bearer hf_...`"


class Forbidden(HubError):
    status_code = 403
    default_message = "You don't have the rights to do this"


class RepoNotFound(HubError):
    """A missing repo, or one the caller may not see: the two must look the same."""

    error_code = "RepoNotFound"
    default_message = "Repository not found"

    def __init__(self, *, anonymous: bool, headers: Mapping[str, str] | None = None):
        # Anonymous callers get 401 so clients know that a token might help.
        self.status_code = 401 if anonymous else 404
        super().__init__(headers=headers)


class GatedRepo(HubError):
    error_code = "GatedRepo"

    def __init__(self, *, repo_id: str, repo_type: str, anonymous: bool, repo_url: str):
        self.status_code = 401 if anonymous else 403
        if anonymous:
            message = (
                f"Access to {repo_type} {repo_id} is restricted. You must have access to it "
                "and be authenticated to access it. Please log in."
            )
        else:
            message = (
                f"Access to {repo_type} {repo_id} is restricted and you are not in the authorized "
                f"list. Visit {repo_url} to ask for access."
            )
        super().__init__(message)


class DisabledRepo(HubError):
    status_code = 403
    default_message = "Access to this resource is disabled."


class RevisionNotFound(HubError):
    status_code = 404
    error_code = "RevisionNotFound"

    def __init__(self, revision: str):
        super().__init__(f"Invalid rev id: {revision}")


class EntryNotFound(HubError):
    status_code = 404
    error_code = "EntryNotFound"
    default_message = "Entry not found"

    def __init__(self, message: str | None = None, *, commit: str | None = None):
        # X-Repo-Commit lets clients cache the miss (transformers relies on it).
        super().__init__(message, headers={"X-Repo-Commit": commit} if commit else None)


class NotFound(HubError):
    status_code = 404
    default_message = "Not found"


class Conflict(HubError):
    status_code = 409
    default_message = "Conflict"


class RepoExists(Conflict):
    """Create on an existing repo: clients (`exist_ok=True`) read its `url` from the body."""

    def __init__(self, *, repo_type: str, url_path: str):
        super().__init__(f"You already created this {repo_type} repo")
        self.url_path = url_path

    def extra_body(self, base_url: str) -> dict[str, Any]:
        return {"url": f"{base_url}/{self.url_path}"}


class PreconditionFailed(HubError):
    status_code = 412
    default_message = (
        "The branch was updated since you opened this page. Please refresh and try again."
    )


class PayloadTooLarge(HubError):
    status_code = 413
    default_message = "Payload too large"


class UnprocessableEntity(HubError):
    status_code = 422


class UriTooLong(HubError):
    status_code = 414
    default_message = "URI too long"


class HeaderFieldsTooLarge(HubError):
    status_code = 431
    default_message = "Request header fields too large"


class ServiceUnavailable(HubError):
    status_code = 503
    default_message = "Service unavailable"


class TooManyRequests(HubError):
    status_code = 429
    default_message = "Too many requests"


class Redirect(HubError):
    """Not a failure: a moved repo answers its old id with a redirect to the new one."""

    status_code = 307

    def __init__(self, location: str):
        super().__init__("Moved", headers={"Location": location})


# Messages echo what the client sent; a control character in a header value makes uvicorn drop
# the connection without an answer, so each one is shown as its escape instead.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1


def _header_safe(text: str) -> str:
    # Header values must be latin-1 and single-line.
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

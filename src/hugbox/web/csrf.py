"""CSRF tokens bound to the browser session, and the cookie + header credential of our scripts.

Kept free of request dependencies so that `hugbox.deps.bearer_token` can use it.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

SESSION_COOKIE = "hugbox_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def web_secret(request: Request) -> bytes | None:
    app = request.scope.get("app")
    secret: bytes | None = getattr(getattr(app, "state", None), "web_secret", None)
    return secret


def csrf_for(secret: bytes, basis: str) -> str:
    return hmac.new(secret, b"csrf\n" + basis.encode(), hashlib.sha256).hexdigest()[:40]


def api_token(request: Request) -> str | None:
    """The session's token for API calls made by our own scripts: the cookie counts only with
    the page's CSRF token in `X-CSRF-Token`, which another site can neither read nor send."""
    token = request.cookies.get(SESSION_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    secret = web_secret(request)
    if not token or not sent or secret is None:
        return None
    return token if hmac.compare_digest(sent, csrf_for(secret, token)) else None

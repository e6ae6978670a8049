"""What every page form and cookie needs: CSRF tokens bound to the session (or to a random
per-browser cookie), checked forms, and the cookies a response must set or drop.

Who is logged in is auth's business (`hugbox.auth.sessions`). Scripts on our pages reach the
JSON and inference APIs with the session cookie plus an `X-CSRF-Token` header, which another
site can neither read nor send.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from hugbox.errors import Forbidden
from hugbox.urls import base_url
from hugbox.web.csrf import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, csrf_for, web_secret

ANON_COOKIE = "hugbox_anon"


def _basis(request: Request) -> str:
    """What the CSRF token is bound to: the session, else a random per-browser cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and not getattr(request.state, "logged_out", False):
        return token
    anon: str | None = getattr(request.state, "anon_id", None) or request.cookies.get(ANON_COOKIE)
    if not anon:
        anon = secrets.token_urlsafe(24)
        request.state.anon_id = anon
    return anon


def csrf_token(request: Request) -> str:
    secret = web_secret(request)
    assert secret is not None
    return csrf_for(secret, _basis(request))


async def checked_form(request: Request) -> AsyncIterator[FormData]:
    """The POSTed form, once its CSRF token is checked (every page form carries one); its
    uploaded files are closed after the handler."""
    form = await request.form()
    try:
        sent = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
        if not hmac.compare_digest(sent, csrf_token(request)):
            raise Forbidden("This form has expired or came from another site: reload and try again")
        yield form
    finally:
        await form.close()


CheckedForm = Annotated[FormData, Depends(checked_form)]


def is_https(request: Request) -> bool:
    """Served over https: as this request came, or as the configured public URL says (a proxy
    that terminates TLS talks plain http to us)."""
    return base_url(request).startswith("https://") or request.url.scheme == "https"


def finish_cookies(request: Request, response: Response) -> None:
    """Set the per-browser CSRF cookie made during this request; drop a dead session."""
    secure = is_https(request)
    anon = getattr(request.state, "anon_id", None)
    if anon and request.cookies.get(ANON_COOKIE) != anon:
        response.set_cookie(
            ANON_COOKIE, anon, httponly=True, samesite="lax", secure=secure, path="/"
        )
    if getattr(request.state, "logged_out", False):
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")

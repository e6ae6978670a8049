"""Browser sessions: the login cookie, CSRF checks on forms, and the login rate limit.

A login creates an ordinary access token (named `web session`) whose plain text lives only in
an HttpOnly cookie: logging out deletes it, and every service sees a normal caller. Scripts on
our pages reach the JSON and inference APIs with that cookie plus an `X-CSRF-Token` header,
which another site can neither read nor send.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from hugbox.auth.service import ANONYMOUS, Caller, authenticate
from hugbox.deps import SessionDep
from hugbox.errors import Forbidden, InvalidCredentials, TooManyRequests
from hugbox.urls import base_url
from hugbox.web.csrf import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, csrf_for, web_secret

ANON_COOKIE = "hugbox_anon"
SESSION_TOKEN_NAME = "web session"  # noqa: S105 - a token's display name, not a secret
SESSION_MAX_AGE = timedelta(days=14)


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


def page_caller(request: Request, session: SessionDep) -> Caller:
    """The logged-in user of a page; a stale or expired cookie counts as logged out."""
    token = request.cookies.get(SESSION_COOKIE)
    caller = ANONYMOUS
    if token:
        try:
            caller = authenticate(session, token)
        except InvalidCredentials:
            caller = ANONYMOUS
        if caller.token is not None and not _live_session(caller):
            caller = ANONYMOUS
        if caller.anonymous:
            request.state.logged_out = True
    # Error pages render after the transaction is gone: they get a copy, not the ORM row.
    request.state.viewer = Viewer(caller.user.name) if caller.user else None
    request.state.caller = caller  # what the repo header may offer (its Settings tab)
    return caller


@dataclass(frozen=True)
class Viewer:
    """Who the page header shows as logged in."""

    name: str


def _live_session(caller: Caller) -> bool:
    token = caller.token
    assert token is not None
    created = token.created_at.replace(tzinfo=token.created_at.tzinfo or UTC)
    return token.name == SESSION_TOKEN_NAME and datetime.now(UTC) - created < SESSION_MAX_AGE


PageCaller = Annotated[Caller, Depends(page_caller)]


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


def _https(request: Request) -> bool:
    """Served over https: as this request came, or as the configured public URL says (a proxy
    that terminates TLS talks plain http to us)."""
    return base_url(request).startswith("https://") or request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_MAX_AGE.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_https(request),
        path="/",
    )


def finish_cookies(request: Request, response: Response) -> None:
    """Set the per-browser CSRF cookie made during this request; drop a dead session."""
    secure = _https(request)
    anon = getattr(request.state, "anon_id", None)
    if anon and request.cookies.get(ANON_COOKIE) != anon:
        response.set_cookie(
            ANON_COOKIE, anon, httponly=True, samesite="lax", secure=secure, path="/"
        )
    if getattr(request.state, "logged_out", False):
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


class LoginLimiter:
    """At most `attempts` failed logins per client address and per user name in `window` s."""

    def __init__(self, attempts: int = 10, window: float = 300.0):
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            if any(len(self._recent(k, now)) >= self.attempts for k in keys):
                raise TooManyRequests("Too many failed logins: wait a few minutes and try again")

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a spray of names
                self._failures.clear()

"""Browser sessions: who is logged in on a page, the login cookie, and the login rate limit.

A login creates an ordinary access token (named `web session`) whose plain text lives only in
an HttpOnly cookie: logging out deletes it, and every service sees a normal caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from limits.storage import Storage

from hugbox.auth.models import SESSION_TOKEN_NAME
from hugbox.auth.service import ANONYMOUS, Caller, authenticate
from hugbox.deps import SessionDep
from hugbox.errors import InvalidCredentials, TooManyRequests
from hugbox.ratelimit import RateLimit
from hugbox.web.csrf import SESSION_COOKIE
from hugbox.web.session import is_https

SESSION_MAX_AGE = timedelta(days=14)


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


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_MAX_AGE.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


class LoginLimiter:
    """At most `attempts` failed logins per client address and per user name in `window` s,
    counted where `storage` keeps them (every replica's, when that is Redis: hugbox.ratelimit)."""

    def __init__(self, storage: Storage, attempts: int = 10, window: float = 300.0):
        self.limit = RateLimit(storage, "login-failures", attempts=attempts, window=window)

    def check(self, *keys: str) -> None:
        if not all(self.limit.allows(key) for key in keys):
            raise TooManyRequests("Too many failed logins: wait a few minutes and try again")

    def fail(self, *keys: str) -> None:
        for key in keys:
            self.limit.hit(key)

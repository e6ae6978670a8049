"""Request-scoped dependencies shared by every domain's handlers."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hugbox.auth.service import Caller, authenticate
from hugbox.db import Database
from hugbox.repos.store import RepoStore
from hugbox.settings import Settings
from hugbox.urls import base_url
from hugbox.web import csrf as web_csrf


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> RepoStore:
    store: RepoStore = request.app.state.store
    return store


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed after the handler returns, rolled back on error."""
    database: Database = request.app.state.database
    with database.session() as session:
        yield session


def bearer_token(request: Request) -> str | None:
    """The token from `Authorization: Bearer …`, or from Basic auth (git sends the token as
    the password, with any user name)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    # Our pages' scripts: the session cookie, with the page's CSRF token as a header.
    return web_csrf.api_token(request) if not header else None


# scope="function": the transaction commits before the response is sent. With FastAPI's
# default ("request") it commits after, and a client's next request could miss its own write.
_Session = Annotated[Session, Depends(get_session, scope="function")]


def get_caller(request: Request, session: _Session) -> Caller:
    return authenticate(session, bearer_token(request))


SessionDep = _Session
CallerDep = Annotated[Caller, Depends(get_caller)]
StoreDep = Annotated[RepoStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BaseUrlDep = Annotated[str, Depends(base_url)]

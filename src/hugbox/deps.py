"""Request-scoped dependencies shared by every domain's handlers.

FastAPI runs each sync (`def`) dependency in the thread pool, one hop per dependency, and under
load each hop costs as much as a small handler. So lookups on the app are `async def`, the
session is opened without a hop, and a repo loader authenticates and finds the repo in one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Annotated, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hugbox.auth.service import Caller, authenticate
from hugbox.db import Database
from hugbox.loop import LeaveLoop
from hugbox.repos.store import RepoStore
from hugbox.settings import Settings
from hugbox.urls import base_url
from hugbox.web import csrf as web_csrf


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _settings(request: Request) -> Settings:
    return get_settings(request)


def get_store(request: Request) -> RepoStore:
    store: RepoStore = request.app.state.store
    return store


async def _store(request: Request) -> RepoStore:
    return get_store(request)


async def _base_url(request: Request) -> str:
    return base_url(request)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed after the handler returns, rolled back on error.
    The connection is taken on first use, so opening needs no thread; closing takes one unless
    it does no I/O (`Database.ends_without_io`)."""
    database: Database = request.app.state.database
    session = database.open_session()
    try:
        with database.lost_race_is_conflict():
            yield session
    except BaseException:
        await _close(database, session, commit=False)
        raise
    await _close(database, session, commit=True)


async def _close(database: Database, session: Session, *, commit: bool) -> None:
    if database.ends_without_io(session):  # a request that only read, from SQLite
        database.close_session(session, commit=commit)
        return
    # Outside the pool's limit, as FastAPI closes sync dependencies: were every pool thread
    # waiting for a database connection, the close that frees one would wait for a thread.
    close = partial(database.close_session, session, commit=commit)
    await anyio.to_thread.run_sync(close, limiter=anyio.CapacityLimiter(1))


# As many as anyio's default thread limiter, which the other routes' hops share.
READ_THREADS = 40
T = TypeVar("T")


def read_threads() -> ThreadPoolExecutor:
    """The threads of `run_read`; the app shuts them down when it stops."""
    return ThreadPoolExecutor(READ_THREADS, thread_name_prefix="hugbox-read")


async def run_read(request: Request, call: Callable[[], T]) -> T:
    """`call()`, the reads of the most frequent calls (repo info, each file's HEAD and GET):
    on the event loop itself where the database allows (SQLite: `Database.reads_on_loop`) and
    `call` does not leave it (`hugbox.loop.LeaveLoop`), else in a thread. Their reads cost
    less than the hop would: its own work, and the read threads contending with the loop for
    the GIL. `call` must only read: a write may wait for another writer's lock."""
    database: Database = request.app.state.database
    if database.reads_on_loop:
        try:
            return call()
        except LeaveLoop:
            pass  # longer work than the loop may do (a cold cache): again, in a thread
    return await in_read_thread(request, call)


async def in_read_thread(request: Request, call: Callable[[], T]) -> T:
    """`call()` in a thread of the app's own executor: its hop costs a third of anyio's
    (cancel scope, limiter, backend lookups). As anyio does, `call` sees the request's context
    (its request id); a cancelled request lets it finish (it holds no lock the loop waits on)."""
    executor: ThreadPoolExecutor = request.app.state.read_threads
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(executor, context.run, call)


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


def caller_of(request: Request, session: Session) -> Caller:
    """The caller the request's credentials stand for, authenticated on first use (blocking:
    call it from a thread). A repo loader and the handler may both ask; the database is asked
    once. Pages have their own caller (the login cookie), kept apart in `state.caller`."""
    caller: Caller | None = getattr(request.state, "bearer_caller", None)
    if caller is None:
        caller = request.state.bearer_caller = authenticate(session, bearer_token(request))
        # The access line's name, read now: a refusal's rollback expires the account row.
        request.state.user_name = caller.user.name if caller.user else None
    return caller


async def get_caller(request: Request, session: _Session) -> Caller:
    caller: Caller | None = getattr(request.state, "bearer_caller", None)
    return caller if caller is not None else await run_in_threadpool(caller_of, request, session)


SessionDep = _Session
CallerDep = Annotated[Caller, Depends(get_caller)]
StoreDep = Annotated[RepoStore, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
BaseUrlDep = Annotated[str, Depends(_base_url)]

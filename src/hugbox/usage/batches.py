"""Counts noted on the request path and written off it: a `Batch` only adds to a dict in this
process's memory; a task writes every batch once a second, each in its own transaction, so
that every hub process adds its counts to the same rows (the database is what replicas share).

Downloads and requests are both counted this way (`usage/downloads.py`, `usage/requests.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hugbox.db import Database
from hugbox.wiring import Wiring

log = logging.getLogger(__name__)
FLUSH_SECONDS = 1.0
K = TypeVar("K", bound=Hashable)
# Writes a batch's counts in the session's transaction; returns how many counted.
Write = Callable[[Session, Counter[K]], int]


class Batch(Generic[K]):
    """What this process counted and has not written yet, by key."""

    def __init__(self, database: Database, write: Write[K]):
        self.database = database
        self.write = write
        self._pending: Counter[K] = Counter()
        self._lock = threading.Lock()  # noted on the event loop and in request threads

    def add(self, key: K) -> None:
        with self._lock:
            pending = self._pending
            pending[key] = pending.get(key, 0) + 1  # Counter's `+=` is twice as slow

    def flush(self) -> int:
        """Write what is pending, in one transaction; the number that counted."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return 0
        with self.database.session() as session:
            return self.write(session, pending)


def upsert(session: Session) -> type[postgresql.Insert] | type[sqlite.Insert]:
    """The dialect's INSERT, which has `on_conflict_do_update` (adding to a day's count)."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert  # type: ignore[return-value]


def install_flusher(wiring: Wiring, batches: Sequence[Batch[Any]]) -> None:
    """Write `batches` every `FLUSH_SECONDS` while the app runs, and once more as it stops."""
    task: asyncio.Task[None] | None = None

    def flush_all() -> None:
        for batch in batches:
            try:
                batch.flush()
            except Exception:  # a database hiccup loses a second's counts, not the counting
                log.exception("writing usage counts failed")

    async def flush_forever() -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await run_in_threadpool(flush_all)

    async def start() -> None:
        nonlocal task
        task = asyncio.create_task(flush_forever())

    async def stop() -> None:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await run_in_threadpool(flush_all)  # what the last second saw

    wiring.on_start.append(start)
    wiring.on_stop.append(stop)

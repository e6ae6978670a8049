"""Cancel a call's work when its client hangs up: a long generation that nobody waits for
would hold its model's worker (or its fleet replica) for nothing. Streamed answers stop when
their stream closes; this is for the others."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

from hugbox.inference.errors import ClientLeft

T = TypeVar("T")


async def unless_client_leaves(request: Request, work: Awaitable[T]) -> T:
    """`work`'s result; if the client disconnects first, `work` is cancelled (the executor
    then cancels the job where it runs) and ClientLeft is raised. Call it once the body is
    read: the next message the server has for the app is then the disconnect."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        raise ClientLeft()
    return task.result()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":  # noqa: ASYNC110 - no event
        await asyncio.sleep(0.05)  # a server that repeats empty bodies must not spin us

"""HTTP relay to an app's Unix socket: both bodies streamed, hop-by-hop headers dropped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any

import h11
from starlette.types import Receive, Scope, Send

from hugbox.errors import HubError
from hugbox.spaces.proxy import upstream

log = logging.getLogger(__name__)

Headers = upstream.Headers

TOUCH_INTERVAL = 10.0  # while a stream stays open, the app is in use: keep it awake

# Never forwarded either way (RFC 9110 §7.6.1), plus `expect`: the relay does not wait for
# 100-continue, so the app must not either.
HOP_BY_HOP = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
        b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade", b"expect",
    }
)  # fmt: skip
# The server running the proxy writes its own `date` and `server`: the app's would repeat them.
_DROP_RESPONSE = HOP_BY_HOP | {b"date", b"server"}


class AppUnreachable(HubError):
    status_code = 502
    default_message = "The space's app did not answer; it may have just stopped"


class ClientDisconnect(Exception):
    """The browser or client went away while its request body was still coming."""


class RequestBody:
    """The request body as an async iterator, and the client's disconnect once it is read."""

    def __init__(self, receive: Receive, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self._receive = receive
        self.expected = any(
            name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0")
            for name, value in headers
        )
        self._read = asyncio.Event()
        if not self.expected:
            self._read.set()

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect
                if chunk := message.get("body", b""):
                    yield chunk
                if not message.get("more_body", False):
                    return
        finally:
            self._read.set()

    async def watch(self, touch: Callable[[], None]) -> None:
        """Returns when the client goes away; until then, touches the space every 10 s."""
        while True:
            try:
                # One task for both jobs: a task more costs each small request ~50 µs.
                async with asyncio.timeout(TOUCH_INTERVAL):
                    await self._disconnected()
                return
            except TimeoutError:
                touch()

    async def _disconnected(self) -> None:
        await self._read.wait()  # the server reports a disconnect only after the body
        while (await self._receive())["type"] != "http.disconnect":
            pass


async def relay_http(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    pool: upstream.Pool,
    target: bytes,
    headers: Headers,
    touch: Callable[[], None],
) -> None:
    """Send the request to the app at `target` (path and query) and stream its answer back."""
    body = RequestBody(receive, scope["headers"])
    request = upstream.Request(
        method=scope["method"].encode("ascii"),
        target=target,
        headers=headers,
        body=body.chunks() if body.expected else None,
    )
    try:
        await first_completed(_exchange(pool, request, send), body.watch(touch))
    except ClientDisconnect:
        log.debug("client went away during the upload to %s", target[:200])


async def _exchange(pool: upstream.Pool, request: upstream.Request, send: Send) -> None:
    started = False

    async def on_start(status: int, headers: Headers) -> None:
        nonlocal started
        started = True
        await send({"type": "http.response.start", "status": status,
                    "headers": response_headers(headers)})  # fmt: skip

    async def on_chunk(chunk: bytes) -> None:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})

    try:
        await upstream.exchange(pool, request, on_start, on_chunk)
    except (OSError, upstream.UpstreamClosed, h11.ProtocolError) as error:
        log.warning("the app did not answer %r: %r", request.target[:200], error)
        if not started:
            raise AppUnreachable from error
        raise  # mid-answer: the server ends the response, the client sees it cut
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def response_headers(raw: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The app's headers minus hop-by-hop ones; event streams must not be buffered on the way."""
    headers = [(name.lower(), value) for name, value in raw]
    dropped = _DROP_RESPONSE | connection_tokens(headers)
    kept = [(name, value) for name, value in headers if name not in dropped]
    if any(
        name == b"content-type" and value.startswith(b"text/event-stream") for name, value in kept
    ):
        kept.append((b"x-accel-buffering", b"no"))
    return kept


def connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Headers that `Connection` names are hop-by-hop too."""
    return frozenset(
        token.strip().lower()
        for name, value in headers
        if name == b"connection"
        for token in value.split(b",")
    )


async def keep_touching(touch: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(TOUCH_INTERVAL)
        touch()


async def first_completed(*coroutines: Coroutine[Any, Any, None]) -> None:
    """Run the coroutines until one returns or raises; cancel the others; re-raise its error."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error

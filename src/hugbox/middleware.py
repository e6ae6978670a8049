"""ASGI middleware: request ids, routing on the raw path, legacy repo ids."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from email.utils import formatdate
from functools import lru_cache

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hugbox import audit
from hugbox.auth import last_use
from hugbox.error_responses import error_response
from hugbox.errors import PayloadTooLarge
from hugbox.repos.legacy import LegacyIds
from hugbox.requestid import new_request_id
from hugbox.wire import ResponseDrift, check, declared_model

log = logging.getLogger("hugbox.access")

# Called once per answered request with its scope, status, seconds and response body bytes
# (hugbox.observability.access: metrics and the access line).
Observe = Callable[[Scope, int, float, int], None]


# Load balancers' probes: they name no repo, and must answer (503 for /ready) while the
# database, which the legacy ids come from, is down.
_PROBES = frozenset({"/health", "/ready"})


class HubPathMiddleware:
    """Routes see the undecoded path: `refs%2Fpr%2F1` stays one segment (spec §0.2), and each
    handler decodes its own parameters. Legacy ids are rewritten to canonical ones here."""

    def __init__(self, app: ASGIApp, legacy_ids: LegacyIds):
        self.app = app
        self.legacy_ids = legacy_ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1").split("?", 1)[0]
        if path in _PROBES:
            await self.app(scope, receive, send)
            return
        if self.legacy_ids.stale():
            await run_in_threadpool(self.legacy_ids.reload)
        # In place, not a copy: the request id middleware outside reads the route the router
        # adds to this scope (metrics and access lines are labelled by it).
        scope.update(path=self.legacy_ids.rewrite(path))
        scope["raw_path"] = scope["path"].encode("latin-1")
        await self.app(scope, receive, send)


def http_date() -> str:
    """Now, for the Date header. `hugbox serve` turns uvicorn's off: uvicorn refreshes its
    own about once a second, late under load, and huggingface_hub's `fetch_space_logs` uses
    Date to tell the logged past from what comes after its request. (Formatted once a second:
    the header has no finer resolution.)"""
    return _date_of_second(int(time.time()))


@lru_cache(maxsize=2)
def _date_of_second(second: int) -> str:
    return formatdate(second, usegmt=True)


class RequestIdMiddleware:
    """Gives each request an id (the client's X-Amzn-Trace-Id when sent), and has it observed
    once answered (metrics, access line)."""

    def __init__(self, app: ASGIApp, observe: Observe):
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-amzn-trace-id", b"").decode("latin-1") or None
        request_id = new_request_id(incoming)
        client = scope.get("client")
        audit.set_client(client[0] if client else None)  # for the audit entries it records
        started = time.perf_counter()
        status = sent = 0
        scope.setdefault("state", {})  # shared with the inner scopes: dependencies note the user

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Request-Id", request_id)
                headers.setdefault("Date", http_date())
            else:
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.observe(scope, status, time.perf_counter() - started, sent)


# Bodies that are streamed to disk, never held in memory: commit payloads, LFS transfers and
# git packs; and Xet uploads, which the CAS bounds itself.
_STREAMED = re.compile(
    r"^/api/(?:lfs/|(?:models|datasets|spaces)/[^/]+/[^/]+/commit/)|/git-(?:upload|receive)-pack$"
    r"|^/xet/"  # Xet xorbs and shards: bounded by the CAS itself (64 MiB)
    r"|^/(?:(?:datasets|spaces)/)?[^/]+/[^/]+/upload/[^/]+$"  # browser uploads: spooled to disk
)


def is_streamed(path: str) -> bool:
    """Whether the body of a request to `path` is streamed to disk rather than read whole."""
    return _STREAMED.search(path) is not None


class BodyLimitMiddleware:
    """JSON and form bodies are read whole, so they are bounded (413 past `limit` bytes)."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_streamed(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"0")
        if declared == b"0" and b"transfer-encoding" not in headers:  # no body (a GET, a HEAD)
            await self.app(scope, receive, send)
            return
        if declared.isdigit() and int(declared) > self.limit:
            response = error_response(Request(scope), self._error())
            await response(scope, receive, send)
            return
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                # Frameworks turn errors raised while reading into a generic 400: end the
                # body instead, drop whatever the app answers, and answer 413 ourselves.
                too_large = True
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not too_large:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large:
            await error_response(Request(scope), self._error())(scope, receive, send)

    def _error(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"Request body larger than {self.limit} bytes")


class ResponseCheckMiddleware:
    """Check each JSON response against its route's declared model (hugbox.wire; tests and
    staging only): a drift is a 500 naming the field, rendered as every other error."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        model: object = None

        async def send_checked(message: Message) -> None:
            nonlocal model
            if message["type"] == "http.response.start":
                model = declared_model(scope.get("route"), message["status"])
                if model is not None and _is_json(message):
                    held.append(message)
                    return
            if not held:
                await send(message)
                return
            held.append(message)
            if not message.get("more_body", False):
                await _release(scope, receive, send, model, held)

        await self.app(scope, receive, send_checked)


def _is_json(start: Message) -> bool:
    """`application/json`, or a JSON dialect such as git-lfs's `application/vnd.git-lfs+json`."""
    headers: dict[bytes, bytes] = dict(start.get("headers", []))
    mime = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return mime == b"application/json" or (
        mime.startswith(b"application/") and mime.endswith(b"+json")
    )


async def _release(
    scope: Scope, receive: Receive, send: Send, model: object, held: list[Message]
) -> None:
    body = b"".join(chunk.get("body", b"") for chunk in held[1:])
    problem = check(model, body)
    if problem is None:
        for message in held:
            await send(message)
        return
    route = getattr(scope.get("route"), "path", "?")
    log.error("%s %s sent what its declared model refuses: %s", scope["method"], route, problem)
    drift = ResponseDrift(f"response does not match its model: {problem}")
    await error_response(Request(scope), drift)(scope, receive, send)


class TokenUseMiddleware:
    """Gives each request its list of used tokens, and writes their use once it is answered."""

    def __init__(self, app: ASGIApp, uses: last_use.TokenUses):
        self.app = app
        self.uses = uses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        used = last_use.start_request()
        try:
            await self.app(scope, receive, send)
        finally:
            client = scope.get("client")
            ip = client[0] if client else "unknown"
            for token_id in {t for t in used if self.uses.due(t, ip)}:
                await run_in_threadpool(self.uses.write, token_id, ip)

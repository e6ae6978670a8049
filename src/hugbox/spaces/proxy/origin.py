"""The spaces origin: a pure ASGI reverse proxy from `/spaces/{owner}/{name}/…` to each app."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import unquote

from starlette.datastructures import Headers as RequestHeaders
from starlette.types import Message, Receive, Scope, Send

from hugbox.errors import HubError, NotFound
from hugbox.requestid import current_request_id, new_request_id
from hugbox.spaces.proxy import static
from hugbox.spaces.proxy.inbound import (
    Inbound,
    forwarded_headers,
    header,
    read_inbound,
    without_sign,
)
from hugbox.spaces.proxy.relay import Headers, relay_http
from hugbox.spaces.proxy.upstream import Endpoint, Pools
from hugbox.spaces.proxy.waking import Waker, error_page, waking_page
from hugbox.spaces.proxy.websocket import deny, relay_websocket
from hugbox.web.csrf import SESSION_COOKIE
from hugbox.web.session import ANON_COOKIE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upstream:
    """Where a running space is served from."""

    # The app's Unix socket, or its Service's TCP address (HTTP/1.1 and websockets); None when
    # static.
    socket: Endpoint | None
    static_root: Path | None  # static spaces: the files to serve
    index_file: str = "index.html"
    # Gradio: the prefix is stripped (GRADIO_ROOT_PATH puts it back in its URLs). Streamlit:
    # kept, it serves under its base path itself.
    strip_prefix: bool = True


@dataclass(frozen=True)
class Credentials:
    token: str | None


class Space(Protocol):
    @property
    def repo_id(self) -> str: ...


SpaceT = TypeVar("SpaceT", bound=Space)


class Directory(Protocol[SpaceT]):
    """The proxy's view of the spaces (the supervisor implements it)."""

    async def find(self, owner: str, name: str, credentials: Credentials) -> SpaceT:
        """The space, or RepoNotFound / AuthenticationRequired."""

    def running(self, space: SpaceT) -> Upstream | None:
        """The upstream when the app is up right now (no awaits: every request asks)."""

    async def wake(self, space: SpaceT) -> Upstream:
        """Start the app if it sleeps and wait until it answers; ServiceUnavailable if it cannot
        run (building, build error, paused...), TimeoutError if it takes too long."""

    def stage(self, space: SpaceT) -> str:
        """RUNNING, SLEEPING, APP_STARTING, BUILDING..."""

    def touch(self, space: SpaceT) -> None:
        """The space is in use (every request, and every ~10 s while a stream stays open)."""


@dataclass(frozen=True)
class _AppRequest:
    """Where a request goes in its app, and with what."""

    socket: Endpoint
    target: bytes  # path and query
    headers: Headers
    touch: Callable[[], None]


_SPACE_PATH = re.compile(r"/spaces/([^/]+)/([^/]+)(/.*)?\Z", re.DOTALL)
_STAGE_PATH = re.compile(r"/_hugbox/spaces/([^/]+)/([^/]+)/stage\Z")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*\Z")  # hugbox.names: `_` may start a name
_NO_STORE = (b"cache-control", b"no-store")


def create_proxy(
    directory: Directory[SpaceT],
    *,
    hub_url: str,
    session_cookie: str = SESSION_COOKIE,
    wake_timeout: float = 60.0,
) -> SpacesProxy[SpaceT]:
    return SpacesProxy(
        directory, hub_url=hub_url, session_cookie=session_cookie, wake_timeout=wake_timeout
    )


class SpacesProxy(Generic[SpaceT]):
    """The ASGI app of the spaces origin. `close()` (or the lifespan's shutdown) ends it."""

    def __init__(
        self,
        directory: Directory[SpaceT],
        *,
        hub_url: str,
        session_cookie: str,
        wake_timeout: float,
    ) -> None:
        self.directory = directory
        self.hub_url = hub_url.rstrip("/")
        self.session_cookie = session_cookie.encode()
        self.hub_cookies = frozenset({self.session_cookie, ANON_COOKIE.encode()})
        self.pools = Pools()
        self.waker: Waker[Upstream] = Waker(timeout=wake_timeout)

    async def close(self) -> None:
        await self.waker.close()
        await self.pools.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect: the handshake waits for our answer
        new_request_id(header(scope, b"x-amzn-trace-id"))
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._route(scope, receive, tracked)
        except Exception as error:
            if started:  # too late for an error answer: the server drops the connection
                raise
            await self._send_error(scope, send, _as_hub_error(scope, error))

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _raw_path(scope)
        if match := _SPACE_PATH.match(path):
            owner, name = _names(match)
            if (rest := match[3]) is None:
                query = scope["query_string"].decode("latin-1")
                await _redirect(scope, send, f"{path}/" + (f"?{query}" if query else ""))
            else:
                await self._space(scope, receive, send, owner, name, rest)
        elif scope["type"] == "http" and path == "/_hugbox/health":
            await _answer(send, 200, b"ok", b"text/plain; charset=utf-8")
        elif scope["type"] == "http" and (match := _STAGE_PATH.match(path)):
            await self._stage(scope, send, *_names(match))
        else:
            raise NotFound("Not found on the spaces server")

    async def _space(
        self, scope: Scope, receive: Receive, send: Send, owner: str, name: str, rest: str
    ) -> None:
        inbound = self._inbound(scope)
        space = await self.directory.find(owner, name, Credentials(inbound.token))
        self.directory.touch(space)
        upstream = await self._upstream(scope, send, space)
        if upstream is None:
            return  # the browser got the waking page
        prefix = f"/spaces/{owner}/{name}"
        if upstream.socket is None:
            await self._static(scope, receive, send, upstream, prefix, rest)
            return
        target = (rest if upstream.strip_prefix else prefix + rest).encode("latin-1")
        if query := without_sign(scope["query_string"]):
            target += b"?" + query
        headers = forwarded_headers(scope, inbound, prefix if upstream.strip_prefix else None)
        app = _AppRequest(upstream.socket, target, headers, partial(self.directory.touch, space))
        await self._relay(scope, receive, send, app, inbound.host)

    async def _relay(
        self, scope: Scope, receive: Receive, send: Send, app: _AppRequest, host: bytes
    ) -> None:
        if scope["type"] == "websocket":
            await relay_websocket(
                scope, receive, send, socket=app.socket, host=host, target=app.target,
                headers=app.headers, touch=app.touch,
            )  # fmt: skip
        else:
            await relay_http(
                scope, receive, send, pool=self.pools.get(app.socket),
                target=app.target, headers=app.headers, touch=app.touch,
            )  # fmt: skip

    async def _upstream(self, scope: Scope, send: Send, space: SpaceT) -> Upstream | None:
        """The running app; else a browser gets the waking page, and API clients wait."""
        upstream = self.directory.running(space)
        if upstream is not None:
            return upstream
        wake = partial(self.directory.wake, space)
        if _is_navigation(scope):
            self.waker.start(space.repo_id, wake)
            await self._waking(send, space)
            return None
        return await self.waker.wait(space.repo_id, wake)

    async def _static(
        self, scope: Scope, receive: Receive, send: Send, upstream: Upstream, prefix: str, rest: str
    ) -> None:
        if scope["type"] != "http" or upstream.static_root is None:
            raise NotFound("This space serves files only")
        response = await static.static_response(
            root=upstream.static_root,
            index_file=upstream.index_file,
            rest=rest,
            method=scope["method"],
            headers=RequestHeaders(scope=scope),
            url_path=prefix + rest,
        )
        await response(scope, receive, send)

    async def _stage(self, scope: Scope, send: Send, owner: str, name: str) -> None:
        space = await self.directory.find(owner, name, Credentials(self._inbound(scope).token))
        answer: dict[str, Any] = {
            "stage": self.directory.stage(space),
            "ready": self.directory.running(space) is not None,
        }
        if failure := self.waker.failure(space.repo_id):
            answer["error"] = failure
        body = json.dumps(answer).encode()
        await _answer(send, 200, body, b"application/json", [_NO_STORE])

    async def _waking(self, send: Send, space: SpaceT) -> None:
        page = waking_page(
            repo_id=space.repo_id,
            stage=self.directory.stage(space),
            stage_url=f"/_hugbox/spaces/{space.repo_id}/stage",
            hub_link=f"{self.hub_url}/spaces/{space.repo_id}",
        )
        await _answer(send, 200, page, b"text/html; charset=utf-8", [_NO_STORE])

    def _inbound(self, scope: Scope) -> Inbound:
        return read_inbound(scope, self.session_cookie, self.hub_cookies)

    async def _send_error(self, scope: Scope, send: Send, error: HubError) -> None:
        headers = {**error.headers, "X-Request-Id": current_request_id()}
        headers["X-Error-Message"] = _header_safe(error.message)
        if error.error_code:
            headers["X-Error-Code"] = error.error_code
        if error.status_code == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="hugbox"')
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if _wants_html(scope):
            body, kind = self._error_page(scope, error), b"text/html; charset=utf-8"
        else:
            body, kind = json.dumps({"error": error.message}).encode(), b"application/json"
        if scope["type"] == "websocket":
            await deny(scope, send, error.status_code, [(b"content-type", kind), *raw], body)
        else:
            await _answer(send, error.status_code, body, kind, raw, head=scope["method"] == "HEAD")

    def _error_page(self, scope: Scope, error: HubError) -> bytes:
        match = _SPACE_PATH.match(_raw_path(scope)) or _STAGE_PATH.match(_raw_path(scope))
        link = f"{self.hub_url}/spaces/{match[1]}/{match[2]}" if match else self.hub_url
        return error_page(
            status=error.status_code,
            message=error.message,
            hub_link=link,
            request_id=current_request_id(),
        )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _as_hub_error(scope: Scope, error: Exception) -> HubError:
    if isinstance(error, HubError):
        return error
    log.exception("spaces proxy: %s %s", scope.get("method", "WS"), scope["path"])
    crash = HubError("Internal error; X-Request-Id identifies it in the logs")
    crash.status_code = 500
    return crash


def _raw_path(scope: Scope) -> str:
    """The path as the client sent it: `%2F` stays encoded all the way to the app."""
    raw: bytes | None = scope.get("raw_path")
    return raw.decode("latin-1") if raw else scope["path"]


def _names(match: re.Match[str]) -> tuple[str, str]:
    owner, name = unquote(match[1]), unquote(match[2])
    if not _NAME.match(owner) or not _NAME.match(name):
        raise NotFound("Not a space name")
    return owner, name


def _wants_html(scope: Scope) -> bool:
    accept = header(scope, b"accept") or ""
    return "text/html" in accept and scope.get("method") != "HEAD"


def _is_navigation(scope: Scope) -> bool:
    """A browser opening a page (rather than a script or an API client fetching data)."""
    return scope["type"] == "http" and scope["method"] == "GET" and _wants_html(scope)


def _header_safe(text: str) -> str:
    # Header values must be latin-1 and single-line.
    return " ".join(text.split()).encode("latin-1", "replace").decode("latin-1")[:1000]


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    kind: bytes,
    headers: Iterable[tuple[bytes, bytes]] = (),
    *,
    head: bool = False,
) -> None:
    raw = [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _redirect(scope: Scope, send: Send, location: str) -> None:
    headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
    if scope["type"] == "websocket":
        await deny(scope, send, 307, headers, b"")
        return
    await send({"type": "http.response.start", "status": 307, "headers": headers})
    await send({"type": "http.response.body", "body": b""})

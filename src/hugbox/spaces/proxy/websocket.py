"""WebSocket relay to an app's Unix socket or TCP address (Streamlit's stream, Gradio 3's
queue)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from starlette.types import Message, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import EXTERNAL_CLOSE_CODES
from websockets.typing import Subprotocol

from hugbox.spaces.proxy.relay import Headers, first_completed, keep_touching
from hugbox.spaces.proxy.upstream import Endpoint, TcpAddress

log = logging.getLogger(__name__)

_HOST = re.compile(rb"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_TEXT_PLAIN = (b"content-type", b"text/plain; charset=utf-8")
_DENIAL_CODES = {4: 1008, 5: 1011}  # policy violation; internal error

# Handshake headers the websockets client writes itself.
HANDSHAKE = frozenset(
    {
        b"host", b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions",
        b"sec-websocket-protocol", b"sec-websocket-accept",
    }
)  # fmt: skip


async def relay_websocket(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    socket: Endpoint,
    host: bytes,
    target: bytes,
    headers: Headers,
    touch: Callable[[], None],
) -> None:
    """Open the app's websocket at `target` (path and query) with the client's Host, accept the
    client's with the subprotocol the app picked, then pump both ways until either side closes."""
    if not _HOST.fullmatch(host):  # it becomes part of a URI: no user info, nothing odd
        host = b"localhost"
    uri = f"ws://{host.decode()}{target.decode('latin-1')}"
    subprotocols = [Subprotocol(value) for value in scope.get("subprotocols", [])]
    kept = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers if n not in HANDSHAKE]
    try:
        upstream = await _connect(
            socket,
            uri,
            # Order matters: Streamlit reads its XSRF token and session id by position.
            subprotocols=subprotocols or None,
            additional_headers=kept,
            user_agent_header=None,  # the client's own User-Agent is among `headers`
            compression=None,  # a local socket or a cluster's network: deflating costs CPU
            proxy=None,
            max_size=None,  # the app and the server facing the client set the limits
            ping_interval=None,  # a busy app must not be cut off for missing a ping
        )
    except InvalidStatus as error:
        response = error.response
        await deny(scope, send, response.status_code, [_TEXT_PLAIN], bytes(response.body or b""))
        return
    except (OSError, TimeoutError, InvalidHandshake) as error:
        log.warning("websocket to the app at %s failed: %r", uri, error)
        await deny(scope, send, 502, [_TEXT_PLAIN], b"The space's app did not accept the websocket")
        return
    async with upstream:
        await send(_accept(upstream))
        await first_completed(
            _client_to_app(receive, upstream), _app_to_client(upstream, send), keep_touching(touch)
        )


def _connect(endpoint: Endpoint, uri: str, **options: Any) -> Any:
    """The app's websocket, opened on its Unix socket or its TCP address (the URI keeps the
    client's Host either way)."""
    if isinstance(endpoint, TcpAddress):
        return connect(uri, host=endpoint.host, port=endpoint.port, **options)
    return unix_connect(str(endpoint), uri, **options)


def _accept(upstream: ClientConnection) -> Message:
    """Accept with the subprotocol the app picked, and the cookies it set."""
    cookies = upstream.response.headers.get_all("Set-Cookie") if upstream.response else []
    headers = [(b"set-cookie", value.encode("latin-1")) for value in cookies]
    return {"type": "websocket.accept", "subprotocol": upstream.subprotocol, "headers": headers}


async def _client_to_app(receive: Receive, upstream: ClientConnection) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.receive":
            text = message.get("text")
            await upstream.send(text if text is not None else message.get("bytes") or b"")
        elif message["type"] == "websocket.disconnect":
            code = sendable_code(message.get("code", 1000), abnormal=1001)
            await upstream.close(code, message.get("reason") or "")
            return


async def _app_to_client(upstream: ClientConnection, send: Send) -> None:
    try:
        async for data in upstream:
            if isinstance(data, str):
                await send({"type": "websocket.send", "text": data})
            else:
                await send({"type": "websocket.send", "bytes": data})
    except ConnectionClosed:
        pass  # closed without a close frame: the code below says so
    code = sendable_code(upstream.close_code or 1006, abnormal=1014)
    await send({"type": "websocket.close", "code": code, "reason": upstream.close_reason or ""})


def sendable_code(code: int, *, abnormal: int) -> int:
    """Codes 1005 and 1006 only describe a close, they cannot be sent in one."""
    if code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000:
        return code
    return 1000 if code == 1005 else abnormal


async def deny(scope: Scope, send: Send, status: int, headers: Headers, body: bytes) -> None:
    """Refuse the handshake with an HTTP answer where the server can send one (uvicorn can),
    else with a close code that says about the same."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": _DENIAL_CODES.get(status // 100, 1008)})

"""The edge: every request's URL, headers and JSON body bounded and checked once, before routing.

Past it no handler meets a control character in a path or query value (libgit2 reads names as C
strings, so `main%00x` would be `main`), a name longer than a file name may be, a lone surrogate
(it cannot be written to the database or to git), a NUL character in a JSON string (PostgreSQL's
text cannot hold one: a query naming it fails), or JSON nested deep enough to exhaust the stack.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hugbox.error_responses import error_response
from hugbox.errors import BadRequest, HeaderFieldsTooLarge, HubError, UriTooLong
from hugbox.middleware import is_streamed
from hugbox.names import MAX_NAME_BYTES, has_control

MAX_URL_BYTES = 8 * 1024  # path and query as sent (nginx's default header buffer)
MAX_QUERY_FIELDS = 1000
MAX_HEADER_BYTES = 32 * 1024  # all header names and values together
MAX_HEADERS = 100
MAX_JSON_DEPTH = 64  # code that walks JSON recursively stays far from Python's stack limit
_JSON_KEY = "hugbox.json"  # the scope key of a body the edge parsed, for read_json
# A query value is text a person may have typed over several lines (a viewer `where`).
_LINE_BREAKS = str.maketrans("", "", "\t\r\n")
_PLAIN_PATH = re.compile(rb"[ -$&-~]*")  # printable ASCII without `%`: the path as it reads


class EdgeMiddleware:
    """Answers 400, 414 or 431 (with the HF error headers) to a request out of bounds."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_headers(scope["headers"])
            check_url(scope.get("raw_path") or scope["path"].encode(), scope["query_string"])
            if _json_typed(scope) and not is_streamed(scope["path"]):
                receive = await _checked_json(scope, receive)
        except HubError as error:
            await error_response(Request(scope), error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def check_headers(headers: list[tuple[bytes, bytes]]) -> None:
    size = sum(len(name) + len(value) for name, value in headers)
    if len(headers) > MAX_HEADERS or size > MAX_HEADER_BYTES:
        raise HeaderFieldsTooLarge(
            f"At most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes in all are accepted"
        )


def check_url(raw_path: bytes, query: bytes) -> None:
    if len(raw_path) + len(query) > MAX_URL_BYTES:
        raise UriTooLong(f"The URL is longer than {MAX_URL_BYTES} bytes")
    if _PLAIN_PATH.fullmatch(raw_path):  # most paths: nothing to decode, no control possible
        if any(len(segment) > MAX_NAME_BYTES for segment in raw_path.split(b"/")):
            raise BadRequest(f"A name in the path is longer than {MAX_NAME_BYTES} bytes")
    else:
        _check_path(raw_path)
    _check_query(query)


def _check_path(raw_path: bytes) -> None:
    for segment in raw_path.split(b"/"):
        text = _decoded(segment, "path")
        if has_control(text):
            raise BadRequest("The path holds a control character")
        if any(len(name.encode()) > MAX_NAME_BYTES for name in text.split("/")):
            raise BadRequest(f"A name in the path is longer than {MAX_NAME_BYTES} bytes")


def _check_query(query: bytes) -> None:
    fields = query.split(b"&") if query else []
    if len(fields) > MAX_QUERY_FIELDS:
        raise BadRequest(f"More than {MAX_QUERY_FIELDS} query parameters")
    for field in fields:
        for part in field.split(b"=", 1):
            text = _decoded(part.replace(b"+", b" "), "query string")
            if has_control(text.translate(_LINE_BREAKS)):
                raise BadRequest("A query parameter holds a control character")


def _decoded(raw: bytes, where: str) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"The {where} is not UTF-8 once percent-decoded") from None


def _json_typed(scope: Scope) -> bool:
    """`application/json` or `application/…+json` (git-lfs), the types FastAPI parses as JSON."""
    headers: dict[bytes, bytes] = dict(scope["headers"])
    declared = headers.get(b"content-type", b"")
    mime = declared.split(b";", 1)[0].strip().lower()
    return mime == b"application/json" or (
        mime.startswith(b"application/") and mime.endswith(b"+json")
    )


async def _checked_json(scope: Scope, receive: Receive) -> Receive:
    """Reads the whole body (the body limit bounds it), parses it once and replays it."""
    messages: list[Message] = []
    while not messages or messages[-1].get("more_body"):
        messages.append(await receive())
        if messages[-1]["type"] != "http.request":
            break  # the client left, or the body limit cut it short: the app hears as much
    body = b"".join(message.get("body", b"") for message in messages)
    if messages[-1]["type"] == "http.request" and body.strip():
        scope[_JSON_KEY] = parse_json(body)
    return _replay(messages, receive)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def parse_json(body: bytes) -> Any:
    """JSON as RFC 8259 has it (UTF-8, no lone surrogates), at most MAX_JSON_DEPTH deep, with no
    NUL character in its strings."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    # A NUL can only come escaped; walking the value tells `\u0000` from an escaped backslash.
    if b"\\u0000" in body and _holds_nul(value):
        raise BadRequest("The request body holds a NUL character (\\u0000) in a string")
    # Counting brackets is quick; walking the value is needed only when there are enough.
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:
        raise BadRequest(f"The request body nests JSON more than {MAX_JSON_DEPTH} levels deep")
    return value


def _holds_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _depth(value: Any) -> int:
    deepest = 0
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


async def read_json(request: Request) -> Any:
    """The request body as JSON: what the edge parsed, or parsed here by the same rules when
    the client did not say it was JSON. Anything else is a 400, an empty body included."""
    if _JSON_KEY in request.scope:
        return request.scope[_JSON_KEY]
    return parse_json(await request.body())

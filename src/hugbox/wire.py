"""The typed wire contract: the base of the JSON models and the check that responses keep to them.

Every JSON route declares what it sends with `returns(Model)`, a model named after
huggingface_hub's own type (`ModelInfo`, `RepoFile`, `CommitInfo`). The model is in the OpenAPI
document, so `/api/docs` documents the API and the fuzzer knows each response's shape. Handlers
keep returning plain JSON: the hottest routes (`model_info`, every `from_pretrained`) pay no
validation in production.

With `HUGBOX_CHECK_RESPONSES=1`, which the test suites set, `ResponseCheckMiddleware` validates
every JSON response against its route's model and turns a mismatch into a 500 that names the
field. So every functional and client test, each driving real clients, also checks the contract.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class WireModel(BaseModel):
    """A JSON shape as the hub sends it: every field it may hold is declared (extra is an error).

    Field names are the wire's own (`lastModified`, `_id`): the models describe JSON that
    clients parse, so they keep its spelling rather than Python's.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OpenWireModel(WireModel):
    """A shape the hub passes on from a user's own data (a card's metadata, a config)."""

    model_config = ConfigDict(extra="allow")


class Empty(WireModel):
    """`{}`: what routes whose status is the whole answer send (delete, move, auth-check)."""


def returns(model: Any, *, status: int = 200, description: str = "") -> dict[str, Any]:
    """The route arguments that declare `model` as what a route sends, without validating it.

    `@router.get(path, **returns(ModelInfo))`; `model` may be any type pydantic knows
    (`list[RepoFile]`, `ModelInfo | DatasetInfo`).
    """
    response: dict[str, Any] = {"model": model}
    if description:
        response["description"] = description
    return {"response_model": None, "status_code": status, "responses": {status: response}}


def declared_model(route: Any, status: int) -> Any | None:
    """What `route` declares it sends with `status`, or None."""
    responses = getattr(route, "responses", None) or {}
    declared = responses.get(status) or responses.get(str(status)) or {}
    return declared.get("model")


_adapters: dict[int, TypeAdapter[Any]] = {}


def _adapter(model: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(id(model))
    if adapter is None:
        adapter = _adapters[id(model)] = TypeAdapter(model)
    return adapter


def check(model: Any, body: bytes) -> str | None:
    """Why `body` does not match `model`, or None when it does."""
    try:
        _adapter(model).validate_json(body)
    except ValidationError as error:
        return str(error)
    return None


class ResponseCheckMiddleware:
    """Check each JSON response against its route's declared model (tests and staging only)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def send_checked(message: Message) -> None:
            if message["type"] == "http.response.start":
                model = declared_model(scope.get("route"), message["status"])
                if model is None or not _is_json(message):
                    await send(message)
                    return
                held.append(message)
                return
            if not held:
                await send(message)
                return
            held.append(message)
            if not message.get("more_body", False):
                await _release(scope, held, send)

        await self.app(scope, receive, send_checked)


def _is_json(start: Message) -> bool:
    """`application/json`, or a JSON dialect such as git-lfs's `application/vnd.git-lfs+json`."""
    headers: dict[bytes, bytes] = dict(start.get("headers", []))
    mime = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return mime == b"application/json" or (
        mime.startswith(b"application/") and mime.endswith(b"+json")
    )


async def _release(scope: Scope, held: list[Message], send: Send) -> None:
    start, chunks = held[0], held[1:]
    body = b"".join(chunk.get("body", b"") for chunk in chunks)
    model = declared_model(scope.get("route"), start["status"])
    problem = check(model, body)
    if problem is None:
        for message in held:
            await send(message)
        return
    route = getattr(scope.get("route"), "path", "?")
    log.error("%s %s sent what its declared model refuses: %s", scope["method"], route, problem)
    error = json.dumps({"error": f"response does not match its model: {problem}"}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(error)).encode()),
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": error})

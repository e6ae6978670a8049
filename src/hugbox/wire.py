"""The typed wire contract: the base of the JSON models and the check that responses keep to them.

Every JSON route declares what it sends with `returns(Model)`, a model named after
huggingface_hub's own type (`ModelInfo`, `RepoFile`, `CommitInfo`). The model is in the OpenAPI
document, so `/api/docs` documents the API and the fuzzer knows each response's shape. Handlers
keep returning plain JSON: the hottest routes (`model_info`, every `from_pretrained`) pay no
validation in production.

With `HUGBOX_CHECK_RESPONSES=1`, which the test suites set, `middleware.ResponseCheckMiddleware`
validates
every JSON response against its route's model and turns a mismatch into a 500 that names the
field. So every functional and client test, each driving real clients, also checks the contract.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from starlette.responses import JSONResponse, Response

from hugbox.errors import HubError


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


def json_response(content: Any) -> Response:
    """`content` as the JSON response FastAPI would make of a handler's return value, without
    its `jsonable_encoder`: a copy of the whole answer, a sixth of `model_info`'s time. So
    `content` must already be plain JSON (dicts, lists, str, int, float, bool, None)."""
    return JSONResponse(content)


def declared_model(route: Any, status: int) -> Any | None:
    """What `route` declares it sends with `status`, or None."""
    responses = getattr(route, "responses", None) or {}
    declared = responses.get(status) or responses.get(str(status)) or {}
    return declared.get("model")


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)  # built once per declared model: a route's model outlives it


def check(model: Any, body: bytes) -> str | None:
    """Why `body` does not match `model`, or None when it does."""
    try:
        _adapter(model).validate_json(body)
    except ValidationError as error:
        return str(error)
    return None


class ResponseDrift(HubError):
    """A route sent what its declared model refuses (only with `HUGBOX_CHECK_RESPONSES`)."""

    status_code = 500
    error_code = "ResponseDoesNotMatchModel"

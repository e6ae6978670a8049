"""`PlainRoute` answers, fails and is documented exactly as the APIRoute it replaces."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from hugbox.error_responses import install_error_handlers
from hugbox.errors import EntryNotFound
from hugbox.routing import PlainRoute
from hugbox.settings import Settings
from hugbox.wire import json_response

PATH = "/things/{namespace}/{name}/at/{revision:path}"


async def thing(
    request: Request,
    revision: str,
    expand: Annotated[list[str] | None, Query()] = None,
    limit: int = 10,
) -> Response:
    """A thing at a revision."""
    if revision == "missing":
        raise EntryNotFound("Entry not found: missing", commit="0" * 40)
    params = request.path_params
    return json_response({"id": f"{params['namespace']}/{params['name']}", "revision": revision,
                          "expand": expand, "limit": limit})  # fmt: skip


def _app(route_class: type[APIRoute]) -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings(data_dir=Path(tempfile.gettempdir()))  # its error pages' URLs
    install_error_handlers(app)
    router = APIRouter()
    router.add_api_route(PATH, thing, methods=["GET"], route_class_override=route_class)
    app.include_router(router)
    return app


def _answer(route_class: type[APIRoute], url: str) -> tuple[int, dict[str, str], bytes]:
    response = TestClient(_app(route_class)).get(url)
    headers = {k: v for k, v in response.headers.items() if k.startswith("x-error")}
    return response.status_code, headers, response.content


@pytest.mark.parametrize(
    "url",
    [
        "/things/a/b/at/main",
        "/things/a/b/at/refs%2Fpr%2F1/deep",
        "/things/a/b/at/main?expand=x&expand=y&limit=3",
        "/things/a/b/at/main?limit=many",  # FastAPI's validation: a 400 naming the parameter
        "/things/a/b/at/missing",
        "/things/a/b/at/missing?limit=1",
    ],
)
def test_a_plain_route_answers_as_fastapi_s_own(url: str) -> None:
    assert _answer(PlainRoute, url) == _answer(APIRoute, url)


def test_a_plain_route_without_a_query_takes_the_defaults() -> None:
    status, _, body = _answer(PlainRoute, "/things/a/b/at/main")
    assert (status, body) == (200, b'{"id":"a/b","revision":"main","expand":null,"limit":10}')


def test_a_plain_route_is_documented_as_fastapi_s_own() -> None:
    assert _app(PlainRoute).openapi() == _app(APIRoute).openapi()


def _sync(request: Request, revision: str) -> Response:
    return Response()


async def _numbered(request: Request, revision: int) -> Response:
    return Response()


async def _required_query(request: Request, revision: str, limit: int) -> Response:
    return Response()


def _revision() -> str:
    return "main"


async def _with_dependency(
    request: Request, revision: Annotated[str, Depends(_revision)]
) -> Response:
    return Response()


async def _without_request(revision: str) -> Response:
    return Response()


@pytest.mark.parametrize(
    "endpoint", [_sync, _numbered, _required_query, _with_dependency, _without_request]
)
def test_a_plain_route_refuses_what_it_would_not_solve(endpoint: object) -> None:
    router = APIRouter()
    with pytest.raises(TypeError, match="PlainRoute"):
        router.add_api_route("/x/{revision}", endpoint, route_class_override=PlainRoute)  # type: ignore[arg-type]

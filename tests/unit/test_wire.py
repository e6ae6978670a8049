"""The typed wire contract: every API route says what it sends, and the check catches a drift."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from hugbox.app import INSTALLS
from hugbox.context import build_context
from hugbox.middleware import ResponseCheckMiddleware
from hugbox.settings import Settings
from hugbox.wire import WireModel, declared_model, returns
from hugbox.wiring import wire


def _api_routes() -> Iterator[APIRoute]:
    with tempfile.TemporaryDirectory() as data_dir:
        api = wire(build_context(Settings(data_dir=Path(data_dir))), INSTALLS).api
    for router in api:
        for route in router.routes:
            if isinstance(route, APIRoute):
                yield route


def _name(route: APIRoute) -> str:
    return f"{route.endpoint.__module__}:{'|'.join(sorted(route.methods))} {route.path}"


@pytest.mark.parametrize("route", list(_api_routes()), ids=_name)
def test_each_route_declares_what_it_sends(route: APIRoute) -> None:
    """JSON routes name their model (`returns`); the others their response class (a file, a
    stream, git's or LFS's own media type), so the OpenAPI document describes every answer."""
    status = route.status_code or 200
    json_route = isinstance(route.response_class, DefaultPlaceholder)
    assert not json_route or declared_model(route, status) is not None, (
        f"{_name(route)} sends JSON: declare its model with **returns(Model)"
    )


class Greeting(WireModel):
    text: str


def _app(sent: object) -> FastAPI:
    app = FastAPI()

    @app.get("/greeting", **returns(Greeting))
    def greeting() -> object:
        return sent

    return _checked(app)


def _checked(app: FastAPI) -> FastAPI:
    """`app` with the check, and the settings the hub's error rendering reads (the public URL)."""
    app.state.settings = Settings()
    app.add_middleware(ResponseCheckMiddleware)
    return app


def test_a_response_that_keeps_to_its_model_passes_unchanged() -> None:
    response = TestClient(_app({"text": "hi"})).get("/greeting")
    assert (response.status_code, response.json()) == (200, {"text": "hi"})


@pytest.mark.parametrize("sent", [{"text": 1}, {"text": "hi", "extra": True}, {}])
def test_a_response_that_drifts_from_its_model_is_a_500_naming_the_field(sent: object) -> None:
    response = TestClient(_app(sent)).get("/greeting")
    assert response.status_code == 500
    assert response.headers["x-error-code"] == "ResponseDoesNotMatchModel"
    assert "Greeting" in response.json()["error"] or "text" in response.json()["error"]


def test_a_model_is_documented_but_not_enforced_without_the_check() -> None:
    app = FastAPI()

    @app.get("/greeting", **returns(Greeting))
    def greeting() -> object:
        return {"text": 1}

    assert TestClient(app).get("/greeting").json() == {"text": 1}
    schema = app.openapi()["paths"]["/greeting"]["get"]["responses"]["200"]
    assert schema["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Greeting"
    }


def test_a_json_dialect_is_checked_like_json() -> None:
    """git-lfs's answers are `application/vnd.git-lfs+json`: they keep to their models too."""
    app = FastAPI()

    class LfsJSONResponse(JSONResponse):
        media_type = "application/vnd.git-lfs+json"

    @app.get("/greeting", response_class=LfsJSONResponse, **returns(Greeting))
    def greeting() -> object:
        return LfsJSONResponse({"text": 1})

    assert TestClient(_checked(app)).get("/greeting").status_code == 500

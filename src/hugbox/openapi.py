"""The OpenAPI document, the API's reference and a fuzzer's map: every route's inputs are in it.

Handlers take their repo through one dependency that reads `namespace`, `name` and `repo_type`
from the path itself, and some read their query or body by hand, so FastAPI alone would leave
those inputs out. Path parameters are declared here for every route, typed by its convertor
(`repotype` is `models|datasets|spaces`); routes describe what they read by hand with
`query_parameters` and `request_body`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.convertors import CONVERTOR_TYPES
from starlette.routing import BaseRoute

_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
_CHOICES = re.compile(r"\w+(?:\|\w+)*")


def install_openapi(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI's own, cached: the declarations below are added once
        for route in _api_routes(app.router.routes):
            _declare_path_parameters(schema["paths"].get(route.path_format, {}), route)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:
            yield from _api_routes(inner.routes)
        elif isinstance(route, APIRoute) and route.include_in_schema:
            yield route


def _declare_path_parameters(operations: dict[str, Any], route: APIRoute) -> None:
    for method in route.methods or ():
        operation = operations.get(method.lower())
        if operation is None:
            continue
        parameters = operation.setdefault("parameters", [])
        declared = {p["name"] for p in parameters if p["in"] == "path"}
        # A handler's own declaration types the converted value (`model`), not the URL's text.
        replaced = {n: _path_parameter(n, c or "str") for n, c in _PARAM.findall(route.path)}
        replaced = {n: p for n, p in replaced.items() if n not in declared or "enum" in p["schema"]}
        parameters[:] = [p for p in parameters if p["name"] not in replaced]
        parameters.extend(replaced.values())


def _path_parameter(name: str, convertor: str) -> dict[str, Any]:
    regex = CONVERTOR_TYPES[convertor].regex
    schema: dict[str, Any] = {"type": "string"}
    if _CHOICES.fullmatch(regex):
        schema["enum"] = regex.split("|")
    return {"name": name, "in": "path", "required": True, "schema": schema}


def query_parameters(
    required: Iterable[str] = (), optional: Iterable[str] = (), integers: Iterable[str] = ()
) -> dict[str, Any]:
    """`openapi_extra` for a route that reads these query parameters from the request itself."""
    numeric = set(integers)

    def parameter(name: str, needed: bool) -> dict[str, Any]:
        kind = "integer" if name in numeric else "string"
        return {"name": name, "in": "query", "required": needed, "schema": {"type": kind}}

    listed = [parameter(n, True) for n in required] + [parameter(n, False) for n in optional]
    return {"parameters": listed}


OBJECT: dict[str, Any] = {"type": "object"}
BINARY: dict[str, Any] = {"type": "string", "format": "binary"}


def request_body(schema: dict[str, Any], *media_types: str) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body itself (JSON through edge.read_json)."""
    content = {media_type: {"schema": schema} for media_type in media_types}
    return {"requestBody": {"required": True, "content": content}}

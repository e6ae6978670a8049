"""`PlainRoute`: the hottest routes, called without FastAPI's per-request parameter machinery.

`model_info` and the HEAD of each downloaded file spent a sixth of their time on the event loop
in FastAPI's handler: solving and validating parameters that, without a query string, are the
path's own strings and the declared defaults. A `PlainRoute` calls its endpoint with those
directly, and a request with a query string goes through FastAPI's handler as before (its
validation, its 422). The route is declared like any other, so the OpenAPI document is the same.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PlainRoute(APIRoute):
    """For an async endpoint that takes the `Request`, `str` path parameters and query parameters
    with defaults, and returns a `Response`; anything else is refused when the route is made.
    Its router must be included without dependencies of its own (app.py includes them bare):
    the plain call would not solve them."""

    def get_route_handler(self) -> Handler:
        validated = super().get_route_handler()
        path_names = _path_parameters(self)
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            if request.scope.get("query_string"):
                return await validated(request)
            params = request.path_params
            response: Response = await endpoint(request, **{n: params[n] for n in path_names})
            return response

        return handle


def _path_parameters(route: APIRoute) -> list[str]:
    """The names of the endpoint's path parameters, once it is checked to be plain."""
    dependant = route.dependant
    refused = dependant.dependencies or dependant.header_params or dependant.cookie_params
    if refused or dependant.body_params or not dependant.request_param_name:
        raise TypeError(f"{route.path}: a PlainRoute's endpoint takes the request and parameters")
    if not inspect.iscoroutinefunction(route.endpoint):
        raise TypeError(f"{route.path}: a PlainRoute's endpoint is async")
    if any(field.field_info.annotation is not str for field in dependant.path_params):
        raise TypeError(f"{route.path}: a PlainRoute's path parameters are strings")
    if any(field.field_info.is_required() for field in dependant.query_params):
        raise TypeError(f"{route.path}: a PlainRoute's query parameters have defaults")
    return [field.name for field in dependant.path_params]

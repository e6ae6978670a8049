"""What each request leaves behind once answered: its metrics and its access log line.

`RequestIdMiddleware` (hugbox.middleware) calls `RequestObserver` once per request with what it
saw; the route template, the user and the repo are read here from the request's scope, where
the router and the dependencies left them. With JSON logs (hugbox.observability.logs) the access
line carries them as fields; the text line has no place for them, so they are not gathered.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import Scope

from hugbox import names
from hugbox.observability.metrics import UNMATCHED, HttpMetrics

log = logging.getLogger("hugbox.access")


class RequestObserver:
    def __init__(self, metrics: HttpMetrics, *, access_fields: bool):
        self.metrics = metrics
        self.access_fields = access_fields

    def __call__(self, scope: Scope, status: int, seconds: float, sent: int) -> None:
        """`status` 0: the app raised before answering, which the server turns into a 500."""
        status = status or 500
        route = scope.get("route")
        template: str = getattr(route, "path", UNMATCHED)
        method: str = scope["method"]
        self.metrics.observe(template, method, status, seconds, sent, _received(scope, method))
        if log.isEnabledFor(logging.INFO):
            fields = (
                _fields(scope, template, method, status, seconds) if self.access_fields else None
            )
            log.info("%s %s %s %.1fms", method, scope["path"], status, seconds * 1000, extra=fields)


def _received(scope: Scope, method: str) -> int:
    """The request body's declared size (uploads to blob routes send one)."""
    if method not in ("PUT", "POST"):
        return 0
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def _fields(
    scope: Scope, template: str, method: str, status: int, seconds: float
) -> dict[str, Any]:
    state = scope.get("state") or {}
    return {
        "access": True,
        "user": _user(state),
        "repo": _repo(scope.get("path_params") or {}),
        "route": template,
        "method": method,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
    }


def _user(state: dict[str, Any]) -> str | None:
    """The API caller (its bearer token) or the page's logged-in user, once either was read,
    by the names hugbox.deps and auth.sessions noted (the ORM rows may be expired by now). The
    most frequent reads know only the user's id (`id:42`): they read no name."""
    name = state.get("user_name") or getattr(state.get("viewer"), "name", None)
    if name is not None:
        return str(name)
    user_id = getattr(state.get("bearer"), "user_id", None)
    return None if user_id is None else f"id:{user_id}"


def _repo(params: dict[str, Any]) -> str | None:
    if "namespace" not in params or "name" not in params:
        return None
    return names.repo_id(params["namespace"], params["name"])

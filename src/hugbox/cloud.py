"""Services only huggingface.co runs (Jobs, storage buckets, papers): a 404 that says so.

Without these routes `hf jobs ps` or `hf buckets list` met a bare 404 and read like a hugbox bug.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from fastapi import APIRouter

from hugbox.context import Context
from hugbox.error_responses import ErrorBody
from hugbox.errors import NotFound
from hugbox.wire import returns
from hugbox.wiring import Wiring

router = APIRouter(tags=["huggingface.co only"])
SERVICES = {
    "jobs": "Jobs (hf jobs)",
    "scheduled-jobs": "Scheduled Jobs (hf jobs scheduled)",
    "buckets": "Storage buckets (hf buckets)",
    "papers": "Papers (hf papers)",
    "daily_papers": "Daily papers (hf papers)",
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REFUSAL = returns(ErrorBody, status=404, description="Always: hugbox does not host this")


def _refuse(feature: str) -> Callable[[], None]:
    def refuse() -> None:
        raise NotFound(f"{feature} is a huggingface.co cloud service; hugbox does not host it")

    return refuse


def _install_routes() -> None:
    for prefix, feature in SERVICES.items():
        paths = {"root": f"/api/{prefix}", "any": f"/api/{prefix}/{{rest:path}}"}
        for (kind, path), method in itertools.product(paths.items(), METHODS):
            name = f"cloud_only_{prefix.replace('-', '_')}_{kind}_{method.lower()}"
            router.add_api_route(path, _refuse(feature), methods=[method], name=name, **REFUSAL)


_install_routes()


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(router)

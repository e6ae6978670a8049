"""`/health` (liveness, no I/O), `/ready` (readiness: database and storage) and `/metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from hugbox.auth.service import authenticate
from hugbox.context import Context
from hugbox.db import Database
from hugbox.deps import bearer_token
from hugbox.errors import AuthenticationRequired, Forbidden
from hugbox.observability.schemas import HealthStatus, ReadyStatus
from hugbox.observability.service import check_ready
from hugbox.settings import Settings
from hugbox.wire import returns

router = APIRouter()


@router.get("/health", **returns(HealthStatus))
async def health() -> dict[str, str]:
    """The process answers: a load balancer's liveness probe (TGI's route too). No I/O, so a
    slow database never gets a live process restarted."""
    return {"status": "ok"}


@router.get("/ready", **returns(ReadyStatus))
def ready(request: Request) -> dict[str, object]:
    """Whether this replica can serve now (503 naming what failed): the readiness probe."""
    context: Context = request.app.state.context
    return {"status": "ready", "checks": check_ready(context)}


@router.get("/metrics", response_class=PlainTextResponse)  # Prometheus's text format
async def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not settings.metrics_public:
        await run_in_threadpool(_require_admin, request)
    registry: CollectorRegistry = request.app.state.metrics_registry
    body = await run_in_threadpool(generate_latest, registry)  # the collectors read the database
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _require_admin(request: Request) -> None:
    """Metrics name private models and routes: only site admins see them unless made public."""
    database: Database = request.app.state.database
    with database.session() as session:
        caller = authenticate(session, bearer_token(request))
    if caller.user is None:
        raise AuthenticationRequired()
    if not caller.user.is_admin:
        raise Forbidden("Metrics need a site admin's token (or HUGBOX_METRICS_PUBLIC=true)")

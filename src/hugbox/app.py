"""create_app(settings): the one place that wires the parts together."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.types import Scope

from hugbox import __version__, cloud, malloc
from hugbox.accounts import wiring as accounts
from hugbox.auth import wiring as auth
from hugbox.auth.last_use import TokenUses
from hugbox.community import wiring as community
from hugbox.context import Context, build_context
from hugbox.deps import read_threads
from hugbox.edge import EdgeMiddleware
from hugbox.error_responses import install_error_handlers
from hugbox.events import service as events
from hugbox.gated import wiring as gated
from hugbox.gitserver import wiring as gitserver
from hugbox.inference import wiring as inference
from hugbox.inference.metrics import MetricsMiddleware
from hugbox.jobs.worker import Worker, WorkerLimits
from hugbox.lfs import wiring as lfs
from hugbox.middleware import (
    BodyLimitMiddleware,
    HubPathMiddleware,
    Observe,
    RequestIdMiddleware,
    ResponseCheckMiddleware,
    TokenUseMiddleware,
)
from hugbox.notifications import wiring as notifications
from hugbox.observability import tracing
from hugbox.observability import wiring as observability
from hugbox.openapi import install_openapi
from hugbox.plans import wiring as plans
from hugbox.plans.limiter import RateLimitMiddleware
from hugbox.repos import wiring as repos
from hugbox.repos.legacy import LegacyIds, install_repo_not_found, load_legacy_ids
from hugbox.scanning import wiring as scanning
from hugbox.settings import Settings
from hugbox.signing import UrlSigner
from hugbox.social import wiring as social
from hugbox.spaces import wiring as spaces
from hugbox.sso import wiring as sso
from hugbox.usage import wiring as usage
from hugbox.viewer import wiring as viewer
from hugbox.viewer.api import DatasetsServerHostMiddleware
from hugbox.web import pages as web_pages
from hugbox.webhooks import wiring as webhooks
from hugbox.wiring import Install, Wiring, wire
from hugbox.xet import wiring as xet

log = logging.getLogger(__name__)


# Each domain's `install`, in the order their routes are matched: the first route that matches a
# request wins. (API routes always come before pages, whatever the order here.)
INSTALLS: list[Install] = [
    auth.install,
    accounts.install,
    sso.install,  # before repos: `/organizations/{org}/sso/login` would read as a repo's page
    webhooks.install,  # before repos: `/settings/webhooks` would be read as a repo's page
    usage.install,  # before repos: its pages (/settings/storage) would be a repo's path there
    social.install,  # before repos: its pages `/collections/{namespace}` look like a repo's
    plans.install,  # before repos: its pages (/admin/plans) would read as repo URLs
    repos.install,
    community.install,
    lfs.install,
    xet.install,
    gitserver.install,
    gated.install,
    inference.install,
    observability.install,  # /health, /ready, /metrics
    viewer.install,
    spaces.install,
    notifications.install,
    scanning.install,
    cloud.install,  # last: it answers whole prefixes that huggingface.co serves and hugbox does not
]


def create_app(settings: Settings) -> FastAPI:
    context = build_context(settings)
    wiring = wire(context, INSTALLS)
    job_worker = job_worker_for(context, wiring)
    app = FastAPI(
        title="hugbox", version=__version__, docs_url="/api/docs", redoc_url=None,
        lifespan=_lifespan(context, wiring, job_worker),
    )  # fmt: skip
    _set_state(app, context, wiring)
    install_error_handlers(app)
    for router in wiring.api:
        app.include_router(router)
    # Pages after the API: `/{namespace}/{name}` must never shadow an API or git route.
    web_pages.install(app, secret=context.secret, domain_pages=wiring.pages + wiring.fallback_pages)
    install_repo_not_found(app)
    install_openapi(app)
    _add_middleware(app, context, _observe_all([app.state.request_observer, *wiring.observers]))
    tracing.instrument(app)
    return app


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _lifespan(context: Context, wiring: Wiring, job_worker: Worker) -> Lifespan:
    """At start, the parts' start hooks (pinned models) and the job workers; at stop, the
    reverse."""
    workers = context.settings.job_workers > 0

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for start in wiring.on_start:
            await start()
        if workers:
            job_worker.start()
        yield
        if workers:
            job_worker.stop()
        for stop in reversed(wiring.on_stop):
            await stop()
        app.state.read_threads.shutdown(wait=False)
        context.close()

    return lifespan


def _set_state(app: FastAPI, context: Context, wiring: Wiring) -> None:
    """What handlers reach through `request.app.state` (hugbox.deps): the shared context and
    what each part keeps there."""
    app.state.context = context
    app.state.settings = context.settings
    app.state.database = context.database
    app.state.store = context.store
    app.state.signer = UrlSigner(context.secret)
    app.state.page_context = wiring.page_context
    app.state.repo_hooks = wiring.hooks
    app.state.model_checks = wiring.model_checks
    for name, value in wiring.state.items():
        setattr(app.state, name, value)
    app.state.read_threads = read_threads()


def _observe_all(observers: list[Observe]) -> Observe:
    if len(observers) == 1:
        return observers[0]

    def observe(scope: Scope, status: int, seconds: float, sent: int) -> None:
        for observer in observers:
            try:
                observer(scope, status, seconds, sent)
            except Exception:  # the answer is sent: raising now would only reset the connection
                log.exception("a request observer failed on %s %s", scope["method"], scope["path"])

    return observe


def _add_middleware(app: FastAPI, context: Context, observe: Observe) -> None:
    """Outermost last: the request id first, then hosts, raw paths, body limit, edge checks."""

    def legacy_table() -> dict[tuple[str, str], str]:
        with context.database.session() as session:
            return load_legacy_ids(session)

    if context.settings.check_responses:
        app.add_middleware(ResponseCheckMiddleware)  # innermost: it reads the route
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # it reads the route too
    app.add_middleware(EdgeMiddleware)  # inside the body limit, which bounds what it reads
    app.add_middleware(BodyLimitMiddleware, limit=context.settings.max_request_body)
    app.add_middleware(HubPathMiddleware, legacy_ids=LegacyIds(legacy_table))
    # Outside all that authenticates: it writes each token's last use once the answer is sent.
    app.add_middleware(TokenUseMiddleware, uses=TokenUses(context.database))
    app.add_middleware(RateLimitMiddleware, limiter=app.state.plan_limiter)  # before any work
    app.add_middleware(DatasetsServerHostMiddleware)
    app.add_middleware(RequestIdMiddleware, observe=observe)


def create_app_from_env() -> FastAPI:
    """The app of a worker process started by `hugbox serve --workers N`."""
    malloc.tune()
    return served(create_app(Settings()))


def served(app: FastAPI) -> FastAPI:
    """`app`, about to serve for the life of its process, with what building it left in memory
    (the ~230,000 objects of the libraries and routes) moved out of the garbage collector's
    sight: each full collection walked them all again, stalling the event loop for 160 to 200
    ms (six did in a 25-second inference run, 985 ms in all; 84 ms frozen). Only for a server
    process: tests build many apps in one process, whose objects this would keep forever."""
    gc.freeze()
    return app


def job_worker_for(context: Context, wiring: Wiring) -> Worker:
    """Background jobs: run by each server process (and by `hugbox worker`): the parts' own, and
    the delivery of repo events to their subscribers."""
    settings = context.settings
    limits = WorkerLimits(
        threads=max(1, settings.job_workers),
        stale_after_s=settings.job_stale_after,
        heartbeat_s=max(0.2, min(5.0, settings.job_stale_after / 4)),
        max_attempts=settings.job_max_attempts,
    )
    delivery = events.Delivery(context.database, wiring.subscribers)
    handlers = {**wiring.jobs, events.DELIVER_JOB: delivery.deliver}
    return Worker(
        context.database, handlers, limits, periodic=wiring.periodic,
        listen_url=settings.job_listen_url,
    )  # fmt: skip


def wired_worker(context: Context) -> Worker:
    """The job worker of a process that serves no requests (`hugbox worker`, `viewer rebuild`)."""
    return job_worker_for(context, wire(context, INSTALLS))

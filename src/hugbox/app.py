"""create_app(settings): the one place that wires the parts together."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from hugbox import __version__, cloud, malloc
from hugbox.accounts import pages as account_pages
from hugbox.auth import api as auth_api
from hugbox.auth import pages as auth_pages
from hugbox.auth.sessions import LoginLimiter
from hugbox.community import api as community_api
from hugbox.context import Context, build_context
from hugbox.db import Database
from hugbox.deps import read_threads
from hugbox.edge import EdgeMiddleware
from hugbox.error_responses import install_error_handlers
from hugbox.events import service as events
from hugbox.gated import api as gated_api
from hugbox.gated import pages as gated_pages
from hugbox.gitserver import api as gitserver_api
from hugbox.inference import api as inference_api
from hugbox.inference import metrics as inference_metrics
from hugbox.inference import openai_api
from hugbox.inference.cache import ResponseCache
from hugbox.inference.executor import ExecutorLimits, ProcessExecutor
from hugbox.inference.metrics import ExecutorEvents, MeteredExecutor, Metrics, MetricsMiddleware
from hugbox.inference.pinned import load_pinned
from hugbox.inference.targets import TargetCache
from hugbox.jobs.worker import Worker, WorkerLimits
from hugbox.lfs import api as lfs_api
from hugbox.middleware import BodyLimitMiddleware, HubPathMiddleware, RequestIdMiddleware
from hugbox.openapi import install_openapi
from hugbox.repos import api as repos_api
from hugbox.repos import commits_api, files_api, files_pages, settings_api
from hugbox.repos import pages as repo_pages
from hugbox.repos.hooks import RepoHooks
from hugbox.repos.legacy import LegacyIds, install_repo_not_found, load_legacy_ids
from hugbox.repos.models import RepoType
from hugbox.repos.reconcile import RECONCILE_JOB, Reconciler
from hugbox.settings import PreuploadMode, Settings
from hugbox.signing import UrlSigner, load_secret
from hugbox.spaces import api as spaces_api
from hugbox.spaces import pages as space_pages
from hugbox.spaces import service as spaces_service
from hugbox.viewer import api as viewer_api
from hugbox.viewer import service as viewer_service
from hugbox.viewer.reader import ReaderCache
from hugbox.viewer.service import Viewer
from hugbox.viewer.tasks import ViewerTasks
from hugbox.web import pages as web_pages
from hugbox.xet import api as xet_api
from hugbox.xet import service as xet_service
from hugbox.xet.service import open_storage

log = logging.getLogger(__name__)


# API routes first, then pages: `/{namespace}/{name}` must never shadow an API or git route.
API_ROUTERS = (
    auth_api.router,
    repos_api.router,
    files_api.router,
    commits_api.router,
    community_api.router,
    lfs_api.router,
    xet_api.router,
    gitserver_api.router,
    gated_api.router,
    inference_api.router,
    openai_api.router,
    inference_metrics.router,
    viewer_api.router,
    spaces_api.router,
    settings_api.router,
    cloud.router,
)
PAGE_ROUTERS = (
    auth_pages.router,
    account_pages.router,
    repo_pages.router,
    gated_pages.router,
    files_pages.router,
    space_pages.router,
    account_pages.profile_router,  # last: `/{namespace}` would match what the others serve
)


def create_app(settings: Settings) -> FastAPI:
    context = build_context(settings)
    metrics = Metrics()
    executor = MeteredExecutor(_executor(settings, metrics), metrics)
    viewer = Viewer(context.store, settings.data_dir / "viewer", ReaderCache())
    job_worker = job_worker_for(settings, context.database, viewer)
    app = FastAPI(
        title="hugbox", version=__version__, docs_url="/api/docs", redoc_url=None,
        lifespan=_lifespan(context, executor, job_worker),
    )  # fmt: skip
    secret = load_secret(settings.secret_key.get_secret_value(), settings.data_dir)
    _set_state(app, context, metrics=metrics, executor=executor, viewer=viewer, secret=secret)
    install_error_handlers(app)
    for router in API_ROUTERS:
        app.include_router(router)
    web_pages.install(app, secret=secret, domain_pages=PAGE_ROUTERS)
    install_repo_not_found(app)
    install_openapi(app)
    _add_middleware(app, context, metrics)
    return app


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _lifespan(context: Context, executor: MeteredExecutor, job_worker: Worker) -> Lifespan:
    """At start: load the pinned models and start the job workers; at stop, the reverse."""
    settings = context.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pinning = asyncio.create_task(
            load_pinned(executor, database=context.database, store=context.store, settings=settings)
        )
        if settings.job_workers > 0:
            job_worker.start()
        yield
        pinning.cancel()
        if settings.job_workers > 0:
            job_worker.stop()
        await executor.close()
        app.state.read_threads.shutdown(wait=False)

    return lifespan


def _set_state(
    app: FastAPI, context: Context, *, metrics: Metrics, executor: MeteredExecutor,
    viewer: Viewer, secret: bytes,
) -> None:  # fmt: skip
    """What handlers reach through `request.app.state` (hugbox.deps)."""
    settings = context.settings
    app.state.context = context
    app.state.settings = settings
    app.state.database = context.database
    app.state.store = context.store
    app.state.executor = executor
    app.state.metrics = metrics
    app.state.response_cache = response_cache = ResponseCache(settings.inference_cache_bytes)
    metrics.watch(executor, response_cache)
    app.state.target_cache = TargetCache(settings.inference_access_ttl)
    app.state.signer = UrlSigner(secret)
    app.state.viewer = viewer
    if settings.preupload_mode is PreuploadMode.XET:
        app.state.xet = open_storage(settings.xet_dir, blobs=context.blobs, secret=secret)
    app.state.login_limiter = LoginLimiter()
    app.state.page_context = [repo_pages.repo_header_context]
    app.state.repo_hooks = repo_hooks()
    app.state.read_threads = read_threads()


def _add_middleware(app: FastAPI, context: Context, metrics: Metrics) -> None:
    """Outermost last: the request id first, then hosts, raw paths, body limit, edge checks."""

    def legacy_table() -> dict[tuple[str, str], str]:
        with context.database.session() as session:
            return load_legacy_ids(session)

    app.add_middleware(MetricsMiddleware, metrics=metrics)  # innermost: it reads the route
    app.add_middleware(EdgeMiddleware)  # inside the body limit, which bounds what it reads
    app.add_middleware(BodyLimitMiddleware, limit=context.settings.max_request_body)
    app.add_middleware(HubPathMiddleware, legacy_ids=LegacyIds(legacy_table))
    app.add_middleware(viewer_api.DatasetsServerHostMiddleware)
    app.add_middleware(RequestIdMiddleware)


def create_app_from_env() -> FastAPI:
    """The app of a worker process started by `hugbox serve --workers N`."""
    malloc.tune()
    return create_app(Settings())


def _executor(settings: Settings, events: ExecutorEvents) -> ProcessExecutor:
    threads = max(1, settings.inference_threads)
    cores = settings.inference_cores or os.cpu_count() or 1
    return ProcessExecutor(
        ExecutorLimits(
            memory_budget=settings.inference_memory_budget,
            threads=threads,
            max_batch=settings.inference_max_batch,
            max_queue=settings.inference_max_queue,
            load_timeout_s=settings.inference_load_timeout,
            deadline_s=settings.inference_deadline,
            compute_slots=max(1, cores // threads),
        ),
        events=events,
    )


def job_worker_for(settings: Settings, database: Database, viewer: Viewer) -> Worker:
    """Background jobs: run by each server process (and by `hugbox worker`)."""
    tasks = ViewerTasks(database, viewer, int(settings.viewer_max_dataset_bytes))
    limits = WorkerLimits(
        threads=max(1, settings.job_workers),
        stale_after_s=settings.job_stale_after,
        heartbeat_s=max(0.2, min(5.0, settings.job_stale_after / 4)),
        max_attempts=settings.job_max_attempts,
    )
    delivery = events.Delivery(database, subscribers())
    reconciler = Reconciler(database, viewer.store)
    handlers = {
        **tasks.handlers(),
        events.DELIVER_JOB: delivery.deliver,
        RECONCILE_JOB: reconciler.handle,
    }
    return Worker(database, handlers, limits, periodic={RECONCILE_JOB: settings.reconcile_interval})


def repo_hooks() -> RepoHooks:
    """What other parts add to repos' own routes and pages, in the request (repos/hooks.py)."""
    return RepoHooks(
        info_fields={RepoType.SPACE: [spaces_api.info_fields]},
        configure=[spaces_api.configure],
        copied=[spaces_api.copied, xet_service.share_files],
        listing=[xet_api.with_xet_hashes],
        download_headers=[xet_api.download_headers],
        repo_page={"space": space_pages.space_view},
        settings_page={"space": space_pages.space_settings},
    )


def subscribers() -> list[events.Subscriber]:
    """Who reacts to repo events: the one list of the parts that follow repo changes."""
    return [
        events.Subscriber("viewer", {events.REF_MOVED}, viewer_service.on_ref_moved),
        events.Subscriber("spaces", {events.REF_MOVED}, spaces_service.on_ref_moved),
    ]

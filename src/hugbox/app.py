"""create_app(settings): the one place that wires the parts together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hugbox import __version__
from hugbox.auth import api as auth_api
from hugbox.db import Database
from hugbox.errors import install_error_handlers
from hugbox.inference import api as inference_api
from hugbox.inference import openai_api
from hugbox.inference.executor import ExecutorLimits, ProcessExecutor
from hugbox.middleware import BodyLimitMiddleware, HubPathMiddleware, RequestIdMiddleware
from hugbox.repos import api as repos_api
from hugbox.repos import commits_api, discussions_api, files_api, gated_api, lfs_api
from hugbox.repos.legacy import LegacyIds, load_legacy_ids
from hugbox.repos.signing import UrlSigner, load_secret
from hugbox.repos.store import RepoStore
from hugbox.settings import Settings
from hugbox.storage.blobs import LocalBlobStore

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    database = Database(settings.sqlalchemy_url)
    executor = ProcessExecutor(
        ExecutorLimits(
            memory_budget=settings.inference_memory_budget,
            threads=settings.inference_threads,
            max_batch=settings.inference_max_batch,
            max_queue=settings.inference_max_queue,
            load_timeout_s=settings.inference_load_timeout,
        )
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await executor.close()

    app = FastAPI(
        title="hugbox", version=__version__, docs_url="/api/docs", redoc_url=None, lifespan=lifespan
    )
    app.state.executor = executor
    app.state.settings = settings
    app.state.database = database
    app.state.store = RepoStore(
        repos_dir=settings.repos_dir,
        blobs=LocalBlobStore(settings.blobs_dir),
        tmp_dir=settings.tmp_dir,
    )
    secret = load_secret(settings.secret_key.get_secret_value(), settings.data_dir)
    app.state.signer = UrlSigner(secret)
    install_error_handlers(app)
    for router in (
        auth_api.router,
        repos_api.router,
        files_api.router,
        commits_api.router,
        discussions_api.router,
        lfs_api.router,
        gated_api.router,
        inference_api.router,
        openai_api.router,
    ):
        app.include_router(router)

    def legacy_table() -> dict[tuple[str, str], str]:
        with database.session() as session:
            return load_legacy_ids(session)

    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_body)
    app.add_middleware(HubPathMiddleware, legacy_ids=LegacyIds(legacy_table))
    app.add_middleware(RequestIdMiddleware)
    return app


def create_app_from_env() -> FastAPI:
    """The app of a worker process started by `hugbox serve --workers N`."""
    return create_app(Settings())

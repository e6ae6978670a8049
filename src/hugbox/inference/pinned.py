"""Pinned models: loaded when the server starts and never evicted (HF's "warm" models)."""

from __future__ import annotations

import asyncio
import logging

from hugbox.db import Database
from hugbox.errors import HubError
from hugbox.inference import calls, service
from hugbox.inference.executor import Executor, ModelKey
from hugbox.repos import service as repos
from hugbox.repos.models import RepoType
from hugbox.repos.store import RepoStore
from hugbox.settings import Settings

log = logging.getLogger(__name__)


async def load_pinned(
    executor: Executor, *, database: Database, store: RepoStore, settings: Settings
) -> None:
    """Load every pinned model at its main branch, one after the other (each load is CPU-bound);
    a model that cannot be found or loaded is logged and skipped."""
    for repo_id in settings.inference_pinned:
        try:
            key = await asyncio.to_thread(_key_for, repo_id, database, store, settings)
            await executor.preload(key)
        except (HubError, calls.TaskError) as exc:
            log.error("pinned model %s was not loaded: %s", repo_id, exc)
        else:
            log.info("pinned model %s loaded", repo_id)


def _key_for(repo_id: str, database: Database, store: RepoStore, settings: Settings) -> ModelKey:
    with database.session() as session:
        found = repos.find_repo(session, RepoType.MODEL, repo_id)
        repo = found.repo if isinstance(found, repos.Moved) else found
        if repo is None:
            raise HubError(f"no model {repo_id}: pin models by their org/name id")
        target = service.target_for(
            store,
            repo,
            revision="main",
            snapshots_dir=settings.data_dir / "inference" / "snapshots",
            max_model_bytes=settings.inference_max_model_bytes,
        )
    task = calls.pipeline_for(target.pipeline_tag)
    return ModelKey(target.repo_id, target.model_dir, task, target.weights_bytes)

"""The supervisor's reads and writes of the database and git: one space's wishes, its config
at a commit, and the stages it observed. Plain blocking functions, run in threads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from hugbox.db import Database, utcnow
from hugbox.repos.checkout import checkout
from hugbox.repos.indexer import read_card
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.store import RepoStore
from hugbox.spaces import service
from hugbox.spaces.config import SdkDefaults, SpaceConfig, read_config
from hugbox.spaces.models import RunState, SpaceRun, SpaceRuntime, SpaceStage
from hugbox.storage import git


@dataclass(frozen=True)
class Wishes:
    """A space as the database describes it: what it is, and what its owner wants."""

    pk: int
    repo_id: str
    creator_id: int | None
    generation: int
    requested_sha: str | None
    paused: bool
    restarts: int
    factory_restarts: int
    sleep_time: int | None
    stage: SpaceStage
    built_sha: str | None
    env: dict[str, str]
    secrets: tuple[str, ...]


def generations(database: Database) -> dict[int, int]:
    """Every space runtime's generation: what changed since the last look."""
    with database.session() as session:
        rows = session.execute(select(SpaceRuntime.repo_pk, SpaceRuntime.generation)).all()
    return {pk: generation for pk, generation in rows}  # noqa: C416 - rows are Row tuples


def read_wishes(database: Database, pk: int) -> Wishes | None:
    with database.session() as session:
        repo = session.get(Repo, pk)
        runtime = session.get(SpaceRuntime, pk)
        if repo is None or runtime is None or repo.type is not RepoType.SPACE or repo.disabled:
            return None
        env, secrets = service.environment(session, repo)
        return Wishes(
            pk=pk, repo_id=repo.repo_id, creator_id=repo.created_by_id,
            generation=runtime.generation, requested_sha=runtime.requested_sha,
            paused=runtime.paused, restarts=runtime.restarts,
            factory_restarts=runtime.factory_restarts, sleep_time=runtime.sleep_time,
            stage=runtime.stage, built_sha=runtime.built_sha, env=env, secrets=secrets,
        )  # fmt: skip


def observe(database: Database, pk: int, stage: SpaceStage, **fields: Any) -> None:
    """Record what the supervisor saw; never a wish, so the generation stays."""
    with database.session() as session:
        session.execute(
            update(SpaceRuntime)
            .where(SpaceRuntime.repo_pk == pk)
            .values(stage=stage, **fields)
            .execution_options(synchronize_session=False)
        )


def load_config(
    database: Database, store: RepoStore, pk: int, sha: str, defaults: SdkDefaults
) -> SpaceConfig:
    """The config of the space at `sha` (raises ConfigProblem)."""
    repo, gitrepo, commit = _commit(database, store, pk, sha)
    walk = git.walk(gitrepo, commit.tree, "", recursive=True)
    files = {item.path for item in walk if not item.is_dir}
    return read_config(read_card(gitrepo, commit), files, sdk=repo.sdk, defaults=defaults)


def write_checkout(database: Database, store: RepoStore, pk: int, sha: str, dest: Path) -> None:
    """The space's files at `sha`, large ones copied: the sandbox sees no blob store."""
    _, gitrepo, commit = _commit(database, store, pk, sha)
    dest.mkdir(parents=True, exist_ok=True)
    checkout(gitrepo, commit, store.blobs, dest, link_large=False)


def _commit(
    database: Database, store: RepoStore, pk: int, sha: str
) -> tuple[Repo, git.Repository, git.Commit]:
    repo = _repo(database, pk)
    gitrepo = store.open(repo)
    commit = git.resolve(gitrepo, sha)
    if commit is None:
        raise LookupError(f"commit {sha} of {repo.repo_id} is gone")
    return repo, gitrepo, commit


def _repo(database: Database, pk: int) -> Repo:
    with database.session() as session:
        repo = session.get(Repo, pk)
        if repo is None:
            raise LookupError(f"space {pk} is gone")
        session.expunge(repo)
        return repo


def record_run(
    database: Database, pk: int, *, host: str, runner: str, pod: str, upstream: str
) -> None:
    """A start: this host runs the space's app as `pod`, every host reaches it at `upstream`
    (runs.encode); the start counts as a visit."""
    with database.session() as session:
        run = session.get(SpaceRun, pk) or SpaceRun(repo_pk=pk)
        run.host, run.runner, run.pod, run.state = host, runner, pod, RunState.RUNNING
        run.upstream = upstream
        run.started_at = run.last_seen = run.visited_at = utcnow()
        session.merge(run)


def end_run(database: Database, pk: int) -> None:
    with database.session() as session:
        session.execute(
            update(SpaceRun)
            .where(SpaceRun.repo_pk == pk)
            .values(state=RunState.STOPPED, last_seen=utcnow(), upstream=None)
            .execution_options(synchronize_session=False)
        )


def seen_running(database: Database, pks: list[int], host: str) -> None:
    """This host's apps are alive: a host that stops writing this is gone (its rows go stale)."""
    if not pks:
        return
    with database.session() as session:
        session.execute(
            update(SpaceRun)
            .where(SpaceRun.repo_pk.in_(pks), SpaceRun.host == host)
            .values(last_seen=utcnow())
            .execution_options(synchronize_session=False)
        )

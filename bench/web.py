"""Web pages: server render time of the repo page and the file tree of a 10,000-file repo, and of
the explore page over 10,000 repos (p50/p99), against a trivial route in the same run.

In process (Starlette's TestClient): the time is the server's, with no socket in between.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pygit2
from fastapi.testclient import TestClient

from common import Result, Workspace, log, percentile
from hugbox.app import create_app
from hugbox.auth import service as auth
from hugbox.auth.service import Caller
from hugbox.db import Database, migrate
from hugbox.repos import indexer, service
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.store import RepoStore
from hugbox.settings import Settings
from hugbox.storage import git
from hugbox.storage.blobs import LocalBlobStore

FILES = 10_000
REPOS = 10_000
TARGET_MS = 100.0
CARD = """---
license: apache-2.0
pipeline_tag: text-classification
tags: [bench]
---
# Big repo

| files | kind |
|-------|------|
| 10000 | small |

```python
from transformers import pipeline
```
"""


def _seed(settings: Settings) -> None:
    migrate(settings.sqlalchemy_url)
    database = Database(settings.sqlalchemy_url)
    store = RepoStore(repos_dir=settings.repos_dir, blobs=LocalBlobStore(settings.blobs_dir),
                      tmp_dir=settings.tmp_dir)  # fmt: skip
    with database.session() as session:
        user = auth.create_user(session, name="bench", password="bench-password")  # noqa: S106
        repo = service.create_repo(
            session, store, caller=Caller(user=user), repo_type=RepoType.MODEL, namespace=None,
            name="big",
        )  # fmt: skip
        _fill(store, repo)
        indexer.refresh(session, store, repo)
        session.add_all(_listed_repo(user.id, i) for i in range(REPOS))
    database.engine.dispose()


def _listed_repo(owner_id: int, i: int) -> Repo:
    """A repo row for the explore page (listings read only the database)."""
    return Repo(
        type=RepoType.MODEL, namespace="bench", name=f"m-{i:05d}", id_lower=f"bench/m-{i:05d}",
        owner_id=owner_id, downloads=i % 977,
        pipeline_tag="text-classification" if i % 3 else "fill-mask",
        tags=["bench", f"license:{'mit' if i % 2 else 'apache-2.0'}"],
    )  # fmt: skip


def _fill(store: RepoStore, repo: Repo) -> None:
    """10,000 small files at the root, and a card, in one commit written straight to git."""
    gitrepo = store.open(repo)
    head = git.resolve(gitrepo, "main")
    assert head is not None
    builder = gitrepo.TreeBuilder(head.tree)
    builder.insert("README.md", gitrepo.create_blob(CARD.encode()), pygit2.GIT_FILEMODE_BLOB)
    for i in range(FILES):
        blob = gitrepo.create_blob(f'{{"i": {i}}}\n'.encode())
        builder.insert(f"shard-{i:05d}.json", blob, pygit2.GIT_FILEMODE_BLOB)
    oid = git.write_commit(gitrepo, tree_oid=str(builder.write()), parents=[str(head.id)],
                           author_name="bench", author_email="bench@example.org",
                           message="10,000 files")  # fmt: skip
    git.set_ref(gitrepo, "refs/heads/main", oid, old=str(head.id))


def _timed(get: Callable[[], int], samples: int) -> list[float]:
    for _ in range(3):  # warm caches the way a busy server has them
        assert get() == 200
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        status = get()
        times.append((time.perf_counter() - started) * 1000)
        assert status == 200
    return times


def run(ws: Workspace) -> list[Result]:
    settings = Settings(data_dir=Path(ws.root) / "web")
    log(f"web: seeding a {FILES}-file repo and {REPOS} repos")
    _seed(settings)
    samples = 20 if ws.quick else 100
    pages = {
        "repo page (10k files)": "/bench/big",
        "file tree (10k files, page 1)": "/bench/big/tree/main",
        "explore (10k repos)": "/models",
        "explore search+filter (10k repos)": "/models?search=m-01&license=mit&sort=likes",
        "explore page 100 (10k repos)": "/models?p=100",
    }
    results = []
    with TestClient(create_app(settings)) as client:
        base = _timed(lambda: client.get("/api/agent-harnesses").status_code, samples)
        base_p50 = percentile(base, 50)
        for name, url in pages.items():
            times = _timed(lambda url=url: client.get(url).status_code, samples)  # type: ignore[misc]
            p50, p99 = percentile(times, 50), percentile(times, 99)
            results.append(
                Result(
                    f"web: {name}",
                    f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
                    f"trivial route p50 {base_p50:.2f} ms",
                    p50 / base_p50,
                    f"p50 <= {TARGET_MS:.0f} ms",
                    p50 <= TARGET_MS,
                )
            )
    return results

"""The large-file access check (repos/objects.py) on a hub-sized index: what one LFS batch
download or Xet reconstruction pays to learn whether a repo may serve an object, against a
primary-key lookup of the repo itself (what every request pays already), both on one SQLite
database in this process.
"""

from __future__ import annotations

import os
import random
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from common import Result, Workspace, log, percentile
from hugbox.auth import service as auth
from hugbox.db import Database, migrate
from hugbox.repos import objects
from hugbox.repos.models import Repo, RepoObject, RepoType

REPOS = 2_000
OBJECTS_PER_REPO = 100  # 200,000 rows: a large self-hosted hub
CALLS = 3_000
TARGET_MS = 1.0


def _seed(session: Session) -> tuple[list[int], dict[int, list[str]]]:
    owner = auth.create_user(session, name="bench", password=secrets.token_hex(8))
    repos = [
        Repo(
            type=RepoType.MODEL,
            namespace="bench",
            name=f"r{i}",
            id_lower=f"bench/r{i}",
            owner_id=owner.id,
        )
        for i in range(REPOS)
    ]
    session.add_all(repos)
    session.flush()
    named = {r.pk: [os.urandom(32).hex() for _ in range(OBJECTS_PER_REPO)] for r in repos}
    rows = [{"repo_pk": pk, "oid": oid} for pk, oids in named.items() for oid in oids]
    session.execute(insert(RepoObject), rows)
    return [r.pk for r in repos], named


def _p50_ms(call: Callable[[], object]) -> float:
    samples = []
    for _ in range(CALLS):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return percentile(samples, 50)


def run(ws: Workspace) -> list[Result]:
    url = f"sqlite:///{Path(ws.root) / 'objects.db'}"
    migrate(url)
    database = Database(url)
    log(f"object access: indexing {REPOS * OBJECTS_PER_REPO} objects of {REPOS} repos")
    with database.session() as session:
        pks, named = _seed(session)
    rng = random.Random(1)
    with database.session() as session:
        baseline = _p50_ms(lambda: session.get(Repo, rng.choice(pks), populate_existing=True))
        hit = _p50_ms(lambda: _readable(session, rng.choice(pks), named, hit=True, rng=rng))
        miss = _p50_ms(lambda: _readable(session, rng.choice(pks), named, hit=False, rng=rng))
    database.engine.dispose()
    measured = max(hit, miss)
    return [
        Result(
            "object access check p50 (hit / miss)",
            f"{hit:.3f} / {miss:.3f} ms",
            f"repo by primary key {baseline:.3f} ms",
            measured / baseline,
            f"<= {TARGET_MS} ms",
            measured <= TARGET_MS,
            note=f"object access: {REPOS * OBJECTS_PER_REPO} indexed objects, SQLite, in process",
        )
    ]


def _readable(
    session: Session, pk: int, named: dict[int, list[str]], *, hit: bool, rng: random.Random
) -> set[str]:
    oid = rng.choice(named[pk]) if hit else os.urandom(32).hex()
    return objects.readable(session, repo_pk=pk, user_id=1, oids=[oid])

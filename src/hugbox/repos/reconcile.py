"""Heal what a crash between moving a ref and committing the database leaves behind.

Every ref change moves the ref in git under the repo lock, then the request's transaction records
the ref's new commit (`repo_refs`), the repo's head, its large-file links and the event. A process
killed, or a transaction that fails, between the two leaves git ahead of the database: the API
would show the old head, downloads of the new large files would be refused and no subscriber
would hear of the change. `heal` compares every repo's refs in git with what the database
recorded and records what it missed; the hub runs it when it starts and then periodically (the
`repos.reconcile` job).

A heal racing a change in flight may announce that change too: subscribers are idempotent, and
the next pass settles `repo_refs` on what git holds.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.db import Database
from hugbox.errors import RepoNotFound
from hugbox.events.service import MAIN_REF
from hugbox.repos import announce, indexer, objects
from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore
from hugbox.storage import git

log = logging.getLogger(__name__)

RECONCILE_JOB = "repos.reconcile"


def heal(database: Database, store: RepoStore) -> int:
    """Bring every repo whose refs moved behind the database's back up to date, one transaction
    per repo; returns how many were healed."""
    with database.session() as session:
        pks = session.scalars(select(Repo.pk).order_by(Repo.pk)).all()
    healed = 0
    for pk in pks:
        with database.session() as session:
            repo = session.get(Repo, pk)
            healed += repo is not None and heal_repo(session, store, repo)
    return healed


def heal_repo(session: Session, store: RepoStore, repo: Repo) -> bool:
    """Record and announce the refs of `repo` that git moved without the database."""
    try:
        # Under the repo lock: on PostgreSQL a writer holds it until its records are committed,
        # so a move in flight on any replica is waited for, not taken for one the database missed.
        with store.locked(repo, session):
            actual = git.ref_targets(store.open(repo))
    except RepoNotFound:
        return False  # deleted while its row was being read
    recorded = announce.recorded_refs(session, repo) or _learn(session, repo, actual)
    if actual == recorded:
        return False
    log.warning("%s: refs moved without the database: %s", repo.repo_id, _diff(recorded, actual))
    if actual.get(MAIN_REF) != recorded.get(MAIN_REF):
        indexer.refresh(session, store, repo)
    objects.index_history(session, store, repo)  # the large files the new commits name
    announce.refs_moved(session, repo, before=recorded, after=actual)
    return True


def _learn(session: Session, repo: Repo, actual: dict[str, str]) -> dict[str, str]:
    """A repo made before `repo_refs` existed: take git's refs as recorded, without announcing
    them, except main, which is compared with the head the API shows."""
    for ref, commit in actual.items():
        if ref != MAIN_REF:
            announce.record_ref(session, repo, ref=ref, commit=commit)
    known = {ref: commit for ref, commit in actual.items() if ref != MAIN_REF}
    return known | ({MAIN_REF: repo.head_sha} if repo.head_sha else {})


def _diff(recorded: dict[str, str], actual: dict[str, str]) -> str:
    refs = sorted(
        ref for ref in recorded.keys() | actual.keys() if recorded.get(ref) != actual.get(ref)
    )
    return ", ".join(f"{ref} {recorded.get(ref)} -> {actual.get(ref)}" for ref in refs)


class Reconciler:
    """The periodic job: `handle` heals every repo."""

    def __init__(self, database: Database, store: RepoStore):
        self.database = database
        self.store = store

    def handle(self, _payload: dict[str, Any]) -> None:
        if healed := heal(self.database, self.store):
            log.warning("healed %d repos whose refs moved without the database", healed)

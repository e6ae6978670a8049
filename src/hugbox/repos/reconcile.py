"""Heal what a crash between moving a ref and committing the database leaves behind.

A commit moves the branch in git, then the request's transaction commits the repo's new head,
its large-file links and its event. A process killed, or a transaction that fails, between the
two leaves git ahead of the database: the API would show the old head, downloads of the new large
files would be refused and no subscriber would hear of the commit. `heal` finds such repos and
records what the database missed; the hub runs it when it starts.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.errors import RepoNotFound
from hugbox.repos import indexer, objects
from hugbox.repos.models import Repo
from hugbox.repos.service import announce_ref_moved
from hugbox.repos.store import RepoStore
from hugbox.storage import git

log = logging.getLogger(__name__)

MAIN_REF = "refs/heads/main"


def heal(session: Session, store: RepoStore) -> int:
    """Bring every repo whose main branch moved behind the database's back up to date; returns
    how many were healed."""
    healed = 0
    for repo in session.scalars(select(Repo)).all():
        try:
            actual = git.ref_target(store.open(repo), MAIN_REF)
        except RepoNotFound:
            continue  # deleted while its row was being read
        if actual is None or actual == repo.head_sha:
            continue
        log.warning(
            "%s: main is at %s, the database had %s; healing", repo.repo_id, actual, repo.head_sha
        )
        old = repo.head_sha
        indexer.refresh(session, store, repo)
        objects.index_history(session, store, repo)  # the large files the new commits name
        announce_ref_moved(session, repo, ref=MAIN_REF, old=old, new=actual)
        healed += 1
    return healed

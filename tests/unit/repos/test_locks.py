"""Writers of one repo take turns: the repo lock (PostgreSQL's advisory lock in the writer's
transaction, or a file lock on SQLite), discussion numbers handed out one opener at a time, and
refs that move only from where their writer saw them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from builders import Builder
from sqlalchemy import text
from sqlalchemy.orm import Session

from hugbox.auth.service import ANONYMOUS
from hugbox.db import Database
from hugbox.errors import Conflict
from hugbox.repos import commits, refs
from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore
from hugbox.storage import git
from testdb import POSTGRESQL


@pytest.fixture
def repo_id(database: Database, store: RepoStore) -> int:
    with database.session() as session:
        build = Builder(session, store)
        return build.repo(build.user("alice"), "m").pk


def _waiting_for_advisory_lock(database: Database, timeout: float = 10.0) -> bool:
    """Whether another transaction comes to wait for an advisory lock within `timeout` (a thread
    just started may take a while to get there on a loaded machine)."""
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    deadline = time.monotonic() + timeout
    while True:
        with database.session() as session:
            if session.execute(query).scalar():
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _second_writer(
    database: Database, write: Callable[[Session], object]
) -> tuple[threading.Thread, list[object]]:
    """`write` in a transaction of its own, in a thread; its result (or error) lands in the list."""
    results: list[object] = []

    def run() -> None:
        try:
            with database.session() as session:
                results.append(write(session))
        except Exception as exc:
            results.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


def _open(session: Session, repo_pk: int, title: str) -> int:
    repo = session.get(Repo, repo_pk)
    assert repo is not None
    return commits.open_discussion(
        session, repo=repo, caller=ANONYMOUS, title=title, description="", is_pull_request=False
    )


def test_two_concurrent_openers_of_discussions_get_numbers_of_their_own(
    database: Database, repo_id: int
) -> None:
    with database.session() as first:
        assert _open(first, repo_id, "first") == 1
        thread, second = _second_writer(database, lambda s: _open(s, repo_id, "second"))
        if POSTGRESQL:  # it waits for the first opener's turn to end, not for a unique key
            assert _waiting_for_advisory_lock(database)
        else:
            time.sleep(0.3)  # the second opener reads the numbers while the first is uncommitted
    thread.join(timeout=30)
    assert second == [2]


@pytest.mark.skipif(not POSTGRESQL, reason="SQLite's file lock lasts only for the block")
def test_the_repo_lock_lasts_until_the_writer_commits(
    database: Database, store: RepoStore, repo_id: int
) -> None:
    def branch(session: Session, name: str) -> None:
        repo = session.get(Repo, repo_id)
        assert repo is not None
        refs.create_branch(session, store, repo=repo, branch=name, starting_point=None)

    with database.session() as first:
        branch(first, "one")  # the ref moved; what it recorded is not committed yet
        thread, second = _second_writer(database, lambda s: branch(s, "two"))
        assert _waiting_for_advisory_lock(database) and second == []
    thread.join(timeout=30)
    assert second == [None]


def test_a_ref_moved_behind_the_lock_is_a_conflict(
    database: Database, store: RepoStore, repo_id: int
) -> None:
    with database.session() as session:
        repo = session.get(Repo, repo_id)
        assert repo is not None
        gitrepo = store.open(repo)
        head = git.ref_target(gitrepo, "refs/heads/main")
        assert head is not None
        with pytest.raises(Conflict), store.locked(repo, session):
            git.set_ref(gitrepo, "refs/heads/main", head, old="0" * 40)
        assert git.ref_target(gitrepo, "refs/heads/main") == head

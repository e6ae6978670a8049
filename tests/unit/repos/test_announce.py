"""Each change to a repo writes its event in the transaction of the change: create, move,
settings, branches and tags, delete; and `repo_refs` follows every ref."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hugbox.auth import service as auth
from hugbox.auth.service import Caller
from hugbox.db import Database
from hugbox.errors import Conflict, Forbidden, RevisionNotFound
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.repos import announce, refs, service
from hugbox.repos.models import Repo, RepoRef, RepoType
from hugbox.repos.store import RepoStore


def _events(database: Database) -> list[tuple[str, str, dict[str, Any]]]:
    with database.session() as session:
        rows = session.scalars(select(RepoEvent).order_by(RepoEvent.id))
        return [(event.kind, event.repo_id, event.data) for event in rows]


def _repo(session: Any, repo_id: str) -> Repo:
    repo = service.find_repo(session, RepoType.MODEL, repo_id)
    assert isinstance(repo, Repo)
    return repo


def test_a_repo_life_is_told_in_events(database: Database, store: RepoStore) -> None:
    with database.session() as session:
        alice = auth.create_user(session, name="alice", password="pw")
        caller = Caller(user=alice)
        repo = service.create_repo(
            session, store, caller=caller, repo_type=RepoType.MODEL, namespace="alice", name="m"
        )
        head = repo.head_sha
    with database.session() as session:
        repo = _repo(session, "alice/m")
        refs.create_branch(session, store, repo=repo, branch="dev", starting_point=None)
        refs.create_tag(
            session, store, repo=repo, tag="v1", revision="main", message="one", tagger="alice"
        )
        service.update_settings(session, repo=repo, private=True, gated="auto")
        service.update_settings(session, repo=repo, private=True)  # no change, no event
        service.move_repo(session, caller=caller, repo=repo, to_repo_id="alice/renamed")
    with database.session() as session:
        repo = _repo(session, "alice/renamed")
        assert announce.recorded_refs(session, repo) == {
            "refs/heads/main": head, "refs/heads/dev": head, "refs/tags/v1": head,
        }  # fmt: skip
        refs.delete_branch(session, store, repo=repo, branch="dev")
        refs.delete_tag(session, store, repo=repo, tag="v1")
        assert announce.recorded_refs(session, repo) == {"refs/heads/main": head}
        service.delete_repo(session, store, repo=repo)
    assert _events(database) == [
        (events.REPO_CREATED, "alice/m", {"head": head}),
        (events.REF_MOVED, "alice/m", {"ref": "refs/heads/dev", "old": None, "new": head}),
        (events.REF_MOVED, "alice/m", {"ref": "refs/tags/v1", "old": None, "new": head}),
        (events.REPO_UPDATED, "alice/m", {"private": [False, True], "gated": [None, "auto"]}),
        (events.REPO_MOVED, "alice/renamed", {"old_id": "alice/m", "new_id": "alice/renamed"}),
        (events.REF_MOVED, "alice/renamed", {"ref": "refs/heads/dev", "old": head, "new": None}),
        (events.REF_MOVED, "alice/renamed", {"ref": "refs/tags/v1", "old": head, "new": None}),
        (events.REPO_DELETED, "alice/renamed", {}),
    ]
    with database.session() as session:  # the deleted repo's refs went with it
        assert session.scalars(select(RepoRef)).all() == []


@pytest.mark.usefixtures("alice_model")
def test_a_refused_change_writes_no_event(database: Database, store: RepoStore) -> None:
    before = _events(database)
    with database.session() as session:
        repo = _repo(session, "alice/m")
        with pytest.raises(Forbidden):
            refs.delete_branch(session, store, repo=repo, branch="main")
        with pytest.raises(RevisionNotFound):
            refs.delete_branch(session, store, repo=repo, branch="absent")
        with pytest.raises(Conflict):
            refs.create_branch(session, store, repo=repo, branch="main", starting_point=None)
    assert _events(database) == before

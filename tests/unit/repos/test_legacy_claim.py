"""Where `hugbox import DIR gpt2` stores a single-segment id, on a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from hugbox.auth import service as auth
from hugbox.auth.models import AccountKind, OrgRole
from hugbox.auth.service import Caller
from hugbox.db import Database
from hugbox.errors import BadRequest, Conflict, HubError, NotFound
from hugbox.repos import service
from hugbox.repos.legacy import LEGACY_NAMESPACE, claim_legacy_id
from hugbox.repos.models import RepoType
from hugbox.repos.store import RepoStore
from hugbox.storage.blobs import LocalBlobStore


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.session() as session:
        auth.create_user(session, name="alice", password="pw")
        yield session


def _claim(session: Session, legacy_id: str, repo_type: RepoType = RepoType.MODEL) -> str:
    return claim_legacy_id(session, repo_type=repo_type, legacy_id=legacy_id)


def test_without_a_site_admin_the_operator_is_told_what_to_create(session: Session) -> None:
    with pytest.raises(NotFound, match="--admin"):
        _claim(session, "gpt2")


def test_the_org_is_created_with_the_first_site_admin(session: Session) -> None:
    auth.create_user(session, name="root", password="pw", is_admin=True)
    auth.create_user(session, name="later", password="pw", is_admin=True)
    assert _claim(session, "gpt2") == f"{LEGACY_NAMESPACE}/gpt2"
    org = auth.get_account(session, LEGACY_NAMESPACE, kind=AccountKind.ORG)
    root = auth.get_account(session, "root")
    assert Caller(user=root).org_role(org.id) is OrgRole.ADMIN
    assert _claim(session, "squad", RepoType.DATASET) == f"{LEGACY_NAMESPACE}/squad"


def test_an_operator_made_org_is_used_as_it_is(session: Session) -> None:
    auth.create_org(session, name=LEGACY_NAMESPACE, owner="alice")
    assert _claim(session, "gpt2") == f"{LEGACY_NAMESPACE}/gpt2"


@pytest.mark.parametrize(
    ("taken", "error"),
    [("alice", Conflict), ("ALICE", Conflict), ("api", Conflict), ("models", Conflict),
     ("bad--name", BadRequest), ("x.git", BadRequest)],
)  # fmt: skip
def test_names_that_mean_something_else_are_refused(
    session: Session, taken: str, error: type[HubError]
) -> None:
    with pytest.raises(error):
        _claim(session, taken)


def test_an_id_leading_elsewhere_is_refused(session: Session, tmp_path: Path) -> None:
    auth.create_org(session, name=LEGACY_NAMESPACE, owner="alice")
    store = RepoStore(
        repos_dir=tmp_path / "repos", blobs=LocalBlobStore(tmp_path / "lfs"), tmp_dir=tmp_path
    )
    alice = Caller(user=auth.get_account(session, "alice"))
    repo = service.create_repo(
        session, store, caller=alice, repo_type=RepoType.MODEL, namespace="alice", name="gpt2"
    )
    service.add_alias(session, repo=repo, alias="gpt2")
    with pytest.raises(Conflict, match="already leads to alice/gpt2"):
        _claim(session, "gpt2")
    assert _claim(session, "gpt2", RepoType.DATASET) == f"{LEGACY_NAMESPACE}/gpt2"

"""The large-file access rule (repos/objects.py) on a real SQLite database and real git repos."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from hugbox.auth import service as auth
from hugbox.auth.models import Account
from hugbox.auth.service import Caller
from hugbox.db import Database
from hugbox.repos import objects, service
from hugbox.repos.models import AccessGrant, Repo, RepoType
from hugbox.repos.store import RepoStore
from hugbox.storage import git

A, B, C = (hashlib.sha256(n).hexdigest() for n in (b"a", b"b", b"c"))


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.session() as session:
        for name in ("alice", "bob"):
            auth.create_user(session, name=name, password="pw")
        yield session


def _caller(session: Session, name: str) -> Caller:
    return Caller(user=auth.get_account(session, name))


def _repo(session: Session, store: RepoStore, name: str, **flags: object) -> Repo:
    repo = service.create_repo(
        session, store, caller=_caller(session, "alice"), repo_type=RepoType.MODEL,
        namespace="alice", name=name,
    )  # fmt: skip
    for key, value in flags.items():
        setattr(repo, key, value)
    session.flush()
    return repo


def test_a_repo_serves_what_its_history_names_and_uploads_to_their_uploader(
    session: Session, store: RepoStore
) -> None:
    repo = _repo(session, store, "r")
    bob = auth.get_account(session, "bob")
    objects.link(session, repo_pk=repo.pk, oids=[A, A])
    objects.record_upload(session, repo_pk=repo.pk, user_id=bob.id, oid=B)
    objects.record_upload(session, repo_pk=repo.pk, user_id=bob.id, oid=B)  # a retried upload
    assert objects.readable(session, repo_pk=repo.pk, user_id=None, oids=[A, B, C]) == {A}
    assert objects.readable(session, repo_pk=repo.pk, user_id=bob.id, oids=[A, B, C]) == {A, B}


def test_naming_needs_an_upload_or_a_repo_one_may_download(
    session: Session, store: RepoStore
) -> None:
    public, private, gated = (
        _repo(session, store, "public"),
        _repo(session, store, "private", private=True),
        _repo(session, store, "gated", gated="manual"),
    )
    for repo, oid in ((public, A), (private, B), (gated, C)):
        objects.link(session, repo_pk=repo.pk, oids=[oid])
    bob_repo = _repo(session, store, "target")
    bob = _caller(session, "bob")
    assert objects.admissible(session, caller=bob, repo=bob_repo, oids=[A, B, C]) == {A}
    grant = AccessGrant(repo_pk=gated.pk, user_id=_id(bob), status="accepted")
    session.add(grant)
    session.flush()
    assert objects.admissible(session, caller=bob, repo=bob_repo, oids=[A, B, C]) == {A, C}
    alice = _caller(session, "alice")
    assert objects.admissible(session, caller=alice, repo=bob_repo, oids=[A, B, C]) == {A, B, C}
    with pytest.raises(Exception, match=f"LFS object {B} was not uploaded"):
        objects.require_admissible(session, caller=bob, repo=bob_repo, oids=[A, B])


def _id(caller: Caller) -> int:
    assert isinstance(caller.user, Account)
    return caller.user.id


def test_history_is_indexed_from_every_ref(session: Session, store: RepoStore) -> None:
    repo = _repo(session, store, "old")
    gitrepo = store.open(repo)
    head = git.resolve(gitrepo, "main")
    assert head is not None
    for ref, oid in (("refs/heads/main", A), ("refs/pr/1", B)):
        pointer = git.write_blob(gitrepo, git.lfs_pointer_bytes(oid, 1))
        tree = git.build_tree(gitrepo, head, [git.Put(f"{ref[-4:]}.bin", pointer)])
        commit = git.write_commit(
            gitrepo, tree_oid=tree, parents=[str(head.id)], author_name="a", author_email="a@b",
            message="m",
        )  # fmt: skip
        git.set_ref(gitrepo, ref, commit, old=git.ref_target(gitrepo, ref))
    repo.objects_indexed = False
    session.flush()
    assert objects.index_unindexed(session, store) == 1
    assert objects.readable(session, repo_pk=repo.pk, user_id=None, oids=[A, B, C]) == {A, B}
    assert repo.objects_indexed
    assert objects.index_unindexed(session, store) == 0

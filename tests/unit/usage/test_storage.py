"""Storage accounting on a real repo store: large files once per repo, git files too, quotas
per visibility, and deleted large files leaving the count."""

from __future__ import annotations

import pytest
from builders import Builder
from sqlalchemy.orm import Session

from hugbox.errors import Forbidden
from hugbox.repos.store import RepoStore
from hugbox.settings import Settings
from hugbox.usage import storage

WEIGHTS = b"w" * 50_000


def test_large_files_count_once_per_repo(
    session: Session, store: RepoStore, build: Builder
) -> None:
    alice = build.user("alice")
    repo = build.repo(alice, "m", private=True)
    by = build.caller(alice)
    build.commit(repo, {"a.bin": WEIGHTS, "notes.txt": b"hello"}, by=by)
    build.commit(repo, {"copy/b.bin": WEIGHTS}, by=by)  # the same bytes under another path
    measured = storage.measure(session, store, repo)
    assert measured.lfs_bytes == len(WEIGHTS)
    assert 5 < measured.git_bytes < 5_000  # pointers, .gitattributes, notes.txt
    assert [f["size"] for f in measured.largest] == [len(WEIGHTS)]
    assert repo.used_storage == measured.lfs_bytes + measured.git_bytes
    assert storage.storage_used(session, alice.id).private == repo.used_storage
    assert storage.storage_used(session, alice.id).public == 0


def test_deleted_large_files_leave_the_count(
    session: Session, store: RepoStore, build: Builder
) -> None:
    alice = build.user("alice")
    repo = build.repo(alice, "m")
    build.commit(repo, {"a.bin": WEIGHTS}, by=build.caller(alice))
    [large] = storage.large_files(session, store, repo)
    storage.delete_lfs_files(session, store, repo, [large.oid])
    assert storage.large_files(session, store, repo) == []
    assert repo.used_storage < 5_000
    assert not store.blobs.exists(large.oid)  # no other repo names it


def test_quota_per_visibility(session: Session, store: RepoStore, build: Builder) -> None:
    alice = build.user("alice")
    private, public = build.repo(alice, "p", private=True), build.repo(alice, "q")
    for repo in (private, public):
        build.commit(repo, {"a.bin": WEIGHTS}, by=build.caller(alice))
        storage.measure(session, store, repo)
    settings = Settings(storage_quota_private=60_000, storage_quota_public=None)
    storage.check_upload(session, public, 10**9, settings=settings)  # public: unlimited
    storage.check_upload(session, private, 1_000, settings=settings)
    with pytest.raises(Forbidden, match="Private repository storage limit reached"):
        storage.check_upload(session, private, 10_000, settings=settings)

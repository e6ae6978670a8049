"""Small data builders for unit tests: users, orgs, tokens, repos, grants, files and commits,
made through hugbox's own services on a real database session and a real repo store."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pygit2
from sqlalchemy.orm import Session

from hugbox.auth import service as auth
from hugbox.auth.models import Account, OrgRole, TokenRole
from hugbox.auth.service import Caller
from hugbox.db import Database
from hugbox.gated import service as gated
from hugbox.repos import commits, objects, service
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.payload import AddFile, CommitHeader, SpooledFile
from hugbox.repos.store import RepoStore
from hugbox.storage.blobs import LocalBlobStore
from testdb import Template


@contextmanager
def open_database(directory: Path, template: Template) -> Iterator[Database]:
    """A database of its own (in `directory` when SQLite), copied from an already migrated
    `template`; closed and dropped after the block."""
    url = template.copy(directory)
    database = Database(url)
    try:
        yield database
    finally:
        database.close()
        template.drop(url)


def open_store(directory: Path) -> RepoStore:
    blobs = LocalBlobStore(directory / "lfs")
    store = RepoStore(repos_dir=directory / "repos", blobs=blobs, tmp_dir=directory / "tmp")
    # A store makes libgit2 fsync every write (process-wide): halves a unit test's time, and
    # durability is tested on its own (tests/unit/storage/test_git.py), in fresh processes.
    pygit2.settings.enable_fsync_gitdir(False)
    return store


class Builder:
    """Makes the rows and repos a test needs, each in one call, inside the test's session."""

    def __init__(self, session: Session, store: RepoStore):
        self.session = session
        self.store = store

    def user(self, name: str, *, admin: bool = False) -> Account:
        return auth.create_user(self.session, name=name, password="pw", is_admin=admin)

    def org(
        self, name: str, *, owner: Account, members: dict[Account, OrgRole] | None = None
    ) -> Account:
        org = auth.create_org(self.session, name=name, owner=owner.name)
        for user, role in (members or {}).items():
            auth.add_member(self.session, org=name, user=user.name, role=role)
        return org

    def caller(self, user: Account | None, token: TokenRole | None = TokenRole.WRITE) -> Caller:
        """Who a request with a new token of `user` (None: no token at all) stands for."""
        if user is None:
            return auth.ANONYMOUS
        self.session.expire(user, ["memberships"])  # memberships added since it was loaded
        if token is None:  # the operator CLI's caller: a user without a token
            return Caller(user=user)
        return auth.authenticate(self.session, self.token(user, token))

    def token(self, user: Account, role: TokenRole = TokenRole.WRITE) -> str:
        """A new token of `user`, as its plain text."""
        return auth.create_token(self.session, user=user.name, name=f"t-{role}", role=role)

    def repo(
        self,
        creator: Account,
        name: str,
        *,
        namespace: str | None = None,
        repo_type: RepoType = RepoType.MODEL,
        private: bool = False,
        gated: str | None = None,
    ) -> Repo:
        """A repo made by `creator` (in its own namespace unless told), with its first commit."""
        repo = service.create_repo(
            self.session, self.store, caller=self.caller(creator), repo_type=repo_type,
            namespace=namespace, name=name, private=private,
            sdk="static" if repo_type is RepoType.SPACE else None,
        )  # fmt: skip
        if gated:
            service.update_settings(self.session, repo=repo, gated=gated)
        return repo

    def access_request(self, repo: Repo, user: Account, *, status: str) -> None:
        """`user` asks for a gated repo's files, and the repo's admins set the answer."""
        gated.ask_access(self.session, repo=repo, user=user)
        if status != "pending":
            gated.handle_request(self.session, repo=repo, by=user, status=status, user=user.name)

    def spooled(self, data: bytes) -> SpooledFile:
        """File content as the commit payload parser leaves it: a temp file, its size, sha256."""
        handle, name = tempfile.mkstemp(dir=self.store.tmp_dir, prefix="spool-")
        with open(handle, "wb") as out:  # noqa: PTH123 - an fd from mkstemp, not a path
            out.write(data)
        return SpooledFile(path=Path(name), size=len(data), sha256=hashlib.sha256(data).hexdigest())

    def upload_lfs(self, repo: Repo, user: Account, data: bytes) -> str:
        """Store a large file as the LFS batch API does, for `user` and `repo`; its sha256."""
        writer = self.store.blobs.writer()
        writer.write(data)
        oid = writer.commit()
        objects.record_upload(self.session, repo_pk=repo.pk, user_id=user.id, oid=oid)
        return oid

    def commit(
        self, repo: Repo, files: dict[str, bytes], *, by: Caller, revision: str = "main"
    ) -> str:
        """Commit `files` (path -> bytes) to `revision`; the new commit's id."""
        operations = [AddFile(path, self.spooled(data)) for path, data in files.items()]
        info = commits.create_commit(
            self.session, self.store, caller=by, repo=repo, revision=revision,
            header=CommitHeader(summary="add files", description="", parent_commit=None),
            operations=operations, create_pr=False,
        )  # fmt: skip
        return info.oid
